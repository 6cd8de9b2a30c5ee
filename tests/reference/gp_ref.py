#!/usr/bin/python3
"""Independent reference for the Gaussian process: scikit-learn's GaussianProcessRegressor
with ConstantKernel * RationalQuadratic + WhiteKernel.
usage: gp_ref.py X.f64 N D Y.f64 XS.f64 M AMP LEN ALPHA NOISE OUT
writes OUT.mean, OUT.std (fixed kernel) and prints the optimised log marginal likelihood"""
import sys

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, RationalQuadratic, WhiteKernel


def main():
    n, d, m = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[6])
    x = np.fromfile(sys.argv[1]).reshape(n, d)
    y = np.fromfile(sys.argv[4])
    xs = np.fromfile(sys.argv[5]).reshape(m, d)
    amp, ln, al, no = map(float, sys.argv[7:11])
    k = ConstantKernel(amp) * RationalQuadratic(length_scale=ln, alpha=al) + WhiteKernel(no)
    g = GaussianProcessRegressor(kernel=k, optimizer=None, normalize_y=False).fit(x, y)
    mu, sd = g.predict(xs, return_std=True)
    mu.tofile(sys.argv[11] + ".mean")
    sd.tofile(sys.argv[11] + ".std")
    go = GaussianProcessRegressor(kernel=k, normalize_y=False, n_restarts_optimizer=3, random_state=0).fit(x, y)
    print(f"{go.log_marginal_likelihood_value_:.6f}")


if __name__ == "__main__":
    main()
