/* logreg.c: see logreg.h. */
#include "zoomorph/logreg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda, double *b,
                    const int *ldb, int *info);

static double softplus(double z) { return fmax(z, 0.0) + log1p(exp(-fabs(z))); }

/* The objective at w (z: the decision values, n). */
static double objective(const double *Xd, const float *y, long n, int D, double C, const double *w, double *z)
{
    const int P = D + 1;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, P, 1.0, Xd, P, w, 1, 0.0, z, 1);
    double f = 0, r = 0;
    for (long i = 0; i < n; i++) f += softplus(z[i]) - (y[i] > 0.5f ? z[i] : 0.0);
    for (int j = 0; j < D; j++) r += w[j] * w[j];
    return f + r / (2 * C);
}

int zm_logreg_fit(const float *X, const float *y, long n, int D, double C, double *w, zm_err *err)
{
    const int P = D + 1;
    /* the rows with a constant 1 for the intercept, in double */
    double *Xd = zm_malloc((size_t)(n ? n : 1) * P * sizeof *Xd), *z = zm_malloc((size_t)(n ? n : 1) * sizeof *z);
    double *zt = zm_malloc((size_t)(n ? n : 1) * sizeof *zt), *Xs = zm_malloc((size_t)(n ? n : 1) * P * sizeof *Xs);
    double *g = zm_malloc((size_t)P * sizeof *g), *H = zm_malloc((size_t)P * P * sizeof *H);
    double *step = zm_malloc((size_t)P * sizeof *step), *wt = zm_malloc((size_t)P * sizeof *wt);
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < D; j++) Xd[(size_t)i * P + j] = X[(size_t)i * D + j];
        Xd[(size_t)i * P + D] = 1.0;
    }
    memset(w, 0, (size_t)P * sizeof *w);
    double f = objective(Xd, y, n, D, C, w, z);
    int it, rc = 0;
    for (it = 0; it < 100; it++) {
        /* gradient X^T (p - y) + w / C; Hessian X^T S X + I / C (intercept unpenalised),
         * S = p (1 - p), from sqrt(S) X */
        for (long i = 0; i < n; i++) {
            const double p = 1.0 / (1.0 + exp(-z[i])), s = sqrt(p * (1 - p));
            zt[i] = p - (y[i] > 0.5f);
            for (int j = 0; j < P; j++) Xs[(size_t)i * P + j] = s * Xd[(size_t)i * P + j];
        }
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, P, 1.0, Xd, P, zt, 1, 0.0, g, 1);
        for (int j = 0; j < D; j++) g[j] += w[j] / C;
        memset(H, 0, (size_t)P * P * sizeof *H);
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, P, (int)n, 1.0, Xs, P, 0.0, H, P);
        for (int j = 0; j < D; j++) H[(size_t)j * P + j] += 1.0 / C;
        H[(size_t)D * P + D] += 1e-10 * (1 + H[(size_t)D * P + D]);
        int info = 0, one = 1;
        dpotrf_("L", &P, H, &P, &info);
        if (info) {
            rc = zm_err_set(err, ZM_EVALUE, "logistic regression: the Hessian is not positive definite (LAPACK "
                            "dpotrf info %d)", info);
            break;
        }
        memcpy(step, g, (size_t)P * sizeof *step);
        dpotrs_("L", &P, &one, H, &P, step, &P, &info);
        double dec = 0; /* the Newton decrement g . H^-1 g */
        for (int j = 0; j < P; j++) dec += g[j] * step[j];
        if (dec < 1e-12 * (1 + fabs(f))) break;
        /* backtracking until the objective falls enough (Armijo) */
        double t = 1, ft = f;
        for (int k = 0; k < 50; k++, t *= 0.5) {
            for (int j = 0; j < P; j++) wt[j] = w[j] - t * step[j];
            ft = objective(Xd, y, n, D, C, wt, zt);
            if (ft <= f - 0.25 * t * dec) break;
        }
        if (!(ft < f)) break;
        memcpy(w, wt, (size_t)P * sizeof *w);
        memcpy(z, zt, (size_t)n * sizeof *z);
        f = ft;
    }
    free(Xd), free(z), free(zt), free(Xs), free(g), free(H), free(step), free(wt);
    return rc ? rc : it;
}

void zm_logreg_decision(const double *w, const float *X, long n, int D, float *z)
{
    for (long i = 0; i < n; i++) {
        double s = w[D];
        for (int j = 0; j < D; j++) s += w[j] * X[(size_t)i * D + j];
        z[i] = (float)s;
    }
}
