#!/usr/bin/python3
"""What the bar question's target (issue [4/10]: at most half the baseline's mean absolute
error against the simulator's true fractions) asks of a model (docs/model-card.md).

On the model card's test galaxies (held-out bricks, bar question answered), for the
store's own predictions and for idealised ones:
- a detector that knows which discs the simulator barred, predicting each class's mean
  true fractions;
- synthetic detectors of a given ROC AUC (barred vs unbarred; score = d [barred] + N(0, 1)),
  whose predictions are the mean true fractions of the validation galaxies in the same
  score bin (20 quantile bins fitted on the validation bricks): the best calibrated mean
  prediction such a detector allows;
- with --fractions TASK_STRONG TASK_WEAK: the store's /finetune/<task>/prediction of two
  regressions on the true strong and weak fractions (--write-truth CSV writes their
  labels: id, strong, weak, split by the pretraining split), i.e. how much of the bar
  the representation holds when the labels carry no volunteer noise.

usage: bar_bound.py STORE TRUTH.fits [--fractions TASK_STRONG TASK_WEAK] [--write-truth CSV]
"""
import argparse

import h5py
import numpy as np
from astropy.io import fits
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from simtruth import truth_rows

ANSWERS = ("strong", "weak", "no")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("truth")
    ap.add_argument("--fractions", nargs=2, metavar=("TASK_STRONG", "TASK_WEAK"))
    ap.add_argument("--write-truth", metavar="CSV")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    f = h5py.File(a.store, "r")
    t = fits.open(a.truth)[1].data
    ti = truth_rows(f, t)
    split = f["pretrain/split"][:]
    T = np.stack([t["bar_%s_true_fraction" % x] for x in ANSWERS], 1)
    if a.write_truth:
        names = {0: "train", 1: "validation", 2: "test"}
        ids = f["galaxies/id"][:]
        with open(a.write_truth, "w") as o:
            o.write("id,strong,weak,split\n")
            for i in np.flatnonzero((ti >= 0) & np.isin(split, list(names))):
                o.write("%d,%.6f,%.6f,%s\n" % (ids[i], T[ti[i], 0], T[ti[i], 1], names[split[i]]))
        return
    cols = f["labels/votes"].attrs["columns"].decode().split(",")
    idx = [cols.index("bar_" + x) for x in ANSWERS]
    votes, pred = f["labels/votes"][:], f["predictions/vote_fraction"][:]
    has = f["labels/has_votes"][:].astype(bool)
    n = votes[:, idx].sum(1)
    ok = has & (n > 0) & (ti >= 0) & ~np.isnan(pred[:, idx]).any(1)
    te, va, tr = ok & (split == 2), ok & (split == 1), has & (n > 0) & (split == 0)
    base = (votes[tr][:, idx] / n[tr, None]).mean(0)
    tt, tv = T[ti[te]], T[ti[va]]
    bt, bv = t["bar_present"][ti[te]] > 0, t["bar_present"][ti[va]] > 0
    B = np.abs(base - tt).mean()

    def ratio(q):
        return np.abs(q - tt).mean() / B

    p = pred[te][:, idx]
    print("%d test galaxies (%d barred), baseline MAE %.4f, %d validation galaxies for the bins\n"
          % (te.sum(), bt.sum(), B, va.sum()))
    print("| predictions | ROC AUC barred vs unbarred | ratio vs truth |")
    print("|---|---|---|")
    print("| the store's | %.3f | %.2f |" % (roc_auc_score(bt, p[:, 0] + p[:, 1]), ratio(p)))
    if a.fractions:
        s, w = (f["finetune/%s/prediction" % k][:].reshape(-1)[te] for k in a.fractions)
        q = np.clip(np.stack([s, w, 1 - s - w], 1), 0, 1)
        print("| regressions on the true fractions (%s, %s) | %.3f | %.2f |"
              % (a.fractions[0], a.fractions[1], roc_auc_score(bt, s + w), ratio(q)))
    q = np.where(bt[:, None], tv[bv].mean(0), tv[~bv].mean(0))
    print("| knows which discs are barred | 1 | %.2f |" % ratio(q))
    rng = np.random.default_rng(a.seed)
    nb = 20
    for auc in (0.80, 0.85, 0.90, 0.95, 0.98):
        d = np.sqrt(2) * norm.ppf(auc)
        sv, st = bv * d + rng.normal(size=bv.size), bt * d + rng.normal(size=bt.size)
        edges = np.quantile(sv, np.linspace(0, 1, nb + 1))
        bin_v = np.clip(np.searchsorted(edges, sv, side="right") - 1, 0, nb - 1)
        bin_t = np.clip(np.searchsorted(edges, st, side="right") - 1, 0, nb - 1)
        mean = np.stack([tv[bin_v == k].mean(0) for k in range(nb)])
        print("| synthetic detector, calibrated mean | %.3f | %.2f |" % (roc_auc_score(bt, st), ratio(mean[bin_t])))


if __name__ == "__main__":
    main()
