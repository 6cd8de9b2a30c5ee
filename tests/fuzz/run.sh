#!/bin/bash
# Runs one libFuzzer target for SECONDS (default 600) on its corpus.
#   tests/fuzz/run.sh TARGET [SECONDS] [BUILD_DIR]
# TARGET: fuzz_fits_image fuzz_table_csv fuzz_table_fits fuzz_params fuzz_nn_file fuzz_store.
# Builds nothing (tests/fuzz/build.sh does); makes the seed corpus (make_corpus.py: real
# files of ../shared/data/real cropped, a tiny simulated survey and store) on first use
# under $ZM_FUZZ_WORK (default build-fuzz/work); crashes go to work/crashes/TARGET/.
# Ends with a line "fuzz: TARGET SECONDS s, N execs, K crashes" and exits 1 on a crash.
set -uo pipefail
target="${1:?usage: run.sh TARGET [SECONDS] [BUILD_DIR]}"
secs="${2:-600}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${3:-$here/build-fuzz}"
work="${ZM_FUZZ_WORK:-$build/work}"
bin="$build/tests/fuzz/$target"
[ -x "$bin" ] || { echo "no $bin: run tests/fuzz/build.sh first"; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ ! -d "$work/seeds/$target" ]; then
  zbin="${ZM_BIN:-$here/build/zoomorph}"
  [ -x "$zbin" ] || { echo "make_corpus needs a normal build: $zbin (or set ZM_BIN)"; exit 2; }
  /usr/bin/python3 "$here/tests/fuzz/make_corpus.py" "$work/seeds" "$zbin" \
    "${ZM_SHARED_DATA:-$here/../shared/data/real}" || exit 2
fi
mkdir -p "$work/corpus/$target" "$work/crashes/$target"
log="$work/$target.log"
# leaks: Open MPI and HDF5 keep allocations for the process lifetime by design
ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:${ASAN_OPTIONS:-}" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$bin" "$work/corpus/$target" "$work/seeds/$target" -max_total_time="$secs" \
  -fork=1 -ignore_crashes=1 -ignore_ooms=0 -ignore_timeouts=0 \
  -artifact_prefix="$work/crashes/$target/" -rss_limit_mb=2048 -timeout=30 \
  -max_len="${ZM_FUZZ_MAX_LEN:-262144}" >"$log" 2>&1
rc=$?
# fork mode (-fork=1 -ignore_crashes=1): a crash is kept and fuzzing goes on, so one run
# lists every distinct crash; its last status line has the exec count
execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
crashes=$(find "$work/crashes/$target" -type f -name 'crash-*' | wc -l)
others=$(find "$work/crashes/$target" -type f ! -name 'crash-*' | wc -l)
crashes=$((crashes + others))
echo "fuzz: $target ${secs} s, ${execs:-?} execs, $crashes crashes (log $log)"
[ "$rc" = 0 ] && [ "$crashes" = 0 ]
