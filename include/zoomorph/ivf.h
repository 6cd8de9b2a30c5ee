/*
 * ivf.h: an inverted-file index for approximate nearest neighbours over MPI ranks.
 * A coarse quantiser of nlist centroids is trained by k-means over all ranks (k-means++
 * seeding on a sample drawn by seed, then Lloyd iterations with centroid sums and counts
 * summed by MPI_Allreduce); every rank keeps inverted lists of its own rows; a query
 * probes its nprobe nearest lists on every rank and the per-rank top-k lists are merged
 * (knn.h). Squared Euclidean distances.
 * Shapes: x is nloc x d row-major floats; ids are global row ids.
 */
#ifndef ZOOMORPH_IVF_H
#define ZOOMORPH_IVF_H

#include <stdint.h>

#include "zoomorph/context.h"
#include "zoomorph/error.h"

typedef struct {
    int d, nlist;
    float *centroids;     /* nlist x d */
    /* this rank's lists: rows of list l are vec[off[l] .. off[l+1]) with ids */
    long *off;            /* nlist + 1 */
    float *vec;           /* nloc x d, grouped by list */
    long long *ids;
    float *norms;         /* nloc squared norms of vec's rows */
} zm_ivf;

/* Collective. Trains the quantiser (iters Lloyd iterations) and fills the lists. */
int zm_ivf_build(const zm_ctx *ctx, zm_ivf *ix, const float *x, long nloc, int d, long long id0, int nlist,
                 int iters, uint64_t seed, zm_err *err);
/* Rebuilds this rank's lists from stored centroids (nlist x d) and each row's list. */
void zm_ivf_from_lists(zm_ivf *ix, const float *centroids, int nlist, int d, const float *x, long nloc, long long id0,
                       const int *lists);
/* Collective: every rank passes the same queries; all get the merged top-k. nprobe is
 * clamped to nlist. Each probed list is scanned once for all the queries that probe it
 * (one sgemm per block of its rows), with exact search's distance formula (knn.h). */
void zm_ivf_search(const zm_ctx *ctx, const zm_ivf *ix, const float *q, int nq, int k, int nprobe, long long *ids,
                   float *dist);
void zm_ivf_free(zm_ivf *ix);

#endif
