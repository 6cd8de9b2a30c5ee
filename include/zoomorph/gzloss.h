/*
 * gzloss.h: the Dirichlet-multinomial loss of Zoobot (Walmsley et al. 2022) on a Galaxy
 * Zoo decision tree. The network's head gives one logit per answer; the concentrations
 * are a = 1 + 100 sigmoid(x), so a is in (1, 101). For each question q with vote counts k
 * (N = sum k) and concentrations a (A = sum a) of its answers,
 *   log p_q = lnG(N+1) + lnG(A) - lnG(N+A) + sum_i [lnG(k_i+a_i) - lnG(a_i) - lnG(k_i+1)]
 * and the loss of a galaxy is -sum_q log p_q. A question nobody answered (N = 0) costs
 * nothing. The expected vote fraction of answer i is a_i / A_q.
 * Shapes: x, k, grad, a are nanswers floats per galaxy (schema order).
 */
#ifndef ZOOMORPH_GZLOSS_H
#define ZOOMORPH_GZLOSS_H

#include "zoomorph/gzschema.h"

/* a = 1 + 100 sigmoid(x), n values. */
void zm_gz_concentration(const float *x, int n, float *a);
/* Expected vote fractions a_i / A_q of one galaxy. */
void zm_gz_vote_fraction(const zm_gz_schema *s, const float *a, float *frac);
/* The loss of one galaxy; grad (may be NULL) receives d loss / d x (overwritten, not
 * accumulated); per_q (may be NULL) the loss of each question. */
double zm_gz_dirichlet_loss(const zm_gz_schema *s, const float *x, const float *k, float *grad,
                            double *per_q);
/* The digamma function (for the gradient), exposed for tests. */
double zm_digamma(double x);

#endif
