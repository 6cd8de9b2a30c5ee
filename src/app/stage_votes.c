/*
 * stage_votes.c: `zoomorph votes` reads a Galaxy Zoo vote table, matches every row to a
 * galaxy (nearest within [labels] radius_arcsec, or by store id) and writes
 * /labels/votes (N x answers float32 counts) and /labels/has_votes. Each rank matches the
 * whole table against its slice of the galaxies; the best match over ranks wins (the
 * nearest; ties to the lower row). Bad rows, rows with no galaxy, and second rows for the
 * same galaxy are listed in /rejects and counted in the summary.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/gzschema.h"
#include "zoomorph/log.h"
#include "zoomorph/votes.h"

static int load_tree(const zm_params *p, zm_gz_schema *s, zm_err *err)
{
    const char *tree = zm_param_str(p, "labels.tree");
    if (!strcmp(tree, "decals")) return zm_gz_schema_decals(s, err);
    int rc = zm_gz_schema_load(s, tree, err);
    if (rc) zm_err_prefix(err, "config key [labels] tree");
    return rc;
}

static int run_votes(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    if (zm_param_require(p, "labels.votes", "votes", err)) return ZM_EXIT_INPUT;
    const char *path = zm_param_str(p, "labels.votes");
    const int by_id = !strcmp(zm_param_str(p, "labels.match"), "id");
    const double radius = zm_param_real(p, "labels.radius_arcsec");
    zm_gz_schema tree;
    if (load_tree(p, &tree, err)) return ZM_EXIT_INPUT;
    zm_votes v;
    int rc = zm_votes_read(path, &tree, by_id ? zm_param_str(p, "labels.id_column") : NULL, &v, err);
    if (zm_any(ctx, rc)) {
        if (!rc) zm_err_set(err, ZM_EIO, "reading %s failed on another rank", path);
        zm_gz_schema_free(&tree);
        return ZM_EXIT_INPUT;
    }
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "plan", &s, err)) {
        zm_votes_free(&v);
        zm_gz_schema_free(&tree);
        return ZM_EXIT_INPUT;
    }
    char *dump = zm_params_dump(p);
    zm_store_stage_begin(s, "votes", dump);
    free(dump);
    unsigned long long N = 0;
    zm_store_nrows(s, ZM_F_GAL_ID.path, &N, err);
    const unsigned long long r0 = N * (unsigned long long)ctx->rank / (unsigned long long)ctx->size;
    const unsigned long long r1 = N * (unsigned long long)(ctx->rank + 1) / (unsigned long long)ctx->size;
    const long nloc = (long)(r1 - r0), n = v.n;
    const int A = tree.nanswers;

    /* the nearest galaxy (or the id's row) of every vote row, over all ranks */
    double *gdist = zm_malloc((size_t)(n ? n : 1) * sizeof *gdist);
    long long *row = zm_malloc((size_t)(n ? n : 1) * sizeof *row);
    if (zm_match_rows(ctx, s, by_id, v.id, v.ra, v.dec, v.ok, n, radius, row, gdist, err))
        ZM_ABORT("matching votes to a planned store failed: %s", err->msg);
    for (long i = 0; i < n; i++)
        if (row[i] < 0) row[i] = LLONG_MAX;

    /* one vote row per galaxy: the nearest (ties: the first row) */
    zm_reject_list rej = {0};
    float *counts = zm_calloc((size_t)(nloc ? nloc : 1) * (size_t)A, sizeof *counts);
    unsigned char *has = zm_calloc((size_t)(nloc ? nloc : 1), 1);
    unsigned char *spl = zm_malloc((size_t)(nloc ? nloc : 1));
    memset(spl, 3, (size_t)(nloc ? nloc : 1));
    long *owner = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *owner);
    for (long j = 0; j < nloc; j++) owner[j] = -1;
    long matched = 0, unmatched = 0, dup = 0;
    for (long i = 0; i < n; i++) {
        char why[256];
        if (!v.ok[i]) {
            if (ctx->rank == 0) zm_reject_add(&rej, "votes", -1, -1, path, v.why[i]);
            continue;
        }
        if (row[i] == LLONG_MAX) {
            unmatched++;
            if (ctx->rank == 0) {
                if (by_id) snprintf(why, sizeof why, "%s line %ld: id %lld is not a galaxy of the store", path, v.line[i], v.id[i]);
                else snprintf(why, sizeof why, "%s line %ld: no galaxy within %g arcsec of (%.6f, %.6f)", path, v.line[i], radius, v.ra[i], v.dec[i]);
                zm_reject_add(&rej, "votes", -1, -1, path, why);
            }
            continue;
        }
        matched++;
        if (row[i] < (long long)r0 || row[i] >= (long long)r1) continue;
        long j = (long)(row[i] - (long long)r0);
        if (owner[j] >= 0) {
            long prev = owner[j];
            int replace = gdist[i] < gdist[prev];
            long lose = replace ? prev : i;
            snprintf(why, sizeof why, "%s line %ld: galaxy %lld already has votes from line %ld (%s kept)",
                     path, v.line[lose], row[i], v.line[replace ? i : prev], replace ? "the nearer row" : "the first row");
            zm_reject_add(&rej, "votes", -1, row[i], path, why);
            dup++;
            if (!replace) continue;
        }
        owner[j] = i;
        memcpy(counts + (size_t)j * A, v.counts + (size_t)i * A, (size_t)A * sizeof *counts);
        has[j] = 1;
        spl[j] = v.split[i];
    }
    dup = zm_allreduce_sum_ll(ctx, dup);
    char columns[8192];
    zm_tree_columns(&tree, columns, sizeof columns);
    zm_field fv = {"/labels/votes", ZM_DT_F32, 1, {(unsigned long long)A}, 0, "votes",
                   "volunteer vote counts per answer (attribute 'columns' names them); zeros "
                   "where has_votes is 0"};
    zm_field fh = {"/labels/has_votes", ZM_DT_U8, 0, {0}, 0, "", "1 if a vote row matched the galaxy"};
    zm_range mine = {r0, (unsigned long long)nloc};
    unsigned long long rej_from = zm_reject_count(s);
    rc = zm_store_define(s, &fv, N, 1, err);
    if (!rc) rc = zm_store_define(s, &fh, N, 1, err);
    if (!rc) rc = zm_store_write(s, &fv, &mine, 1, counts, err);
    if (!rc) rc = zm_store_write(s, &fh, &mine, 1, has, err);
    zm_field fsp = {"/labels/split", ZM_DT_U8, 0, {0}, 0, "",
                    "the vote table's split column: 0 train, 1 validation, 2 test, 3 none"};
    if (!rc && v.has_split) rc = zm_store_define(s, &fsp, N, 1, err);
    if (!rc && v.has_split) rc = zm_store_write(s, &fsp, &mine, 1, spl, err);
    if (!rc) {
        zm_store_set_attr(s, fv.path, "columns", columns);
        zm_store_set_attr(s, fv.path, "tree", zm_param_str(p, "labels.tree"));
        zm_store_set_attr(s, fv.path, "source", path);
    }
    if (!rc) rc = zm_reject_write(s, &rej, err);
    if (!rc) rc = zm_reject_canonicalise(s, rej_from, ctx, err);
    char summary[512];
    snprintf(summary, sizeof summary,
             "%ld vote rows: %ld matched to galaxies, %ld with no galaxy, %ld rejected (bad "
             "counts), %lld second rows for a galaxy dropped; %ld rows have a child question "
             "answered more often than its parent answer (accepted)",
             n, matched - (long)dup, unmatched, v.n_rejected, (long long)dup, v.n_child_excess);
    if (!rc) {
        zm_store_stage_end(s, "votes", summary);
        zm_info0("votes: %s", summary);
    }
    free(row), free(gdist), free(counts), free(has), free(owner), free(spl);
    zm_reject_free(&rej);
    zm_votes_free(&v);
    zm_gz_schema_free(&tree);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_votes = {
    "votes", "match a Galaxy Zoo vote table to the galaxies: /labels/votes", "", run_votes};
