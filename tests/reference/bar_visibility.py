#!/usr/bin/python3
"""Where the bar question's error comes from (docs/model-card.md): over the held-out test
galaxies whose bar question volunteers answered, the MAE against the simulator's true
fractions for barred and unbarred galaxies, and how well the model's predicted
P(strong) + P(weak) tells the simulator's barred galaxies from the unbarred ones (ROC AUC),
over all of them and by the bar's length (each length bin against every unbarred galaxy),
beside the same for the volunteers' own strong + weak fractions.

usage: bar_visibility.py STORE TRUTH.fits
"""
import sys

import h5py
import numpy as np
from astropy.io import fits
from sklearn.metrics import roc_auc_score

from simtruth import truth_rows


def main():
    f = h5py.File(sys.argv[1], "r")
    t = fits.open(sys.argv[2])[1].data
    cols = f["labels/votes"].attrs["columns"].decode().split(",")
    idx = [cols.index("bar_" + a) for a in ("strong", "weak", "no")]
    votes, pred = f["labels/votes"][:], f["predictions/vote_fraction"][:]
    has, split = f["labels/has_votes"][:].astype(bool), f["pretrain/split"][:]
    ti = truth_rows(f, t)
    n = votes[:, idx].sum(1)
    te = has & (n > 0) & (split == 2) & (ti >= 0) & ~np.isnan(pred[:, idx]).any(1)
    tr = has & (n > 0) & (split == 0)
    base = (votes[tr][:, idx] / n[tr, None]).mean(0)
    rows = ti[te]
    truth = np.stack([t["bar_%s_true_fraction" % a][rows] for a in ("strong", "weak", "no")], 1)
    p = pred[te][:, idx]
    barred = t["bar_present"][rows] > 0
    length = t["bar_length"][rows]
    score = p[:, 0] + p[:, 1]
    vfrac = votes[te][:, idx] / n[te, None]
    vscore = vfrac[:, 0] + vfrac[:, 1]
    print("| test galaxies | count | MAE vs truth | baseline | mean predicted strong / weak / no | mean true strong / weak / no |")
    print("|---|---|---|---|---|---|")
    for name, m in (("barred", barred), ("unbarred", ~barred), ("all", np.ones_like(barred))):
        print("| %s | %d | %.3f | %.3f | %s | %s |" % (
            name, m.sum(), np.abs(p[m] - truth[m]).mean(), np.abs(base - truth[m]).mean(),
            " / ".join("%.3f" % x for x in p[m].mean(0)), " / ".join("%.3f" % x for x in truth[m].mean(0))))
    print("\n| bar length (arcsec) | barred | ROC AUC barred vs unbarred: model | volunteers' fractions |")
    print("|---|---|---|---|")
    print("| all | %d | %.3f | %.3f |" % (barred.sum(), roc_auc_score(barred, score), roc_auc_score(barred, vscore)))
    edges = np.quantile(length[barred], [0, 0.25, 0.5, 0.75, 1])
    for a, b in zip(edges[:-1], edges[1:]):
        m = barred & (length >= a) & (length <= b)
        sel = m | ~barred
        print("| %.1f-%.1f | %d | %.3f | %.3f |" % (a, b, m.sum(), roc_auc_score(barred[sel], score[sel]),
                                          roc_auc_score(barred[sel], vscore[sel])))


if __name__ == "__main__":
    main()
