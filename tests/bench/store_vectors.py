#!/usr/bin/python3
"""Exports a store's own vectors for tests/bench/bench_search.sh: 1000 rows drawn at random
(seed 1) become the queries (q.f32), every other row with finite values the base (x.f32),
both float32 row-major, so the search benchmark runs on the pipeline's PCA coordinates or
representations instead of synthetic clusters.
usage: store_vectors.py STORE DATASET OUTDIR   -> prints "N D" (base rows, dimension)"""
import os
import sys

import h5py
import numpy as np


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    store, dataset, out = sys.argv[1:]
    with h5py.File(store, "r") as f:
        if dataset not in f:
            sys.exit("store_vectors: %s has no %s" % (store, dataset))
        x = np.asarray(f[dataset][...], dtype=np.float32)
    x = x[np.isfinite(x).all(axis=1)]
    if x.ndim != 2 or len(x) < 2000:
        sys.exit("store_vectors: %s %s: expected at least 2000 finite rows of vectors" % (store, dataset))
    q = np.random.default_rng(1).choice(len(x), 1000, replace=False)
    keep = np.ones(len(x), bool)
    keep[q] = False
    os.makedirs(out, exist_ok=True)
    x[keep].tofile(os.path.join(out, "x.f32"))
    x[q].tofile(os.path.join(out, "q.f32"))
    print(int(keep.sum()), x.shape[1])


if __name__ == "__main__":
    main()
