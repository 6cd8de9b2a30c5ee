#!/usr/bin/python3
"""Independent reference for src/anomaly/active.c: Astronomaly's neighbour score
(NeighbourScore.anom_func and compute_nearest_neighbour, written again with numpy and a
scipy cKDTree), ScoreConverter's min-max scaling, column standardisation and expected
improvement (scipy.stats.norm).
usage: neighbour_ref.py X.f64 N D S.f64 U.f64 LAB.f64 NL MEAN.f64 SD.f64 BEST XI OUT
X: n x d raw coordinates; S: raw anomaly scores (higher is more anomalous); U: predicted
user scores; LAB: indices of labelled rows (as doubles). Writes OUT.z (standardised X),
OUT.ns (neighbour score of the standardised rows with S scaled to 0..5), OUT.ei."""
import sys

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import norm


def main():
    a = sys.argv
    n, d, nl = int(a[2]), int(a[3]), int(a[7])
    x = np.fromfile(a[1]).reshape(n, d)
    s = np.fromfile(a[4])
    u = np.fromfile(a[5])
    lab = np.fromfile(a[6]).astype(int)
    assert lab.size == nl
    mean, sd = np.fromfile(a[8]), np.fromfile(a[9])
    best, xi, out = float(a[10]), float(a[11]), a[12]
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    s5 = 5.0 * (s - s.min()) / (s.max() - s.min())
    dist = cKDTree(z[lab]).query(z)[0]
    uu = np.clip(u, 0.1, 5.0)
    f_u = 0.1 + 0.85 * (uu / 5.0)
    ns = s5 * np.tanh(np.exp(dist / np.mean(dist) * 1.0) - 1 + np.arctanh(f_u))
    imp = mean - best - xi
    zz = imp / sd
    ei = imp * norm.cdf(zz) + sd * norm.pdf(zz)
    z.tofile(out + ".z")
    ns.tofile(out + ".ns")
    ei.tofile(out + ".ei")


if __name__ == "__main__":
    main()
