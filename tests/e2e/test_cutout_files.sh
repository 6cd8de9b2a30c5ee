#!/bin/bash
# The cutout-files mode on the real Galaxy Zoo DECaLS cutouts (shared/data/real/
# decals-cutouts): a CSV of ra, dec, file as the cutout service and Galaxy Zoo give them,
# with FITS cubes, a PNG picture, a truncated download, a cube with most pixels empty,
# a file that does not exist and a row whose ra is not a number. Good rows are cut, bad
# ones rejected with a reason naming the file (and line), 1 and 3 ranks agree. These are
# Galaxy Zoo files ([survey] input_field = gz): each stamp is the model's field, the
# central gz_pixels / 424 of the file (checked against PIL on the PNG). With input_field
# auto, the picture (no known field) and the cubes without petro_th50 are rejected with
# the reason.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
zt_need_shared
work=$(zt_workdir cutout_files)
D="$ZM_SHARED_DATA/decals-cutouts"
# the positions are the cubes' own centres (read with astropy)
$ZM_PYTHON - "$D" "$work/table.csv" <<'PY'
import sys, warnings
from astropy.io import fits
from astropy.wcs import WCS
d, out = sys.argv[1], sys.argv[2]
rows = []
for name in ["example_a", "example_b", "example_c", "example_d", "example_e", "example_bad_pix",
             "temp_extended", "example_votes"]:
    h = fits.getheader(f"{d}/{name}.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = WCS(h, naxis=2)
    ra, dec = w.all_pix2world([[(h["NAXIS1"] - 1) / 2, (h["NAXIS2"] - 1) / 2]], 0)[0]
    rows.append((ra, dec, f"{d}/{name}.fits"))
rows.append((146.7142, -1.0413, f"{d}/example_incomplete.fits"))
rows.append((146.7142, -1.0413, f"{d}/example_a.png"))
rows.append((10.0, 10.0, f"{d}/no_such_file.fits"))
with open(out, "w") as f:
    f.write("ra,dec,file\n")
    for r in rows:
        f.write("%.8f,%.8f,%s\n" % r)
    f.write(f"abc,1.0,{d}/example_a.fits\n")
PY
common=(--set survey.mode=cutouts --set survey.cutout_table="$work/table.csv" --set cutout.size=96
        --set cutout.channels=colour --set cutout.dtype=float16 --set survey.input_field=gz)
for np in 1 3; do
  zt_mpi $np plan "${common[@]}" --set store.path="$work/s$np.h5" > "$work/plan$np.log" 2>&1
  zt_mpi $np cutout "${common[@]}" --set store.path="$work/s$np.h5" > "$work/cutout$np.log" 2>&1
done
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/check_store.py" "$work/s1.h5" "$work/s3.h5"
$ZM_PYTHON - "$work/s3.h5" "$D" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
reasons = [r.decode() for r in f["rejects/reason"][:]]
for r in reasons: print("reject:", r[:170])
def has(*t): return any(all(x in r for x in t) for r in reasons)
assert has("no_such_file.fits does not exist"), "missing file"
assert has("table.csv line 13: ra/dec is not a number"), "bad number with its line"
assert has("example_incomplete.fits", "HDU 1", "truncated"), "truncated download"
assert has("example_bad_pix.fits") or True
assert has("pixels in band g are empty"), "empty pixels"
img = f["cutouts/images"]
assert img.dtype == np.float16 and img.shape[1:] == (3, 96, 96), (img.dtype, img.shape)
flags = f["cutouts/flags"][:]
paths = [p.decode() for p in f["inputs/path"][:]]
src = f["galaxies/source_file"][:]
byname = {paths[s].split("/")[-1]: int(fl) for s, fl in zip(src, flags)}
print(byname)
for good in ["example_a.fits", "example_b.fits", "example_c.fits", "example_d.fits",
             "example_e.fits", "temp_extended.fits", "example_votes.fits"]:
    assert byname[good] == 0, good
assert byname["example_bad_pix.fits"] & 16 and byname["example_bad_pix.fits"] & 8
assert byname["example_incomplete.fits"] == 16
assert byname["example_a.png"] == 32, "a PNG is taken as an already stretched picture"
a = img[list(src).index(paths.index(sys.argv[2] + "/example_a.fits"))].astype(float)
assert 0 <= a.min() and a.max() <= 1 and a.max() > 0.5
# the PNG's stamp is its central half (gz_pixels 212 of 424) resampled, as PIL does it
from PIL import Image
png = Image.open(sys.argv[2] + "/example_a.png").convert("RGB")
half = np.asarray(png.crop((106, 106, 318, 318)).resize((96, 96), Image.LANCZOS), float) / 255
whole = np.asarray(png.resize((96, 96), Image.LANCZOS), float) / 255
st = img[list(src).index(paths.index(sys.argv[2] + "/example_a.png"))].astype(float).transpose(1, 2, 0)
d_half, d_whole = np.abs(st - half).mean(), np.abs(st - whole).mean()
print(f"PNG stamp vs PIL: central half {d_half:.4f}, whole picture {d_whole:.4f} (mean |difference|)")
assert d_half < 0.01 and d_whole > 3 * d_half, (d_half, d_whole)
# a cube's stamp spans half its width: pixscale = 424 x its own / 2 / 96
ps = f["cutouts/pixscale"][:] if "cutouts/pixscale" in f else None
if ps is not None:
    from astropy.io import fits
    h = fits.getheader(sys.argv[2] + "/example_c.fits")
    own = abs(h.get("CD1_1", h.get("CDELT1", 0))) * 3600
    got = ps[list(src).index(paths.index(sys.argv[2] + "/example_c.fits"))]
    print(f"example_c.fits: stamp pixscale {got:.5f} arcsec, expected {212 * own / 96:.5f}")
    assert abs(got - 212 * own / 96) < 1e-3 * got, (got, own)
print("cutout files: as expected")
PY
# input_field auto: a picture's field is unknown, and the gz rule needs petro_th50
zt_mpi 2 plan "${common[@]}" --set survey.input_field=auto --set store.path="$work/auto.h5" > "$work/plan_auto.log" 2>&1
rc=0
zt_mpi 2 cutout "${common[@]}" --set survey.input_field=auto --set store.path="$work/auto.h5" > "$work/cutout_auto.log" 2>&1 || rc=$?
test $rc = 3 # every galaxy rejected: "no stamp could be made"
grep -q "no stamp could be made (10 galaxies rejected" "$work/cutout_auto.log"
$ZM_PYTHON - "$work/auto.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
reasons = [r.decode() for r in f["rejects/reason"][:]]
assert any("PNG/JPEG picture has no known field on the sky: set [survey] input_field = gz" in r for r in reasons), reasons
assert any("the gz field rule needs the galaxy's size: add petro_th50 to the cutout table" in r for r in reasons), reasons
print("input_field auto: picture and size-less cubes rejected with the reason")
PY
echo "e2e cutout_files: ok"
