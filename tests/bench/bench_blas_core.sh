#!/bin/bash
# bench_blas_core.sh: does zoomorph's BLAS core check recover the speed a fallback loses?
# Runs the engine (tests/bench/bench_nn) on one thread, same network and batch, three ways:
#   fallback  OPENBLAS_CORETYPE=Prescott: what a CPU newer than the OpenBLAS gets unfixed
#   zoomorph  OPENBLAS_CORETYPE unset, the library's choice simulated as Prescott
#             (ZM_BLAS_ASSUME_CORE): zoomorph re-executes with the CPU's core
#   right     OPENBLAS_CORETYPE set to the CPU's core by hand
# and prints images per CPU second and the ratios to "right" (target: zoomorph >= 0.95).
#   [ITERS=4] [CASES="resnet18:1:224:32 efficientnet_b0:1:224:32"] tests/bench/bench_blas_core.sh [BUILD_DIR]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
ITERS=${ITERS:-4}
BIN=$BUILD/tests/bench_nn
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
right=$("$BUILD/zoomorph" --version | sed -n 's/.*CPU .*(\(.*\))$/\1/p')
case "$right" in
  AVX-512F/BW/VL) right=SkylakeX ;; AVX2+FMA) right=Haswell ;; AVX) right=Sandybridge ;;
  *) echo "this CPU has no core above Prescott"; exit 0 ;;
esac
echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); the right core: $right; $(date -u +%FT%TZ)"
rate() { sed -n 's/.*; \([0-9.]*\) images per CPU second.*/\1/p' <<<"$1"; }
for c in ${CASES:-resnet18:1:224:32 efficientnet_b0:1:224:32}; do
  IFS=: read -r a ch s b <<<"$c"
  f=$(OPENBLAS_CORETYPE=Prescott "$BIN" "$a" "$ch" "$s" "$b" infer "$ITERS")
  z=$(env -u OPENBLAS_CORETYPE ZM_BLAS_ASSUME_CORE=Prescott "$BIN" "$a" "$ch" "$s" "$b" infer "$ITERS")
  r=$(OPENBLAS_CORETYPE=$right "$BIN" "$a" "$ch" "$s" "$b" infer "$ITERS")
  grep "blas:" <<<"$z" | sed 's/^ */zoomorph run: /'
  fr=$(rate "$f"); zr=$(rate "$z"); rr=$(rate "$r")
  printf "%-16s images per CPU second: fallback %s, zoomorph %s, right %s; zoomorph/right %.2f, fallback/right %.2f\n" \
    "$a" "$fr" "$zr" "$rr" "$(echo "$zr / $rr" | bc -l)" "$(echo "$fr / $rr" | bc -l)"
done
