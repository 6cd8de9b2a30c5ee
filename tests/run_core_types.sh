#!/bin/bash
# run_core_types.sh: the whole test suite once per OpenBLAS kernel set, to show that no
# verdict depends on which BLAS kernels a machine gets (about 12 minutes each on 2 cores).
#   bash tests/run_core_types.sh [BUILD_DIR] [CORE ...]     (default: Prescott Haswell SkylakeX)
# A core the CPU cannot run (SkylakeX without AVX-512) is run as OpenBLAS runs it there:
# it falls back to the best core the CPU has. Prints one line per core; exit 1 if any failed.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
shift || true
cores=${*:-Prescott Haswell SkylakeX}
status=0
for c in $cores; do
  s=$(date +%s)
  (cd "$build" && OPENBLAS_CORETYPE=$c ctest -j 2 > "$build/ctest-$c.log" 2>&1)
  rc=$?
  line=$(grep -E "tests passed|tests failed" "$build/ctest-$c.log" | tail -1)
  echo "OPENBLAS_CORETYPE=$c: $line ($(($(date +%s) - s)) s; log $build/ctest-$c.log)"
  [ $rc = 0 ] || { status=1; grep -E "\*\*\*Failed|\*\*\*Timeout" "$build/ctest-$c.log"; }
done
exit $status
