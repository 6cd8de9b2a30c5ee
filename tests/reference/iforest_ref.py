#!/usr/bin/python3
"""Independent reference for the isolation forest: scikit-learn's IsolationForest (100
trees, 256 samples) on the same data; prints its ROC AUC and ours (scores given), and the
fit+score time of scikit-learn on one thread.

usage: iforest_ref.py X.f32 N D LABELS.u8 OURS.f32 SEED
"""
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score


def main():
    x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(int(sys.argv[2]), int(sys.argv[3]))
    y = np.fromfile(sys.argv[4], dtype=np.uint8)
    ours = np.fromfile(sys.argv[5], dtype=np.float32)
    aucs = []
    t0 = time.perf_counter()
    for s in range(3):
        f = IsolationForest(n_estimators=100, max_samples=256, random_state=int(sys.argv[6]) + s, n_jobs=1).fit(x)
        aucs.append(roc_auc_score(y, -f.decision_function(x)))
    dt = (time.perf_counter() - t0) / 3
    print(f"sklearn_auc {np.mean(aucs):.5f} ours_auc {roc_auc_score(y, ours):.5f} sklearn_fit_score_s {dt:.3f}")


if __name__ == "__main__":
    main()
