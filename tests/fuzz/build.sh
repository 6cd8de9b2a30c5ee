#!/bin/bash
# Builds the libFuzzer targets with clang, AddressSanitizer and UBSan into build-fuzz/
# (or $1). Needs the "fuzz" packages of .ci/debian-packages.txt (bash .ci/install-deps fuzz).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$here/build-fuzz}"
CC=clang cmake -S "$here" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZM_FUZZ=ON \
  -DZM_TESTS=OFF >/dev/null
cmake --build "$out" -j "${JOBS:-2}"
echo "fuzz targets in $out/tests/fuzz"
