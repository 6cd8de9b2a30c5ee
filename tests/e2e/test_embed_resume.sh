#!/bin/bash
# A 2-rank cutout, and an embed on 2 and on 3 ranks, killed midway (one rank dies by
# SIGKILL, as a failed node would): the job ends promptly, the store still opens, the
# stage is marked "running", a rerun does only what is missing and ends with exactly the
# rows of a clean run on the same rank count (bitwise equal: same ranks, same batches).
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
cp clean.h5 pre.h5   # the store before embed, for the 3-rank runs
cp clean.h5 killed.h5
zt_mpi 2 embed "${common[@]}" --set store.path="$work/clean.h5" > clean.log 2>&1
cp pre.h5 clean3.h5
cp pre.h5 killed3.h5
zt_mpi 3 embed "${common[@]}" --set store.path="$work/clean3.h5" > clean3.log 2>&1
# the killed runs: on 2 ranks rank 1 dies with SIGKILL after the 5th collective write
# round (of 15; 2 of the 6 bricks done), on 3 ranks rank 2 after the 6th (of 10; 3 bricks
# done), as a failed node would; mpirun then ends the job; a rerun on as many ranks
# resumes
for run in 2:5:1:killed 3:6:2:killed3; do
  IFS=: read -r np round victim name <<< "$run"
  clean=$([ $np = 2 ] && echo clean || echo clean3)
  set +e
  start=$(date +%s)
  ZM_FAULT_KILL=embed:$round:$victim timeout 120 mpirun --oversubscribe -np $np "$ZM_BIN" embed "${common[@]}" \
    --set store.path="$work/$name.h5" > $name.log 2>&1
  rc=$?
  set -e
  echo "$np ranks, rank $victim killed after round $round: exit status $rc after $(( $(date +%s) - start )) s"
  grep -q "ZM_FAULT_KILL: rank $victim of stage embed killing itself after round $round" $name.log \
    || { echo "FAIL: the fault was not injected"; cat $name.log; exit 1; }
  test $rc -ne 0 -a $rc -ne 124   # it failed, and promptly (no hang)
  rm -f $name.h5.lock   # the killed run's lock: same host, process gone, would be taken over anyway
  $ZM_PYTHON - "$work/$name.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")   # the store still opens
st = f["meta/stages/embed"].attrs["status"].decode()
done = f["inputs/embed_done"][:]
print("after the kill: status", st, "inputs done", done.tolist())
assert st == "running", "the killed run must not be marked complete"
assert 0 < done.sum() < len(done), "the kill came midway"
PY
  zt_mpi $np embed "${common[@]}" --set store.path="$work/$name.h5" > resumed_$name.log 2>&1
  grep -q "resuming an interrupted run" resumed_$name.log
  $ZM_PYTHON - "$work/$clean.h5" "$work/$name.h5" $np <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for name in ["galaxies/id", "representation/embedding", "predictions/vote_fraction", "predictions/concentration",
             "inputs/embed_done"]:
    x, y = a[name][()], b[name][()]
    assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), name
assert b["meta/stages/embed"].attrs["status"] == b"complete"
print(f"{sys.argv[3]} ranks: the resumed store equals the clean run bit for bit:", a["representation/embedding"].shape)
PY
done
$ZM_PYTHON - "$work/clean.h5" "$work/clean3.h5" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(n, "r")["representation/embedding"][()] for n in sys.argv[1:])
d = np.nanmax(np.abs(a - b))
print(f"clean runs on 2 and 3 ranks: embeddings differ by at most {d:.1e}")
assert np.array_equal(np.isnan(a), np.isnan(b)) and d < 1e-4
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
