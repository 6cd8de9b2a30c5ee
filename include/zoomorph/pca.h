/*
 * pca.h: principal component analysis of vectors spread over MPI ranks (the
 * representations of every galaxy). Two passes: the mean by MPI_Allreduce, then the
 * centred covariance (dsyrk on blocks, double precision) by MPI_Allreduce; the top
 * components from LAPACK's dsyevr. Every rank ends with the same model.
 * Shapes: x is nloc x d (row-major floats) on each rank; components k x d.
 */
#ifndef ZOOMORPH_PCA_H
#define ZOOMORPH_PCA_H

#include "zoomorph/context.h"
#include "zoomorph/error.h"

typedef struct {
    int d, k;
    long long n;                 /* vectors over all ranks */
    double *mean;                /* d */
    float *components;           /* k x d, unit rows, decreasing variance; sign: the
                                    largest |entry| of each row is positive */
    double *explained_variance;  /* k, eigenvalues of the covariance (divided by n - 1) */
    double *explained_ratio;     /* k, of the total variance */
    double total_variance;
} zm_pca;

/* Collective. k <= d. ZM_EVALUE if fewer than 2 vectors in all. */
int zm_pca_fit(const zm_ctx *ctx, const float *x, long nloc, int d, int k, zm_pca *p, zm_err *err);
/* out: n x k coordinates (x - mean) . components^T. */
void zm_pca_transform(const zm_pca *p, const float *x, long n, float *out);
void zm_pca_free(zm_pca *p);

#endif
