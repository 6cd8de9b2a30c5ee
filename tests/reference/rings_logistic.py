#!/usr/bin/python3
"""An independent ceiling for the frozen-encoder learning curve (docs/finetune.md):
scikit-learn's logistic regression on the store's representations, trained on balanced
draws of the non-test labels and scored on the learning curve's balanced test set (every
test ring and as many non-rings, the first by zoomorph's FNV-1a hash of the row).

usage: rings_logistic.py store.h5 rings.csv [sizes...]
"""
import csv
import sys

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import BallTree


def fnv(row):
    h = 1469598103934665603
    for k in range(8):
        h = ((h ^ ((row >> (8 * k)) & 0xFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    f = h5py.File(sys.argv[1], "r")
    sizes = [int(s) for s in sys.argv[3:]] or [10, 30, 100, 300, 1000]
    E = f["representation/embedding"][:]
    bt = BallTree(np.deg2rad(np.c_[f["galaxies/dec"][:], f["galaxies/ra"][:]]), metric="haversine")
    rows = list(csv.DictReader(open(sys.argv[2])))
    q = np.deg2rad([[float(r["dec"]), float(r["ra"])] for r in rows])
    i = bt.query(q, 1)[1][:, 0]
    y = np.array([int(r["ring"]) for r in rows])
    sp = np.array([r["split"] for r in rows])
    ok = np.isfinite(E[i]).all(1) & ((f["cutouts/flags"][:][i] & 16) == 0)
    te_pos = [int(i[k]) for k in np.where(ok & (sp == "test") & (y == 1))[0]]
    te_neg = sorted((int(i[k]) for k in np.where(ok & (sp == "test") & (y == 0))[0]), key=fnv)[: len(te_pos)]
    te = np.array(te_pos + te_neg)
    yt = np.r_[np.ones(len(te_pos)), np.zeros(len(te_neg))]
    pool = np.where(ok & (sp != "test"))[0]
    pos, neg = pool[y[pool] == 1], pool[y[pool] == 0]
    print("| labels | logistic regression accuracy (mean ± sd) | ROC AUC (mean ± sd) |")
    print("|---:|---|---|")
    for n in sizes:
        acc, auc = [], []
        for seed in range(5):
            rng = np.random.default_rng(seed)
            k = np.r_[rng.choice(pos, n // 2, replace=False), rng.choice(neg, n - n // 2, replace=False)]
            clf = LogisticRegression(max_iter=5000).fit(E[i[k]], y[k])
            s = clf.decision_function(E[te])
            acc.append(((s > 0) == yt).mean())
            auc.append(roc_auc_score(yt, s))
        print(f"| {n} | {np.mean(acc):.3f} ± {np.std(acc, ddof=1):.3f} | {np.mean(auc):.3f} ± {np.std(auc, ddof=1):.3f} |")
    print(f"\ntest: {len(te)} galaxies ({len(te_pos)} rings); 5 draws per size")


if __name__ == "__main__":
    main()
