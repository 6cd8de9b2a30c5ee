/*
 * stage_similar.c: `zoomorph similar` finds the galaxies most like one or more query
 * galaxies: exact Euclidean (or cosine) search on [similar] space (the PCA-10
 * coordinates by default, as the paper), each rank searching its slice of the rows, the
 * per-rank top-k merged; or the stored IVF index ([similar] method = ivf).
 *
 * Queries: by row id (--id), by sky position (--ra/--dec, the nearest galaxy within
 * [similar] radius_arcsec), by an image file (--image: a FITS image or cube, or a PNG/JPEG
 * picture, cut into a stamp as the cutout stage does, embedded with the run's model and
 * projected on the run's PCA axes when the space is PCA), or a CSV file of them
 * (--queries, with columns id, or ra and dec, or file with optional ra, dec). Writes a CSV
 * of neighbours (query_id, rank, id, ra, dec, distance, query_file) and a PNG gallery per
 * query (query first, then its neighbours in order, with ids).
 *
 * With --evaluate-tags tags.csv (ra, dec, tag) it replays the paper's evaluation instead
 * (stage_similar_eval.c).
 * Without query flags, [similar] queries (row ids, or one CSV file) are used.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "similar.h"
#include "zoomorph/crossmatch.h"
#include "zoomorph/gallery.h"
#include "zoomorph/ivf.h"
#include "zoomorph/knn.h"
#include "zoomorph/log.h"
#include "zoomorph/pca.h"
#include "zoomorph/table.h"

/* ---- the vectors searched ---- */

int zm_space_load(const zm_ctx *ctx, const zm_params *p, zm_store *s, zm_space *sp, zm_err *err)
{
    memset(sp, 0, sizeof *sp);
    if (zm_search_space(p, s, sp->path, &sp->N, &sp->d, err)) return ZM_ESTATE;
    sp->cosine = !strcmp(zm_param_str(p, "similar.metric"), "cosine");
    sp->r0 = sp->N * (unsigned long long)ctx->rank / (unsigned long long)ctx->size;
    unsigned long long r1 = sp->N * (unsigned long long)(ctx->rank + 1) / (unsigned long long)ctx->size;
    sp->nloc = (long)(r1 - sp->r0);
    sp->x = zm_malloc((size_t)(sp->nloc ? sp->nloc : 1) * sp->d * sizeof *sp->x);
    zm_range mine = {sp->r0, (unsigned long long)sp->nloc};
    int rc = zm_store_read(s, sp->path, ZM_DT_F32, 0, &mine, 1, sp->x, err);
    if (zm_any(ctx, rc)) return rc ? rc : zm_err_set(err, ZM_EIO, "similar: reading %s failed on another rank", sp->path);
    sp->fingerprint = zm_vectors_fingerprint(ctx, sp->x, sp->nloc, sp->d, sp->r0);
    zm_space_finish(sp);
    return 0;
}

void zm_space_finish(zm_space *sp)
{
    /* rows without a representation (rejected stamps) cannot be neighbours: pushed far,
     * after the others are normalised (a far row normalised would come back near) */
    for (long i = 0; i < sp->nloc; i++) {
        float *row = sp->x + (size_t)i * sp->d;
        int ok = 1;
        for (int j = 0; j < sp->d && ok; j++) ok = isfinite(row[j]);
        if (!ok) zm_space_push_far(sp, i);
        else if (sp->cosine) zm_normalise_rows(row, 1, sp->d);
    }
}

void zm_space_push_far(zm_space *sp, long i)
{
    for (int j = 0; j < sp->d; j++) sp->x[(size_t)i * sp->d + j] = 1e18f;
}

void zm_space_free(zm_space *sp)
{
    free(sp->x);
    memset(sp, 0, sizeof *sp);
}

/* The stored IVF index (zoomorph index): checks it was built from these vectors, rebuilds
 * this rank's lists from /index/list, probes nprobe lists. Collective. */
static int search_ivf(const zm_ctx *ctx, zm_store *s, const zm_space *sp, const float *qv, int nq, int k, int nprobe,
                      long long *ids, float *dist, zm_err *err)
{
    char ver[32] = "", spn[128] = "", fps[64] = "", want[64];
    unsigned long long cd[4] = {0};
    const int d = sp->d;
    snprintf(want, sizeof want, "%016llx", sp->fingerprint);
    if (zm_store_get_attr(s, "/index", "format_version", ver, sizeof ver) || zm_store_shape(s, "/index/centroids", cd, err) != 2)
        return zm_err_set(err, ZM_ESTATE, "store %s has no index; run 'zoomorph index' first", zm_store_path(s));
    zm_store_get_attr(s, "/index", "space", spn, sizeof spn);
    zm_store_get_attr(s, "/index", "fingerprint", fps, sizeof fps);
    if (strcmp(ver, "1"))
        return zm_err_set(err, ZM_EFORMAT, "store %s: index format version %s; this zoomorph reads 1; run 'zoomorph index' again",
                          zm_store_path(s), ver);
    if (strcmp(spn, sp->path) || strcmp(fps, want) || (int)cd[1] != d)
        return zm_err_set(err, ZM_ESTATE, "store %s: the index was built from other vectors (%s, fingerprint %s; now %s, %s); "
                          "run 'zoomorph index' again", zm_store_path(s), spn, fps, sp->path, want);
    int nlist = (int)cd[0];
    if (nprobe > nlist) {
        zm_warn0("similar: nprobe %d is more than the %d lists; probing all of them", nprobe, nlist);
        nprobe = nlist;
    }
    float *cent = zm_malloc((size_t)nlist * d * sizeof *cent);
    int *lists = zm_malloc((size_t)(sp->nloc ? sp->nloc : 1) * sizeof *lists);
    zm_range all = {0, (unsigned long long)nlist}, mine = {sp->r0, (unsigned long long)sp->nloc};
    int rc = zm_store_read(s, "/index/centroids", ZM_DT_F32, 0, &all, 1, cent, err);
    if (!rc) rc = zm_store_read(s, "/index/list", ZM_DT_I32, 0, &mine, 1, lists, err);
    if (zm_any(ctx, rc)) {
        free(cent), free(lists);
        return rc ? rc : zm_err_set(err, ZM_EIO, "reading the index failed on another rank");
    }
    zm_ivf ix;
    zm_ivf_from_lists(&ix, cent, nlist, d, sp->x, sp->nloc, (long long)sp->r0, lists);
    zm_ivf_search(ctx, &ix, qv, nq, k, nprobe, ids, dist);
    zm_ivf_free(&ix);
    free(cent), free(lists);
    return 0;
}

int zm_space_search(const zm_ctx *ctx, const zm_params *p, zm_store *s, const zm_space *sp, int use_ivf, float *qv,
                    int nq, int k, long long *ids, float *dist, zm_err *err)
{
    if (sp->cosine) zm_normalise_rows(qv, nq, sp->d);
    if (use_ivf) return search_ivf(ctx, s, sp, qv, nq, k, (int)zm_param_int(p, "similar.nprobe"), ids, dist, err);
    zm_knn_exact(sp->x, sp->nloc, sp->d, (long long)sp->r0, qv, nq, k, ids, dist);
    zm_knn_merge(ctx, nq, k, ids, dist);
    return 0;
}

/* ---- image files as queries ---- */

int zm_space_project(zm_store *s, const zm_space *sp, const float *emb, int n, int D, float *out, zm_err *err)
{
    if (!strcmp(sp->path, "/representation/embedding")) {
        if (D != sp->d) return zm_err_set(err, ZM_ESTATE, "store %s: %s has %d columns but the model gives %d",
                                          zm_store_path(s), sp->path, sp->d, D);
        memcpy(out, emb, (size_t)n * D * sizeof *out);
        return 0;
    }
    unsigned long long md[4] = {0}, cd[4] = {0};
    if (zm_store_shape(s, "/pca/mean", md, err) != 1 || zm_store_shape(s, "/pca/components", cd, err) != 2 ||
        (int)md[0] != D || (int)cd[1] != D || cd[0] < (unsigned long long)sp->d)
        return zm_err_set(err, ZM_ESTATE, "store %s: /pca/mean and /pca/components do not fit the model's %d-d "
                          "representation and %s; run 'zoomorph pca' again", zm_store_path(s), D, sp->path);
    zm_pca pc = {0};
    pc.d = D, pc.k = sp->d;
    pc.mean = zm_malloc((size_t)D * sizeof *pc.mean);
    pc.components = zm_malloc((size_t)sp->d * D * sizeof *pc.components);
    zm_range all = {0, (unsigned long long)D}, first = {0, (unsigned long long)sp->d};
    int rc = zm_store_read(s, "/pca/mean", ZM_DT_F64, 0, &all, 1, pc.mean, err);
    if (!rc) rc = zm_store_read(s, "/pca/components", ZM_DT_F32, 0, &first, 1, pc.components, err);
    if (!rc) zm_pca_transform(&pc, emb, n, out);
    free(pc.mean), free(pc.components);
    return rc;
}

/* Rank 0: the stamps of the image queries (u8, for the galleries) and their vectors in
 * the search space (rows of qv of the image queries). Errors name the file. */
static int image_queries(const zm_stage_args *a, zm_store *s, const zm_space *sp, const zm_queries *q, float *qv,
                         uint8_t *qstamp, zm_err *err)
{
    const zm_params *p = a->params;
    unsigned long long cd[4] = {0};
    if (zm_store_shape(s, "/cutouts/images", cd, err) != 4)
        return zm_err_set(err, ZM_ESTATE, "store %s has no /cutouts/images; an image query needs the run's stamps' shape",
                          zm_store_path(s));
    const int C = (int)cd[1], S = (int)cd[2];
    zm_stamp_rules r;
    if (zm_stamp_rules_from_params(p, &r, err)) return ZM_ECONFIG;
    if (r.cfg.size != S || r.cfg.channels != C)
        zm_warn("similar: [cutout] says %d channel(s) of %d pixels but the stamps in %s are %d of %d; query images are "
                "cut like the stored stamps", r.cfg.channels, r.cfg.size, zm_store_path(s), C, S);
    r.cfg.size = S, r.cfg.channels = C;
    r.bricks_mode = 0; /* a query is one file */
    /* a query image is taken as a stamp: its whole extent is the model's field, unless
     * [survey] input_field says what field it spans or the rule is fixed */
    if (r.input_field == ZM_INPUT_AUTO && r.rule.kind != ZM_FIELD_FIXED) r.rule.kind = ZM_FIELD_NATIVE;
    char weights[4096] = "";
    const char *w = zm_param_str(p, "embed.weights");
    zm_store_get_attr(s, "/representation/embedding", "model", weights, sizeof weights);
    if (w && w[0]) {
        if (weights[0] && strcmp(w, weights))
            zm_warn("similar: [embed] weights = %s, but the store was embedded with %s; the query images are "
                    "embedded with %s", w, weights, w);
        snprintf(weights, sizeof weights, "%s", w);
    }
    if (!weights[0])
        return zm_err_set(err, ZM_ESTATE, "store %s: /representation/embedding names no model; set [embed] weights "
                          "to embed query images", zm_store_path(s));
    zm_embedder E;
    /* a query file's field is its own (a picture's, a cutout's): no field check */
    int rc = zm_embedder_open(p, weights, C, S, "", zm_store_path(s), 1, 0, &E, err);
    E.views = zm_embed_views(s); /* as the store's galaxies were embedded */
    if (rc) {
        zm_embedder_close(&E);
        return rc;
    }
    const size_t per = (size_t)C * S * S;
    float *work = zm_malloc(zm_cutout_work_floats(&r.cfg) * sizeof *work), *stamp = zm_malloc(per * sizeof *stamp);
    float *emb = zm_malloc((size_t)E.D * sizeof *emb), *conc = zm_malloc((size_t)E.A * sizeof *conc);
    float *frac = zm_malloc((size_t)E.A * sizeof *frac), *sd = zm_malloc((size_t)E.A * sizeof *sd);
    zm_loaded_input L;
    memset(&L, 0, sizeof L);
    for (int i = 0, j = 0; i < q->n && !rc; i++) {
        if (!q->file[i]) continue;
        const char *f = q->file[i];
        L.input = i;
        rc = zm_input_load(f, f, 0, r.wanted, r.allow_missing, &L, err);
        if (!rc && L.is_picture && (L.pw > 1.05 * L.ph || L.ph > 1.05 * L.pw))
            rc = zm_err_set(err, ZM_EFORMAT, "query image %s is %d x %d pixels: a query picture must be square (it is "
                            "resampled to the %d x %d stamp over its whole extent)", f, L.pw, L.ph, S, S);
        double ra = q->ra[i], dec = q->dec[i];
        if (!rc && !L.is_picture && !(isfinite(ra) && isfinite(dec))) {
            zm_image *ref = L.bands.img[0] ? L.bands.img[0] : L.bands.img[1] ? L.bands.img[1] : L.bands.img[2];
            if (!ref || !ref->wcs || zm_wcs_pix2sky(ref->wcs, 0.5 * (ref->nx - 1), 0.5 * (ref->ny - 1), &ra, &dec))
                rc = zm_err_set(err, ZM_EFORMAT, "query image %s HDU %d: no usable WCS for the image centre", f,
                                ref ? ref->hdu : 1);
        }
        unsigned flags = 0;
        float ps = 0;
        zm_err e = {0};
        if (!rc && zm_stamp_make(&r, &L, ra, dec, NAN, NAN, NAN, work, stamp, &flags, &ps, &e))
            rc = zm_err_set(err, ZM_EREJECT, "query image %s: %s", f, e.msg);
        if (!rc) rc = zm_embedder_run(&E, stamp, 1, 0, emb, conc, frac, sd, err);
        if (!rc) rc = zm_space_project(s, sp, emb, 1, E.D, qv + (size_t)i * sp->d, err);
        if (!rc) zm_stamp_quantize(stamp, per, 0, qstamp + (size_t)j * per);
        if (rc && !strstr(err->msg, f)) zm_err_prefix(err, f);
        j++;
    }
    zm_loaded_unload(&L);
    zm_embedder_close(&E);
    free(work), free(stamp), free(emb), free(conc), free(frac), free(sd);
    return rc;
}

/* ---- galleries ---- */

int zm_similar_gallery(zm_store *s, const char *png, const uint8_t *first, long long qid, const long long *nb, int nnb,
                       zm_err *err)
{
    int n = 1 + nnb;
    long long *rows = zm_malloc((size_t)n * sizeof *rows);
    rows[0] = qid;
    for (int j = 0; j < nnb; j++) rows[1 + j] = nb[j];
    int rc = zm_gallery_write_rows(s, png, rows, n, first, n <= 11 ? n : 0, err);
    free(rows);
    return rc == ZM_EMISSING ? 0 : rc; /* no stamps: no gallery */
}

/* ---- queries ---- */

static void q_add(zm_queries *q, long long id, double ra, double dec, const char *file)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 16;
        q->id = zm_realloc(q->id, (size_t)q->cap * sizeof *q->id);
        q->ra = zm_realloc(q->ra, (size_t)q->cap * sizeof *q->ra);
        q->dec = zm_realloc(q->dec, (size_t)q->cap * sizeof *q->dec);
        q->file = zm_realloc(q->file, (size_t)q->cap * sizeof *q->file);
    }
    q->id[q->n] = id, q->ra[q->n] = ra, q->dec[q->n] = dec;
    q->file[q->n] = file ? zm_strdup(file) : NULL;
    q->n++;
}

static void q_free(zm_queries *q)
{
    for (int i = 0; i < q->n; i++) free(q->file[i]);
    free(q->id), free(q->ra), free(q->dec), free(q->file);
    memset(q, 0, sizeof *q);
}

static int read_query_file(const char *qfile, zm_queries *q, zm_err *err)
{
    zm_table *t = NULL;
    int rc = zm_table_open(qfile, &t, err);
    if (rc) return rc;
    long n = zm_table_nrows(t);
    int cid = zm_table_col(t, "id"), cra = zm_table_col(t, "ra"), cdec = zm_table_col(t, "dec"),
        cfile = zm_table_col(t, "file");
    if (cid < 0 && cfile < 0 && (cra < 0 || cdec < 0))
        rc = zm_err_set(err, ZM_EMISSING, "query file %s: columns id, or ra and dec, or file are needed", qfile);
    size_t m = (size_t)(n ? n : 1);
    double *v = zm_malloc(m * sizeof *v), *w = zm_malloc(m * sizeof *w);
    long long *ll = zm_malloc(m * sizeof *ll);
    char *fn = cfile >= 0 ? zm_calloc(m, ZM_SOURCE_LEN) : NULL;
    unsigned char *bad = zm_calloc(m, 1), *badd = zm_calloc(m, 1);
    const int haspos = cra >= 0 && cdec >= 0;
    if (!rc && cid >= 0) rc = zm_table_read_ll(t, cid, ll, NULL, err);
    if (!rc && cfile >= 0) rc = zm_table_read_str(t, cfile, fn, ZM_SOURCE_LEN, err);
    if (!rc && haspos) {
        rc = zm_table_read_double(t, cra, v, cfile >= 0 ? bad : NULL, err);
        if (!rc) rc = zm_table_read_double(t, cdec, w, cfile >= 0 ? badd : NULL, err);
    }
    for (long i = 0; !rc && i < n; i++) {
        if (cid >= 0) q_add(q, ll[i], NAN, NAN, NULL);
        else if (cfile >= 0) {
            /* a file with an optional position; a relative name is relative to the query table */
            char path[ZM_SOURCE_LEN + 4096];
            const char *f = fn + (size_t)i * ZM_SOURCE_LEN, *slash = strrchr(qfile, '/');
            if (f[0] != '/' && slash) snprintf(path, sizeof path, "%.*s/%s", (int)(slash - qfile), qfile, f);
            else snprintf(path, sizeof path, "%s", f);
            int pos = haspos && !bad[i] && !badd[i];
            q_add(q, -1, pos ? v[i] : NAN, pos ? w[i] : NAN, path);
        } else q_add(q, -1, v[i], w[i], NULL);
    }
    free(v), free(w), free(ll), free(fn), free(bad), free(badd);
    zm_table_close(t);
    return rc;
}

static int run_similar(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_queries q = {0};
    int rc = 0;
    const char *tags = NULL, *truth = NULL;
    for (int i = 0; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--id") && i + 1 < a->argc) {
            char *end = NULL;
            long long v = strtoll(a->argv[i + 1], &end, 10);
            if (!end || *end || v < 0) {
                zm_err_set(err, ZM_EUSAGE, "similar: --id %s: expected a row id (a whole number >= 0)", a->argv[i + 1]);
                q_free(&q);
                return ZM_EXIT_USAGE;
            }
            q_add(&q, v, NAN, NAN, NULL);
            i++;
        } else if (!strcmp(a->argv[i], "--ra") && i + 3 < a->argc && !strcmp(a->argv[i + 2], "--dec")) {
            q_add(&q, -1, atof(a->argv[i + 1]), atof(a->argv[i + 3]), NULL);
            i += 3;
        } else if (!strcmp(a->argv[i], "--image") && i + 1 < a->argc) {
            q_add(&q, -1, NAN, NAN, a->argv[++i]);
        } else if (!strcmp(a->argv[i], "--queries") && i + 1 < a->argc) {
            if (read_query_file(a->argv[++i], &q, err)) {
                q_free(&q);
                return ZM_EXIT_INPUT;
            }
        } else if (!strcmp(a->argv[i], "--evaluate-tags") && i + 1 < a->argc) {
            tags = a->argv[++i];
        } else if (!strcmp(a->argv[i], "--truth") && i + 1 < a->argc) {
            truth = a->argv[++i];
        } else {
            zm_err_set(err, ZM_EUSAGE, "similar: unknown or incomplete flag '%s'", a->argv[i]);
            q_free(&q);
            return ZM_EXIT_USAGE;
        }
    }
    if (truth && !tags) {
        zm_err_set(err, ZM_EUSAGE, "similar: --truth goes with --evaluate-tags");
        q_free(&q);
        return ZM_EXIT_USAGE;
    }
    if (tags) {
        if (q.n) {
            zm_err_set(err, ZM_EUSAGE, "similar: --evaluate-tags chooses its own queries; give no other query");
            q_free(&q);
            return ZM_EXIT_USAGE;
        }
        return zm_similar_evaluate(a, tags, truth, err);
    }
    /* no flags: [similar] queries (row ids, or one CSV file of queries) */
    if (q.n == 0) {
        char qbuf[4096], *items[256];
        int ni = zm_param_list(p, "similar.queries", items, 256, qbuf, sizeof qbuf);
        if (ni < 0) {
            zm_param_list_error("similar.queries", 256, err);
            q_free(&q);
            return ZM_EXIT_INPUT;
        }
        for (int i = 0; i < ni; i++) {
            char *end = NULL;
            long long v = strtoll(items[i], &end, 10);
            if (end != items[i] && !*end && v >= 0) q_add(&q, v, NAN, NAN, NULL);
            else if (ni == 1) {
                if (read_query_file(items[i], &q, err)) {
                    q_free(&q);
                    return ZM_EXIT_INPUT;
                }
            } else {
                zm_err_set(err, ZM_ECONFIG, "config key [similar] queries: '%s' is neither a row id nor the only item "
                           "(a CSV file of queries)", items[i]);
                q_free(&q);
                return ZM_EXIT_INPUT;
            }
        }
    }
    if (q.n == 0) {
        zm_err_set(err, ZM_EUSAGE, "similar: give --id N, --ra RA --dec DEC, --image FILE, --queries FILE.csv, or "
                   "[similar] queries");
        return ZM_EXIT_USAGE;
    }
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 0, "embed", &s, err)) {
        q_free(&q);
        return ZM_EXIT_INPUT;
    }
    zm_space sp;
    if (zm_space_load(ctx, p, s, &sp, err)) {
        zm_space_free(&sp);
        zm_store_close(s);
        q_free(&q);
        return ZM_EXIT_INPUT;
    }
    const unsigned long long N = sp.N;
    const int k = (int)zm_param_int(p, "similar.k"), d = sp.d, nq = q.n;
    const double radius = zm_param_real(p, "similar.radius_arcsec");
    /* every rank reads the positions to resolve sky queries (they are small) */
    double *ra = zm_malloc((size_t)(N ? N : 1) * sizeof *ra), *dec = zm_malloc((size_t)(N ? N : 1) * sizeof *dec);
    zm_range all = {0, N};
    rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &all, 1, ra, err);
    if (!rc) rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &all, 1, dec, err);
    zm_skyindex *sky = rc ? NULL : zm_skyindex_build(ra, dec, (long)N, radius);
    int nimg = 0;
    for (int i = 0; !rc && i < nq; i++) {
        if (q.file[i]) {
            nimg++;
            continue;
        }
        if (q.id[i] >= 0) {
            if ((unsigned long long)q.id[i] >= N)
                rc = zm_err_set(err, ZM_EVALUE, "similar: id %lld is not a galaxy of the store (ids are 0 to %llu)", q.id[i],
                                N - 1);
            continue;
        }
        double dd;
        long j = zm_skyindex_nearest(sky, q.ra[i], q.dec[i], radius, &dd);
        if (j < 0) {
            long jn = zm_skyindex_nearest(sky, q.ra[i], q.dec[i], 648000.0, &dd);
            rc = zm_err_set(err, ZM_EVALUE, "similar: no galaxy within %g arcsec of (%.6f, %.6f); the nearest is id %ld at "
                            "%.1f arcsec", radius, q.ra[i], q.dec[i], jn, dd);
        } else {
            q.id[i] = j;
        }
    }
    if ((unsigned long long)k > N) zm_warn0("similar: k = %d is more than the %llu galaxies; the lists are padded with id -1", k, N);
    /* query vectors: stored rows, and image files embedded on rank 0 */
    float *qv = zm_calloc((size_t)nq * d, sizeof *qv);
    unsigned long long cd[4] = {0};
    zm_err e2 = {0};
    size_t per = zm_store_shape(s, "/cutouts/images", cd, &e2) == 4 ? (size_t)cd[1] * cd[2] * cd[3] : 0;
    uint8_t *qstamp = zm_malloc((size_t)(nimg ? nimg : 1) * (per ? per : 1));
    for (int i = 0; i < nq && !rc; i++) {
        if (q.file[i]) continue;
        zm_range one = {(unsigned long long)q.id[i], 1};
        rc = zm_store_read(s, sp.path, ZM_DT_F32, 0, &one, 1, qv + (size_t)i * d, err);
        for (int j = 0; !rc && j < d; j++)
            if (!isfinite(qv[(size_t)i * d + j]))
                rc = zm_err_set(err, ZM_EVALUE, "similar: galaxy %lld has no representation (its stamp was rejected: see "
                                "/rejects)", q.id[i]);
    }
    if (!rc && nimg && ctx->rank == 0) rc = image_queries(a, s, &sp, &q, qv, qstamp, err);
    if (nimg) {
        ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
        if (rc) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
        else ZM_CHECK_MPI(MPI_Bcast(qv, nq * d, MPI_FLOAT, 0, ctx->comm));
    }
    const int use_ivf = !strcmp(zm_param_str(p, "similar.method"), "ivf"), kk = k + 1;
    long long *ids = zm_malloc((size_t)nq * kk * sizeof *ids);
    float *dist = zm_malloc((size_t)nq * kk * sizeof *dist);
    /* k + 1: the query itself comes back first */
    if (!rc) rc = zm_space_search(ctx, p, s, &sp, use_ivf, qv, nq, kk, ids, dist, err);
    if (!rc && ctx->rank == 0) {
        const char *out = zm_param_str(p, "similar.output");
        FILE *f = fopen(out, "w");
        if (!f) rc = zm_err_set(err, ZM_EIO, "similar: cannot write %s", out);
        else {
            fprintf(f, "query_id,rank,id,ra,dec,distance,query_file\n");
            for (int i = 0; i < nq; i++) {
                int r = 0;
                const char *qf = q.file[i] ? q.file[i] : "";
                for (int j = 0; j < kk && r < k; j++) {
                    long long id = ids[(size_t)i * kk + j];
                    if (id == q.id[i]) continue;
                    double dd = sqrt(fmax(dist[(size_t)i * kk + j], 0));
                    if (id >= 0) fprintf(f, "%lld,%d,%lld,%.7f,%.7f,%.6g,%s\n", q.id[i], ++r, id, ra[id], dec[id], dd, qf);
                    else fprintf(f, "%lld,%d,-1,,,,%s\n", q.id[i], ++r, qf);
                }
            }
            if (fclose(f)) rc = zm_err_set(err, ZM_EIO, "similar: cannot write %s", out);
            else zm_info("similar: %d queries, %d neighbours each, in %s", nq, k, out);
        }
        /* a gallery per query */
        const char *gdir = zm_param_str(p, "similar.gallery_dir");
        long long *nb = zm_malloc((size_t)kk * sizeof *nb);
        for (int i = 0, jimg = 0; !rc && per && gdir && gdir[0] && i < nq; i++) {
            int m = 0;
            for (int j = 0; j < kk && m < k; j++) {
                long long id = ids[(size_t)i * kk + j];
                if (id >= 0 && id != q.id[i]) nb[m++] = id;
            }
            char png[8400];
            if (q.file[i]) {
                const char *base = strrchr(q.file[i], '/');
                base = base ? base + 1 : q.file[i];
                int stem = (int)strcspn(base, ".");
                snprintf(png, sizeof png, "%s/similar-image-%.*s.png", gdir, stem, base);
                rc = zm_similar_gallery(s, png, qstamp + (size_t)jimg++ * per, -1, nb, m, err);
            } else {
                snprintf(png, sizeof png, "%s/similar-%lld.png", gdir, q.id[i]);
                rc = zm_similar_gallery(s, png, NULL, q.id[i], nb, m, err);
            }
        }
        free(nb);
        if (!rc && per && gdir && gdir[0]) zm_info("similar: galleries (query first) in %s/similar-<id>.png", gdir);
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    zm_skyindex_free(sky);
    free(ra), free(dec), free(qv), free(qstamp), free(ids), free(dist);
    zm_space_free(&sp);
    q_free(&q);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_similar = {
    "similar", "the galaxies most like a query galaxy (by id, position, image file or a file of queries)",
    "  --id N               a query by row id (repeatable)\n"
    "  --ra RA --dec DEC    a query by position: the nearest galaxy within [similar] radius_arcsec\n"
    "  --image FILE         a query by image: a FITS image/cube (cut at its centre) or a PNG/JPEG stamp,\n"
    "                       embedded with the run's model\n"
    "  --queries FILE.csv   many queries: columns id, or ra and dec, or file (with optional ra, dec)\n"
    "  --evaluate-tags FILE.csv  the paper's evaluation: precision@k of look-alikes of tagged galaxies\n"
    "                       (columns ra, dec, tag); a table and a gallery per tag\n"
    "  --truth truth.fits   with --evaluate-tags on a simulated survey: also score against the true features",
    run_similar};
