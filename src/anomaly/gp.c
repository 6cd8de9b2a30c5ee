/* gp.c: see gp.h. */
#include "zoomorph/gp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/log.h"

extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda, double *b,
                    const int *ldb, int *info);

static double kern(const zm_gp_kernel *k, const double *a, const double *b, int d)
{
    double r2 = 0;
    for (int j = 0; j < d; j++) r2 += (a[j] - b[j]) * (a[j] - b[j]);
    return k->amp * pow(1.0 + r2 / (2.0 * k->alpha * k->length * k->length), -k->alpha);
}

void zm_gp_free(zm_gp *g)
{
    free(g->x), free(g->L), free(g->alpha_v);
    memset(g, 0, sizeof *g);
}

int zm_gp_fit(zm_gp *g, const double *x, const double *y, int n, int d, const zm_gp_kernel *k, zm_err *err)
{
    memset(g, 0, sizeof *g);
    if (n < 1) return zm_err_set(err, ZM_EVALUE, "gaussian process: no training points");
    g->k = *k;
    g->n = n;
    g->d = d;
    g->x = zm_malloc((size_t)n * d * sizeof *g->x);
    memcpy(g->x, x, (size_t)n * d * sizeof *x);
    g->L = zm_malloc((size_t)n * n * sizeof *g->L);
    g->alpha_v = zm_malloc((size_t)n * sizeof *g->alpha_v);
    double jitter = 0;
    int info = 0;
    for (int attempt = 0; attempt < 12; attempt++) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) {
                double v = kern(k, x + (size_t)i * d, x + (size_t)j * d, d);
                g->L[(size_t)j * n + i] = g->L[(size_t)i * n + j] = v;
            }
        for (int i = 0; i < n; i++) g->L[(size_t)i * n + i] += k->noise + jitter;
        dpotrf_("L", &n, g->L, &n, &info);
        if (info == 0) break;
        jitter = jitter == 0 ? 1e-10 * (k->amp + k->noise) : jitter * 10;
    }
    if (info != 0) {
        zm_gp_free(g);
        return zm_err_set(err, ZM_EVALUE, "gaussian process: the kernel matrix is not positive definite even "
                          "with jitter (LAPACK dpotrf info %d)", info);
    }
    if (jitter > 0) zm_warn("gaussian process: added %.3g to the kernel diagonal to factorise it", jitter);
    g->jitter = jitter;
    memcpy(g->alpha_v, y, (size_t)n * sizeof *y);
    int one = 1;
    dpotrs_("L", &n, &one, g->L, &n, g->alpha_v, &n, &info);
    double logdet = 0, fit = 0;
    for (int i = 0; i < n; i++) logdet += log(g->L[(size_t)i * n + i]), fit += y[i] * g->alpha_v[i];
    g->lml = -0.5 * fit - logdet - 0.5 * n * log(2 * M_PI);
    return 0;
}

void zm_gp_predict(const zm_gp *g, const double *xs, int m, double *mean, double *std)
{
    int n = g->n;
    double *ks = zm_malloc((size_t)n * sizeof *ks);
    for (int t = 0; t < m; t++) {
        const double *q = xs + (size_t)t * g->d;
        double mu = 0;
        for (int i = 0; i < n; i++) {
            ks[i] = kern(&g->k, q, g->x + (size_t)i * g->d, g->d);
            mu += ks[i] * g->alpha_v[i];
        }
        mean[t] = mu;
        if (std) {
            /* v = L^-1 k*: forward substitution (L lower, column-major) */
            for (int i = 0; i < n; i++) {
                double s = ks[i];
                for (int j = 0; j < i; j++) s -= g->L[(size_t)j * n + i] * ks[j];
                ks[i] = s / g->L[(size_t)i * n + i];
            }
            double vv = 0;
            for (int i = 0; i < n; i++) vv += ks[i] * ks[i];
            double var = g->k.amp + g->k.noise - vv;
            std[t] = var > 0 ? sqrt(var) : 0;
        }
    }
    free(ks);
}

/* ---- hyperparameters: Nelder-Mead on log(amp, length, alpha, noise) -------------- */

typedef struct {
    const double *x, *y;
    int n, d;
} data;

static zm_gp_kernel from_log(const double *p)
{
    zm_gp_kernel k = {exp(p[0]), exp(p[1]), exp(p[2]), exp(p[3])};
    /* scikit-learn's default bounds: 1e-5 .. 1e5 */
    double *v[4] = {&k.amp, &k.length, &k.alpha, &k.noise};
    for (int i = 0; i < 4; i++) *v[i] = fmin(fmax(*v[i], 1e-5), 1e5);
    return k;
}

/* Keeps log-parameters inside the bounds: outside them from_log's clamp would make the
 * objective flat, and a simplex that wandered there could never come back. */
static void project(double *p)
{
    for (int j = 0; j < 4; j++) p[j] = fmin(fmax(p[j], log(1e-5)), log(1e5));
}

static double neg_lml(const data *D, double *p)
{
    project(p);
    zm_gp g;
    zm_gp_kernel k = from_log(p);
    zm_err e = {0};
    if (zm_gp_fit(&g, D->x, D->y, D->n, D->d, &k, &e)) return INFINITY;
    double v = -g.lml;
    zm_gp_free(&g);
    return v;
}

/* One Nelder-Mead run from p (steps of 0.7 in each log-parameter, inward at a bound). */
static double nelder_mead(const data *D, double *p, int iters)
{
    const int n = 4;
    double s[5][4], f[5];
    project(p);
    for (int i = 0; i <= n; i++) {
        for (int j = 0; j < n; j++) s[i][j] = p[j] + (i == j + 1 ? (p[j] + 0.7 > log(1e5) ? -0.7 : 0.7) : 0.0);
        f[i] = neg_lml(D, s[i]);
    }
    for (int it = 0; it < iters; it++) {
        /* order */
        for (int i = 0; i <= n; i++)
            for (int j = i + 1; j <= n; j++)
                if (f[j] < f[i]) {
                    double t = f[i];
                    f[i] = f[j], f[j] = t;
                    for (int q = 0; q < n; q++) t = s[i][q], s[i][q] = s[j][q], s[j][q] = t;
                }
        if (fabs(f[n] - f[0]) < 1e-9 * (1 + fabs(f[0]))) break;
        double c[4] = {0}, xr[4], xe[4], xc[4];
        for (int i = 0; i < n; i++)
            for (int q = 0; q < n; q++) c[q] += s[i][q] / n;
        for (int q = 0; q < n; q++) xr[q] = c[q] + (c[q] - s[n][q]);
        double fr = neg_lml(D, xr);
        if (fr < f[0]) {
            for (int q = 0; q < n; q++) xe[q] = c[q] + 2 * (c[q] - s[n][q]);
            double fe = neg_lml(D, xe);
            if (fe < fr) memcpy(s[n], xe, sizeof xe), f[n] = fe;
            else memcpy(s[n], xr, sizeof xr), f[n] = fr;
        } else if (fr < f[n - 1]) {
            memcpy(s[n], xr, sizeof xr), f[n] = fr;
        } else {
            for (int q = 0; q < n; q++) xc[q] = c[q] + 0.5 * (s[n][q] - c[q]);
            double fc = neg_lml(D, xc);
            if (fc < f[n]) memcpy(s[n], xc, sizeof xc), f[n] = fc;
            else
                for (int i = 1; i <= n; i++) {
                    for (int q = 0; q < n; q++) s[i][q] = s[0][q] + 0.5 * (s[i][q] - s[0][q]);
                    f[i] = neg_lml(D, s[i]);
                }
        }
    }
    int best = 0;
    for (int i = 1; i <= n; i++)
        if (f[i] < f[best]) best = i;
    memcpy(p, s[best], sizeof s[best]);
    return f[best];
}

int zm_gp_fit_optimise(zm_gp *g, const double *x, const double *y, int n, int d, const zm_gp_kernel *k0,
                       int restarts, zm_err *err)
{
    data D = {x, y, n, d};
    double best[4] = {log(k0->amp), log(k0->length), log(k0->alpha), log(k0->noise)}, bf = INFINITY;
    for (int r = 0; r <= restarts; r++) {
        double p[4];
        for (int j = 0; j < 4; j++) p[j] = log(((const double *)k0)[j]) + (r ? 1.5 * sin(12.9898 * (r * 4 + j)) : 0);
        /* restarted from its own best point until that no longer gains: a simplex that
         * collapsed (on a bound, or along a ridge) gets a fresh one */
        double f = nelder_mead(&D, p, 400);
        for (int round = 0; round < 20; round++) {
            double q[4];
            memcpy(q, p, sizeof q);
            double fq = nelder_mead(&D, q, 400);
            if (!(fq < f - 1e-6)) break;
            f = fq, memcpy(p, q, sizeof q);
        }
        if (f < bf) bf = f, memcpy(best, p, sizeof p);
    }
    zm_gp_kernel k = from_log(best);
    return zm_gp_fit(g, x, y, n, d, &k, err);
}
