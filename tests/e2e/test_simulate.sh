#!/bin/bash
# test_simulate.sh: `zoomorph simulate` end to end: a tiny survey (2 bricks of 512 px,
# 40 galaxies, 10 stars) on 1, 2 and 3 ranks (one idle) gives the same bytes; astropy reads it back
# (tests/reference/sim_check.py: decompression, WCS, aperture fluxes, noise vs invvar,
# columns); `zoomorph plan` + `zoomorph cutout` cut every galaxy; bad configs and a
# non-empty output directory are refused with a message naming the key.
set -u
: "${ZM_BIN:?}" "${ZM_PYTHON:?}" "${ZM_SOURCE_DIR:?}"
"$ZM_PYTHON" -c "import numpy, astropy, h5py" 2>/dev/null || { echo "SKIP: $ZM_PYTHON lacks numpy/astropy/h5py"; exit 77; }
MPIRUN=$(command -v mpirun || command -v mpiexec) || { echo "SKIP: no mpirun"; exit 77; }
W="${ZM_BUILD_DIR:-.}/tmp/e2e_simulate"
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

cat > sim.ini <<INI
[simulate]
seed = 7
bricks = 2
brick_size = 512
galaxies_per_brick = 20
stars_per_brick = 5
min_separation = 12
r50_median = 2.2
r50_min = 1.0
r50_max = 3.0
artefacts_per_brick = 0    ; the flux, centroid and cutout checks want clean bricks
INI

"$ZM_BIN" simulate -c sim.ini --set simulate.out="$W/s1" || fail "simulate on 1 rank"
"$MPIRUN" --oversubscribe -np 2 "$ZM_BIN" simulate -c sim.ini --set simulate.out="$W/s2" \
    || fail "simulate on 2 ranks"
"$MPIRUN" --oversubscribe -np 3 "$ZM_BIN" simulate -c sim.ini --set simulate.out="$W/s3" \
    || fail "simulate on 3 ranks (one rank has no brick)"
n=$(find s1 -type f | wc -l)
[ "$n" -eq 22 ] || fail "expected 22 files (2 x (6 images + tractor) + 2 tables + votes.csv/.fits + rings.csv + tags.csv + interest.csv + artefacts.csv), found $n"
diff -r s1 s2 >/dev/null || fail "1-rank and 2-rank surveys differ"
diff -r s1 s3 >/dev/null || fail "1-rank and 3-rank surveys differ"
echo "1, 2 and 3 ranks: identical bytes in $n files"

"$ZM_PYTHON" "$ZM_SOURCE_DIR/tests/reference/sim_check.py" "$W/s1" 20 5 || fail "astropy reference check"

"$ZM_BIN" plan --set survey.root="$W/s1" --set store.path="$W/s.h5" || fail "plan"
"$ZM_BIN" cutout --set survey.root="$W/s1" --set store.path="$W/s.h5" --set cutout.size=64 || fail "cutout"
"$ZM_PYTHON" - "$W/s.h5" "$W/s1/truth.fits" <<'PY' || fail "store check"
import sys
import h5py
import numpy as np
from astropy.io import fits
f = h5py.File(sys.argv[1], "r")
truth = fits.getdata(sys.argv[2])
gal = truth[np.char.strip(truth["class"]) != "star"]
img = f["cutouts/images"]
nrej = f["rejects/id"].shape[0] if "rejects" in f and "id" in f["rejects"] else 0
print(f"store: {img.shape} stamps, {nrej} rejects; {len(gal)} simulated galaxies")
assert img.shape == (len(gal), 1, 64, 64), img.shape
assert nrej == 0, "cutout rejected galaxies"
ra = f["galaxies/ra"][:]
assert np.allclose(np.sort(ra), np.sort(gal["ra"]), atol=1e-9), "galaxy positions differ from truth"
a = img[:].reshape(len(gal), -1).astype(float)
assert (a.std(axis=1) > 1).all(), "a blank stamp"
print("OK")
PY

# bad input: each must fail and name the key
bad() {  # expected-text, then --set arguments
    local want="$1"; shift
    out=$("$ZM_BIN" simulate -c sim.ini --set simulate.out="$W/bad" "$@" 2>&1) && fail "accepted $*"
    echo "$out" | grep -q -- "$want" || fail "error for $* does not mention '$want': $out"
    echo "refused $*: ok"
}
bad "brick_size" --set simulate.brick_size=-512
bad "bar_fraction" --set simulate.bar_fraction=1.5
bad "galaxies_per_brick" --set simulate.galaxies_per_brick=5000
bad "frac_spiral" --set simulate.frac_spiral=0.8 --set simulate.frac_lenticular=0.5
bad "r50_min" --set simulate.r50_min=-2
bad "fwhm_r" --set simulate.fwhm_r=1.5
bad "max_volunteers" --set simulate.min_volunteers=30 --set simulate.max_volunteers=10
bad "tree" --set simulate.tree=/nonexistent/tree.txt
printf '[simulate]\nout = %s\ngalaxy_per_brick = 3\n' "$W/bad" > typo.ini
out=$("$ZM_BIN" simulate -c typo.ini 2>&1) && fail "accepted an unknown key"
echo "$out" | grep -q "galaxy_per_brick" || fail "unknown key not named: $out"
echo "refused unknown key: ok"
out=$("$ZM_BIN" simulate -c sim.ini --set simulate.out="$W/s1" 2>&1) && fail "overwrote a non-empty directory"
echo "$out" | grep -q "overwrite" || fail "non-empty directory message: $out"
echo "refused non-empty output: ok"
"$ZM_BIN" simulate -c sim.ini --set simulate.out="$W/s1" --set simulate.overwrite=true >/dev/null 2>&1 \
    || fail "overwrite = true refused"
diff -r s1 s2 >/dev/null || fail "overwritten survey differs"
echo "overwrite: ok"
echo PASS
