#!/usr/bin/python3
"""The scale of a pretraining validation loss: the Dirichlet-multinomial loss (nats per galaxy,
summed over questions, as src/gz/gzloss.c) of the validation galaxies' votes under
(a) the simulator's noise-free answer probabilities (truth.fits) times a large concentration,
the best any model can do, and (b) the training galaxies' mean answer fractions, no learning.
usage: loss_floor.py STORE TRUTH   (the store after `zoomorph pretrain`: /pretrain/split)"""
import sys

import h5py
import numpy as np
from astropy.io import fits
from scipy.special import gammaln


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    f = h5py.File(sys.argv[1], "r")
    votes, split = f["labels/votes"][:].astype(np.float64), f["pretrain/split"][:]
    t = fits.open(sys.argv[2])[1].data
    cols = [c for c in t.columns.names if c.endswith("_true_fraction") and not c.startswith("rare-features")]
    row = {(str(b).strip(), int(o)): i for i, (b, o) in enumerate(zip(t["brickname"], t["objid"]))}
    m = np.array([row[(b.decode().strip(), int(o))] for b, o in zip(f["galaxies/brickname"][:], f["galaxies/objid"][:])])
    truth = np.stack([t[c][m] for c in cols], 1).astype(np.float64)
    qs, names = [], []
    for j, c in enumerate(cols):
        q = c.split("_")[0]
        if names and names[-1] == q:
            qs[-1][1] += 1
        else:
            names.append(q)
            qs.append([j, 1])

    def loss(a, k):
        total = 0
        for s, n in qs:
            ka, aa = k[:, s:s + n], a[:, s:s + n]
            N, S = ka.sum(1), aa.sum(1)
            total = total - (gammaln(N + 1) + gammaln(S) - gammaln(N + S)
                             + (gammaln(ka + aa) - gammaln(aa) - gammaln(ka + 1)).sum(1))
        return total.mean()

    val, train = split == 1, split == 0
    mean = np.zeros(truth.shape[1])
    for s, n in qs:
        k = votes[train][:, s:s + n]
        mean[s:s + n] = k.sum(0) / k.sum()
    best_truth = min(loss(np.clip(truth[val], 1e-3, 1) * c + 1e-3, votes[val]) for c in (100, 300, 1000, 3000))
    best_mean = min(loss(np.tile(mean * c, (val.sum(), 1)) + 1e-3, votes[val]) for c in (1, 2, 3, 5, 10, 20))
    print("validation galaxies %d: truth %.2f nats per galaxy (the floor), training mean %.2f (no learning)"
          % (val.sum(), best_truth, best_mean))


if __name__ == "__main__":
    main()
