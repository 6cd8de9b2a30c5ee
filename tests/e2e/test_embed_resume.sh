#!/bin/bash
# A 2-rank cutout and a 2-rank embed killed midway (one rank dies by SIGKILL, as a failed
# node would): the job ends promptly, the store still opens, the stage is marked
# "running", a rerun does only what is missing and ends with exactly the rows of a clean
# run (bitwise equal: same rank count, same batches).
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir embed_resume)
cd "$work"
zt_mpi 2 simulate --set simulate.out="$work/survey" --set simulate.bricks=6 --set simulate.brick_size=900 \
  --set simulate.galaxies_per_brick=40 --set simulate.stars_per_brick=2 --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set cutout.size=64 --set model.output="$work/model.h5"
        --set model.input_size=64 --set embed.batch=8)
zt_mpi 2 plan "${common[@]}" --set store.path="$work/clean.h5" > plan.log 2>&1
zt_mpi 2 cutout "${common[@]}" --set store.path="$work/clean.h5" > cutout.log 2>&1
zt_mpi 2 plan "${common[@]}" --set store.path="$work/cut.h5" > plan2.log 2>&1
set +e
ZM_FAULT_KILL=cutout:3:0 timeout 120 mpirun --oversubscribe -np 2 "$ZM_BIN" cutout "${common[@]}" \
  --set cutout.batch=16 --set store.path="$work/cut.h5" > cutkill.log 2>&1
rc=$?
set -e
test $rc -ne 0 -a $rc -ne 124
zt_mpi 2 cutout "${common[@]}" --set cutout.batch=16 --set store.path="$work/cut.h5" > cutresume.log 2>&1
grep -q "resuming an interrupted run" cutresume.log
$ZM_PYTHON - "$work/clean.h5" "$work/cut.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for name in ["cutouts/images", "cutouts/flags", "cutouts/pixscale", "inputs/cutout_done", "rejects/reason"]:
    assert np.array_equal(a[name][()], b[name][()]), name
print("cutout killed on rank 0 after 3 rounds and resumed: equal to the clean run")
PY
# an untrained model is enough to compare runs: one training step on the simulated votes
zt_mpi 2 votes "${common[@]}" --set store.path="$work/clean.h5" --set labels.votes="$work/survey/votes.csv" > votes.log 2>&1
zt_mpi 2 pretrain "${common[@]}" --set store.path="$work/clean.h5" --set train.max_steps=1 --set train.epochs=1 \
  --set train.batch=8 --set train.micro_batch=8 --set train.val_fraction=0 --set train.test_fraction=0 > pt.log 2>&1
cp clean.h5 killed.h5
zt_mpi 2 embed "${common[@]}" --set store.path="$work/clean.h5" > clean.log 2>&1
# the killed run: rank 1 dies with SIGKILL after the 5th collective write round (of 15),
# as a failed node would; mpirun then ends the job
set +e
ZM_FAULT_KILL=embed:5:1 timeout 120 mpirun --oversubscribe -np 2 "$ZM_BIN" embed "${common[@]}" \
  --set store.path="$work/killed.h5" > killed.log 2>&1
rc=$?
set -e
echo "killed run: exit status $rc"
test $rc -ne 0 -a $rc -ne 124   # it failed, and promptly (no hang)
rm -f killed.h5.lock   # the killed run's lock: same host, process gone, would be taken over anyway
$ZM_PYTHON - "$work/killed.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")   # the store still opens
st = f["meta/stages/embed"].attrs["status"].decode()
done = f["inputs/embed_done"][:]
print("after the kill: status", st, "inputs done", done.tolist())
assert st == "running", "the killed run must not be marked complete"
PY
zt_mpi 2 embed "${common[@]}" --set store.path="$work/killed.h5" > resumed.log 2>&1
grep -q "resuming an interrupted run" resumed.log
$ZM_PYTHON - "$work/clean.h5" "$work/killed.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for name in ["representation/embedding", "predictions/vote_fraction", "predictions/concentration", "inputs/embed_done"]:
    x, y = a[name][()], b[name][()]
    assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), name
assert b["meta/stages/embed"].attrs["status"] == b"complete"
print("resumed store equals the clean run:", a["representation/embedding"].shape)
PY
# SIGUSR1 (Slurm's --signal) to rank 0 after round 4: exit 75, progress kept, resumable
cp clean.h5 sig.h5
$ZM_PYTHON -c "
import h5py
with h5py.File('$work/sig.h5', 'a') as f:
    f['meta/stages/embed'].attrs['status'] = b'running'
    f['inputs/embed_done'][:] = 0"
set +e
ZM_FAULT_SIGNAL=embed:4 zt_mpi 2 embed "${common[@]}" --set store.path="$work/sig.h5" > sig.log 2>&1; rc=$?
set -e
zt_expect_rc 75 $rc sig.log "stopped by a signal"
zt_mpi 2 embed "${common[@]}" --set store.path="$work/sig.h5" > sig2.log 2>&1
grep -q "resuming an interrupted run" sig2.log
$ZM_PYTHON - "$work/clean.h5" "$work/sig.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert np.array_equal(a["representation/embedding"][()], b["representation/embedding"][()], equal_nan=True)
print("signalled, resumed: equal to the clean run")
PY
echo "e2e embed_resume: ok"
