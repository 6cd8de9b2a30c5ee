#!/bin/bash
# `zoomorph run`: the demo config (a smaller survey) as one 2-rank MPI job: every stage in
# order, the outputs there and consistent; a rerun skips every stage and changes nothing;
# the in-process chain gives the same store as the stages run as separate commands (no
# stage leaves state behind that changes the next); 1 and 3 ranks give the same rows; a
# stop signal in cutout ends the run with 75 and a rerun resumes to the clean run's
# result; a config naming an input that does not exist fails before anything runs, naming
# the key.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir run)
cd "$work"
export OPENBLAS_NUM_THREADS=1
small=(-c "$ZM_SOURCE_DIR/config/demo.ini" --set simulate.bricks=3 --set simulate.galaxies_per_brick=40
       --set simulate.brick_size=1200 --set embed.weights="$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5"
       --set anomaly.budget=30 --set anomaly.eval_seeds=1 --set cutout.batch=16)
mkdir a && cd a
zt_mpi 2 run "${small[@]}" > run.log 2>&1 || { cat run.log; exit 1; }
for s in simulate plan cutout votes embed pca similar anomaly catalogue; do
  grep -qE "^  $s +ran " run.log || { echo "FAIL: $s did not run"; cat run.log; exit 1; }
done
if grep -q "left .* open\|left the store's lock" run.log; then echo "FAIL: a stage left state behind"; grep "left" run.log; exit 1; fi
grep -q "catalogue: demo-catalogue.fits" run.log
echo "ok: every stage ran, none left HDF5 objects, descriptors or the lock behind"
$ZM_PYTHON - <<'PY'
import h5py, numpy as np
from astropy.io import fits
s = h5py.File("demo.h5", "r")
n = s["galaxies/id"].shape[0]
assert n > 60, n
for st in ["plan", "cutout", "votes", "embed", "pca", "anomaly", "similar", "catalogue", "simulate"]:
    assert s[f"meta/stages/{st}"].attrs["status"] == b"complete", st
summary = s["meta"].attrs["run_summary"].decode().strip().split("\n")
rows = {r.split("\t")[0]: r.split("\t") for r in summary}
assert rows["cutout"][1] == "ran" and float(rows["cutout"][2]) > 0, rows["cutout"]
assert rows["pretrain"][1] == "not asked", rows["pretrain"]
cat = fits.open("demo-catalogue.fits")[1].data
assert len(cat) == n and np.array_equal(cat["id"], np.arange(n))
frac = s["predictions/vote_fraction"][:]
assert np.allclose(cat["smooth-or-featured_smooth_fraction"], frac[:, 0])
import csv
sim = list(csv.DictReader(open("similar.csv")))
assert sorted({r["query_id"] for r in sim}) == ["0", "1"] and len(sim) == 16, len(sim)
an = list(csv.DictReader(open("demo-anomalies.csv")))
sc = s["anomaly/iforest_score"][:]
assert int(an[0]["id"]) == int(np.nanargmax(sc)), (an[0], np.nanargmax(sc))
print(f"ok: {n} galaxies: catalogue rows and fractions match the store, 2 queries x 8 neighbours, anomaly top row is the highest score")
PY
test -s similar-0.png -a -s similar-1.png
# rerun: everything skipped, nothing rewritten
before=$(stat -c %Y demo-catalogue.fits)
sleep 1
zt_mpi 2 run "${small[@]}" > rerun.log 2>&1 || { cat rerun.log; exit 1; }
grep -q "stages to run: none" rerun.log
test "$(grep -cE '^  [a-z]+ +skipped ' rerun.log)" -ge 9
test "$(stat -c %Y demo-catalogue.fits)" = "$before"
echo "ok: the rerun skipped every stage and rewrote nothing"

# the same chain as separate commands: the same store
cd "$work" && mkdir b && cd b
cp -r ../a/demo-survey .
sep=("${small[@]}" --set simulate.overwrite=false)
for s in plan cutout votes embed pca; do zt_mpi 2 $s "${sep[@]}" > $s.log 2>&1 || { cat $s.log; exit 1; }; done
zt_mpi 2 anomaly "${sep[@]}" > anomaly.log 2>&1
$ZM_PYTHON - <<'PY'
import h5py, numpy as np
a, b = h5py.File("../a/demo.h5", "r"), h5py.File("demo.h5", "r")
for name in ["galaxies/ra", "cutouts/images", "labels/votes", "representation/embedding",
             "predictions/vote_fraction", "pca/coords_10", "pca/coords_40", "anomaly/iforest_score"]:
    x, y = a[name][()], b[name][()]
    assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
print("ok: zoomorph run gives the same store as the stages run one by one")
PY

# a stop signal (as Slurm's --signal) during cutout: exit 75, the summary says so; a rerun resumes
cd "$work" && mkdir c && cd c
cp -r ../a/demo-survey .
res=("${small[@]}" --set run.simulate=false)
set +e
ZM_FAULT_SIGNAL=cutout:1:0 mpirun --oversubscribe -np 2 "$ZM_BIN" run "${res[@]}" > stop.log 2>&1
rc=$?
set -e
zt_expect_rc 75 $rc stop.log "stopped by a signal with its progress saved"
grep -qE "^  embed +not reached" stop.log
zt_mpi 2 run "${res[@]}" > resume.log 2>&1 || { cat resume.log; exit 1; }
grep -q "resuming an interrupted run" resume.log
grep -qE "^  plan +skipped" resume.log
$ZM_PYTHON - <<'PY'
import h5py, numpy as np
a, b = h5py.File("../a/demo.h5", "r"), h5py.File("demo.h5", "r")
for name in ["cutouts/images", "cutouts/flags", "pca/coords_10", "anomaly/iforest_score"]:
    assert np.array_equal(a[name][()], b[name][()], equal_nan=True), name
print("ok: stopped in cutout, resumed by a rerun: equal to the clean run")
PY

# on 1 and 3 ranks: the same rows (stamps and votes byte for byte, representations to float rounding)
for np in 1 3; do
  cd "$work" && mkdir np$np && cd np$np
  cp -r ../a/demo-survey .
  zt_mpi $np run "${small[@]}" --set run.simulate=false --set run.report=false > run.log 2>&1 || { cat run.log; exit 1; }
  $ZM_PYTHON - $np <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File("../a/demo.h5", "r"), h5py.File("demo.h5", "r")
for name in ["galaxies/ra", "cutouts/images", "cutouts/flags", "labels/votes"]:
    assert np.array_equal(a[name][()], b[name][()]), name
for name in ["representation/embedding", "predictions/vote_fraction"]:
    x, y = a[name][()], b[name][()]
    assert np.allclose(x, y, rtol=1e-4, atol=1e-5, equal_nan=True), (name, np.nanmax(np.abs(x - y)))
print(f"ok: zoomorph run on {sys.argv[1]} ranks: the same rows as on 2")
PY
done

# bad input: named before anything runs
cd "$work" && mkdir d && cd d
set +e
zt_mpi 2 run "${small[@]}" --set run.simulate=false --set survey.root=nowhere > e1.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc e1.log "config key [survey] root: nowhere is not a directory"
test ! -e demo.h5
set +e
zt_mpi 1 run "${small[@]}" --set embed.weights=missing.h5 > e2.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc e2.log "config key [embed] weights: weight file missing.h5 does not exist"
test ! -e demo-survey
set +e
zt_mpi 1 run "${small[@]}" --from bogus > e3.log 2>&1; rc=$?
set -e
zt_expect_rc 2 $rc e3.log "run: --from: 'bogus' is not a stage of the run"
echo "e2e run: ok"
