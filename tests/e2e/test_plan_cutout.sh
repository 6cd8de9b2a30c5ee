#!/bin/bash
# plan + cutout on a small survey with deliberate defects (tests/reference/
# make_test_survey.py, written with astropy, not by zoomorph): the same rows and bytes
# for 1, 2 and 3 ranks (also planned on 1 and cut on 3), the store read by h5py alone,
# every bad input rejected with its reason and the run going on, exit codes, and the
# config errors. Runs in about a minute on 2 cores.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir plan_cutout)
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/make_test_survey.py" "$work/survey"
# Galaxy Zoo's whole field (424; the default is half): the test survey's edge galaxy
# (objid 6) runs off its brick with it
common=(--set survey.root="$work/survey" --set cutout.size=64 --set cutout.batch=3 --set cutout.gz_pixels=424)

for np in 1 2 3; do
  zt_mpi $np plan "${common[@]}" --set store.path="$work/s$np.h5" > "$work/plan$np.log" 2>&1
  # every cut says what it removed, summed over the ranks
  grep -q "plan: the selection removed 4 of 15 catalogue rows: 1 not brick_primary (\[select\] brick_primary), 2 PSF or DUP (\[select\] types), 1 fainter than r = 17.77 (\[select\] mag_max)" "$work/plan$np.log"
  zt_mpi $np cutout "${common[@]}" --set store.path="$work/s$np.h5" > "$work/cutout$np.log" 2>&1
done
zt_mpi 1 plan "${common[@]}" --set store.path="$work/mixed.h5" > /dev/null 2>&1
zt_mpi 3 cutout "${common[@]}" --set store.path="$work/mixed.h5" > /dev/null 2>&1
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/check_store.py" "$work/s1.h5" "$work/s2.h5" "$work/s3.h5" "$work/mixed.h5"

# every defect is rejected with a reason naming what is wrong, the rest is cut
$ZM_PYTHON - "$work/s2.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
reasons = [r.decode() for r in f["rejects/reason"][:]]
stage = [s.decode() for s in f["rejects/stage"][:]]
for r in reasons: print("reject:", r[:160])
def has(text): return any(text in r for r in reasons)
assert has("band r image legacysurvey-1003p000-image-r.fits[.fz] is missing"), "missing band"
assert has("tractor-1004p000.fits: column 'dec' is missing"), "missing column"
assert has("legacysurvey-1005p000-image-g.fits.fz HDU 2: cannot read") and has("truncated"), "truncated"
assert has("of the pixels in band g are empty"), "empty pixels"
brick = [b.decode() for b in f["galaxies/brickname"][:]]
flags = f["cutouts/flags"][:]
objid = f["galaxies/objid"][:]
by = {(b, int(o)): int(fl) for b, o, fl in zip(brick, objid, flags)}
# selection: 1000p000 keeps objids 0,1,2 (galaxies), 6 (edge), 7 (off): not the star (3),
# the faint one (4) or the non-primary one (5); 1001p000 read with the DR5 schema
assert sorted(o for b, o in by if b == "1000p000") == [0, 1, 2, 6, 7], by
assert sorted(o for b, o in by if b == "1001p000") == [0, 1], by
assert by[("1000p000", 0)] == 0 and by[("1001p000", 0)] == 0
assert by[("1000p000", 6)] == 1, "edge galaxy padded and flagged"
assert by[("1000p000", 7)] & 16 and by[("1000p000", 7)] & 8, "off-brick galaxy rejected"
assert by[("1002p000", 0)] == 2, "NaN pixels flagged"
assert by[("1002p000", 1)] & 16, "galaxy on empty pixels rejected"
assert all(by[k] == 16 for k in by if k[0] == "1005p000"), "galaxies of the truncated brick rejected"
status = f["inputs/status"][:]
names = [n.decode() for n in f["inputs/name"][:]]
st = dict(zip(names, status))
assert st["1003p000"] == 1 and st["1004p000"] == 1 and st["1005p000"] == 2 and st["1000p000"] == 0, st
assert (f["inputs/cutout_done"][:] == [1, 1, 1, 0, 0, 1, 0]).all(), f["inputs/cutout_done"][:]
img = f["cutouts/images"]
assert img.dtype == np.uint8 and img.shape[1:] == (1, 64, 64)
good = [i for i, fl in enumerate(flags) if not fl & 16]
assert all(img[i].max() > 120 for i in good), "a galaxy's centre should be bright (sky is ~18)"
assert all(img[i].max() == 0 for i, fl in enumerate(flags) if fl & 16), "rejected stamps are zero"
# the galaxy is at the centre: the central 4x4 pixels are bright against the median sky
for i in good:
    c = img[i, 0, 30:34, 30:34].astype(float).mean()
    assert c > 100 and c > 3 * np.median(img[i, 0]), (i, c, np.median(img[i, 0]))
print("rejects and flags as expected:", len(reasons), "rejects,", len(good), "stamps")
PY
grep -q "7 stamps written, 4 galaxies rejected (1 inputs unreadable)" "$work/cutout2.log"

# allowed missing bands are flagged, not rejected; fields off the brick rejected by config
zt_mpi 2 plan "${common[@]}" --set survey.allow_missing_bands=true --set store.path="$work/opt.h5" > /dev/null 2>&1
zt_mpi 2 cutout "${common[@]}" --set survey.allow_missing_bands=true --set cutout.edge=reject \
  --set store.path="$work/opt.h5" > /dev/null 2>&1
$ZM_PYTHON - "$work/opt.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
brick = [b.decode() for b in f["galaxies/brickname"][:]]
flags = dict(((b, int(o)), int(fl)) for b, o, fl in zip(brick, f["galaxies/objid"][:], f["cutouts/flags"][:]))
assert flags[("1003p000", 0)] == 4, flags          # missing r band: flagged, cut from g and z
assert flags[("1000p000", 6)] & 16, flags          # the edge galaxy is now rejected
reasons = [r.decode() for r in f["rejects/reason"][:]]
assert any("runs off the image in band g" in r and "[cutout] edge = reject" in r for r in reasons), reasons
print("allow_missing_bands and edge = reject: ok")
PY

# the summary counts rejects; exit 0 although inputs were rejected (checked above by set -e)
# a survey from which nothing can be read exits 3
set +e
zt_mpi 2 plan "${common[@]}" --set survey.bricks=1006p000 --set store.path="$work/none.h5" > "$work/none.log" 2>&1
rc=$?
set -e
zt_expect_rc 3 $rc "$work/none.log" "no galaxy could be selected"

# config and path errors: clear message, exit 1, nothing written
printf '[survey]\nroot = %s\n[cutout]\nsize = 64\nmax_empty_fractoin = 0.3\n' "$work/survey" > "$work/typo.ini"
set +e
"$ZM_BIN" plan -c "$work/typo.ini" --set store.path="$work/typo.h5" > "$work/typo.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/typo.log" "unknown config key \[cutout\] max_empty_fractoin (did you mean 'cutout.max_empty_fraction'?)"
test ! -e "$work/typo.h5"
set +e
"$ZM_BIN" plan "${common[@]}" --set store.path=/nonexistent-dir/s.h5 > "$work/unw.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/unw.log" "cannot create it: directory /nonexistent-dir does not exist"
set +e
"$ZM_BIN" plan --set survey.root="$work/no-such-survey" --set store.path="$work/x.h5" > "$work/nor.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/nor.log" "survey root $work/no-such-survey does not exist"
set +e
"$ZM_BIN" plan "${common[@]}" --set store.path="$work/s1.h5" > "$work/exists.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/exists.log" "already exists"
set +e
"$ZM_BIN" cutout "${common[@]}" --set store.path="$work/never-planned.h5" > "$work/np.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/np.log" "does not exist (run 'zoomorph plan' first)"
set +e
"$ZM_BIN" plan "${common[@]}" --set cutout.size=64x > "$work/junk.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/junk.log" "config key \[cutout\] size = '64x': expected an integer"
# [survey] bricks naming a file of bricks (one per line, # comments), and a bad one
printf '# two bricks\n1000p000  first\n\n1005p000\n' > "$work/bricks.txt"
zt_mpi 2 plan "${common[@]}" --set survey.bricks="$work/bricks.txt" --set store.path="$work/bf.h5" > "$work/bf.log" 2>&1
$ZM_PYTHON - "$work/bf.h5" <<'PY'
import sys, h5py
b = sorted(set(x.decode() for x in h5py.File(sys.argv[1], "r")["galaxies/brickname"][:]))
assert b == ["1000p000", "1005p000"], b
print("bricks from a file:", b)
PY
printf '1000p000\nbad!\n' > "$work/badbricks.txt"
set +e
"$ZM_BIN" plan "${common[@]}" --set survey.bricks="$work/badbricks.txt" --set store.path="$work/bb.h5" > "$work/bb.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/bb.log" "config key [survey] bricks: file $work/badbricks.txt line 2: 'bad!' is not a brick name"
set +e
"$ZM_BIN" plan "${common[@]}" --set survey.bricks="$work/nobricks.txt" --set store.path="$work/bb.h5" > "$work/bb.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/bb.log" "is neither a brick name (like 1238p245) nor a readable file of brick names"
echo "e2e plan_cutout: ok"
