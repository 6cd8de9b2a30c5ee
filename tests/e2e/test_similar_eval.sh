#!/bin/bash
# similar --evaluate-tags (the paper's evaluation) on a small simulated survey with the
# shipped model: every figure of the table (precision@10 of the most-tagged galaxy's
# neighbours and the mean over every tagged galaxy, against the tags and against the
# simulator's truth; the raw-pixel PCA baseline) recomputed independently with numpy,
# astropy and h5py; the same table on 1, 2 and 3 ranks; a gallery per tag. Bad input: a
# tags file without a tag column, a minimum no tag reaches, a split the store lacks.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir similar_eval)
cd "$work"
zt_mpi 2 simulate --set simulate.out="$work/survey" --set simulate.bricks=6 --set simulate.brick_size=900 \
  --set simulate.galaxies_per_brick=45 --set simulate.stars_per_brick=2 --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set store.path="$work/s.h5" --set cutout.size=72
        --set embed.weights="$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5" --set similar.gallery_dir="$work"
        --set similar.eval_min_tagged=3)
for s in plan cutout embed pca; do zt_mpi 2 $s "${common[@]}" > $s.log 2>&1; done
for np in 1 2 3; do
  zt_mpi $np similar "${common[@]}" --evaluate-tags "$work/survey/tags.csv" --truth "$work/survey/truth.fits" \
    --set similar.eval_output="$work/eval$np" > eval$np.log 2>&1
done
cat eval2.md
ls tag-*.png > /dev/null
$ZM_PYTHON - "$work" <<'PY'
import sys, csv, h5py, numpy as np
from astropy.io import fits
from astropy.coordinates import SkyCoord
import astropy.units as u
work = sys.argv[1]
f = h5py.File(work + '/s.h5', 'r')
X = f['pca/coords_10'][:].astype(np.float64)
ra, dec = f['galaxies/ra'][:], f['galaxies/dec'][:]
valid = np.isfinite(X).all(1)
N = len(X)
gal = SkyCoord(ra * u.deg, dec * u.deg)
# tags matched to the nearest galaxy within 3 arcsec
rows = list(csv.DictReader(open(work + '/survey/tags.csv')))
tra = np.array([float(r['ra']) for r in rows]); tde = np.array([float(r['dec']) for r in rows])
idx, sep, _ = SkyCoord(tra * u.deg, tde * u.deg).match_to_catalog_sky(gal)
tags = {}
for r, i, s in zip(rows, idx, sep.arcsec):
    if s <= 3 and valid[i]:
        tags.setdefault(r['tag'], {}).setdefault(int(i), 0)
        tags[r['tag']][int(i)] += 1
tags = {t: g for t, g in tags.items() if len(g) >= 3}
# the simulator's truth per galaxy
T = fits.open(work + '/survey/truth.fits')[1].data
ti, tsep, _ = gal.match_to_catalog_sky(SkyCoord(T['ra'] * u.deg, T['dec'] * u.deg))
T = T[ti]
has_t = tsep.arcsec <= 1
cls = np.char.strip(T['class'].astype(str))
def gt(c, v=0.5): return np.nan_to_num(T[c], nan=-1e9) > v
truth = {'ring': gt('ring_present') | gt('oring_present'), 'spiral': gt('arms_present'), 'bar': gt('bar_present'),
         'merger': gt('companion_present'), 'overlapping': gt('companion_present'), 'tidal': gt('tail_present'),
         'shell': gt('shell_present'), 'dust-lane': gt('dust_present'), 'lens': gt('arc_present'),
         'clumpy': gt('clumps_present'), 'flocculent': gt('arms_flocculence', 0), 'boxy-bulge': gt('bulge_boxiness', 2.05),
         'artifact': gt('artefact', 0)}
for c in ['edge-on', 'elliptical', 'irregular', 'diffuse', 'star']: truth[c] = cls == c
truth = {t: v & has_t for t, v in truth.items()}
def neighbours(Z, q, k=10):
    d = ((Z - Z[q]) ** 2).sum(1)
    d[~valid] = np.inf
    d[q] = np.inf
    order = np.lexsort((np.arange(N), d))
    return order[:k]
# the raw-pixel baseline: 3 x 3 block means of the 72 x 72 stamps, PCA-10 of the valid rows
im = f['cutouts/images'][:].astype(np.float64)
B = im.reshape(N, 1, 24, 3, 24, 3).mean(axis=(3, 5)).reshape(N, -1)
mu = B[valid].mean(0)
_, _, Vt = np.linalg.svd(B[valid] - mu, full_matrices=False)
Zb = (B - mu) @ Vt[:10].T
got = {r['tag']: r for r in csv.DictReader(open(work + '/eval2.csv'))}
assert set(got) == set(tags), (sorted(got), sorted(tags))
nv = valid.sum()
worst = 0
for t, g in sorted(tags.items()):
    ids = np.array(sorted(g))
    member = np.zeros(N, bool); member[ids] = True
    top = min(g, key=lambda i: (-g[i], i))
    r = got[t]
    assert int(r['query_id']) == top and int(r['tagged']) == len(ids), (t, r, top)
    assert abs(float(r['base_rate']) - len(ids) / nv) < 1e-6
    def p(Z, q, m): return m[neighbours(Z, q)].mean()
    want = {'p_top': p(X, top, member), 'p_mean': np.mean([p(X, q, member) for q in ids])}
    if t in truth:
        want['truth_p_top'] = p(X, top, truth[t])
        want['truth_p_mean'] = np.mean([p(X, q, truth[t]) for q in ids])
        assert abs(float(r['truth_base_rate']) - (truth[t] & valid).sum() / nv) < 1e-6
    for c, v in want.items():
        assert abs(float(r[c]) - v) < 1e-3, (t, c, r[c], v)
    for c, m in [('baseline_p_mean', member)] + ([('baseline_truth_p_mean', truth[t])] if t in truth else []):
        v = np.mean([p(Zb, q, m) for q in ids])
        worst = max(worst, abs(float(r[c]) - v))
        assert abs(float(r[c]) - v) < 0.05, (t, c, r[c], v)
print('ok: %d tags: precision@10 (top query, mean over the tagged, truth) as numpy computes it; raw-pixel baseline '
      'within %.3f' % (len(tags), worst))
a = [l.split(',')[:14] for l in open(work + '/eval1.csv')]
for n in (2, 3):
    b = [l.split(',')[:14] for l in open(work + '/eval%d.csv' % n)]
    assert a == b, ('ranks', n)
print('ok: the same table (learned space) on 1, 2 and 3 ranks')
PY
# bad input
printf 'ra,dec,label\n1,2,x\n' > notag.csv
set +e
zt_mpi 2 similar "${common[@]}" --evaluate-tags notag.csv > bad1.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bad1.log "notag.csv: columns ra, dec and tag are needed"
set +e
zt_mpi 2 similar "${common[@]}" --evaluate-tags "$work/survey/tags.csv" --set similar.eval_min_tagged=100000 > bad2.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bad2.log "no tag is carried by [similar] eval_min_tagged = 100000"
set +e
zt_mpi 2 similar "${common[@]}" --evaluate-tags "$work/survey/tags.csv" --set similar.eval_split=test > bad3.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bad3.log "has no /labels/split for [similar] eval_split = test"
# a tag row far from every galaxy and one without a position: counted, skipped, the rest scored
{ cat "$work/survey/tags.csv"; echo "10.0,10.0,ring,x,1,test"; echo ",,ring,x,2,test"; } > tags2.csv
zt_mpi 1 similar "${common[@]}" --evaluate-tags tags2.csv --set similar.eval_output="$work/eval_bad" \
  --set similar.eval_baseline=false > eval_bad.log 2>&1
grep -q "1 with no galaxy within 3 arcsec" eval_bad.log && grep -q "1 unreadable" eval_bad.log
grep -q "tags2.csv line .*: no ra, dec or tag; skipped" eval_bad.log
cmp <(cut -d, -f1-9 eval1.csv) <(cut -d, -f1-9 eval_bad.csv)
echo "ok: bad tag rows counted and skipped; the same table"
# a truth table without the simulator's bar column: bar is scored against the tags only,
# with a warning; the other tags as before
$ZM_PYTHON -c "
from astropy.table import Table
t = Table.read('$work/survey/truth.fits')
t.remove_column('bar_present')
t.write('$work/truth_nobar.fits', overwrite=True)"
zt_mpi 2 similar "${common[@]}" --evaluate-tags "$work/survey/tags.csv" --truth "$work/truth_nobar.fits" \
  --set similar.eval_output="$work/eval_nobar" > eval_nobar.log 2>&1
grep -q "WARN .*similar: tag 'bar' is not scored against the truth: .*no column 'bar_present'" eval_nobar.log
$ZM_PYTHON - "$work" <<'PY'
import csv, sys, math
w = sys.argv[1]
a = {r["tag"]: r for r in csv.DictReader(open(f"{w}/eval1.csv"))}
b = {r["tag"]: r for r in csv.DictReader(open(f"{w}/eval_nobar.csv"))}
assert math.isnan(float(b["bar"]["truth_p_top"] or "nan")), b["bar"]
for t in a:
    if t != "bar" and a[t]["truth_p_mean"] not in ("", "nan"):
        assert a[t]["truth_p_mean"] == b[t]["truth_p_mean"], t
print("ok: a truth table without bar_present: bar dropped from the truth scores, the rest unchanged")
PY
echo "e2e similar_eval: ok"
