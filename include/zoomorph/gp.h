/*
 * gp.h: Gaussian-process regression with a rational-quadratic plus white-noise kernel,
 *   k(x, x') = s^2 (1 + |x - x'|^2 / (2 alpha l^2))^(-alpha) + noise * [x == x'],
 * hyperparameters (s^2, l, alpha, noise) by maximising the log marginal likelihood
 * (Nelder-Mead on their logarithms inside scikit-learn's bounds 1e-5..1e5, run again from
 * its best point until that gains nothing, since a simplex that collapses on a bound cannot
 * leave it; optional restarts), Cholesky from LAPACK. When the
 * Cholesky factorisation fails, jitter is added to the diagonal (reported), never a
 * crash. Predictions: mean and standard deviation, as scikit-learn's
 * GaussianProcessRegressor with the same kernel (normalize_y = False).
 * Shapes: x is n x d row-major doubles.
 */
#ifndef ZOOMORPH_GP_H
#define ZOOMORPH_GP_H

#include "zoomorph/error.h"

typedef struct {
    double amp, length, alpha, noise;  /* s^2, l, alpha, white-noise level */
} zm_gp_kernel;

typedef struct {
    zm_gp_kernel k;
    int n, d;
    double *x;       /* n x d training inputs (copy) */
    double *L;       /* n x n Cholesky factor (lower, column-major) */
    double *alpha_v; /* K^-1 y */
    double jitter;   /* added to the diagonal to make K positive definite (0 if none) */
    double lml;      /* log marginal likelihood at k */
} zm_gp;

/* Fits with the given kernel (no optimisation). */
int zm_gp_fit(zm_gp *g, const double *x, const double *y, int n, int d, const zm_gp_kernel *k, zm_err *err);
/* Fits, optimising the kernel from k0 (restarts from perturbed starts). */
int zm_gp_fit_optimise(zm_gp *g, const double *x, const double *y, int n, int d, const zm_gp_kernel *k0,
                       int restarts, zm_err *err);
void zm_gp_predict(const zm_gp *g, const double *xs, int m, double *mean, double *std);
void zm_gp_free(zm_gp *g);

#endif
