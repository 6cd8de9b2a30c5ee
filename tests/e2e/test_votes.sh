#!/bin/bash
# `zoomorph votes` on the test survey: a Galaxy Zoo DECaLS vote table (written here with
# numpy) matched by sky position on 1, 2 and 3 ranks (identical results, and the same
# matches as astropy's match_coordinates_sky), bad rows rejected with their line and
# column, unmatched and duplicate rows listed, child-above-parent rows counted, a missing
# answer column an error naming it, and matching by id.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir votes)
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/make_test_survey.py" "$work/survey"
common=(--set survey.root="$work/survey")
zt_mpi 1 plan "${common[@]}" --set store.path="$work/s.h5" > /dev/null 2>&1
for np in 2 3; do cp "$work/s.h5" "$work/s$np.h5"; done
cp "$work/s.h5" "$work/s1.h5"
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
work = sys.argv[1]
f = h5py.File(f"{work}/s.h5", "r")
ra, dec = f["galaxies/ra"][:], f["galaxies/dec"][:]
tree = [("smooth-or-featured", ["smooth", "featured-or-disk", "artifact"], None),
        ("disk-edge-on", ["yes", "no"], "smooth-or-featured_featured-or-disk"),
        ("has-spiral-arms", ["yes", "no"], "disk-edge-on_no"),
        ("bar", ["strong", "weak", "no"], "disk-edge-on_no"),
        ("bulge-size", ["dominant", "large", "moderate", "small", "none"], "disk-edge-on_no"),
        ("how-rounded", ["round", "in-between", "cigar-shaped"], "smooth-or-featured_smooth"),
        ("edge-on-bulge", ["boxy", "none", "rounded"], "disk-edge-on_yes"),
        ("spiral-winding", ["tight", "medium", "loose"], "has-spiral-arms_yes"),
        ("spiral-arm-count", ["1", "2", "3", "4", "more-than-4", "cant-tell"], "has-spiral-arms_yes"),
        ("merging", ["none", "minor-disturbance", "major-disturbance", "merger"], None)]
cols = [f"{q}_{a}" for q, ans, _ in tree for a in ans]
rng = np.random.default_rng(3)
rows = []
for i in range(len(ra)):
    c = rng.integers(0, 10, len(cols))
    jit = rng.normal(0, 0.2, 2) / 3600
    rows.append([ra[i] + jit[0] / np.cos(np.radians(dec[i])), dec[i] + jit[1]] + list(c))
rows.append([ra[0] + 0.5 / 3600, dec[0]] + [1] * len(cols))      # a second row for galaxy 0
rows.append([ra[0] + 30 / 3600, dec[0]] + [1] * len(cols))       # no galaxy within 1"
bad = [ra[1], dec[1]] + [1] * len(cols); bad[3] = -2; rows.append(bad)         # negative
bad = [ra[1], dec[1]] + [1] * len(cols); bad[4] = 2.5; rows.append(bad)        # not whole
bad = [ra[1], dec[1]] + [1] * len(cols); bad[5] = float("nan"); rows.append(bad)
with open(f"{work}/votes.csv", "w") as out:
    out.write("ra,dec," + ",".join(cols) + "\n")
    for r in rows:
        out.write(",".join(repr(float(x)) if k < 2 else ("nan" if x != x else ("%g" % x)) for k, x in enumerate(r)) + "\n")
with open(f"{work}/votes_missing.csv", "w") as out:
    out.write("ra,dec," + ",".join(cols[:-1]) + "\n")
    out.write(",".join(["1", "1"] + ["0"] * (len(cols) - 1)) + "\n")
with open(f"{work}/votes_id.csv", "w") as out:
    out.write("id," + ",".join(cols) + "\n")
    out.write("3," + ",".join(["2"] * len(cols)) + "\n")
    out.write("999," + ",".join(["2"] * len(cols)) + "\n")
PY
for np in 1 2 3; do
  zt_mpi $np votes --set store.path="$work/s$np.h5" --set labels.votes="$work/votes.csv" > "$work/votes$np.log" 2>&1
done
$ZM_PYTHON - "$work" <<'PY'
import sys, h5py, numpy as np
from astropy.coordinates import SkyCoord, match_coordinates_sky
import astropy.units as u
work = sys.argv[1]
s = [h5py.File(f"{work}/s{n}.h5", "r") for n in (1, 2, 3)]
for f in s[1:]:
    assert np.array_equal(f["labels/votes"][:], s[0]["labels/votes"][:])
    assert np.array_equal(f["labels/has_votes"][:], s[0]["labels/has_votes"][:])
    assert [r for r in f["rejects/reason"][:]] == [r for r in s[0]["rejects/reason"][:]]
f = s[0]
votes = np.genfromtxt(f"{work}/votes.csv", delimiter=",", names=True)
cols = f["labels/votes"].attrs["columns"].decode().split(",")
assert len(cols) == 34 and cols[0] == "smooth-or-featured_smooth"
gal = SkyCoord(f["galaxies/ra"][:] * u.deg, f["galaxies/dec"][:] * u.deg)
vc = SkyCoord(votes["ra"] * u.deg, votes["dec"] * u.deg)
idx, sep, _ = match_coordinates_sky(vc, gal)
V = f["labels/votes"][:]
n = len(gal)
for i in range(n):     # the first n rows are one per galaxy, in order
    assert sep[i].arcsec < 1 and idx[i] == i
    want = np.array(list(votes[i])[2:])
    assert np.array_equal(V[i], want.astype(np.float32)), i
assert f["labels/has_votes"][:].all()
reasons = [r.decode() for r in f["rejects/reason"][:]]
for r in reasons: print("reject:", r[:150])
assert any("already has votes from line" in r for r in reasons)
assert any("no galaxy within 1 arcsec" in r for r in reasons)
assert any("line 15: column smooth-or-featured_featured-or-disk = -2: expected a non-negative whole number" in r for r in reasons)
assert any("line 16: column smooth-or-featured_artifact = 2.5" in r for r in reasons)
assert any("line 17: column disk-edge-on_yes = nan" in r for r in reasons)
print("votes: matches agree with astropy; rejects as expected")
PY
grep -q "rows have a child question answered more often than its parent answer" "$work/votes2.log"
set +e
"$ZM_BIN" votes --set store.path="$work/s1.h5" --set labels.votes="$work/votes_missing.csv" > "$work/miss.log" 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc "$work/miss.log" "answer column 'merging_merger' is missing"
zt_mpi 2 votes --set store.path="$work/s2.h5" --set labels.votes="$work/votes_id.csv" --set labels.match=id > "$work/id.log" 2>&1
$ZM_PYTHON -c "
import h5py; f = h5py.File('$work/s2.h5', 'r'); h = f['labels/has_votes'][:]
assert h.sum() == 1 and h[3] == 1 and (f['labels/votes'][3] == 2).all()
assert any(b'id 999 is not a galaxy of the store' in r for r in f['rejects/reason'][:])
print('votes by id: ok')"
echo "e2e votes: ok"
