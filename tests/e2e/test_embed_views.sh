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
for n in ("v2", "v4", "v8", "r8"):
    shutil.copy(f"{w}/{'t1' if n == 'r8' else 's'}.h5", f"{w}/{n}.h5")
PY
for k in 0 1 2 3 4 5 6 7; do
  zt_mpi 2 embed "${common[@]}" --set store.path="$work/t$k.h5" > t$k.log 2>&1
done
zt_mpi 3 embed "${common[@]}" --set store.path="$work/v8.h5" --set embed.views=8 > v8.log 2>&1
grep -q "the mean of 8 views" v8.log
zt_mpi 2 embed "${common[@]}" --set store.path="$work/r8.h5" --set embed.views=8 > r8.log 2>&1
zt_mpi 2 embed "${common[@]}" --set store.path="$work/v4.h5" --set embed.views=4 > v4.log 2>&1
zt_mpi 1 embed "${common[@]}" --set store.path="$work/v2.h5" --set embed.views=2 > v2.log 2>&1
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
for q in q17 q17turned; do
  zt_mpi 2 similar "${common[@]}" --set store.path="$work/v8.h5" --set similar.space=embedding \
    --set similar.gallery_dir= --image "$work/$q.png" --set similar.output=$q.csv > $q.log 2>&1
  read -r id d1 d2 < <(first $q.csv)
  $ZM_PYTHON -c "assert '$id' == '17' and float('$d1') < 1e-3 * float('$d2'), ('$q', '$id', '$d1', '$d2')"
  echo "ok: 8 views: $q.png finds galaxy 17 first at distance $d1 (next $d2)"
done
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
# same labelled stamps in 5 stores, 4 with the unlabelled galaxies' stamps turned by numpy
# (one view each), one unchanged but marked as embedded with 4 views; the weights are the
# same and the 4-view predictions of the unlabelled galaxies are the mean of the 4
# one-view ones
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
for k in range(1, 5):
    shutil.copy(f"{w}/s.h5", f"{w}/u{k}.h5")
    with h5py.File(f"{w}/u{k}.h5", "r+") as f:
        if k == 4:
            f["representation/embedding"].attrs["views"] = np.bytes_(b"4")  # as zoomorph writes it: fixed-length
            continue
        im = f["cutouts/images"][:]
        im[free] = np.rot90(im, k, axes=(2, 3))[free]
        f["cutouts/images"][:] = im
PY
for k in 1 2 3 4; do
  zt_mpi 2 finetune "${common[@]}" "${ftop[@]}" --set store.path="$work/u$k.h5" --set finetune.output="$work/u$k.nn.h5" > u$k.log 2>&1
done
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
ref = h5py.File(f"{w}/u0.nn.h5", "r")["tensors"]
for k in range(1, 5):
    t = h5py.File(f"{w}/u{k}.nn.h5", "r")["tensors"]
    assert all(np.array_equal(t[n][:], ref[n][:]) for n in ref), f"store u{k}: other weights"
p = [h5py.File(f"{w}/u{k}.h5", "r")["finetune/rings/prediction"][:].astype(np.float64) for k in range(5)]
free = np.isnan(h5py.File(f"{w}/u0.h5", "r")["finetune/rings/label"][:]) & np.isfinite(p[0])
mean = np.mean(p[:4], axis=0)
err, spread = np.abs(p[4][free] - mean[free]).max(), np.abs(p[1][free] - p[0][free]).max()
assert err < 1e-6 and spread > 1e-3, (err, spread)
print(f"finetune top, 4 views: the mean of 4 one-view predictions to {err:.1e} (one view to another: {spread:.2e}); same weights")
PY
set +e
zt_mpi 2 embed "${common[@]}" --set embed.views=3 > bad.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bad.log "config key [embed] views = '3': expected one of 1|2|4|8"
echo "e2e embed_views: ok"
