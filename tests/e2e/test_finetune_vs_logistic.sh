#!/bin/bash
# `zoomorph finetune` with a frozen encoder (the default head) against scikit-learn's
# logistic regression on the very same representation rows and split: an 800-galaxy
# simulated survey (8 bricks, split by brick into train/validation/test), embedded with the
# shipped model; the label is the simulator's bar_present (about a fifth of the galaxies).
# zoomorph's test ROC AUC must be at least scikit-learn's LogisticRegression() (defaults:
# L2, C = 1, on the stored representation as it is) minus 0.01 at 30 and 100 training
# labels (the mean of 5 draws each) and at every training label (the mean of 3 seeds);
# the learning curve's logistic-regression baseline must equal scikit-learn's
# (tests/reference/finetune_logistic.py). The bug this guards against: a frozen head that
# stayed at its random initialisation (ROC AUC 0.25 to 0.75 where logistic regression
# reaches 0.94).
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir finetune_vs_logistic)
cd "$work"
start=$(date +%s)
zt_embedded_survey "$work" --set simulate.bricks=8 --set simulate.galaxies_per_brick=100
R="$ZM_SOURCE_DIR/tests/reference/finetune_logistic.py"
draws=(30_0 30_1 30_2 30_3 30_4 100_0 100_1 100_2 100_3 100_4)
$ZM_PYTHON "$R" labels s.h5 survey/truth.fits bar_present "$work/bar" "${draws[@]}" all
tasks=()
for n in "${draws[@]}" all_1 all_2 all_3; do
  # the draws on one rank (faster), every label on two
  case $n in all_*) csv=bar_all.csv seed=${n#all_} np=2 ;; *) csv=bar_$n.csv seed=1 np=1 ;; esac
  zt_mpi $np finetune "${common[@]}" --set finetune.labels="$work/$csv" --set finetune.match=id --set finetune.task=bar_$n \
    --set train.seed=$seed --set finetune.output="$work/bar_$n.h5" > ft_$n.log 2>&1 \
    || { echo "FAIL: finetune $n"; cat ft_$n.log; exit 1; }
  grep -q "bar_$n (binary, 2 classes, frozen)" ft_$n.log
  tasks+=(bar_$n)
done
$ZM_PYTHON "$R" compare s.h5 "${tasks[@]}"
# the learning curve prints the baseline beside its rows; one size larger than the pool:
# every non-test label trains, so scikit-learn can take the same rows
zt_mpi 2 finetune "${common[@]}" --set finetune.match=id --set finetune.lc_methods=frozen --set finetune.lc_sizes=100000 \
  --set finetune.lc_seeds=1 --set finetune.lc_out="$work/lc" --learning-curve "$work/bar_all.csv" > lc.log 2>&1 \
  || { echo "FAIL: --learning-curve"; cat lc.log; exit 1; }
grep -q "| logistic regression |" lc.md
grep "logistic regression: test" lc.log | sed 's/.*curve: //'
$ZM_PYTHON "$R" lc s.h5 "$work/bar_all.csv" lc.csv
echo "finetune vs logistic regression: $(( $(date +%s) - start )) s"
