/*
 * stage_pca.c: `zoomorph pca` fits a PCA of /representation/embedding over all ranks
 * (src/search/pca.c) and stores /pca/{mean, components, explained_variance,
 * explained_ratio} and, for each of [pca] sizes, /pca/coords_<k> (N x k; NaN where the
 * embedding is NaN). Each rank reads and projects a contiguous slice of the rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/log.h"
#include "zoomorph/pca.h"

static int run_pca(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "embed", &s, err)) return ZM_EXIT_INPUT;
    char *items[16], buf[256];
    int nsizes = zm_param_list(p, "pca.sizes", items, 16, buf, sizeof buf), kmax = 0, sizes[16];
    if (nsizes < 0) {
        zm_store_close(s);
        zm_param_list_error("pca.sizes", 16, err);
        return ZM_EXIT_INPUT;
    }
    unsigned long long dims[4] = {0};
    int rc = zm_store_shape(s, "/representation/embedding", dims, err) == 2 ? 0 : ZM_ESTATE;
    const int D = (int)dims[1];
    const unsigned long long N = dims[0];
    for (int i = 0; !rc && i < nsizes; i++) {
        char *end;
        long v = strtol(items[i], &end, 10);
        if (*end || v < 1 || v > D)
            rc = zm_err_set(err, ZM_ECONFIG, "config key [pca] sizes: '%s' is not a number of components in 1..%d",
                            items[i], D);
        sizes[i] = (int)v;
        if (v > kmax) kmax = (int)v;
    }
    if (!rc && nsizes == 0) rc = zm_err_set(err, ZM_ECONFIG, "config key [pca] sizes is empty");
    if (rc) {
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    const unsigned long long r0 = N * (unsigned long long)ctx->rank / (unsigned long long)ctx->size;
    const unsigned long long r1 = N * (unsigned long long)(ctx->rank + 1) / (unsigned long long)ctx->size;
    const long nloc = (long)(r1 - r0);
    float *x = zm_malloc((size_t)(nloc ? nloc : 1) * D * sizeof *x);
    zm_range mine = {r0, (unsigned long long)nloc};
    rc = zm_store_read(s, "/representation/embedding", ZM_DT_F32, 0, &mine, 1, x, err);
    /* the valid rows, packed */
    float *xv = zm_malloc((size_t)(nloc ? nloc : 1) * D * sizeof *xv);
    unsigned char *valid = zm_calloc((size_t)(nloc ? nloc : 1), 1);
    const long nv = rc ? 0 : zm_pack_finite_rows(x, nloc, D, xv, valid);
    zm_pca pc;
    memset(&pc, 0, sizeof pc);
    if (zm_any(ctx, rc)) {
        if (!rc) rc = zm_err_set(err, ZM_EIO, "pca: reading the embeddings failed on another rank");
    } else {
        rc = zm_pca_fit(ctx, xv, nv, D, kmax, &pc, err);
    }
    if (!rc) {
        char *dump = zm_params_dump(p);
        zm_store_stage_begin(s, "pca", dump);
        free(dump);
        zm_field fm = {"/pca/mean", ZM_DT_F64, 0, {0}, 0, "", "mean of the representations (D values)"};
        zm_field fcmp = {"/pca/components", ZM_DT_F32, 1, {(unsigned long long)D}, 0, "",
                         "principal axes, one per row, decreasing variance (largest |entry| positive)"};
        zm_field fv = {"/pca/explained_variance", ZM_DT_F64, 0, {0}, 0, "", "variance along each axis (n - 1 normalisation)"};
        zm_field fr = {"/pca/explained_ratio", ZM_DT_F64, 0, {0}, 0, "", "fraction of the total variance"};
        zm_range one = {0, ctx->rank == 0 ? (unsigned long long)D : 0}, kk = {0, ctx->rank == 0 ? (unsigned long long)kmax : 0};
        rc = zm_store_define(s, &fm, (unsigned long long)D, 1, err);
        if (!rc) rc = zm_store_write(s, &fm, &one, 1, pc.mean, err);
        if (!rc) rc = zm_store_define(s, &fcmp, (unsigned long long)kmax, 1, err);
        if (!rc) rc = zm_store_write(s, &fcmp, &kk, 1, pc.components, err);
        if (!rc) rc = zm_store_define(s, &fv, (unsigned long long)kmax, 1, err);
        if (!rc) rc = zm_store_write(s, &fv, &kk, 1, pc.explained_variance, err);
        if (!rc) rc = zm_store_define(s, &fr, (unsigned long long)kmax, 1, err);
        if (!rc) rc = zm_store_write(s, &fr, &kk, 1, pc.explained_ratio, err);
        float *all = zm_malloc((size_t)(nloc ? nloc : 1) * kmax * sizeof *all);
        zm_pca_transform(&pc, x, nloc, all);
        float *out = zm_malloc((size_t)(nloc ? nloc : 1) * kmax * sizeof *out);
        for (int q = 0; q < nsizes && !rc; q++) {
            int k = sizes[q];
            for (long i = 0; i < nloc; i++)
                for (int j = 0; j < k; j++) out[(size_t)i * k + j] = valid[i] ? all[(size_t)i * kmax + j] : NAN;
            char path[64], desc[160];
            snprintf(path, sizeof path, "/pca/coords_%d", k);
            snprintf(desc, sizeof desc, "coordinates on the first %d principal axes (NaN where the embedding is NaN)", k);
            zm_field fk = {path, ZM_DT_F32, 1, {(unsigned long long)k}, 0, "", desc};
            rc = zm_store_define(s, &fk, N, 1, err);
            if (!rc) rc = zm_store_write(s, &fk, &mine, 1, out, err);
        }
        free(all), free(out);
        if (!rc) {
            char summary[512];
            double c10 = 0;
            for (int j = 0; j < kmax && j < 10; j++) c10 += pc.explained_ratio[j];
            snprintf(summary, sizeof summary, "PCA of %lld representations (%d-d): the first %d components explain %.1f%% of "
                     "the variance", pc.n, D, kmax < 10 ? kmax : 10, 100.0 * c10);
            zm_store_stage_end(s, "pca", summary);
            zm_info0("pca: %s", summary);
        }
    }
    zm_pca_free(&pc);
    free(x), free(xv), free(valid);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_pca = {"pca", "collective PCA of the representations; coordinates for each of [pca] sizes", "",
                               run_pca};
