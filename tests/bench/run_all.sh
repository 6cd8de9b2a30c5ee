#!/bin/bash
# Every benchmark, each against its peer measured in the same run (make bench). About 25
# minutes on 2 cores, plus about 26 for hnswlib's three graph builds in bench_search (measured
# under load); run it on an otherwise idle machine. Results: docs/benchmarks.md.
set -euo pipefail
build="${1:-build}"
here=$(cd "$(dirname "$0")" && pwd)
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
echo "## cutouts"; OPENBLAS_NUM_THREADS=1 bash "$here/bench_cutout.sh" "$build"
echo "## isolation forest"; bash "$here/bench_iforest.sh" "$build"
echo "## CNN engine"; bash "$here/bench_nn.sh" "$build"
echo "## store writes"; bash "$here/bench_store.sh" "$build"
echo "## fine-tuning"; bash "$here/bench_finetune.sh" "$build"
echo "## similarity search"; bash "$here/bench_search.sh" "$build"
