#!/bin/bash
# `zoomorph finetune` on a small simulated survey embedded with the shipped model:
# rings (the simulator's rings.csv, matched by ra/dec) with a frozen encoder on 1, 2 and 3
# ranks (the same predictions and weights), every galaxy predicted (NaN for rejected
# stamps), metrics checked against scikit-learn; the top blocks unfrozen (lower blocks
# unchanged, top ones changed); a run killed (SIGKILL, one rank) after an epoch on 2 and
# 3 ranks fails promptly, leaves a store that opens, resumes and ends with the weights and
# store rows of an uninterrupted run on the same rank count; multi-class and regression
# labels by store id; bad inputs: a missing column, unknown ids and non-numeric labels
# (listed, skipped), a single class, too few labels for the validation split, too many
# blocks to unfreeze;
# --learning-curve writes its table and plot.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir finetune)
cd "$work"
zt_embedded_survey "$work"
ft=(--set finetune.labels="$work/survey/rings.csv" --set finetune.label_column=ring --set finetune.task=rings
    --set finetune.epochs=12 --set finetune.patience=0 --set finetune.frozen_min_steps=0 --set finetune.lr=1e-3)
for np in 1 2 3; do
  cp s.h5 s$np.h5
  zt_mpi $np finetune "${common[@]}" "${ft[@]}" --set store.path="$work/s$np.h5" --set finetune.output="$work/rings$np.h5" > ft$np.log 2>&1
  grep -q "finetune: rings (binary, 2 classes, frozen) on" ft$np.log
  test ! -e rings$np.h5.ckpt
done
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np, csv
from sklearn.metrics import roc_auc_score
w = sys.argv[1]
preds = []
for np_ in (1, 2, 3):
    f = h5py.File(f"{w}/s{np_}.h5", "r")
    preds.append(f["finetune/rings/prediction"][:])
p, lab, split = preds[0], f["finetune/rings/label"][:], f["finetune/rings/split"][:]
flags = f["cutouts/flags"][:]
bad = (flags & 16) != 0
n = len(flags)
assert p.shape == (n,) and np.isnan(p[bad]).all() and np.isfinite(p[~bad]).all(), "every galaxy predicted, NaN if rejected"
assert ((p[~bad] >= 0) & (p[~bad] <= 1)).all()
d = max(np.nanmax(np.abs(q - p)) for q in preds[1:])
print(f"frozen fine-tuning on 1 / 2 / 3 ranks: predictions differ by at most {d:.2e}")
assert d < 1e-5
W = [h5py.File(f"{w}/rings{k}.h5", "r")["tensors"] for k in (1, 2, 3)]
dw = max(np.abs(W[0][k][:] - W[j][k][:]).max() for j in (1, 2) for k in W[0])
print(f"fine-tuned weight files on 1 / 2 / 3 ranks differ by at most {dw:.2e}")
# the gradients are summed in another order on each rank count: 12 epochs of float
# rounding (1.5e-6 in the optimised build, 3.4e-5 in the sanitizer's -O0 build)
assert dw < 1e-4
assert h5py.File(f"{w}/rings1.h5", "r").attrs["head_hidden"] == 0  # head = auto: linear when frozen
rows = list(csv.DictReader(open(f"{w}/survey/rings.csv")))
nl = np.isfinite(lab).sum()
assert nl == len(rows), (nl, len(rows))
sp = {"train": 0, "validation": 1, "test": 2}
assert sorted(split[np.isfinite(lab)].tolist()) == sorted(sp[r["split"]] for r in rows)
t = split == 2
acc = ((p[t] >= 0.5) == (lab[t] > 0.5)).mean()
auc = roc_auc_score(lab[t], p[t])
a = f["finetune/rings/prediction"].attrs
print(f"test accuracy {acc:.4f} (stored {a['test_accuracy']}), ROC AUC {auc:.4f} (stored {a['test_roc_auc']})")
assert abs(acc - float(a["test_accuracy"])) < 1e-5 and abs(auc - float(a["test_roc_auc"])) < 1e-5
h = f["finetune/rings/history"][:]
assert h.shape[0] == 12 and np.isfinite(h).all()
PY

# the top 2 blocks unfrozen: blocks below unchanged, the top ones trained (on a copy: s2.h5
# keeps the frozen run's rows for the kill test below)
cp s2.h5 top_s.h5
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set store.path="$work/top_s.h5" --set finetune.mode=top \
  --set finetune.epochs=2 --set finetune.output="$work/top.h5" > top.log 2>&1
grep -q "finetune: rings (binary, 2 classes, top)" top.log
$ZM_PYTHON - "$work" "$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5" <<'PY'
import sys, h5py, numpy as np
t, e = h5py.File(f"{sys.argv[1]}/top.h5", "r")["tensors"], h5py.File(sys.argv[2], "r")["tensors"]
low = max(np.abs(t[k][:] - e[k][:]).max() for k in t if k.startswith(("features.0.", "features.1.", "features.5.")) and "running" not in k)
top = np.abs(t["features.7.0.weight"][:] - e["features.7.0.weight"][:]).max()
top2 = np.abs(t["features.6.1.block.3.0.weight"][:] - e["features.6.1.block.3.0.weight"][:]).max()
print(f"top mode: lower blocks changed by {low:.1e}, last two blocks by {top:.1e} and {top2:.1e}")
assert low == 0 and top > 0 and top2 > 0
PY

# killed after epoch 5 (index 4) on 2 and 3 ranks (rank 1 of 2; rank 0 of 3, the one that
# writes the checkpoint and the store), resumed on as many ranks: the job fails promptly
# (SIGKILL, no hang), the store opens with finetune "running", and the rerun resumes from
# the checkpoint and ends with the weights and store rows of the uninterrupted run on
# that rank count (rings2/s2, rings3/s3 above), bit for bit
for np in 2 3; do
  victim=$(( np == 2 ? 1 : 0 ))
  cp s.h5 k$np.h5
  set +e
  start=$(date +%s)
  ZM_FAULT_KILL=finetune:4:$victim timeout 120 mpirun --oversubscribe -np $np "$ZM_BIN" finetune "${common[@]}" "${ft[@]}" \
    --set store.path="$work/k$np.h5" --set finetune.output="$work/k$np.h5.model" > kill$np.log 2>&1; rc=$?
  set -e
  echo "np $np: killed run (rank $victim) exit status $rc after $(( $(date +%s) - start )) s"
  grep -q "ZM_FAULT_KILL: rank $victim of stage finetune killing itself after round 4" kill$np.log \
    || { echo "FAIL: the fault was not injected"; cat kill$np.log; exit 1; }
  test $rc -ne 0 -a $rc -ne 124      # it failed, and within the timeout (no hang)
  test -s k$np.h5.model.ckpt         # the checkpoint of epoch 5
  test ! -e k$np.h5.model            # no weights from the killed run
  rm -f k$np.h5.lock                 # the killed run's lock (same host, process gone)
  zt_killed_store "$work/k$np.h5" finetune finetune/rings
  zt_mpi $np finetune "${common[@]}" "${ft[@]}" --set store.path="$work/k$np.h5" \
    --set finetune.output="$work/k$np.h5.model" > resume$np.log 2>&1
  grep -q "resuming from .*k$np.h5.model.ckpt after epoch 5" resume$np.log \
    || { echo "FAIL: the rerun did not resume from epoch 5"; cat resume$np.log; exit 1; }
  test ! -e k$np.h5.model.ckpt
  $ZM_PYTHON - "$work" $np <<'PY'
import sys, h5py, numpy as np
w, n = sys.argv[1], sys.argv[2]
a, b = h5py.File(f"{w}/rings{n}.h5", "r")["tensors"], h5py.File(f"{w}/k{n}.h5.model", "r")["tensors"]
assert sorted(a) == sorted(b) and len(a)
for k in a:
    assert np.array_equal(a[k][:], b[k][:]), k
s, t = h5py.File(f"{w}/s{n}.h5", "r"), h5py.File(f"{w}/k{n}.h5", "r")
assert t["meta/stages/finetune"].attrs["status"] == b"complete"
assert np.array_equal(s["galaxies/id"][:], t["galaxies/id"][:])
for name in ["prediction", "label", "split", "history"]:
    x, y = s[f"finetune/rings/{name}"][:], t[f"finetune/rings/{name}"][:]
    assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), name
print(f"{n} ranks: killed after epoch 5 and resumed: all {len(a)} tensors and the store's predictions, "
      f"labels, split and history equal the uninterrupted run's bit for bit")
PY
done

# multi-class and regression by store id; bad rows are listed and skipped
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
f = h5py.File(f"{w}/s.h5", "r")
n = len(f["galaxies/id"])
r50 = f["galaxies/r50"][:]
with open(f"{w}/multi.csv", "w") as m, open(f"{w}/reg.csv", "w") as r:
    m.write("id,label\n"); r.write("id,label\n")
    for i in range(n):
        m.write(f"{i},{i % 3}\n"); r.write(f"{i},{r50[i]:.4f}\n")
    m.write("99999,1\n")        # not a galaxy of the store
    m.write("5,abc\n")          # not a number
    m.write("6,nan\n")          # NaN
    m.write("7,1.5\n")          # not a class
PY
zt_mpi 2 finetune "${common[@]}" --set finetune.labels="$work/multi.csv" --set finetune.match=id --set finetune.kind=multiclass \
  --set finetune.task=third --set finetune.epochs=3 --set finetune.output="$work/multi.h5" > multi.log 2>&1
grep -q "third (multiclass, 3 classes, frozen)" multi.log
grep -q "3 rejected, 1 without a galaxy" multi.log
zt_mpi 3 finetune "${common[@]}" --set finetune.labels="$work/reg.csv" --set finetune.match=id --set finetune.kind=regression \
  --set finetune.task=size --set finetune.head=mlp --set finetune.epochs=3 --set finetune.output="$work/reg.h5" > reg.log 2>&1
grep -q "size (regression, frozen)" reg.log
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(f"{sys.argv[1]}/s.h5", "r")
p = f["finetune/third/prediction"][:]
ok = np.isfinite(p).all(1)
assert p.shape[1] == 3 and np.allclose(p[ok].sum(1), 1, atol=1e-5)
assert f["finetune/size/prediction"].shape == (p.shape[0],)
reasons = [r.decode() for r in f["rejects/reason"][:]]
for want in ("line 243: label is not a number", "line 244: label is not a number", "line 245: label is not a class",
             "id 99999 is not a galaxy of the store"):
    assert any(want in r for r in reasons), want
print("multi-class (3 classes) and regression predictions; bad label rows listed in /rejects")
PY
zt_mpi 1 catalogue "${common[@]}" --set catalogue.path="$work/cat.fits" > cat.log 2>&1
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
from astropy.table import Table
w = sys.argv[1]
t, f = Table.read(f"{w}/cat.fits"), h5py.File(f"{w}/s.h5", "r")
assert t["finetune_third"].shape == (len(t), 3) and t["finetune_size"].shape == (len(t),)
p = f["finetune/third/prediction"][:]
ok = np.isfinite(p).all(1)
assert np.allclose(np.asarray(t["finetune_third"])[ok], p[ok])
print("catalogue: columns finetune_third (3 class probabilities) and finetune_size")
PY

# bad inputs
set +e
zt_mpi 1 finetune "${common[@]}" "${ft[@]}" --set finetune.label_column=ringz > b1.log 2>&1; rc=$?
zt_expect_rc 1 $rc b1.log "rings.csv: no column 'ringz' (config key [finetune] label_column)"
awk -F, 'BEGIN{OFS=","} NR==1{print; next} {$3=0; print}' survey/rings.csv > zeros.csv
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set finetune.labels="$work/zeros.csv" > b2.log 2>&1; rc=$?
zt_expect_rc 1 $rc b2.log "training labels is class 0; a classifier needs at least two classes"
printf 'id,label\n1,0\n2,1\n3,0\n4,1\n5,0\n' > few.csv
zt_mpi 2 finetune "${common[@]}" --set finetune.labels="$work/few.csv" --set finetune.match=id > b3.log 2>&1; rc=$?
zt_expect_rc 1 $rc b3.log "early stopping needs at least 4 ([finetune] min_val): give at least 20 labels"
zt_mpi 2 finetune "${common[@]}" "${ft[@]}" --set finetune.mode=top --set finetune.top_blocks=40 > b4.log 2>&1; rc=$?
zt_expect_rc 1 $rc b4.log "top_blocks = 40: the zoonet network has only"
zt_mpi 1 finetune "${common[@]}" "${ft[@]}" --set finetune.labels="$work/none.csv" > b5.log 2>&1; rc=$?
zt_expect_rc 1 $rc b5.log "none.csv"
set -e

# the learning curve (tiny: frozen only, two sizes)
zt_mpi 2 finetune "${common[@]}" --set finetune.label_column=ring --set finetune.lc_sizes=10,20 --set finetune.lc_seeds=2 \
  --set finetune.lc_methods=frozen --set finetune.lc_steps=20 --set finetune.lc_out="$work/lc" \
  --learning-curve "$work/survey/rings.csv" > lc.log 2>&1
test -s lc.png && grep -q "| 20 | frozen |" lc.md && grep -q "| 20 | logistic regression |" lc.md
[ "$(grep -vc ',logistic,' lc.csv)" = 5 ] && [ "$(grep -c ',logistic,' lc.csv)" = 4 ]
echo "finetune: all checks passed"
