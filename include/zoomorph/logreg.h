/*
 * logreg.h: binary logistic regression with an L2 penalty, fitted exactly (Newton's
 * method, Cholesky of the Hessian from LAPACK, backtracking on the objective):
 *
 *   minimise  sum_i [log(1 + exp(z_i)) - y_i z_i] + |w|^2 / (2 C),   z_i = x_i . w + b
 *
 * the objective of scikit-learn's LogisticRegression (penalty l2, intercept b not
 * penalised, no class weights), so with C = 1 it is that class's default fit. The
 * learning curve prints it beside the frozen heads as a baseline.
 */
#ifndef ZOOMORPH_LOGREG_H
#define ZOOMORPH_LOGREG_H

#include "zoomorph/error.h"

/* X: n x D (row-major floats), y: n labels (> 0.5 is class 1). Out: w[0..D-1] and the
 * intercept w[D]. Returns the Newton iterations made, or a negative zm error (err set)
 * when the Hessian is not positive definite. */
int zm_logreg_fit(const float *X, const float *y, long n, int D, double C, double *w, zm_err *err);
/* The decision values z_i = x_i . w + w[D] of n rows. */
void zm_logreg_decision(const double *w, const float *X, long n, int D, float *z);

#endif
