/* pca.c: see pca.h. */
#include "zoomorph/pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (Fortran interface, provided by OpenBLAS) */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
                    const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

#define BLOCK 1024

int zm_pca_fit(const zm_ctx *ctx, const float *x, long nloc, int d, int k, zm_pca *p, zm_err *err)
{
    memset(p, 0, sizeof *p);
    if (k < 1 || k > d) return zm_err_set(err, ZM_EVALUE, "pca: %d components asked of %d-d vectors", k, d);
    long long n = zm_allreduce_sum_ll(ctx, nloc);
    if (n < 2) return zm_err_set(err, ZM_EVALUE, "pca: %lld vectors in all; at least 2 are needed", n);
    double *mean = zm_calloc((size_t)d, sizeof *mean);
    for (long i = 0; i < nloc; i++)
        for (int j = 0; j < d; j++) mean[j] += x[(size_t)i * d + j];
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, mean, d, MPI_DOUBLE, MPI_SUM, ctx->comm));
    for (int j = 0; j < d; j++) mean[j] /= (double)n;
    /* centred covariance, upper triangle, in double */
    double *cov = zm_calloc((size_t)d * d, sizeof *cov), *blk = zm_malloc((size_t)BLOCK * d * sizeof *blk);
    for (long i0 = 0; i0 < nloc; i0 += BLOCK) {
        long m = nloc - i0 < BLOCK ? nloc - i0 : BLOCK;
        for (long i = 0; i < m; i++)
            for (int j = 0; j < d; j++) blk[(size_t)i * d + j] = x[(size_t)(i0 + i) * d + j] - mean[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)m, 1.0, blk, d, 1.0, cov, d);
    }
    free(blk);
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, cov, d * d, MPI_DOUBLE, MPI_SUM, ctx->comm));
    double total = 0;
    for (int j = 0; j < d; j++) total += cov[(size_t)j * d + j];
    /* row-major upper = column-major lower */
    int nn = d, lda = d, il = d - k + 1, iu = d, mfound = 0, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double vl = 0, vu = 0, abstol = 0, wq = 0;
    double *w = zm_malloc((size_t)d * sizeof *w), *z = zm_malloc((size_t)d * k * sizeof *z);
    int *isuppz = zm_malloc((size_t)2 * k * sizeof *isuppz);
    dsyevr_("V", "I", "L", &nn, cov, &lda, &vl, &vu, &il, &iu, &abstol, &mfound, w, z, &lda, isuppz, &wq, &lwork, &iwq, &liwork, &info);
    lwork = (int)wq;
    liwork = iwq;
    double *work = zm_malloc((size_t)lwork * sizeof *work);
    int *iwork = zm_malloc((size_t)liwork * sizeof *iwork);
    dsyevr_("V", "I", "L", &nn, cov, &lda, &vl, &vu, &il, &iu, &abstol, &mfound, w, z, &lda, isuppz, work, &lwork, iwork, &liwork, &info);
    free(work), free(iwork), free(isuppz), free(cov);
    if (info != 0 || mfound != k) ZM_ABORT("pca: LAPACK dsyevr failed (info %d, %d of %d eigenvalues)", info, mfound, k);
    p->d = d;
    p->k = k;
    p->n = n;
    p->mean = mean;
    p->total_variance = total / (double)(n - 1);
    p->components = zm_malloc((size_t)k * d * sizeof *p->components);
    p->explained_variance = zm_malloc((size_t)k * sizeof *p->explained_variance);
    p->explained_ratio = zm_malloc((size_t)k * sizeof *p->explained_ratio);
    for (int c = 0; c < k; c++) {
        int src = k - 1 - c; /* dsyevr returns ascending eigenvalues */
        const double *v = z + (size_t)src * d;
        int arg = 0;
        for (int j = 1; j < d; j++)
            if (fabs(v[j]) > fabs(v[arg])) arg = j;
        double sign = v[arg] < 0 ? -1.0 : 1.0;
        for (int j = 0; j < d; j++) p->components[(size_t)c * d + j] = (float)(sign * v[j]);
        p->explained_variance[c] = w[src] / (double)(n - 1);
        p->explained_ratio[c] = total > 0 ? w[src] / total : 0;
    }
    free(w), free(z);
    return 0;
}

void zm_pca_transform(const zm_pca *p, const float *x, long n, float *out)
{
    float *c = zm_malloc((size_t)p->d * sizeof *c);
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < p->d; j++) c[j] = (float)(x[(size_t)i * p->d + j] - p->mean[j]);
        for (int q = 0; q < p->k; q++) {
            double s = 0;
            const float *v = p->components + (size_t)q * p->d;
            for (int j = 0; j < p->d; j++) s += (double)c[j] * v[j];
            out[(size_t)i * p->k + q] = (float)s;
        }
    }
    free(c);
}

void zm_pca_free(zm_pca *p)
{
    free(p->mean), free(p->components), free(p->explained_variance), free(p->explained_ratio);
    memset(p, 0, sizeof *p);
}
