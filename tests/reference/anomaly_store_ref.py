#!/usr/bin/python3
"""Independent check of what `zoomorph anomaly` stored with labels: the GP mean and standard
deviation (scikit-learn's GaussianProcessRegressor, ConstantKernel * RationalQuadratic +
WhiteKernel with the kernel the stage stored in /anomaly gp_kernel, on the PCA-40
coordinates standardised over the rows that have them) and Astronomaly's neighbour score
(numpy, a cKDTree, the isolation-forest score min-max scaled to 0..5).
usage: anomaly_store_ref.py STORE.h5 [SPACE]; exits 1 on a difference above 1e-4 relative."""
import sys

import h5py
import numpy as np
from scipy.spatial import cKDTree
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, RationalQuadratic, WhiteKernel


def worst(name, a, b, floor):
    r = np.abs(a - b) / np.maximum(np.abs(b), floor)
    print(f"{name}: worst relative difference {r.max():.2e} (stored vs reference)")
    return r.max()


def main():
    f = h5py.File(sys.argv[1], "r")
    space = sys.argv[2] if len(sys.argv) > 2 else "coords_40"
    x = f["pca/" + space][:].astype(np.float64)
    ifs = f["anomaly/iforest_score"][:].astype(np.float64)
    lab = f["anomaly/label"][:].astype(np.float64)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(ifs)
    xv = x[ok]
    z = (xv - xv.mean(axis=0)) / np.where(xv.std(axis=0) > 0, xv.std(axis=0), 1)
    lv = lab[ok]
    li = np.flatnonzero(np.isfinite(lv))
    kb = f["anomaly"].attrs["gp_kernel"]
    amp, ln, al, no = map(float, (kb.decode() if isinstance(kb, bytes) else kb).split())
    k = ConstantKernel(amp) * RationalQuadratic(length_scale=ln, alpha=al) + WhiteKernel(no)
    g = GaussianProcessRegressor(kernel=k, optimizer=None, normalize_y=False).fit(z[li], lv[li])
    mu, sd = g.predict(z, return_std=True)
    s = ifs[ok]
    s5 = 5.0 * (s - s.min()) / (s.max() - s.min())
    dist = cKDTree(z[li]).query(z)[0]
    f_u = 0.1 + 0.85 * np.clip(mu, 0.1, 5.0) / 5.0
    ns = s5 * np.tanh(np.exp(dist / dist.mean()) - 1 + np.arctanh(f_u))
    w = max(worst("GP mean", f["anomaly/gp_mean"][:][ok], mu, 1e-2),
            worst("GP std", f["anomaly/gp_std"][:][ok], sd, 1e-2),
            worst("neighbour score", f["anomaly/neighbour_score"][:][ok], ns, 1e-2))
    if w > 1e-4:
        sys.exit(1)
    print(f"ok: {len(li)} labels, {ok.sum()} galaxies: the stored GP and neighbour score match the reference")


if __name__ == "__main__":
    main()
