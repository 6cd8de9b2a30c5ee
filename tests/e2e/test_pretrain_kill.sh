#!/bin/bash
# pretrain on 2 and 3 ranks with one rank killed by SIGKILL midway (ZM_FAULT_KILL, as a
# failed node would): the job fails promptly (bounded by timeout, no hang), the store
# still opens with pretrain marked "running", a rerun resumes from the last epoch's
# checkpoint, and its weights and loss history equal an uninterrupted run's on the same
# rank count, bit for bit.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir pretrain_kill)
cd "$work"
zt_mpi 2 simulate --set simulate.out="$work/survey" --set simulate.bricks=4 --set simulate.brick_size=600 \
  --set simulate.galaxies_per_brick=20 --set simulate.stars_per_brick=1 --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set cutout.size=32 --set model.input_size=32
        --set store.path="$work/base.h5" --set labels.votes="$work/survey/votes.csv")
zt_mpi 2 plan "${common[@]}" > plan.log 2>&1
zt_mpi 2 cutout "${common[@]}" > cutout.log 2>&1
zt_mpi 2 votes "${common[@]}" > votes.log 2>&1
# 3 epochs of 3 steps of 6 galaxies (20 train by the vote table's split) in micro-batches
# of 2 (each of 3 ranks has one)
train=(--set train.epochs=3 --set train.batch=6 --set train.micro_batch=2 --set train.val_fraction=0.25
       --set train.test_fraction=0 --set train.patience=0 --set train.augment=false)
for np in 2 3; do
  cp base.h5 clean$np.h5
  cp base.h5 killed$np.h5
  zt_mpi $np pretrain "${common[@]}" "${train[@]}" --set store.path="$work/clean$np.h5" \
    --set model.output="$work/clean$np.w.h5" > clean$np.log 2>&1
  victim=$((np - 1))
  # the last rank dies after step 4 of the run (in the second epoch; the checkpoint of
  # epoch 1 is on disk); mpirun must then end the whole job
  set +e
  start=$(date +%s)
  ZM_FAULT_KILL=pretrain:4:$victim timeout 120 mpirun --oversubscribe -np $np "$ZM_BIN" pretrain \
    "${common[@]}" "${train[@]}" --set store.path="$work/killed$np.h5" \
    --set model.output="$work/killed$np.w.h5" > killed$np.log 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  echo "np $np: killed run exit status $rc after $took s"
  grep -q "ZM_FAULT_KILL: rank $victim of stage pretrain killing itself after round 4" killed$np.log \
    || { echo "FAIL: the fault was not injected"; cat killed$np.log; exit 1; }
  test $rc -ne 0 -a $rc -ne 124   # it failed, and within the timeout (no hang)
  test ! -e killed$np.w.h5        # no weights written by the killed run
  test -s killed$np.w.h5.ckpt     # the checkpoint of epoch 1 is there
  rm -f killed$np.h5.lock         # the killed run's lock (same host, process gone)
  zt_killed_store "$work/killed$np.h5" pretrain pretrain/history
  zt_mpi $np pretrain "${common[@]}" "${train[@]}" --set store.path="$work/killed$np.h5" \
    --set model.output="$work/killed$np.w.h5" > resumed$np.log 2>&1
  grep -q "train: resuming from .* after epoch 1" resumed$np.log \
    || { echo "FAIL: the rerun did not resume from epoch 1"; cat resumed$np.log; exit 1; }
  ! grep -q "was written by a run of" resumed$np.log # same schedule: no warning
  $ZM_PYTHON - "$work/clean$np.w.h5" "$work/killed$np.w.h5" "$work/clean$np.h5" "$work/killed$np.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = sorted(a["tensors"])
assert names == sorted(b["tensors"]) and names
for k in names:
    assert np.array_equal(a["tensors"][k][()], b["tensors"][k][()]), k
s, t = h5py.File(sys.argv[3], "r"), h5py.File(sys.argv[4], "r")
for name in ["pretrain/history", "pretrain/split"]:
    assert np.array_equal(s[name][()], t[name][()]), name
assert t["meta/stages/pretrain"].attrs["status"] == b"complete"
print(f"resumed weights equal the uninterrupted run's: {len(names)} tensors, history {s['pretrain/history'].shape}")
# the field rule of the stamps it was trained on goes with the weights
want = "gz: 212 x max(min(0.04 th50, 0.02 th90), 0.1) arcsec on 32-pixel stamps"
for f, w in ((s, a), (t, b)):
    assert f["cutouts/images"].attrs["field"].decode() == want, f["cutouts/images"].attrs["field"]
    assert w.attrs["stamp_field"].decode() == want, w.attrs["stamp_field"]
print("stamp_field of the weights:", want)
PY
done
echo "ok: pretrain killed on 2 and 3 ranks resumes to the uninterrupted weights"
