#!/bin/bash
# `zoomorph anomaly` with one researcher's labels, on a small simulated survey with the shipped
# model:
#  - interactive over several runs: --next writes a batch (CSV with an empty score column, PNG
#    gallery), the researcher's scores go in with --labels, the next --next continues from the
#    labels kept in the store; the same on 1, 2 and 3 ranks;
#  - the stored GP mean and neighbour score against scikit-learn / numpy (tests/reference) with
#    the kernel the stage stored;
#  - a labels file all at once (ra, dec, score); --evaluate with an oracle and a budget;
#  - bad inputs, each with its message: duplicate labels (warned, last wins), scores outside
#    0..5 or not numbers (line numbers), ids not in the store, a budget above the number of
#    galaxies, an empty labels file, a file without its columns; the stored labels are
#    untouched by a refused file.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir anomaly)
cd "$work"
zt_mpi 2 simulate --set simulate.out="$work/survey" --set simulate.bricks=4 --set simulate.brick_size=900 \
  --set simulate.galaxies_per_brick=30 --set simulate.stars_per_brick=2 --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set store.path="$work/s.h5" --set cutout.size=72
        --set embed.weights="$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5" --set anomaly.batch=5)
for s in plan cutout embed pca; do zt_mpi 2 $s "${common[@]}" > $s.log 2>&1; done
cp s.h5 fresh.h5
# the researcher: scores from the simulator's interest table, matched by position
fill() {  # fill IN OUT: the empty score column of IN from survey/interest.csv
  $ZM_PYTHON - "$1" "$2" <<'EOF'
import csv, sys
import numpy as np
t = list(csv.DictReader(open('survey/interest.csv')))
ra = np.array([float(r['ra']) for r in t]); de = np.array([float(r['dec']) for r in t])
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], 'w') as f:
    f.write('id,ra,dec,score\n')
    for r in rows:
        j = np.argmin((ra - float(r['ra'])) ** 2 + (de - float(r['dec'])) ** 2)
        f.write('%s,%s,%s,%s\n' % (r['id'], r['ra'], r['dec'], t[j]['score']))
EOF
}

# ---- interactive over several runs, on 3, 2 and 1 ranks
zt_mpi 3 anomaly "${common[@]}" --next > next1.log 2>&1
test -s anomaly-next.png || { echo "FAIL: no gallery of the batch"; exit 1; }
[ "$(wc -l < anomaly-next.csv)" = 6 ] || { echo "FAIL: batch of 5 expected"; cat anomaly-next.csv; exit 1; }
grep -q ',$' anomaly-next.csv || { echo "FAIL: the score column should be empty"; exit 1; }
fill anomaly-next.csv b1.csv
zt_mpi 2 anomaly "${common[@]}" --labels b1.csv > lab1.log 2>&1
grep -q "5 galaxies labelled" lab1.log
cp anomaly-next.csv next2.csv
fill next2.csv b2.csv
zt_mpi 1 anomaly "${common[@]}" --labels b2.csv > lab2.log 2>&1
zt_mpi 3 anomaly "${common[@]}" --next > next3.log 2>&1
$ZM_PYTHON - <<'EOF'
import csv
import h5py, numpy as np
f = h5py.File('s.h5', 'r')
lab = f['anomaly/label'][:]
b1 = [int(r['id']) for r in csv.DictReader(open('b1.csv'))]
b2 = [int(r['id']) for r in csv.DictReader(open('b2.csv'))]
b3 = [int(r['id']) for r in csv.DictReader(open('anomaly-next.csv'))]
assert np.isfinite(lab).sum() == 10, np.isfinite(lab).sum()
assert set(np.flatnonzero(np.isfinite(lab))) == set(b1) | set(b2)
assert not set(b2) & set(b1) and not set(b3) & (set(b1) | set(b2)), (b1, b2, b3)
assert f['anomaly'].attrs['labels'] in (b'10', '10')
# the ranked CSV: labels where there are, else the GP mean, in descending order
rk = list(csv.DictReader(open('anomalies.csv')))
key = [float(r['score']) for r in rk]
assert all(a >= b for a, b in zip(key, key[1:]))
for r in rk:
    want = float(r['label']) if r['label'] else float(r['gp_mean'])
    assert abs(float(r['score']) - want) < 1e-3, r
print('ok: three runs, 10 labels kept in the store, batches never repeat a labelled galaxy')
EOF
# the catalogue carries the forest's score, the ranking key and the label
zt_mpi 2 catalogue "${common[@]}" --set catalogue.path="$work/cat.fits" > cat.log 2>&1
$ZM_PYTHON -c "
import h5py, numpy as np
from astropy.table import Table
t = Table.read('$work/cat.fits'); f = h5py.File('$work/s.h5', 'r')
for c, p in (('anomaly_iforest', 'iforest_score'), ('anomaly_score', 'score'), ('anomaly_label', 'label')):
    assert np.array_equal(np.asarray(t[c]), f['anomaly/' + p][:], equal_nan=True), c
print('ok: the catalogue has anomaly_iforest, anomaly_score and anomaly_label')"
# the stored predictions against scikit-learn and numpy with the stored kernel
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/anomaly_store_ref.py" s.h5

# the same labels on 1 and 3 ranks give the same ranking and batch
for np_ in 1 3; do
  cp fresh.h5 r$np_.h5
  zt_mpi $np_ anomaly "${common[@]}" --set store.path="$work/r$np_.h5" --set anomaly.output=rank$np_.csv \
    --set anomaly.next=next$np_.csv --labels b1.csv > r$np_.log 2>&1
done
cmp rank1.csv rank3.csv && cmp next1.csv next3.csv && echo "ok: 1 and 3 ranks give the same ranking and batch"

# ---- a labels file all at once (ra, dec, score), with the neighbour score
cp fresh.h5 all.h5
zt_mpi 2 anomaly "${common[@]}" --set store.path="$work/all.h5" --set anomaly.method=neighbour \
  --labels survey/interest.csv > all.log 2>&1
grep -q "nothing left to propose" all.log
$ZM_PYTHON -c "
import h5py, numpy as np
f = h5py.File('$work/all.h5', 'r')
ok = np.isfinite(f['anomaly/iforest_score'][:])
assert np.isfinite(f['anomaly/label'][:])[ok].all()
print('ok: a whole labels file by position labels every galaxy')"

# ---- the evaluation with an oracle; a budget above the number of galaxies
zt_mpi 2 anomaly "${common[@]}" --set store.path="$work/fresh.h5" --set anomaly.eval_seeds=2 \
  --set anomaly.eval_plot=eval.png --evaluate survey/interest.csv --budget 20 > eval.log 2>&1
grep -q "isolation forest alone" eval.log && grep -q "GP active learning" eval.log && grep -q "Astronomaly neighbour score" eval.log
test -s eval.png
grep -q "isolation forest (100 trees x 256) on /pca/coords_40; top 100 in anomalies.csv" eval.log  # the forest ranking too
zt_mpi 1 anomaly "${common[@]}" --set store.path="$work/fresh.h5" --set anomaly.eval_seeds=1 \
  --set anomaly.eval_plot= --evaluate survey/interest.csv --budget 100000 > big.log 2>&1
zt_expect_rc 0 0 big.log "--budget 100000 is more than the"

# ---- bad labels files
labels_of() { $ZM_PYTHON -c "import h5py, numpy as np; print(np.nan_to_num(h5py.File('$1','r')['anomaly/label'][:], nan=-1).tolist())"; }
before=$(labels_of s.h5)
printf 'id,ra,dec,score\n' > header.csv
: > empty.csv
printf 'id,ra,dec\n1,2,3\n' > noscore.csv
printf 'score\n3\n' > noid.csv
for f in empty header noscore noid; do
  set +e; zt_mpi 2 anomaly "${common[@]}" --labels $f.csv > $f.log 2>&1; rc=$?; set -e
  case $f in
    empty) zt_expect_rc 1 $rc $f.log "empty CSV file" ;;
    header) zt_expect_rc 1 $rc $f.log "has a header but no rows" ;;
    noscore) zt_expect_rc 1 $rc $f.log "no column 'score'" ;;
    noid) zt_expect_rc 1 $rc $f.log "no column 'id' (or 'ra'" ;;
  esac
done
[ "$before" = "$(labels_of s.h5)" ] && echo "ok: refused files leave the stored labels as they were"
# rows: a good one, a score of 7, a word, an id not in the store, the same galaxy twice (last wins)
g=$(sed -n 2p b1.csv | cut -d, -f1); h=$(sed -n 3p b1.csv | cut -d, -f1)
printf 'id,score\n%s,2\n%s,7\n%s,high\n99999,3\n%s,1\n%s,4\n' "$h" "$h" "$h" "$g" "$g" > mixed.csv
zt_mpi 3 anomaly "${common[@]}" --labels mixed.csv > mixed.log 2>&1
zt_expect_rc 0 0 mixed.log "line 3: score '7' is not a number in 0..5"
zt_expect_rc 0 0 mixed.log "line 4: score 'high' is not a number in 0..5"
zt_expect_rc 0 0 mixed.log "line 5: id 99999 is not in the store"
zt_expect_rc 0 0 mixed.log "galaxy $g already labelled on line 6 (1); the last label (4) is kept"
$ZM_PYTHON -c "
import h5py
l = h5py.File('$work/s.h5', 'r')['anomaly/label']
assert l[$g] == 4 and l[$h] == 2, (l[$g], l[$h])
print('ok: the last label wins, bad rows skipped')"
# flags
set +e; zt_mpi 1 anomaly "${common[@]}" --budget many > bud.log 2>&1; rc=$?; set -e
zt_expect_rc 2 $rc bud.log "--budget 'many' is not a positive whole number"
set +e; zt_mpi 1 anomaly "${common[@]}" --evaluate survey/interest.csv --labels b1.csv > both.log 2>&1; rc=$?; set -e
zt_expect_rc 2 $rc both.log "does not go with --labels or --next"
echo "PASS"
