#!/bin/bash
# Isolation forest fit + score, 200k x 32, 100 trees x 256, one thread: zoomorph against
# scikit-learn's IsolationForest on the same data in the same run, and both ROC AUCs.
# usage: tests/bench/bench_iforest.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work="$build/tmp/bench_iforest"
mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
ours=$("$build/tests/bench_iforest" "$work" 200000 32 | awk '{print $2}')
ref=$(/usr/bin/python3 "$src/tests/reference/iforest_ref.py" "$work/x.f32" 200000 32 "$work/y.u8" "$work/ours.f32" 7)
sk=$(echo "$ref" | awk '{print $6}')
echo "| | fit + score, s | ROC AUC |"
echo "|---|---|---|"
echo "| zoomorph | $ours | $(echo "$ref" | awk '{print $4}') |"
echo "| scikit-learn 1.2 (n_jobs=1) | $sk | $(echo "$ref" | awk '{print $2}') |"
echo "| speed-up | $(echo "$sk / $ours" | bc -l | xargs printf '%.2f')x | |"
