#!/usr/bin/python3
"""Independent reference for PCA: scikit-learn's PCA on the same vectors.

usage: pca_ref.py X.f32 N D K OUTPREFIX
writes OUTPREFIX.comp (K x D float64), .var (K explained_variance_), .ratio (K)
"""
import sys

import numpy as np
from sklearn.decomposition import PCA


def main():
    path, n, d, k, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    x = np.fromfile(path, dtype=np.float32).reshape(n, d).astype(np.float64)
    p = PCA(n_components=k, svd_solver="full").fit(x)
    p.components_.astype(np.float64).tofile(prefix + ".comp")
    p.explained_variance_.astype(np.float64).tofile(prefix + ".var")
    p.explained_variance_ratio_.astype(np.float64).tofile(prefix + ".ratio")


if __name__ == "__main__":
    main()
