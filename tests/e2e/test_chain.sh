#!/bin/bash
# The chain after the cutouts on a small simulated survey: votes -> pretrain (2 epochs)
# -> embed (2 and 3 ranks agree; Monte-Carlo dropout) -> pca -> anomaly -> catalogue (with the
# anomaly score joined; read back by
# astropy, fitsverify without errors); a model whose channels do not match the stamps, a
# store without /galaxies and a second writer are refused with clear messages.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir chain)
cd "$work"
# seed 2: 2 train bricks, 1 validation, 1 test (the simulator splits by brick)
sim=(--set simulate.out="$work/survey" --set simulate.bricks=4 --set simulate.brick_size=900 --set simulate.seed=2
     --set simulate.galaxies_per_brick=16 --set simulate.stars_per_brick=2 --set simulate.min_separation=10
     --set simulate.val_fraction=0.3 --set simulate.test_fraction=0.2)
zt_mpi 2 simulate "${sim[@]}" > sim.log 2>&1
common=(--set survey.root="$work/survey" --set store.path="$work/s.h5" --set cutout.size=64
        --set labels.votes="$work/survey/votes.csv" --set model.output="$work/model.h5"
        --set model.input_size=56 --set train.epochs=2 --set train.batch=16 --set train.micro_batch=8)
zt_mpi 2 plan "${common[@]}" > plan.log 2>&1
zt_mpi 2 cutout "${common[@]}" > cutout.log 2>&1
zt_mpi 2 votes "${common[@]}" > votes.log 2>&1
zt_mpi 2 pretrain "${common[@]}" > pretrain.log 2>&1
grep -q "train, 16 validation, 16 test (held out), split as the vote table's split column says" pretrain.log
grep -q "pretrain: zoonet on" pretrain.log
cp s.h5 s3.h5
cp s.h5 smc.h5
zt_mpi 2 embed "${common[@]}" > embed2.log 2>&1
# Monte-Carlo dropout: 4 passes (the encoder runs once, the head four times)
zt_mpi 2 embed "${common[@]}" --set store.path="$work/smc.h5" --set embed.mc_passes=4 > embedmc.log 2>&1
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
a, m = h5py.File(f"{w}/s.h5", "r"), h5py.File(f"{w}/smc.h5", "r")
good = (a["cutouts/flags"][:] & 16) == 0
assert np.array_equal(a["representation/embedding"][:][good], m["representation/embedding"][:][good]), \
    "dropout is after the pooled representation: MC passes do not change it"
sd = m["predictions/vote_fraction_std"][:][good]
vf = m["predictions/vote_fraction"][:][good]
assert (sd > 0).mean() > 0.9, "the passes differ"
assert np.allclose(vf[:, 0:3].sum(1), 1, atol=1e-5)
d = np.abs(vf - a["predictions/vote_fraction"][:][good]).max()
assert 0 < d < 0.5, d
print(f"MC dropout: median std {np.median(sd):.4f}, largest shift of the mean {d:.4f}")
PY
zt_mpi 3 embed "${common[@]}" --set store.path="$work/s3.h5" > embed3.log 2>&1
zt_mpi 2 pca "${common[@]}" > pca.log 2>&1
zt_mpi 3 anomaly "${common[@]}" --set anomaly.output="$work/anomalies.csv" > anomaly.log 2>&1
zt_mpi 1 catalogue "${common[@]}" --set catalogue.path="$work/cat.fits" > cat.log 2>&1
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
from astropy.table import Table
w = sys.argv[1]
a, b = h5py.File(f"{w}/s.h5", "r"), h5py.File(f"{w}/s3.h5", "r")
ea, eb = a["representation/embedding"][:], b["representation/embedding"][:]
n = ea.shape[0]
assert ea.shape == eb.shape and ea.shape[1] == 512
flags = a["cutouts/flags"][:]
good = (flags & 16) == 0
assert np.isfinite(ea[good]).all() and np.isnan(ea[~good]).all(), "NaN exactly for rejected stamps"
d = np.nanmax(np.abs(ea - eb))
print(f"embed on 2 vs 3 ranks: worst |difference| {d:.2e} over {ea.size} values")
assert d < 1e-4
vf = a["predictions/vote_fraction"][:]
q0 = vf[good, 0:3].sum(1)
assert np.allclose(q0, 1, atol=1e-5), "the answers of a question sum to 1"
pc = a["pca/coords_10"][:]
assert pc.shape == (n, 10) and np.isfinite(pc[good]).all()
ev = a["pca/explained_ratio"][:]
assert (np.diff(ev) <= 1e-12).all() and ev.sum() <= 1 + 1e-9
t = Table.read(f"{w}/cat.fits")
assert len(t) == n and "smooth-or-featured_smooth_fraction" in t.colnames and "merging_merger_fraction_std" in t.colnames
assert np.allclose(t["smooth-or-featured_smooth_fraction"][good], vf[good, 0], atol=1e-6)
assert str(t["ra"].unit) == "deg" and t["pca10"].shape == (n, 10)
# a later stage's registered column joins the table, row for row
sc = a["anomaly/iforest_score"][:]
assert "anomaly_iforest" in t.colnames, t.colnames
assert np.array_equal(np.isnan(t["anomaly_iforest"]), np.isnan(sc))
assert np.allclose(t["anomaly_iforest"][good], sc[good], atol=0)
hist = a["pretrain/history"][:]
assert hist.shape[0] == 2 and np.isfinite(hist).all()
print(f"chain: {n} galaxies; pretrain history {hist[:, :2].tolist()}; catalogue {len(t.colnames)} columns")
PY
if command -v fitsverify > /dev/null; then
  fitsverify -q cat.fits | tee fv.log || true
  grep -q " 0 errors" fv.log
fi
# a colour model on grey stamps
"$ZM_BIN" params > /dev/null
set +e
zt_mpi 1 embed "${common[@]}" --set store.path="$work/s3.h5" --set embed.weights="$work/nonexistent.h5" > e1.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc e1.log "nonexistent.h5"
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py
# a colour copy of the stamps to feed a grey model
w = sys.argv[1]
with h5py.File(f"{w}/s3.h5", "a") as f:
    img = f["cutouts/images"][:]
    del f["cutouts/images"]
    f.create_dataset("cutouts/images", data=img.repeat(3, axis=1))
PY
set +e
zt_mpi 1 embed "${common[@]}" --set store.path="$work/s3.h5" > e2.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc e2.log "takes 1 channel(s) of 56 x 56 pixels, but the stamps"
# a store that has not been planned, and a second writer
$ZM_PYTHON -c "import h5py; h5py.File('$work/empty.h5', 'w')"
set +e
zt_mpi 1 embed "${common[@]}" --set store.path="$work/empty.h5" > e3.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc e3.log "not a zoomorph store"
echo "other-host 12345 -" > s.h5.lock
set +e
zt_mpi 1 pca "${common[@]}" > e4.log 2>&1; rc=$?
set -e
rm -f s.h5.lock
zt_expect_rc 1 $rc e4.log "is being written by another run (other-host pid 12345"
# A second decision tree from a file (Galaxy Zoo 2, config/trees/gz2.tree): votes, a
# 37-output head, predictions and catalogue columns named after its answers.
cp s.h5 gz2.h5
$ZM_PYTHON - "$work" "$ZM_SOURCE_DIR/config/trees/gz2.tree" <<'PY'
import sys, h5py, numpy as np
w, tree = sys.argv[1], sys.argv[2]
cols = []
for line in open(tree):
    line = line.split("#")[0].strip()
    if line:
        q, rest = line.split(":", 1)
        cols += [f"{q.strip()}_{a.strip()}" for a in rest.split("|")[0].split(",")]
assert len(cols) == 37
f = h5py.File(f"{w}/gz2.h5", "r")
ids = f["galaxies/id"][:]
rng = np.random.default_rng(5)
with open(f"{w}/gz2_votes.csv", "w") as out:
    out.write("id," + ",".join(cols) + "\n")
    for i in ids:
        out.write("%d," % i + ",".join(str(v) for v in rng.integers(0, 12, len(cols))) + "\n")
PY
gz2=(--set store.path="$work/gz2.h5" --set labels.tree="$ZM_SOURCE_DIR/config/trees/gz2.tree"
     --set labels.votes="$work/gz2_votes.csv" --set labels.match=id --set model.output="$work/gz2_model.h5"
     --set train.epochs=1 --set embed.weights="$work/gz2_model.h5")
zt_mpi 2 votes "${common[@]}" "${gz2[@]}" > gz2_votes.log 2>&1
zt_mpi 2 pretrain "${common[@]}" "${gz2[@]}" > gz2_pretrain.log 2>&1
zt_mpi 2 embed "${common[@]}" "${gz2[@]}" > gz2_embed.log 2>&1
zt_mpi 1 catalogue "${common[@]}" "${gz2[@]}" --set catalogue.path="$work/gz2_cat.fits" > gz2_cat.log 2>&1
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
from astropy.table import Table
w = sys.argv[1]
f = h5py.File(f"{w}/gz2.h5", "r")
assert f["labels/votes"].shape[1] == 37 and f["predictions/vote_fraction"].shape[1] == 37
cols = f["predictions/vote_fraction"].attrs["columns"].decode().split(",")
assert cols[0] == "smooth-or-features_smooth" and cols[-1] == "arms-number_cant-tell", cols
vf = f["predictions/vote_fraction"][:]
good = np.isfinite(vf).all(1)
assert good.sum() > 0 and np.allclose(vf[good][:, 31:37].sum(1), 1, atol=1e-5)
t = Table.read(f"{w}/gz2_cat.fits")
assert "odd-feature_dust-lane_fraction" in t.colnames
print("GZ2 tree from a file: 11 questions, 37 answers through votes, pretrain, embed, catalogue")
PY
echo "e2e chain: ok"
