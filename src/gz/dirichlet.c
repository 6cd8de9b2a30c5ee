/* dirichlet.c: see gzloss.h. Double precision inside (lgamma of counts up to ~10^3). */
#include <math.h>

#include "zoomorph/gzloss.h"

double zm_digamma(double x)
{
    /* recurrence up to x >= 10, then the asymptotic series (error < 1e-14) */
    double r = 0;
    while (x < 10.0) {
        r -= 1.0 / x;
        x += 1.0;
    }
    double f = 1.0 / (x * x);
    return r + log(x) - 0.5 / x -
           f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
}

void zm_gz_concentration(const float *x, int n, float *a)
{
    for (int i = 0; i < n; i++) a[i] = 1.0f + 100.0f / (1.0f + expf(-x[i]));
}

void zm_gz_vote_fraction(const zm_gz_schema *s, const float *a, float *frac)
{
    for (int q = 0; q < s->nquestions; q++) {
        const zm_gz_question *Q = &s->q[q];
        double A = 0;
        for (int i = 0; i < Q->nanswers; i++) A += a[Q->first + i];
        for (int i = 0; i < Q->nanswers; i++) frac[Q->first + i] = (float)(a[Q->first + i] / A);
    }
}

double zm_gz_dirichlet_loss(const zm_gz_schema *s, const float *x, const float *k, float *grad,
                            double *per_q)
{
    double total = 0;
    for (int q = 0; q < s->nquestions; q++) {
        const zm_gz_question *Q = &s->q[q];
        double N = 0, A = 0;
        double a[64], sg[64];
        for (int i = 0; i < Q->nanswers; i++) {
            int j = Q->first + i;
            double sig = 1.0 / (1.0 + exp(-(double)x[j]));
            sg[i] = sig;
            a[i] = 1.0 + 100.0 * sig;
            A += a[i];
            N += k[j];
        }
        double lp = 0;
        if (N > 0) {
            lp = lgamma(N + 1) + lgamma(A) - lgamma(N + A);
            for (int i = 0; i < Q->nanswers; i++) {
                double ki = k[Q->first + i];
                lp += lgamma(ki + a[i]) - lgamma(a[i]) - lgamma(ki + 1);
            }
        }
        if (per_q) per_q[q] = -lp;
        total -= lp;
        if (grad) {
            double common = N > 0 ? zm_digamma(A) - zm_digamma(N + A) : 0;
            for (int i = 0; i < Q->nanswers; i++) {
                int j = Q->first + i;
                double dlp_da = N > 0 ? common + zm_digamma(k[j] + a[i]) - zm_digamma(a[i]) : 0;
                grad[j] = (float)(-dlp_da * 100.0 * sg[i] * (1.0 - sg[i]));
            }
        }
    }
    return total;
}
