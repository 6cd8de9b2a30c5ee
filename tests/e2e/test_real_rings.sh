#!/bin/bash
# Real galaxies end to end: the 239 real Galaxy Zoo DECaLS pictures of
# shared/data/real/gz-rings-dev (424-pixel PNGs at Galaxy Zoo's field, ring labels) as a
# cutout table (positions from the IAU names) with [survey] input_field = gz: plan, cutout
# (each stamp the shipped model's field, the central half), embed with the shipped model
# (named by no key: a minimal config gets it),
# finetune frozen on the ring labels of a fixed split (by galaxy: every third galaxy in
# name order is test), and the scores checked against scikit-learn on the same stored
# representation. Skipped without ../shared.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
zt_need_shared
D="$ZM_SHARED_DATA/gz-rings-dev"
[ -f "$D/gz-rings-dev.csv" ] || { echo "SKIP: no $D/gz-rings-dev.csv"; exit 77; }
work=$(zt_workdir real_rings)
cd "$work"
$ZM_PYTHON - "$D" "$work" <<'PY'
import csv, re, sys
d, w = sys.argv[1], sys.argv[2]
rows = sorted(csv.DictReader(open(f"{d}/gz-rings-dev.csv")), key=lambda r: r["iauname"])
def radec(name):  # Jhhmmss.ss+ddmmss.s
    m = re.match(r"J(\d\d)(\d\d)(\d\d\.\d+)([+-])(\d\d)(\d\d)(\d\d\.\d+)$", name)
    h, mi, s, sg, dd, dm, ds = m.groups()
    ra = 15 * (int(h) + int(mi) / 60 + float(s) / 3600)
    dec = (int(dd) + int(dm) / 60 + float(ds) / 3600) * (-1 if sg == "-" else 1)
    return ra, dec
with open(f"{w}/table.csv", "w") as t, open(f"{w}/rings.csv", "w") as l:
    t.write("ra,dec,file\n")
    l.write("ra,dec,ring,split\n")
    for i, r in enumerate(rows):
        ra, dec = radec(r["iauname"])
        t.write(f"{ra:.6f},{dec:.6f},{d}/{r['file']}\n")
        split = "test" if i % 3 == 2 else "validation" if i % 6 == 1 else "train"
        l.write(f"{ra:.6f},{dec:.6f},{r['ring']},{split}\n")
print(len(rows), "real galaxies")
PY
common=(--set store.path="$work/real.h5" --set survey.mode=cutouts --set survey.cutout_table="$work/table.csv"
        --set survey.input_field=gz --set cutout.size=72)  # no weights named: the shipped model
zt_mpi 2 plan "${common[@]}" > plan.log 2>&1
zt_mpi 2 cutout "${common[@]}" > cutout.log 2>&1
zt_mpi 2 embed "${common[@]}" > embed.log 2>&1
zt_mpi 2 finetune "${common[@]}" --set finetune.labels="$work/rings.csv" --set finetune.label_column=ring \
  --set finetune.task=rings > finetune.log 2>&1
grep -q "finetune: rings (binary, 2 classes, frozen) on" finetune.log
grep -q "galaxies embedded .* with .*/models/zoonet-gz-sim.h5 (zoonet" embed.log
$ZM_PYTHON - "$work/real.h5" <<'PY'
import sys, h5py, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
f = h5py.File(sys.argv[1], "r")
n = f["cutouts/images"].shape[0]
flags = f["cutouts/flags"][:]
assert n == 239 and not (flags & 16).any(), (n, flags)
assert f["cutouts/images"].attrs["field"].decode().startswith("gz: 212 x"), f["cutouts/images"].attrs["field"]
comp = f["meta/stages/embed"].attrs["compute"].decode()  # provenance: BLAS core, kernels, CPU
assert comp.startswith("BLAS ") and " core " in comp and "engine kernels" in comp, comp
X = f["representation/embedding"][:].astype(np.float64)
p, lab, split = f["finetune/rings/prediction"][:], f["finetune/rings/label"][:], f["finetune/rings/split"][:]
assert np.isfinite(X).all() and np.isfinite(p).all() and np.isfinite(lab).all()
tr, te = split != 2, split == 2
auc = roc_auc_score(lab[te], p[te])
sc = StandardScaler().fit(X[tr])
lr = LogisticRegression(max_iter=5000).fit(sc.transform(X[tr]), lab[tr])
auc_lr = roc_auc_score(lab[te], lr.predict_proba(sc.transform(X[te]))[:, 1])
print(f"real rings, {te.sum()} test galaxies: zoomorph frozen head ROC AUC {auc:.3f}, "
      f"scikit-learn logistic regression on the same representation {auc_lr:.3f}")
assert auc > 0.5, auc  # better than chance on real galaxies
PY
echo "e2e real_rings: ok"
