/*
 * stage_index.c: `zoomorph index` builds the approximate nearest-neighbour index of
 * [index] space (src/search/ivf.c: a k-means coarse quantiser trained over all ranks,
 * inverted lists) and stores it: /index/centroids (nlist x d) and /index/list (the list
 * of every row), with a format version, the space, and a fingerprint of the vectors it
 * was built from. `zoomorph similar --set similar.method=ivf` uses it and refuses an index
 * whose fingerprint no longer matches the vectors (rebuild it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/ivf.h"
#include "zoomorph/log.h"

#define ZM_INDEX_FORMAT_VERSION "1"

/* Order- and rank-independent fingerprint of rows [r0, r0+n) of x: the sum over rows of
 * an FNV-1a hash of (row id, bytes), wrapped modulo 2^64, summed over ranks. */
unsigned long long zm_vectors_fingerprint(const zm_ctx *ctx, const float *x, long n, int d, unsigned long long r0)
{
    unsigned long long acc = 0;
    for (long i = 0; i < n; i++) {
        unsigned long long h = 1469598103934665603ULL ^ (r0 + (unsigned long long)i);
        const unsigned char *b = (const unsigned char *)(x + (size_t)i * d);
        for (size_t k = 0; k < (size_t)d * sizeof(float); k++) h = (h ^ b[k]) * 1099511628211ULL;
        acc += h;
    }
    unsigned long long tot = 0;
    ZM_CHECK_MPI(MPI_Allreduce(&acc, &tot, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, ctx->comm));
    return tot;
}

static int run_index(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "pca", &s, err)) return ZM_EXIT_INPUT;
    char path[128];
    unsigned long long N = 0;
    int d = 0;
    if (zm_search_space(p, s, path, &N, &d, err)) {
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    int nlist = (int)zm_param_int(p, "index.nlist");
    if ((unsigned long long)nlist * 8 > N) {
        int n2 = (int)(N / 8 > 1 ? N / 8 : 1);
        zm_warn0("index: %d lists for %llu vectors is too many; using %d", nlist, N, n2);
        nlist = n2;
    }
    const unsigned long long r0 = N * (unsigned long long)ctx->rank / (unsigned long long)ctx->size;
    const unsigned long long r1 = N * (unsigned long long)(ctx->rank + 1) / (unsigned long long)ctx->size;
    long nloc = (long)(r1 - r0);
    float *x = zm_malloc((size_t)(nloc ? nloc : 1) * d * sizeof *x);
    zm_range mine = {r0, (unsigned long long)nloc};
    int rc = zm_store_read(s, path, ZM_DT_F32, 0, &mine, 1, x, err);
    if (zm_any(ctx, rc)) rc = rc ? rc : zm_err_set(err, ZM_EIO, "index: reading failed on another rank");
    unsigned long long fp = rc ? 0 : zm_vectors_fingerprint(ctx, x, nloc, d, r0);
    for (long i = 0; i < nloc; i++)
        for (int j = 0; j < d; j++)
            if (!isfinite(x[(size_t)i * d + j])) x[(size_t)i * d + j] = 1e18f; /* rejected rows: far away */
    zm_ivf ix;
    memset(&ix, 0, sizeof ix);
    if (!rc) rc = zm_ivf_build(ctx, &ix, x, nloc, d, (long long)r0, nlist, (int)zm_param_int(p, "index.iterations"),
                               (uint64_t)zm_param_int(p, "index.seed"), err);
    if (!rc) {
        char *dump = zm_params_dump(p);
        zm_store_stage_begin(s, "index", dump);
        free(dump);
        int *lab = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *lab);
        for (int l = 0; l < nlist; l++)
            for (long k = ix.off[l]; k < ix.off[l + 1]; k++) lab[ix.ids[k] - (long long)r0] = l;
        zm_field fc = {"/index/centroids", ZM_DT_F32, 1, {(unsigned long long)d}, 0, "", "coarse quantiser centroids"};
        zm_field fl = {"/index/list", ZM_DT_I32, 0, {0}, 0, "", "inverted list of each row"};
        zm_range cr = {0, ctx->rank == 0 ? (unsigned long long)nlist : 0};
        rc = zm_store_define(s, &fc, (unsigned long long)nlist, 1, err);
        if (!rc) rc = zm_store_write(s, &fc, &cr, 1, ix.centroids, err);
        if (!rc) rc = zm_store_define(s, &fl, N, 1, err);
        if (!rc) rc = zm_store_write(s, &fl, &mine, 1, lab, err);
        char buf[64];
        snprintf(buf, sizeof buf, "%016llx", fp);
        if (!rc) {
            zm_store_set_attr(s, "/index", "format_version", ZM_INDEX_FORMAT_VERSION);
            zm_store_set_attr(s, "/index", "space", path);
            zm_store_set_attr(s, "/index", "fingerprint", buf);
            char summary[256];
            snprintf(summary, sizeof summary, "IVF index of %llu x %d vectors (%s), %d lists, fingerprint %s", N, d, path,
                     nlist, buf);
            zm_store_stage_end(s, "index", summary);
            zm_info0("index: %s", summary);
        }
        free(lab);
    }
    zm_ivf_free(&ix);
    free(x);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_index = {"index", "build and store the IVF index of the representations used by similar", "",
                                 run_index};
