#!/bin/bash
# `zoomorph finetune` with [finetune] kind = tree: a 2-question Galaxy Zoo-style decision
# tree written here, vote counts per answer (<question>_<answer> columns, as the Galaxy Zoo
# catalogues have them) made from each galaxy's size, on a small simulated survey embedded
# with the shipped model. Frozen on 1 and 2 ranks (the same predictions and weights; the
# Dirichlet loss falls), top (frozen blocks' weights and batch-norm running statistics
# unchanged) and all; predicted vote fractions for every galaxy, the catalogue's
# <task>_<question>_<answer>_fraction columns, the stored test error against numpy. Bad
# inputs: a missing answer column, negative / NaN / fractional counts (rows listed in
# /rejects), no [finetune] tree. --learning-curve of a tree: its table and baseline. The loss itself is
# zm_gz_dirichlet_loss (unit.taskloss checks the tree task against gz_loss.py).
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir finetune_tree)
cd "$work"
zt_embedded_survey "$work"
cat > small.tree <<'T'
# a 2-question tree: bar is asked of disks
shape: round, disk, odd
bar: yes, no | shape_disk
T
# votes from the galaxy's size: big galaxies mostly "disk", the disks' bar votes by brightness
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
f = h5py.File(f"{w}/s.h5", "r")
n = len(f["galaxies/id"])
r50 = f["galaxies/r50"][:]
rng = np.random.default_rng(5)
z = (np.log(r50) - np.log(r50).mean()) / np.log(r50).std()
p = 1 / (1 + np.exp(-2 * z))
cols = ["shape_round", "shape_disk", "shape_odd", "bar_yes", "bar_no"]
split = ["train", "validation", "test"]
with open(f"{w}/votes.csv", "w") as out, open(f"{w}/bad.csv", "w") as bad:
    out.write("id," + ",".join(cols) + ",split\n")
    bad.write("id," + ",".join(cols) + "\n")
    for i in range(n):
        N = 20
        disk = rng.binomial(N, 0.9 * p[i])
        odd = rng.binomial(N - disk, 0.05)
        bar = rng.binomial(disk, 0.3 + 0.4 * (i % 2))
        row = [N - disk - odd, disk, odd, bar, disk - bar]
        out.write(f"{i}," + ",".join(map(str, row)) + f",{split[i % 4 if i % 4 < 3 else 0]}\n")
        bad.write(f"{i}," + ",".join(map(str, row)) + "\n")
    bad.write("5,3,-1,0,0,0\n")     # negative
    bad.write("6,3,nan,0,0,0\n")    # NaN
    bad.write("7,3,2.5,0,0,0\n")    # not a whole number
    bad.write("99999,3,2,0,1,1\n")  # not a galaxy of the store
PY
ft=(--set finetune.labels="$work/votes.csv" --set finetune.match=id --set finetune.kind=tree
    --set finetune.tree="$work/small.tree" --set finetune.task=shape --set finetune.epochs=10 --set finetune.patience=0
    --set finetune.lr=1e-3)
for np in 1 2; do
  cp s.h5 s$np.h5
  zt_mpi $np finetune "${common[@]}" "${ft[@]}" --set store.path="$work/s$np.h5" --set finetune.output="$work/shape$np.h5" > ft$np.log 2>&1
  grep -q "finetune: shape (tree, 2 questions, 5 answers, frozen) on" ft$np.log
  test -s shape$np.h5 && test ! -e shape$np.h5.ckpt
done
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
fs = [h5py.File(f"{w}/s{k}.h5", "r") for k in (1, 2)]
f = fs[0]
p = f["finetune/shape/prediction"][:]
lab, split = f["finetune/shape/label"][:], f["finetune/shape/split"][:]
bad = (f["cutouts/flags"][:] & 16) != 0
n = len(bad)
assert p.shape == (n, 5) and lab.shape == (n, 5), (p.shape, lab.shape)
assert np.isnan(p[bad]).all() and np.isfinite(p[~bad]).all(), "every galaxy predicted, NaN if rejected"
ok = ~bad
assert np.allclose(p[ok, :3].sum(1), 1, atol=1e-5) and np.allclose(p[ok, 3:].sum(1), 1, atol=1e-5)
c = f["finetune/shape/prediction"].attrs["columns"]
assert (c.decode() if isinstance(c, bytes) else c) == "shape_round,shape_disk,shape_odd,bar_yes,bar_no"
d = np.nanmax(np.abs(fs[1]["finetune/shape/prediction"][:] - p))
W = [h5py.File(f"{w}/shape{k}.h5", "r")["tensors"] for k in (1, 2)]
dw = max(np.abs(W[0][k][:] - W[1][k][:]).max() for k in W[0])
print(f"tree fine-tuning on 1 / 2 ranks: predictions differ by {d:.2e}, weights by {dw:.2e}")
assert d < 1e-5 and dw < 1e-4
h = f["finetune/shape/history"][:]
print("train loss per galaxy by epoch:", " ".join(f"{x:.3f}" for x in h[:, 0]))
assert h.shape[0] == 167 and np.isfinite(h).all()  # 10 epochs raised to frozen_min_steps = 500 steps of 3
assert h[-1, 0] < 0.9 * h[0, 0], "the Dirichlet loss falls"
assert h[-1, 1] < h[0, 1], "the validation loss falls"
# the stored test error of the vote fractions, recomputed
t = (split == 2) & np.isfinite(lab).all(1)
errs, errs0 = [], []
for i in np.nonzero(t)[0]:
    for q, (a, b) in enumerate(((0, 3), (3, 5))):
        N = lab[i, a:b].sum()
        if N > 0:
            e = np.abs(p[i, a:b] - lab[i, a:b] / N).mean()
            errs.append(e)
            if q == 0: errs0.append(e)
a = f["finetune/shape/prediction"].attrs
mae, mae0 = np.mean(errs), np.mean(errs0)
print(f"test vote-fraction MAE {mae:.4f} (stored {a['test_fraction_mae']}), first question {mae0:.4f} "
      f"(stored {a['test_fraction_mae_first_question']}); predicting the training mean: ", end="")
tr = (split == 0) & np.isfinite(lab).all(1)
m0 = (lab[tr, :3] / lab[tr, :3].sum(1, keepdims=True)).mean(0)
base = np.mean([np.abs(m0 - lab[i, :3] / lab[i, :3].sum()).mean() for i in np.nonzero(t)[0]])
print(f"{base:.4f}")
assert abs(mae - float(a["test_fraction_mae"])) < 1e-5 and abs(mae0 - float(a["test_fraction_mae_first_question"])) < 1e-5
assert mae0 < base, "the fine-tuned tree beats the training mean on the first question"
PY

# top (2 blocks) and all: the frozen blocks' weights and batch-norm running statistics
# stay the encoder's
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set store.path="$work/s2.h5" --set finetune.mode=top \
  --set finetune.epochs=2 --set finetune.output="$work/top.h5" > top.log 2>&1
grep -q "finetune: shape (tree, 2 questions, 5 answers, top)" top.log
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set store.path="$work/s2.h5" --set finetune.mode=all \
  --set finetune.epochs=1 --set train.max_steps=2 --set finetune.task=shape_all --set finetune.output="$work/all.h5" > all.log 2>&1
grep -q "finetune: shape_all (tree, 2 questions, 5 answers, all)" all.log
$ZM_PYTHON - "$work" "$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
t, e = h5py.File(f"{w}/top.h5", "r")["tensors"], h5py.File(sys.argv[2], "r")["tensors"]
low = [k for k in t if k.startswith(("features.0.", "features.1.", "features.5."))]
assert any("running" in k for k in low)
dl = max(np.abs(t[k][:] - e[k][:]).max() for k in low)
top = np.abs(t["features.7.0.weight"][:] - e["features.7.0.weight"][:]).max()
print(f"top mode: frozen blocks (running statistics included) changed by {dl:.1e}, the top block by {top:.1e}")
assert dl == 0 and top > 0
f = h5py.File(f"{w}/s2.h5", "r")
for task in ("shape", "shape_all"):
    p = f[f"finetune/{task}/prediction"][:]
    ok = np.isfinite(p).all(1)
    assert p.shape[1] == 5 and ok.sum() > 0 and np.allclose(p[ok, :3].sum(1), 1, atol=1e-5)
print("top and all modes: vote fractions for every galaxy")
PY
zt_mpi 1 catalogue "${common[@]}" --set store.path="$work/s1.h5" --set catalogue.path="$work/cat.fits" > cat.log 2>&1
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
from astropy.table import Table
w = sys.argv[1]
t, f = Table.read(f"{w}/cat.fits"), h5py.File(f"{w}/s1.h5", "r")
p = f["finetune/shape/prediction"][:]
ok = np.isfinite(p).all(1)
for k, c in enumerate(["shape_round", "shape_disk", "shape_odd", "bar_yes", "bar_no"]):
    col = np.asarray(t[f"shape_{c}_fraction"])
    assert col.shape == (len(t),) and np.allclose(col[ok], p[ok, k]) and np.isnan(col[~ok]).all(), c
print("catalogue: columns shape_<question>_<answer>_fraction, one per answer")
PY

# bad inputs: bad rows are listed and skipped; a missing answer column stops the run
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set finetune.labels="$work/bad.csv" --set finetune.epochs=2 \
  --set finetune.task=badrows --set finetune.output="$work/badrows.h5" > rows.log 2>&1
grep -q "3 rejected, 1 without a galaxy" rows.log
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py
f = h5py.File(f"{sys.argv[1]}/s.h5", "r")
reasons = [r.decode() for r in f["rejects/reason"][:] if b"bad.csv" in r]
n = len(f["galaxies/id"])
for want in (f"line {n + 2}: column shape_disk = -1: expected a non-negative whole number of votes",
             f"line {n + 3}: column shape_disk = nan: expected a non-negative whole number of votes",
             f"line {n + 4}: column shape_disk = 2.5: expected a non-negative whole number of votes",
             "id 99999 is not a galaxy of the store"):
    assert any(want in r for r in reasons), (want, reasons)
print("bad vote rows (negative, NaN, fractional counts; unknown id) listed in /rejects")
PY
set +e
cut -d, -f1-5 votes.csv > nobar.csv
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set finetune.labels="$work/nobar.csv" > b1.log 2>&1; rc=$?
zt_expect_rc 1 $rc b1.log "nobar.csv: answer column 'bar_no' is missing"
zt_mpi 1 finetune "${common[@]}" "${ft[@]}" --set finetune.tree= > b2.log 2>&1; rc=$?
zt_expect_rc 1 $rc b2.log "config key [finetune] tree is not set"
zt_mpi 1 finetune "${common[@]}" "${ft[@]}" --set finetune.tree="$work/none.tree" > b3.log 2>&1; rc=$?
zt_expect_rc 1 $rc b3.log "config key [finetune] tree: decision tree $work/none.tree: cannot open"
set -e

# the learning curve of a tree (tiny: frozen only, two sizes): the table, the runs, the
# plot, and the baseline of predicting the training pool's mean vote fractions against numpy
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set finetune.lc_sizes=10,20 --set finetune.lc_seeds=2 \
  --set finetune.lc_methods=frozen --set finetune.lc_steps=20 --set finetune.lc_out="$work/lc" \
  --learning-curve "$work/votes.csv" > lc.log 2>&1
test -s lc.png && grep -q "| 20 | frozen |" lc.md && [ "$(wc -l < lc.csv)" = 5 ]
head -1 lc.csv | grep -qx "labels,method,seed,fraction_mae,fraction_mae_shape"
$ZM_PYTHON - "$work" <<'PY'
import sys, re, csv, h5py, numpy as np
w = sys.argv[1]
f = h5py.File(f"{w}/s.h5", "r")
ok = ((f["cutouts/flags"][:] & 16) == 0) & np.isfinite(f["representation/embedding"][:]).all(1)
rows = list(csv.DictReader(open(f"{w}/votes.csv")))
cols = ["shape_round", "shape_disk", "shape_odd", "bar_yes", "bar_no"]
qs = ((0, 3), (3, 5))
lab = {int(r["id"]): (np.array([float(r[c]) for c in cols]), r["split"]) for r in rows if ok[int(r["id"])]}
pool = [v for v, s in lab.values() if s != "test"]
test = [v for v, s in lab.values() if s == "test"]
mean = np.zeros(5)
for a, b in qs:
    fr = [v[a:b] / v[a:b].sum() for v in pool if v[a:b].sum() > 0]
    mean[a:b] = np.mean(fr, 0)
errs, errs0 = [], []
for v in test:
    for q, (a, b) in enumerate(qs):
        if v[a:b].sum() > 0:
            e = np.abs(mean[a:b] - v[a:b] / v[a:b].sum()).mean()
            errs.append(e)
            if q == 0: errs0.append(e)
md = open(f"{w}/lc.md").read()
m = re.search(r"the (\d+) labelled galaxies of the held-out split; predicting the mean vote fractions of the (\d+) "
              r"labels the training sets are drawn from: MAE ([0-9.]+), shape ([0-9.]+)", md)
assert m, md
print(f"tree learning curve: test {m[1]} (numpy {len(test)}), pool {m[2]} (numpy {len(pool)}), baseline MAE {m[3]} "
      f"(numpy {np.mean(errs):.4f}), shape {m[4]} (numpy {np.mean(errs0):.4f})")
assert int(m[1]) == len(test) and int(m[2]) == len(pool)
assert abs(float(m[3]) - np.mean(errs)) < 6e-5 and abs(float(m[4]) - np.mean(errs0)) < 6e-5
runs = list(csv.DictReader(open(f"{w}/lc.csv")))
for r in runs:
    assert 0 < float(r["fraction_mae"]) < 0.5 and 0 < float(r["fraction_mae_shape"]) < 0.5, r
print("tree learning curve runs:", ", ".join(f"{r['labels']}/{r['seed']}: {float(r['fraction_mae']):.4f}" for r in runs))
PY
# a vote table without a split column has no test galaxies to score
set +e
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set finetune.lc_sizes=10 --set finetune.lc_seeds=1 \
  --set finetune.lc_methods=frozen --set finetune.lc_out="$work/lcbad" --learning-curve "$work/bad.csv" > lcbad.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc lcbad.log "bad.csv: --learning-curve needs a split column with test rows and at least 2 other rows (found 0 test"
echo "finetune_tree: all checks passed"
