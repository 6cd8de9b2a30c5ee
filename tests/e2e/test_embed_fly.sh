#!/bin/bash
# embed on a store without stamps (plan run, cutout not): the stamps are cut from the
# survey on the fly, exactly as `zoomorph cutout` makes them, so the representations and
# predictions equal those of cutout + embed bit for bit (same ranks, same batches); a
# 2-rank run killed midway resumes to the same rows; on 3 ranks, a brick whose image
# became unreadable after planning is rejected, named, listed in /rejects, its rows NaN,
# and the rest embedded.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir embed_fly)
cd "$work"
zt_mpi 2 simulate --set simulate.out="$work/survey" --set simulate.bricks=4 --set simulate.brick_size=900 \
  --set simulate.galaxies_per_brick=30 --set simulate.stars_per_brick=2 --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set cutout.size=72 --set embed.batch=8
        --set embed.weights="$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5")
for st in cut fly killed broken; do
  zt_mpi 2 plan "${common[@]}" --set store.path="$work/$st.h5" > plan_$st.log 2>&1
done
zt_mpi 2 cutout "${common[@]}" --set store.path="$work/cut.h5" > cutout.log 2>&1
zt_mpi 2 embed "${common[@]}" --set store.path="$work/cut.h5" > embed_cut.log 2>&1
zt_mpi 2 embed "${common[@]}" --set store.path="$work/fly.h5" > embed_fly.log 2>&1
grep -q "cutting them from the survey on the fly" embed_fly.log
# killed after the 3rd round on rank 1, then resumed
set +e
ZM_FAULT_KILL=embed:3:1 timeout 120 mpirun --oversubscribe -np 2 "$ZM_BIN" embed "${common[@]}" \
  --set store.path="$work/killed.h5" > killed.log 2>&1
rc=$?
set -e
test $rc -ne 0 -a $rc -ne 124
rm -f killed.h5.lock
zt_mpi 2 embed "${common[@]}" --set store.path="$work/killed.h5" > resumed.log 2>&1
grep -q "resuming an interrupted run" resumed.log
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
cut, fly, res = (h5py.File(f"{w}/{n}.h5", "r") for n in ("cut", "fly", "killed"))
assert "cutouts" not in fly, "on the fly: no stamps stored"
for name in ["representation/embedding", "predictions/vote_fraction", "predictions/concentration"]:
    a, b, c = cut[name][:], fly[name][:], res[name][:]
    assert np.array_equal(a, b, equal_nan=True), f"{name}: cut on the fly differs from cutout + embed"
    assert np.array_equal(b, c, equal_nan=True), f"{name}: the resumed run differs from the clean one"
e = fly["representation/embedding"][:]
print(f"on the fly: {e.shape[0]} galaxies, {int(np.isnan(e[:, 0]).sum())} rejected; equal to cutout + embed and after a kill")
PY
# the field rule: recorded with the stamps; a model trained on another field refuses them
# (embed from the store, from a store cut before the attribute existed, on the fly,
# finetune), unless [model] check_field = false
field() { echo "gz: $1 x max(min(0.04 th50, 0.02 th90), 0.1) arcsec on 72-pixel stamps"; }
$ZM_PYTHON - "$work" "$ZM_SOURCE_DIR" "$(field 212)" "$(field 424)" <<'PY'
import sys, shutil, h5py
w, src, f212, f424 = sys.argv[1:]
sys.path.insert(0, f"{src}/models")
import zm_weights
got = h5py.File(f"{w}/cut.h5", "r")["cutouts/images"].attrs["field"].decode()
assert got == f212, got
shutil.copy(f"{src}/models/zoonet-gz-sim.h5", f"{w}/m424.h5")
with h5py.File(f"{w}/m424.h5", "r+") as f:
    f.attrs["stamp_field"] = f424
zm_weights.seal(f"{w}/m424.h5")
print("stamps' field:", got)
PY
cp cut.h5 cut424.h5
cp cut.h5 old.h5   # a store cut before the attribute existed: the field from the cutout stage's recorded config
$ZM_PYTHON -c "import h5py; del h5py.File('$work/old.h5', 'r+')['cutouts/images'].attrs['field']"
zt_mpi 2 plan "${common[@]}" --set store.path="$work/fly424.h5" > plan_fly424.log 2>&1
set +e
zt_mpi 2 embed "${common[@]}" --set store.path="$work/cut424.h5" --set embed.weights="$work/m424.h5" > f1.log 2>&1; rc=$?
zt_expect_rc 1 $rc f1.log "model $work/m424.h5 was trained on stamps cut with the field rule '$(field 424)', but the stamps in $work/cut424.h5 are cut with '$(field 212)'"
zt_mpi 2 embed "${common[@]}" --set store.path="$work/fly424.h5" --set embed.weights="$work/m424.h5" > f2.log 2>&1; rc=$?
zt_expect_rc 1 $rc f2.log "but the stamps in $work/fly424.h5 are cut with '$(field 212)'"
zt_mpi 2 embed "${common[@]}" --set store.path="$work/old.h5" --set embed.weights="$work/m424.h5" > f0.log 2>&1; rc=$?
zt_expect_rc 1 $rc f0.log "but the stamps in $work/old.h5 are cut with '$(field 212)'"
zt_mpi 1 finetune "${common[@]}" --set store.path="$work/cut424.h5" --set finetune.encoder="$work/m424.h5" \
  --set finetune.labels="$work/none.csv" > f3.log 2>&1; rc=$?
zt_expect_rc 1 $rc f3.log "model $work/m424.h5 was trained on stamps cut with the field rule '$(field 424)'"
set -e
zt_mpi 2 embed "${common[@]}" --set store.path="$work/fly424.h5" --set embed.weights="$work/m424.h5" \
  --set cutout.gz_pixels=424 > f4.log 2>&1
zt_mpi 2 embed "${common[@]}" --set store.path="$work/cut424.h5" --set embed.weights="$work/m424.h5" \
  --set model.check_field=false > f5.log 2>&1
grep -q "(\[model\] check_field = false: going on)" f5.log
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
a, b = h5py.File(f"{w}/cut.h5", "r"), h5py.File(f"{w}/cut424.h5", "r")
assert np.array_equal(a["representation/embedding"][:], b["representation/embedding"][:], equal_nan=True)
c = h5py.File(f"{w}/fly424.h5", "r")["representation/embedding"][:]
assert not np.allclose(c, a["representation/embedding"][:], equal_nan=True), "the 424 field's stamps differ"
print("field check: refused on a mismatch (store, on the fly, finetune); run where it matches or is waived")
PY
# a brick that became unreadable after planning
img=$(find "$work/survey/coadd" -name "*-image-*.fits*" | sort | head -1)
b=$(basename "$(dirname "$img")")
head -c 5000 "$img" > "$img.cut" && mv "$img.cut" "$img"
zt_mpi 3 embed "${common[@]}" --set store.path="$work/broken.h5" > broken.log 2>&1
grep -q "embed: input $b rejected" broken.log
grep -q "$(basename "$img")" broken.log
$ZM_PYTHON - "$work" "$b" <<'PY'
import sys, h5py, numpy as np
w, brick = sys.argv[1], sys.argv[2]
fly, br = h5py.File(f"{w}/fly.h5", "r"), h5py.File(f"{w}/broken.h5", "r")
bad = br["galaxies/brickname"][:].astype(str) == brick
a, b = fly["representation/embedding"][:], br["representation/embedding"][:]
assert bad.any() and np.isnan(b[bad]).all(), "the broken brick's rows are NaN"
assert np.allclose(a[~bad], b[~bad], equal_nan=True, atol=1e-5), "the other bricks as before (3 ranks)"
st = br["rejects/stage"][:].astype(str)
assert (st == "embed").sum() >= 1, st
print(f"brick {brick} unreadable: {int(bad.sum())} rows NaN, listed in /rejects; the rest embedded")
PY
echo "e2e embed_fly: ok"
