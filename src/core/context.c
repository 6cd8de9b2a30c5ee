/* context.c: see context.h. */
#include "zoomorph/context.h"

#include "zoomorph/error.h"

void zm_ctx_init(zm_ctx *ctx, MPI_Comm parent)
{
    ZM_CHECK_MPI(MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN));
    ZM_CHECK_MPI(MPI_Comm_dup(parent, &ctx->comm));
    ZM_CHECK_MPI(MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN));
    ZM_CHECK_MPI(MPI_Comm_rank(ctx->comm, &ctx->rank));
    ZM_CHECK_MPI(MPI_Comm_size(ctx->comm, &ctx->size));
}

void zm_ctx_free(zm_ctx *ctx)
{
    if (ctx->comm != MPI_COMM_NULL) ZM_CHECK_MPI(MPI_Comm_free(&ctx->comm));
    ctx->comm = MPI_COMM_NULL;
}

long long zm_allreduce_sum_ll(const zm_ctx *ctx, long long v)
{
    long long r = 0;
    ZM_CHECK_MPI(MPI_Allreduce(&v, &r, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm));
    return r;
}

long long zm_allreduce_max_ll(const zm_ctx *ctx, long long v)
{
    long long r = 0;
    ZM_CHECK_MPI(MPI_Allreduce(&v, &r, 1, MPI_LONG_LONG, MPI_MAX, ctx->comm));
    return r;
}

long long zm_exscan_ll(const zm_ctx *ctx, long long v)
{
    long long r = 0;
    ZM_CHECK_MPI(MPI_Exscan(&v, &r, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm));
    return ctx->rank == 0 ? 0 : r;  /* MPI leaves rank 0's result undefined */
}

int zm_any(const zm_ctx *ctx, int flag)
{
    int in = flag != 0, out = 0;
    ZM_CHECK_MPI(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, ctx->comm));
    return out;
}
