/*
 * context.h: the MPI context every collective function takes (communicator, rank,
 * size). zm_ctx_init duplicates the communicator and makes MPI return errors instead of
 * aborting inside the library, so ZM_CHECK_MPI can report them with rank and line.
 */
#ifndef ZOOMORPH_CONTEXT_H
#define ZOOMORPH_CONTEXT_H

#include <mpi.h>

typedef struct {
    MPI_Comm comm;
    int rank;
    int size;
} zm_ctx;

void zm_ctx_init(zm_ctx *ctx, MPI_Comm parent);  /* collective over parent */
void zm_ctx_free(zm_ctx *ctx);                   /* collective */

/* Collective helpers used by every stage. */
long long zm_allreduce_sum_ll(const zm_ctx *ctx, long long v);
long long zm_allreduce_max_ll(const zm_ctx *ctx, long long v);
/* Exclusive prefix sum of v over ranks (0 on rank 0). */
long long zm_exscan_ll(const zm_ctx *ctx, long long v);
/* 1 on every rank if any rank passes nonzero. */
int zm_any(const zm_ctx *ctx, int flag);

#endif
