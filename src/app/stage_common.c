/* stage_common.c: see stage_common.h. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "stage_common.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/crossmatch.h"
#include "zoomorph/log.h"
#include "zoomorph/signals.h"
#include "zoomorph/version.h"

int zm_inputs_read(zm_store *s, zm_inputs *in, zm_err *err)
{
    memset(in, 0, sizeof *in);
    unsigned long long n = 0;
    int rc = zm_store_nrows(s, ZM_F_INPUT_NAME.path, &n, err);
    if (rc) return rc;
    in->n = (int)n;
    size_t m = n ? n : 1;
    in->name = zm_calloc(m, sizeof *in->name);
    in->path = zm_calloc(m, sizeof *in->path);
    in->ngal = zm_calloc(m, sizeof *in->ngal);
    in->first = zm_calloc(m, sizeof *in->first);
    in->status = zm_calloc(m, sizeof *in->status);
    in->cutout_done = zm_calloc(m, 1);
    zm_range all = {0, n};
    rc = zm_store_read(s, ZM_F_INPUT_NAME.path, ZM_DT_STR, ZM_NAME_LEN, &all, 1, in->name, err);
    if (!rc) rc = zm_store_read(s, ZM_F_INPUT_PATH.path, ZM_DT_STR, ZM_SOURCE_LEN, &all, 1, in->path, err);
    if (!rc) rc = zm_store_read(s, ZM_F_INPUT_NGAL.path, ZM_DT_I64, 0, &all, 1, in->ngal, err);
    if (!rc) rc = zm_store_read(s, ZM_F_INPUT_FIRST.path, ZM_DT_I64, 0, &all, 1, in->first, err);
    if (!rc) rc = zm_store_read(s, ZM_F_INPUT_STATUS.path, ZM_DT_I32, 0, &all, 1, in->status, err);
    if (!rc && zm_store_exists(s, ZM_F_INPUT_CUTOUT_DONE.path))
        rc = zm_store_read(s, ZM_F_INPUT_CUTOUT_DONE.path, ZM_DT_U8, 0, &all, 1, in->cutout_done, err);
    if (rc) zm_inputs_free(in);
    return rc;
}

void zm_inputs_free(zm_inputs *in)
{
    free(in->name), free(in->path), free(in->ngal), free(in->first), free(in->status);
    free(in->cutout_done);
    memset(in, 0, sizeof *in);
}

int zm_stage_open_store(const zm_stage_args *a, int writable, const char *need_stage,
                        zm_store **s, zm_err *err)
{
    const char *path = zm_param_str(a->params, "store.path");
    int rc = zm_store_open(s, path, writable, a->ctx, err);
    if (rc) return rc;
    if (need_stage && !zm_store_stage_complete(*s, need_stage)) {
        zm_store_close(*s);
        *s = NULL;
        return zm_err_set(err, ZM_ESTATE,
                          "store %s: stage '%s' has not completed; run 'zoomorph %s' first",
                          path, need_stage, need_stage);
    }
    /* room for the stage marks and attributes before anything is written: a full disk
     * during a metadata write leaves a store HDF5 cannot open (found by e2e.disk_full) */
    if (writable && zm_store_check_room(*s, 1ull << 20, "the stage's bookkeeping in /meta", err)) {
        zm_store_close(*s);
        *s = NULL;
        return err->code;
    }
    return 0;
}

int zm_is_file(const char *path)
{
    struct stat st;
    return path && path[0] && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *zm_encoder_weights(const zm_params *p, const char *first_key, char *buf, size_t n)
{
    const char *keys[2] = {first_key, "embed.weights"};
    for (int k = 0; k < 2; k++) {
        const char *w = keys[k] ? zm_param_str(p, keys[k]) : NULL;
        if (w && w[0]) return snprintf(buf, n, "%s", w), buf;
    }
    const char *out = zm_param_str(p, "model.output");
    snprintf(buf, n, "%s", out ? out : "");
    if (zm_param_is_set(p, "model.output") || zm_is_file(out)) return buf;
    /* the shipped model: <prefix>/share/zoomorph/models beside <prefix>/bin/zoomorph, then
     * the source tree this binary was built from */
    char exe[PATH_MAX] = "", cand[2][PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(cand[0], sizeof cand[0], "%s/../share/zoomorph/models/%s", exe, ZM_SHIPPED_MODEL);
    snprintf(cand[1], sizeof cand[1], "%s/models/%s", ZM_SOURCE_DIR_AT_BUILD, ZM_SHIPPED_MODEL);
    for (int c = 0; c < 2; c++)
        if (zm_is_file(cand[c])) {
            char real[PATH_MAX];
            snprintf(buf, n, "%s", realpath(cand[c], real) ? real : cand[c]);
            zm_log0(ZM_LOG_DEBUG, "no weights named ([embed] weights empty, no %s): the shipped model %s",
                     out, buf);
            return buf;
        }
    return buf;
}

void zm_cutout_cfg_from_params(const zm_params *p, zm_cutout_cfg *cfg, zm_field_rule *rule,
                               zm_dtype *dtype, int *rule_auto)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = (int)zm_param_int(p, "cutout.size");
    cfg->channels = !strcmp(zm_param_str(p, "cutout.channels"), "colour") ? 3 : 1;
    cfg->max_empty = zm_param_real(p, "cutout.max_empty_fraction");
    cfg->edge_reject = !strcmp(zm_param_str(p, "cutout.edge"), "reject");
    zm_stretch_default(&cfg->stretch);
    cfg->stretch.scale[0] = (float)zm_param_real(p, "cutout.scale_g");
    cfg->stretch.scale[1] = (float)zm_param_real(p, "cutout.scale_r");
    cfg->stretch.scale[2] = (float)zm_param_real(p, "cutout.scale_z");
    cfg->stretch.lo = (float)zm_param_real(p, "cutout.stretch_min");
    cfg->stretch.hi = (float)zm_param_real(p, "cutout.stretch_max");
    cfg->stretch.desaturate = zm_param_bool(p, "cutout.desaturate");
    *dtype = !strcmp(zm_param_str(p, "cutout.dtype"), "float16") ? ZM_DT_F16 : ZM_DT_U8;
    const char *r = zm_param_str(p, "cutout.field_rule");
    *rule_auto = !strcmp(r, "auto");
    rule->kind = !strcmp(r, "fixed") ? ZM_FIELD_FIXED : !strcmp(r, "native") ? ZM_FIELD_NATIVE : ZM_FIELD_GZ;
    rule->gz_pixels = zm_param_real(p, "cutout.gz_pixels");
    rule->th50_factor = zm_param_real(p, "cutout.th50_factor");
    rule->th90_factor = zm_param_real(p, "cutout.th90_factor");
    rule->min_pixscale = zm_param_real(p, "cutout.min_pixscale");
    rule->r90_over_r50 = zm_param_real(p, "cutout.r90_over_r50");
    rule->fixed_arcsec = zm_param_real(p, "cutout.fixed_arcsec");
}

const char *const zm_band_letters[ZM_MAX_BANDS] = {"g", "r", "z"};

int zm_survey_bands(const zm_params *p, int wanted[ZM_MAX_BANDS], zm_err *err)
{
    char *items[8], buf[256];
    int n = zm_param_list(p, "survey.bands", items, 8, buf, sizeof buf), count = 0;
    for (int b = 0; b < ZM_MAX_BANDS; b++) wanted[b] = 0;
    if (n < 1)
        return zm_err_set(err, ZM_ECONFIG, "config key [survey] bands: expected 1 to 3 of g, r, z");
    for (int i = 0; i < n; i++) {
        int slot = -1;
        for (int b = 0; b < ZM_MAX_BANDS; b++)
            if (!strcmp(items[i], zm_band_letters[b])) slot = b;
        if (slot < 0)
            return zm_err_set(err, ZM_ECONFIG,
                              "config key [survey] bands: '%s' is not one of g, r, z", items[i]);
        if (!wanted[slot]) count++;
        wanted[slot] = 1;
    }
    return count;
}

int zm_work_chunks(const zm_inputs *in, const int *owner, int rank, long long batch,
                   const unsigned char *done, zm_chunk **out)
{
    int cap = 16, n = 0;
    zm_chunk *c = zm_calloc((size_t)cap, sizeof *c);
    long long fill = batch; /* start a new chunk at once */
    for (int i = 0; i < in->n; i++) {
        if (owner[i] != rank || in->status[i] != ZM_INPUT_OK || in->ngal[i] == 0 || (done && done[i])) continue;
        for (long long off = 0; off < in->ngal[i];) {
            if (fill == batch) {
                if (n == cap) c = zm_realloc(c, (size_t)(cap *= 2) * sizeof *c);
                c[n] = (zm_chunk){zm_malloc(8 * sizeof(zm_piece)), 0, 8};
                n++;
                fill = 0;
            }
            zm_chunk *ch = &c[n - 1];
            long long take = in->ngal[i] - off < batch - fill ? in->ngal[i] - off : batch - fill;
            if (ch->n == ch->cap) ch->p = zm_realloc(ch->p, (size_t)(ch->cap *= 2) * sizeof(zm_piece));
            ch->p[ch->n++] = (zm_piece){i, off, take};
            off += take;
            fill += take;
        }
    }
    *out = c;
    return n;
}

void zm_work_chunks_free(zm_chunk *c, int n)
{
    for (int i = 0; i < n; i++) free(c[i].p);
    free(c);
}

void zm_fault_point(const zm_ctx *ctx, const char *stage, long long round)
{
    const char *w = getenv("ZM_FAULT_WAIT"), *restarts = getenv("SLURM_RESTART_COUNT");
    if (w && w[0] && !(restarts && atoi(restarts) > 0)) {
        char name[64] = "";
        long long at = -1;
        int rank = 0;
        if (sscanf(w, "%63[^:]:%lld:%d", name, &at, &rank) >= 2 && !strcmp(name, stage) && at == round &&
            rank == ctx->rank) {
            fprintf(stderr, "zoomorph: ZM_FAULT_WAIT: rank %d of stage %s waiting for a stop signal after round %lld\n",
                    ctx->rank, stage, round);
            fflush(stderr);
            for (int i = 0; i < 1200 && !zm_signal_pending(); i++) nanosleep(&(struct timespec){0, 100000000L}, NULL);
        }
    }
    const char *g = getenv("ZM_FAULT_SIGNAL");
    if (g && g[0]) {
        char name[64] = "";
        long long at = -1;
        int rank = 0;
        if (sscanf(g, "%63[^:]:%lld:%d", name, &at, &rank) >= 2 && !strcmp(name, stage) && at == round &&
            rank == ctx->rank)
            raise(SIGUSR1);
    }
    const char *f = getenv("ZM_FAULT_KILL");
    if (!f || !f[0]) return;
    char name[64] = "";
    long long at = -1;
    int rank = 0;
    if (sscanf(f, "%63[^:]:%lld:%d", name, &at, &rank) < 2) return;
    if (strcmp(name, stage) || at != round || rank != ctx->rank) return;
    fprintf(stderr, "zoomorph: ZM_FAULT_KILL: rank %d of stage %s killing itself after round %lld\n", ctx->rank,
            stage, round);
    fflush(stderr);
    raise(SIGKILL);
}

void zm_tree_columns(const zm_gz_schema *tree, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int k = 0; k < tree->nanswers; k++) {
        char c[ZM_GZ_COL_LEN];
        zm_gz_answer_column(tree, k, c);
        strncat(buf, k ? "," : "", n - strlen(buf) - 1);
        strncat(buf, c, n - strlen(buf) - 1);
    }
}

int zm_search_space(const zm_params *p, zm_store *s, char *path, unsigned long long *n, int *d, zm_err *err)
{
    const char *space = zm_param_str(p, "similar.space");
    if (!strcmp(space, "embedding")) snprintf(path, 128, "/representation/embedding");
    else snprintf(path, 128, "/pca/%s", space);
    unsigned long long dims[4] = {0};
    if (zm_store_shape(s, path, dims, err) != 2)
        return zm_err_set(err, ZM_ESTATE, "store %s has no %s ([similar] space = %s); run 'zoomorph pca' (with that size "
                          "in [pca] sizes) first", zm_store_path(s), path, space);
    *n = dims[0];
    *d = (int)dims[1];
    return 0;
}

int zm_catalogue_register(zm_store *s, const char *column, const char *dataset, zm_err *err)
{
    char old[8192], out[8192];
    size_t used = 0, want = strlen(column);
    if (zm_store_get_attr(s, ZM_CATALOGUE_REGISTRY, "columns", old, sizeof old)) old[0] = '\0';
    out[0] = '\0';
    char *save = NULL;
    for (char *t = strtok_r(old, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strncmp(t, column, want) == 0 && t[want] == '=') continue; /* replaced below */
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", used ? "," : "", t);
    }
    int n = snprintf(out + used, sizeof out - used, "%s%s=%s", used ? "," : "", column, dataset);
    if (n < 0 || (size_t)n >= sizeof out - used)
        return zm_err_set(err, ZM_ECONFIG, "catalogue column registry of %s is full (%zu bytes)",
                          zm_store_path(s), sizeof out);
    return zm_store_set_attr(s, ZM_CATALOGUE_REGISTRY, "columns", out);
}

int zm_match_rows(const zm_ctx *ctx, zm_store *s, int by_id, const long long *ids, const double *ra,
                  const double *dec, const unsigned char *ok, long n, double radius, long long *row, double *dist,
                  zm_err *err)
{
    unsigned long long N = 0;
    int rc = zm_store_nrows(s, ZM_F_GAL_ID.path, &N, err);
    if (zm_any(ctx, rc)) return rc ? rc : zm_err_set(err, ZM_ESTATE, "reading /galaxies failed on another rank");
    const unsigned long long r0 = N * (unsigned long long)ctx->rank / (unsigned long long)ctx->size;
    const unsigned long long r1 = N * (unsigned long long)(ctx->rank + 1) / (unsigned long long)ctx->size;
    const long nloc = (long)(r1 - r0);
    double *d = zm_malloc((size_t)(n ? n : 1) * sizeof *d), *gd = zm_malloc((size_t)(n ? n : 1) * sizeof *gd);
    for (long i = 0; i < n; i++) d[i] = INFINITY, row[i] = LLONG_MAX;
    if (by_id) {
        for (long i = 0; i < n; i++)
            if (ok[i] && ids[i] >= (long long)r0 && ids[i] < (long long)r1) d[i] = 0, row[i] = ids[i];
    } else {
        double *gra = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *gra);
        double *gdec = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *gdec);
        zm_range mine = {r0, (unsigned long long)nloc};
        if (zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &mine, 1, gra, err) ||
            zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &mine, 1, gdec, err))
            ZM_ABORT("cannot read /galaxies positions of a planned store: %s", err->msg);
        zm_skyindex *ix = zm_skyindex_build(gra, gdec, nloc, radius);
        for (long i = 0; i < n; i++) {
            if (!ok[i]) continue;
            double dd;
            long j = zm_skyindex_nearest(ix, ra[i], dec[i], radius, &dd);
            if (j >= 0) d[i] = dd, row[i] = (long long)r0 + j;
        }
        zm_skyindex_free(ix);
        free(gra), free(gdec);
    }
    ZM_CHECK_MPI(MPI_Allreduce(d, gd, (int)n, MPI_DOUBLE, MPI_MIN, ctx->comm));
    for (long i = 0; i < n; i++)
        if (d[i] != gd[i]) row[i] = LLONG_MAX;
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, row, (int)n, MPI_LONG_LONG, MPI_MIN, ctx->comm));
    for (long i = 0; i < n; i++) {
        if (row[i] == LLONG_MAX) row[i] = -1;
        if (dist) dist[i] = gd[i];
    }
    free(d), free(gd);
    return 0;
}

long zm_stamp_cache_find(const zm_stamp_cache *c, long long row)
{
    long lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (c->rows[mid] == row) return mid;
        if (c->rows[mid] < row) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int zm_stamp_cache_load(void *user, const long long *rows, int n, float *images, float *targets, zm_err *err)
{
    const zm_stamp_cache *c = user;
    const size_t per = (size_t)c->C * c->S * c->S;
    for (int i = 0; i < n; i++) {
        long k = zm_stamp_cache_find(c, rows[i]);
        if (k < 0) return zm_err_set(err, ZM_ESTATE, "row %lld is not in the training cache", rows[i]);
        if (c->img8)
            for (size_t j = 0; j < per; j++) images[(size_t)i * per + j] = c->img8[(size_t)k * per + j] * (1.0f / 255.0f);
        else
            memcpy(images + (size_t)i * per, c->imgf + (size_t)k * per, per * sizeof(float));
        memcpy(targets + (size_t)i * c->A, c->targets + (size_t)k * c->A, (size_t)c->A * sizeof(float));
    }
    return 0;
}

int zm_stamp_cache_fill(zm_store *s, zm_stamp_cache *c, const char *targets_path, zm_err *err)
{
    unsigned long long dims[4] = {0};
    zm_dtype type = ZM_DT_U8;
    if (zm_store_shape(s, "/cutouts/images", dims, err) != 4 || zm_store_type(s, "/cutouts/images", &type, err))
        return zm_err_set(err, ZM_ESTATE, "store %s has no /cutouts/images; run 'zoomorph cutout' first", zm_store_path(s));
    c->C = (int)dims[1];
    c->S = (int)dims[2];
    const size_t per = (size_t)c->C * c->S * c->S, n = (size_t)(c->n ? c->n : 1);
    if (type == ZM_DT_U8) c->img8 = zm_malloc(per * n);
    else c->imgf = zm_malloc(per * n * sizeof(float));
    c->targets = zm_calloc((size_t)(c->A ? c->A : 1) * n, sizeof(float));
    /* contiguous runs of rows, read in chunks */
    for (long i = 0; i < c->n;) {
        long j = i + 1;
        while (j < c->n && c->rows[j] == c->rows[j - 1] + 1 && j - i < 4096) j++;
        zm_range r = {(unsigned long long)c->rows[i], (unsigned long long)(j - i)};
        int rc = type == ZM_DT_U8
                     ? zm_store_read(s, "/cutouts/images", ZM_DT_U8, 0, &r, 1, c->img8 + (size_t)i * per, err)
                     : zm_store_read(s, "/cutouts/images", ZM_DT_F32, 0, &r, 1, c->imgf + (size_t)i * per, err);
        if (!rc && targets_path)
            rc = zm_store_read(s, targets_path, ZM_DT_F32, 0, &r, 1, c->targets + (size_t)i * c->A, err);
        if (rc) return rc;
        i = j;
    }
    return 0;
}

void zm_stamp_cache_free(zm_stamp_cache *c)
{
    free(c->rows), free(c->img8), free(c->imgf), free(c->targets);
    memset(c, 0, sizeof *c);
}

long zm_pack_finite_rows(const float *x, long n, int d, float *xv, unsigned char *ok)
{
    long nv = 0;
    for (long i = 0; i < n; i++) {
        int good = 1;
        for (int j = 0; j < d && good; j++) good = isfinite(x[(size_t)i * d + j]);
        ok[i] = (unsigned char)good;
        if (good) memcpy(xv + (size_t)nv++ * d, x + (size_t)i * d, (size_t)d * sizeof *x);
    }
    return nv;
}
