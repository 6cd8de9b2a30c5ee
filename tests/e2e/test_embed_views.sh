#!/bin/bash
# [embed] views: the representation and vote fractions with 8 views are the mean of those
# of the 8 rotated and mirrored stamps embedded one view each (numpy's rot90 and fliplr
# make them, in copies of the store), so a stamp turned by a quarter gets the same
# representation; 2 and 4 views likewise over the mirror and the quarter turns. The store
# records the views, and similar embeds a query image with them: a stored stamp, and the
# same stamp turned, as PNG queries find that galaxy first at distance ~0. A views value
# not in 1, 2, 4, 8 is a config error naming the key; a malformed views attribute is
# warned about and taken as 1. Finetune's image modes average their
# predictions over the store's views (the mean of one-view runs on turned stamps).
# [embed] view_angle = 45 turns every view a further 45 degrees (interpolated): the 8
# views of a quarter-turned or mirrored store give the same representation, and a turned
# query image finds its galaxy; an angle other than 0 or 45 is a config error, and a
# malformed view_angle attribute is warned about and taken as 0.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir embed_views)
cd "$work"
zt_embedded_survey "$work"   # s.h5: one view
$ZM_PYTHON - "$work" <<'PY'
import sys, shutil, h5py, numpy as np
w = sys.argv[1]
for k in range(8):
    shutil.copy(f"{w}/s.h5", f"{w}/t{k}.h5")
    with h5py.File(f"{w}/t{k}.h5", "r+") as f:
        im = f["cutouts/images"][:]                  # N x C x S x S
        if k >= 4:
            im = im[..., ::-1]                       # mirror left-right
        f["cutouts/images"][:] = np.rot90(im, k % 4, axes=(2, 3))
for n in ("v2", "v4", "v8", "r8", "a8", "ar8", "am8"):
    shutil.copy(f"{w}/{dict(r8='t1', ar8='t1', am8='t4').get(n, 's')}.h5", f"{w}/{n}.h5")
PY
for k in 0 1 2 3 4 5 6 7; do
  zt_mpi 2 embed "${common[@]}" --set store.path="$work/t$k.h5" > t$k.log 2>&1
done
zt_mpi 3 embed "${common[@]}" --set store.path="$work/v8.h5" --set embed.views=8 > v8.log 2>&1
grep -q "the mean of 8 views" v8.log
zt_mpi 2 embed "${common[@]}" --set store.path="$work/r8.h5" --set embed.views=8 > r8.log 2>&1
zt_mpi 2 embed "${common[@]}" --set store.path="$work/v4.h5" --set embed.views=4 > v4.log 2>&1
zt_mpi 1 embed "${common[@]}" --set store.path="$work/v2.h5" --set embed.views=2 > v2.log 2>&1
for n in a8 ar8 am8; do
  zt_mpi 2 embed "${common[@]}" --set store.path="$work/$n.h5" --set embed.views=8 --set embed.view_angle=45 > $n.log 2>&1
done
grep -q "the mean of 8 views turned 45 degrees" a8.log
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
def get(n, what):
    return h5py.File(f"{w}/{n}.h5", "r")[what][:].astype(np.float64)
for what, tol in (("representation/embedding", 2e-5), ("predictions/vote_fraction", 2e-6)):
    one = [get(f"t{k}", what) for k in range(8)]
    ok = np.isfinite(one[0][:, 0])
    for n, ks in (("v8", range(8)), ("v4", range(4)), ("v2", (0, 4))):
        mean, got = np.mean([one[k] for k in ks], axis=0), get(n, what)
        assert np.array_equal(np.isnan(got), np.isnan(mean)), f"{n} {what}: NaN rows"
        err = np.abs(got[ok] - mean[ok]).max()
        assert err < tol * max(1.0, np.abs(mean[ok]).max()), f"{n} {what}: {err} from the mean of single views"
    turned = np.abs(get("r8", what)[ok] - get("v8", what)[ok]).max()
    assert turned < tol * max(1.0, np.abs(one[0][ok]).max()), f"{what}: a quarter turn moves the 8-view mean by {turned}"
    spread = np.abs(one[1][ok] - one[0][ok]).max()
    assert spread > 100 * tol, f"{what}: one view is not turn-invariant by itself ({spread})"
    print(f"{what}: 8/4/2 views = the mean of numpy's turned stamps; a quarter turn moves the 8-view mean by "
          f"{turned:.1e} (one view: {spread:.2e})")
assert h5py.File(f"{w}/v8.h5", "r")["representation/embedding"].attrs["views"].decode() == "8"
# 45 degrees: interpolated views, still closed under the quarter turn (ar8) and the mirror (am8)
for what, tol in (("representation/embedding", 2e-5), ("predictions/vote_fraction", 2e-6)):
    a8, v8 = get("a8", what), get("v8", what)
    ok = np.isfinite(a8[:, 0])
    scale = max(1.0, np.abs(a8[ok]).max())
    moved = np.abs(a8[ok] - v8[ok]).max()
    assert moved > 100 * tol * scale, f"{what}: 45-degree views equal the on-grid ones ({moved})"
    for n in ("ar8", "am8"):
        d = np.abs(get(n, what)[ok] - a8[ok]).max()
        assert d < tol * scale, f"{what}: {n} moves the 45-degree 8-view mean by {d}"
    print(f"{what}: 45-degree views move the 8-view mean by {moved:.2e}; a turned or mirrored store by "
          f"{max(np.abs(get(n, what)[ok] - a8[ok]).max() for n in ('ar8', 'am8')):.1e}")
a = h5py.File(f"{w}/a8.h5", "r")["representation/embedding"].attrs
assert a["views"].decode() == "8" and a["view_angle"].decode() == "45", dict(a)
PY
# similar embeds a query image with the store's views: the stored stamp and it turned
for s in v8 s; do zt_mpi 2 pca "${common[@]}" --set store.path="$work/$s.h5" > pca_$s.log 2>&1; done
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
from PIL import Image
w = sys.argv[1]
img = h5py.File(f"{w}/v8.h5", "r")["cutouts/images"][17][0]
Image.fromarray(img).save(f"{w}/q17.png")
Image.fromarray(np.ascontiguousarray(np.rot90(img))).save(f"{w}/q17turned.png")
PY
first() {  # CSV: the first neighbour's id and distance, the second's distance
  $ZM_PYTHON -c "
import csv, sys
r = list(csv.DictReader(open('$1')))
print(r[0]['id'], r[0]['distance'], r[1]['distance'])"
}
# A stored stamp as a query is embedded alone, so its sums run in another order than in the
# store's batches: its distance is float32 rounding (about 0.1% of the next galaxy's here,
# whatever the BLAS kernels); "first at distance ~0" is below 1% of the next.
for q in q17 q17turned; do
  zt_mpi 2 similar "${common[@]}" --set store.path="$work/v8.h5" --set similar.space=embedding \
    --set similar.gallery_dir= --image "$work/$q.png" --set similar.output=$q.csv > $q.log 2>&1
  read -r id d1 d2 < <(first $q.csv)
  $ZM_PYTHON -c "assert '$id' == '17' and float('$d1') < 1e-2 * float('$d2'), ('$q', '$id', '$d1', '$d2')"
  echo "ok: 8 views: $q.png finds galaxy 17 first at distance $d1 (next $d2)"
done
zt_mpi 2 pca "${common[@]}" --set store.path="$work/a8.h5" > pca_a8.log 2>&1
zt_mpi 2 similar "${common[@]}" --set store.path="$work/a8.h5" --set similar.space=embedding \
  --set similar.gallery_dir= --image "$work/q17turned.png" --set similar.output=a8q.csv > a8q.log 2>&1
read -r id d1 d2 < <(first a8q.csv)
$ZM_PYTHON -c "assert '$id' == '17' and float('$d1') < 1e-2 * float('$d2'), ('a8', '$id', '$d1', '$d2')"
echo "ok: 8 views at 45 degrees: q17turned.png finds galaxy 17 first at distance $d1 (next $d2)"
# an attribute view_angle that zoomorph did not write: warned once, taken as 0 (the on-grid views)
$ZM_PYTHON -c "
import shutil, h5py, numpy as np
shutil.copy('$work/v8.h5', '$work/va.h5')
h5py.File('$work/va.h5', 'r+')['representation/embedding'].attrs['view_angle'] = np.bytes_(b'30')"
zt_mpi 2 similar "${common[@]}" --set store.path="$work/va.h5" --set similar.space=embedding --set similar.gallery_dir= \
  --image "$work/q17.png" --set similar.output=va.csv > va.log 2>&1
grep -q "store $work/va.h5: /representation/embedding attribute view_angle is not one of 0, 45" va.log
test "$(grep -c "attribute view_angle is not" va.log)" = 1
read -r id d1 d2 < <(first va.csv)
$ZM_PYTHON -c "assert '$id' == '17' and float('$d1') < 1e-2 * float('$d2'), ('va', '$id', '$d1', '$d2')"
# an attribute views that zoomorph did not write (a variable-length string): warned, 1 view
$ZM_PYTHON -c "
import shutil, h5py
shutil.copy('$work/v8.h5', '$work/vl.h5')
h5py.File('$work/vl.h5', 'r+')['representation/embedding'].attrs['views'] = '8'"
zt_mpi 2 similar "${common[@]}" --set store.path="$work/vl.h5" --set similar.space=embedding --set similar.gallery_dir= \
  --image "$work/q17.png" --set similar.output=vl.csv > vl.log 2>&1
grep -q "store $work/vl.h5: /representation/embedding attribute views is not one of 1, 2, 4, 8" vl.log
test "$(grep -c "attribute views is not" vl.log)" = 1
# with one view the turned stamp is not the stored one
zt_mpi 2 similar "${common[@]}" --set similar.space=embedding --set similar.gallery_dir= \
  --image "$work/q17turned.png" --set similar.output=one.csv > one.log 2>&1
read -r id d1 d2 < <(first one.csv)
$ZM_PYTHON -c "assert float('$d1') > 1e-2 * float('$d2') or '$id' != '17', ('$id', '$d1', '$d2')"
echo "ok: 1 view: the turned stamp's nearest is at distance $d1 (next $d2)"
# finetune's image modes predict with the store's views: the top blocks trained on the
# same labelled stamps in 6 stores, 4 with the unlabelled galaxies' stamps turned by numpy
# (one view each), one unchanged but marked as embedded with 4 views, one with 4 views at
# 45 degrees; the weights are the same, the 4-view predictions of the unlabelled galaxies
# are the mean of the 4 one-view ones, and the 45-degree ones differ from them
ftop=(--set finetune.labels="$work/survey/rings.csv" --set finetune.label_column=ring --set finetune.task=rings
      --set finetune.mode=top --set finetune.top_blocks=1 --set finetune.epochs=2 --set finetune.patience=0
      --set finetune.lr=1e-3)
cp s.h5 u0.h5
zt_mpi 2 finetune "${common[@]}" "${ftop[@]}" --set store.path="$work/u0.h5" --set finetune.output="$work/u0.nn.h5" > u0.log 2>&1
$ZM_PYTHON - "$work" <<'PY'
import sys, shutil, h5py, numpy as np
w = sys.argv[1]
free = np.isnan(h5py.File(f"{w}/u0.h5", "r")["finetune/rings/label"][:])
assert 100 < free.sum() < len(free), free.sum()
for k in range(1, 6):
    shutil.copy(f"{w}/s.h5", f"{w}/u{k}.h5")
    with h5py.File(f"{w}/u{k}.h5", "r+") as f:
        if k >= 4:
            f["representation/embedding"].attrs["views"] = np.bytes_(b"4")  # as zoomorph writes it: fixed-length
            if k == 5:
                f["representation/embedding"].attrs["view_angle"] = np.bytes_(b"45")
            continue
        im = f["cutouts/images"][:]
        im[free] = np.rot90(im, k, axes=(2, 3))[free]
        f["cutouts/images"][:] = im
PY
for k in 1 2 3 4 5; do
  zt_mpi 2 finetune "${common[@]}" "${ftop[@]}" --set store.path="$work/u$k.h5" --set finetune.output="$work/u$k.nn.h5" > u$k.log 2>&1
done
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
ref = h5py.File(f"{w}/u0.nn.h5", "r")["tensors"]
for k in range(1, 6):
    t = h5py.File(f"{w}/u{k}.nn.h5", "r")["tensors"]
    assert all(np.array_equal(t[n][:], ref[n][:]) for n in ref), f"store u{k}: other weights"
p = [h5py.File(f"{w}/u{k}.h5", "r")["finetune/rings/prediction"][:].astype(np.float64) for k in range(6)]
free = np.isnan(h5py.File(f"{w}/u0.h5", "r")["finetune/rings/label"][:]) & np.isfinite(p[0])
mean = np.mean(p[:4], axis=0)
err, spread = np.abs(p[4][free] - mean[free]).max(), np.abs(p[1][free] - p[0][free]).max()
assert err < 1e-6 and spread > 1e-3, (err, spread)
print(f"finetune top, 4 views: the mean of 4 one-view predictions to {err:.1e} (one view to another: {spread:.2e}); same weights")
turned = np.abs(p[5][free] - p[4][free]).max()
assert turned > 1e-3, turned
print(f"finetune top, 4 views at 45 degrees: predictions {turned:.2e} from the on-grid ones; same weights")
PY
set +e
zt_mpi 2 embed "${common[@]}" --set embed.views=3 > bad.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bad.log "config key [embed] views = '3': expected one of 1|2|4|8"
set +e
zt_mpi 2 embed "${common[@]}" --set embed.view_angle=30 > bada.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bada.log "config key [embed] view_angle = '30': expected one of 0|45"
echo "e2e embed_views: ok"
