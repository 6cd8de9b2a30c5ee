#!/bin/bash
# bench_nn.sh: CNN engine vs PyTorch, measured in the same run (not run by ctest).
#
#   [ITERS=4] [CASES=...] tests/bench/bench_nn.sh [BUILD_DIR]
# Uses BUILD_DIR/tests/bench_nn (default build/; cmake builds it from tests/bench/bench_nn.c)
# and for each case runs zoomorph and PyTorch (/usr/bin/python3) with the same threads,
# printing images/s for both and the ratio (of the best batches: robust when other
# processes share the cores). OPENBLAS_CORETYPE is left as the environment sets it; where
# it is unset, bench_nn replaces a fallback core as zoomorph does; the BLAS core each side
# ran on is printed (zoomorph's line "blas: ...", PyTorch's from numpy's OpenBLAS). The second ratio, of images per CPU second (all threads), is the robust one
# for 1-thread cases on a shared machine (time-slicing does not count). ITERS (default 4)
# timed batches per case after one warm-up; CASES overrides the
# list (ARCH:IN_CH:SIZE:BATCH:infer|train:THREADS[:RANKS] ...). RANKS > 1 (train only):
# zoomorph's data-parallel step on RANKS MPI ranks of THREADS threads each (how zoomorph
# trains: ranks fill the cores), against PyTorch on RANKS x THREADS threads.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
ITERS=${ITERS:-4}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # mpirun as root (containers)
BIN=$BUILD/tests/bench_nn # built by tests/CMakeLists.txt with the project
if [ ! -x "$BIN" ]; then    # older trees: build it here against libzoomorph.a
    BIN=$BUILD/bench_nn
    PKGS="hdf5-openmpi cfitsio wcslib inih libpng"
    mpicc -O2 -std=c11 -D_XOPEN_SOURCE=700 -I"$SRC/include" -I"$BUILD/generated" \
        $(pkg-config --cflags $PKGS) "$SRC/tests/bench/bench_nn.c" -o "$BIN" \
        "$BUILD/libzoomorph.a" $(pkg-config --libs $PKGS) -ljpeg -lopenblas -lm
fi
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}  $(nproc) cores  $(date -u +%FT%TZ)"
echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
run() { # arch in_ch size batch mode threads ranks
    local z p
    if [ "$7" -gt 1 ]; then
        z=$(OPENBLAS_NUM_THREADS=$6 OMPI_MCA_rmaps_base_oversubscribe=1 \
            mpirun -np "$7" "$BIN" "$1" "$2" "$3" "$4" "$5" "$ITERS")
    else
        z=$(OPENBLAS_NUM_THREADS=$6 "$BIN" "$1" "$2" "$3" "$4" "$5" "$ITERS")
    fi
    echo "$z"
    p=$(/usr/bin/python3 "$SRC/tests/bench/bench_nn_torch.py" "$1" "$2" "$3" "$4" "$5" "$ITERS" $(($6 * $7)))
    echo "$p"
    local zi pi
    zi=$(sed -n '1s/.*: \([0-9.]*\) images.*/\1/p' <<<"$z")
    pi=$(sed -n '1s/.*: \([0-9.]*\) images.*/\1/p' <<<"$p")
    local who="threads=$6"
    [ "$7" -gt 1 ] && who="ranks=$7x$6 threads vs threads=$(($6 * $7))"
    echo "ratio zoomorph/pytorch $1 $5 $who (best batches): $(echo "scale=2; $zi / $pi" | bc)"
    zi=$(sed -n 's/.*CPU time .*; \([0-9.]*\) images per CPU second.*/\1/p' <<<"$z")
    pi=$(sed -n 's/.*CPU time .*; \([0-9.]*\) images per CPU second.*/\1/p' <<<"$p")
    echo "ratio zoomorph/pytorch $1 $5 $who (images per CPU second, best batches): $(echo "scale=2; $zi / $pi" | bc)"
    echo
}
CASES=${CASES:-"efficientnet_b0:1:224:32:infer:1 efficientnet_b0:1:224:32:infer:2 \
efficientnet_b0:3:224:32:train:2 efficientnet_b0:3:224:32:train:1:2 efficientnet_b0:3:224:32:train:1 \
resnet18:1:224:32:infer:1 \
zoonet:1:96:64:infer:1 zoonet:1:96:64:train:1"}
for c in $CASES; do
    IFS=: read -r a ch s b m t rk <<<"$c"
    run "$a" "$ch" "$s" "$b" "$m" "$t" "${rk:-1}"
done
