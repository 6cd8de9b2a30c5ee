#!/usr/bin/python3
"""Independent reference for exact k-NN: faiss IndexFlatL2 on the same vectors.
usage: knn_ref.py BASE.f32 N QUERIES.f32 NQ D K OUT.i64 (ids, nq x k)"""
import sys

import faiss
import numpy as np


def main():
    base = np.fromfile(sys.argv[1], dtype=np.float32).reshape(int(sys.argv[2]), int(sys.argv[5]))
    q = np.fromfile(sys.argv[3], dtype=np.float32).reshape(int(sys.argv[4]), int(sys.argv[5]))
    ix = faiss.IndexFlatL2(base.shape[1])
    ix.add(base)
    d, i = ix.search(q, int(sys.argv[6]))
    i.astype(np.int64).tofile(sys.argv[7])
    d.astype(np.float32).tofile(sys.argv[7] + ".d")


if __name__ == "__main__":
    main()
