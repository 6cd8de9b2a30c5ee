#!/bin/bash
# Fine-tuning step throughput on 1 and 2 ranks and the gradient allreduce's share of the
# step (the trainer times it), on the 20,000-galaxy simulated survey (config/pretrain-sim.ini,
# embedded with the shipped model) and its rings labels: frozen (a head on the stored
# representations, global batch 256, micro-batch 64) and unfrozen (top 2 blocks / every
# block, images, batch 32, micro-batch 16, 30 steps). The step time counts loading and
# augmenting the batch, forward, backward, both allreduces and the optimiser step.
# usage: bench_finetune.sh [build] [store.h5 (copied)] [survey dir]
set -euo pipefail
build="${1:-build}"
store="${2:-/work/sim20k/sim20k.h5}"
survey="${3:-/work/sim20k/sim20k}"
src=$(cd "$(dirname "$0")/../.." && pwd)
[ -e "$store" ] || { echo "SKIP: no store $store (make it with config/pretrain-sim.ini, then embed)"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$store" "$tmp/s.h5"
common=(-c "$src/config/pretrain-sim.ini" --set store.path="$tmp/s.h5" --set survey.root="$survey"
        --set finetune.labels="$survey/rings.csv" --set finetune.label_column=ring --set finetune.patience=0
        --set finetune.encoder="$src/models/zoonet-gz-sim.h5" --set finetune.output="$tmp/ft.h5" --set train.resume=false)
echo "| mode | ranks | samples/s (steps) | allreduce share of the step | speed-up |"
echo "|---|---|---|---|---|"
for mode in frozen top all; do
  if [ $mode = frozen ]; then extra=(--set finetune.epochs=10 --set finetune.batch=256 --set train.micro_batch=64)
  else extra=(--set finetune.epochs=1 --set train.max_steps=30 --set finetune.batch=32 --set train.micro_batch=16); fi
  base=""
  for np in 1 2; do
    line=$(mpirun -np $np "$build/zoomorph" finetune "${common[@]}" "${extra[@]}" --set finetune.mode=$mode 2>&1 |
           grep "samples/s in")
    rate=$(echo "$line" | sed -E 's/.* ([0-9.]+) samples\/s in.*/\1/')
    share=$(echo "$line" | sed -E 's/.*gradient allreduce ([0-9.]+)%.*/\1/')
    [ -z "$base" ] && base=$rate
    echo "| $mode | $np | $rate | $share% | $(awk -v a="$rate" -v b="$base" 'BEGIN{printf "%.2fx", a/b}') |"
  done
done
