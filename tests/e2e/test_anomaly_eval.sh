#!/bin/bash
# `zoomorph anomaly --evaluate` against an independent re-implementation of its GP protocol
# (tests/reference/anomaly_eval_ref.py: numpy, scipy, scikit-learn) on one fixture: a
# 480-galaxy simulated survey embedded with the shipped model, its simulated researcher's
# interest scores as the oracle, 100 labels, 8 seeds.
#  - replay: with the galaxies zoomorph labelled and its final kernel, the reference
#    recomputes every figure of every seed (with the labels, unlabelled only, how many of
#    the top k are labelled): exactly the same;
#  - compare: the reference's own loop over 8 seeds (its own random first batches and
#    hyperparameter fits) against zoomorph's 8: each mean within 3 standard errors of the
#    difference plus one galaxy;
#  - the log reports both figures, the labels fill the top of the ranking "with the labels";
#  - the evaluation is the same on 1 and 2 ranks.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir anomaly_eval)
cd "$work"
zt_mpi 2 simulate --set simulate.out="$work/survey" --set simulate.bricks=8 --set simulate.brick_size=1200 \
  --set simulate.seed=5 --set simulate.galaxies_per_brick=60 --set simulate.stars_per_brick=2 \
  --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set store.path="$work/s.h5" --set cutout.size=72
        --set embed.weights="$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5")
for s in plan cutout embed pca; do zt_mpi 2 $s "${common[@]}" > $s.log 2>&1; done
ev=(--set anomaly.eval_seeds=8 --set anomaly.eval_plot= --evaluate survey/interest.csv --budget 100)
zt_mpi 2 anomaly "${common[@]}" "${ev[@]}" --set anomaly.eval_output=ev2 > ev2.log 2>&1
zt_mpi 1 anomaly "${common[@]}" "${ev[@]}" --set anomaly.eval_output=ev1 > ev1.log 2>&1
cmp ev1.csv ev2.csv && cmp ev1-labels.csv ev2-labels.csv && echo "ok: the same evaluation on 1 and 2 ranks"
grep "anomaly evaluation (" -A 7 ev2.log | sed 's/^\[[^]]*\] //'
grep -q "GP active learning (expected improvement), with the labels" ev2.log
grep -q "GP active learning (expected improvement), unlabelled only" ev2.log
[ "$(grep -c ',gp,' ev2-labels.csv)" = 800 ] || { echo "FAIL: 8 seeds x 100 labels expected"; exit 1; }
$ZM_PYTHON - <<'EOF'
import csv
rows = [r for r in csv.DictReader(open('ev2.csv')) if r['method'] == 'gp']
assert len(rows) == 8, len(rows)
# the leak, measured: labelled galaxies sit in the top of the ranking "with the labels"
nl = [int(r['labelled_in_top50']) for r in rows]
w = sum(float(r['top50']) for r in rows) / 8
u = sum(float(r['unlabelled_top50']) for r in rows) / 8
assert min(nl) > 0 and w > u, (nl, w, u)
print(f"ok: labelled galaxies in the GP's top 50: {min(nl)}..{max(nl)} of 50; top 50 {w:.3f} with the labels, "
      f"{u:.3f} unlabelled only")
EOF
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/anomaly_eval_ref.py" replay s.h5 survey/interest.csv ev2-labels.csv ev2.csv
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/anomaly_eval_ref.py" compare s.h5 survey/interest.csv ev2.csv \
  --budget 100 --seeds 8
echo "PASS"
