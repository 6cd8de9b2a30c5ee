/*
 * stage_similar.c: `zoomorph similar` finds the galaxies most like one or more query
 * galaxies: exact Euclidean (or cosine) search on [similar] space (the PCA-10
 * coordinates by default, as the paper), each rank searching its slice of the rows, the
 * per-rank top-k merged. Queries by row id (--id), by sky position (--ra/--dec, the
 * nearest galaxy within [similar] radius_arcsec), or a CSV file of them (--queries, with
 * columns id or ra, dec). Writes a CSV of neighbours (query, rank, id, ra, dec, distance)
 * and a PNG gallery per query (query first, then its neighbours in order, with ids).
 * Without query flags, [similar] queries (ids or a CSV file) are used.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/crossmatch.h"
#include "zoomorph/gallery.h"
#include "zoomorph/ivf.h"
#include "zoomorph/knn.h"
#include "zoomorph/log.h"
#include "zoomorph/table.h"

#define MAXQ 10000

/* The stored IVF index (zoomorph index): checks it was built from these vectors, rebuilds
 * this rank's lists from /index/list, probes nprobe lists. Collective. */
static int search_ivf(const zm_ctx *ctx, zm_store *s, const char *path, unsigned long long fp, const float *x,
                      long nloc, int d, unsigned long long r0, const float *qv, int nq, int k, int nprobe,
                      long long *ids, float *dist, zm_err *err)
{
    char ver[32] = "", sp[128] = "", fps[64] = "", want[64];
    unsigned long long cd[4] = {0};
    snprintf(want, sizeof want, "%016llx", fp);
    if (zm_store_get_attr(s, "/index", "format_version", ver, sizeof ver) || zm_store_shape(s, "/index/centroids", cd, err) != 2)
        return zm_err_set(err, ZM_ESTATE, "store %s has no index; run 'zoomorph index' first", zm_store_path(s));
    zm_store_get_attr(s, "/index", "space", sp, sizeof sp);
    zm_store_get_attr(s, "/index", "fingerprint", fps, sizeof fps);
    if (strcmp(ver, "1"))
        return zm_err_set(err, ZM_EFORMAT, "store %s: index format version %s; this zoomorph reads 1; run 'zoomorph index' again",
                          zm_store_path(s), ver);
    if (strcmp(sp, path) || strcmp(fps, want) || (int)cd[1] != d)
        return zm_err_set(err, ZM_ESTATE, "store %s: the index was built from other vectors (%s, fingerprint %s; now %s, %s); "
                          "run 'zoomorph index' again", zm_store_path(s), sp, fps, path, want);
    int nlist = (int)cd[0];
    if (nprobe > nlist) {
        zm_warn0("similar: nprobe %d is more than the %d lists; probing all of them", nprobe, nlist);
        nprobe = nlist;
    }
    float *cent = zm_malloc((size_t)nlist * d * sizeof *cent);
    int *lists = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *lists);
    zm_range all = {0, (unsigned long long)nlist}, mine = {r0, (unsigned long long)nloc};
    int rc = zm_store_read(s, "/index/centroids", ZM_DT_F32, 0, &all, 1, cent, err);
    if (!rc) rc = zm_store_read(s, "/index/list", ZM_DT_I32, 0, &mine, 1, lists, err);
    if (zm_any(ctx, rc)) {
        free(cent), free(lists);
        return rc ? rc : zm_err_set(err, ZM_EIO, "reading the index failed on another rank");
    }
    zm_ivf ix;
    zm_ivf_from_lists(&ix, cent, nlist, d, x, nloc, (long long)r0, lists);
    zm_ivf_search(ctx, &ix, qv, nq, k, nprobe, ids, dist);
    zm_ivf_free(&ix);
    free(cent), free(lists);
    return 0;
}

static int run_similar(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    long long qid[MAXQ];
    double qra[MAXQ], qdec[MAXQ];
    int nq = 0, rc = 0;
    const char *qfile = NULL;
    for (int i = 0; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--id") && i + 1 < a->argc && nq < MAXQ) qid[nq] = atoll(a->argv[++i]), qra[nq] = qdec[nq] = NAN, nq++;
        else if (!strcmp(a->argv[i], "--ra") && i + 3 < a->argc && !strcmp(a->argv[i + 2], "--dec") && nq < MAXQ) {
            qid[nq] = -1;
            qra[nq] = atof(a->argv[i + 1]);
            qdec[nq] = atof(a->argv[i + 3]);
            nq++;
            i += 3;
        } else if (!strcmp(a->argv[i], "--queries") && i + 1 < a->argc) qfile = a->argv[++i];
        else {
            zm_err_set(err, ZM_EUSAGE, "similar: unknown or incomplete flag '%s'", a->argv[i]);
            return ZM_EXIT_USAGE;
        }
    }
    /* no flags: [similar] queries (row ids, or one CSV file) */
    char qbuf[4096];
    if (nq == 0 && !qfile) {
        char *items[MAXQ > 256 ? 256 : MAXQ];
        int ni = zm_param_list(p, "similar.queries", items, 256, qbuf, sizeof qbuf);
        for (int i = 0; i < ni; i++) {
            char *end = NULL;
            long long v = strtoll(items[i], &end, 10);
            if (end != items[i] && !*end && v >= 0) qid[nq] = v, qra[nq] = qdec[nq] = NAN, nq++;
            else if (ni == 1) qfile = items[i];
            else {
                zm_err_set(err, ZM_ECONFIG, "config key [similar] queries: '%s' is neither a row id nor the only item "
                           "(a CSV file of queries)", items[i]);
                return ZM_EXIT_INPUT;
            }
        }
    }
    if (qfile) {
        zm_table *t = NULL;
        if ((rc = zm_table_open(qfile, &t, err))) return ZM_EXIT_INPUT;
        long n = zm_table_nrows(t);
        int cid = zm_table_col(t, "id"), cra = zm_table_col(t, "ra"), cdec = zm_table_col(t, "dec");
        if (cid < 0 && (cra < 0 || cdec < 0))
            rc = zm_err_set(err, ZM_EMISSING, "query file %s: columns id, or ra and dec, are needed", qfile);
        double *v = zm_malloc((size_t)(n ? n : 1) * sizeof *v), *w = zm_malloc((size_t)(n ? n : 1) * sizeof *w);
        long long *ll = zm_malloc((size_t)(n ? n : 1) * sizeof *ll);
        if (!rc && cid >= 0) rc = zm_table_read_ll(t, cid, ll, NULL, err);
        else if (!rc) {
            rc = zm_table_read_double(t, cra, v, NULL, err);
            if (!rc) rc = zm_table_read_double(t, cdec, w, NULL, err);
        }
        for (long i = 0; !rc && i < n && nq < MAXQ; i++, nq++) {
            qid[nq] = cid >= 0 ? ll[i] : -1;
            qra[nq] = cid >= 0 ? NAN : v[i];
            qdec[nq] = cid >= 0 ? NAN : w[i];
        }
        free(v), free(w), free(ll);
        zm_table_close(t);
        if (rc) return ZM_EXIT_INPUT;
    }
    if (nq == 0) {
        zm_err_set(err, ZM_EUSAGE, "similar: give --id N, --ra RA --dec DEC, --queries FILE.csv, or [similar] queries");
        return ZM_EXIT_USAGE;
    }
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 0, "embed", &s, err)) return ZM_EXIT_INPUT;
    char path[128];
    unsigned long long N = 0;
    int d = 0;
    if (zm_search_space(p, s, path, &N, &d, err)) {
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    const int k = (int)zm_param_int(p, "similar.k"), cosine = !strcmp(zm_param_str(p, "similar.metric"), "cosine");
    const double radius = zm_param_real(p, "similar.radius_arcsec");
    /* every rank reads the positions to resolve sky queries (they are small) */
    double *ra = zm_malloc((size_t)N * sizeof *ra), *dec = zm_malloc((size_t)N * sizeof *dec);
    zm_range all = {0, N};
    rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &all, 1, ra, err);
    if (!rc) rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &all, 1, dec, err);
    zm_skyindex *sky = rc ? NULL : zm_skyindex_build(ra, dec, (long)N, radius);
    for (int i = 0; !rc && i < nq; i++) {
        if (qid[i] >= 0) {
            if ((unsigned long long)qid[i] >= N)
                rc = zm_err_set(err, ZM_EVALUE, "similar: id %lld is not a galaxy of the store (ids are 0 to %llu)", qid[i], N - 1);
            continue;
        }
        double dd;
        long j = zm_skyindex_nearest(sky, qra[i], qdec[i], radius, &dd);
        if (j < 0) {
            long jn = zm_skyindex_nearest(sky, qra[i], qdec[i], 648000.0, &dd);
            rc = zm_err_set(err, ZM_EVALUE, "similar: no galaxy within %g arcsec of (%.6f, %.6f); the nearest is id %ld at "
                            "%.1f arcsec", radius, qra[i], qdec[i], jn, dd);
        } else {
            qid[i] = j;
        }
    }
    if (rc) {
        zm_skyindex_free(sky);
        free(ra), free(dec);
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    if ((unsigned long long)k > N) zm_warn0("similar: k = %d is more than the %llu galaxies; the lists are padded with id -1", k, N);
    /* query vectors, then each rank's slice */
    float *qv = zm_malloc((size_t)nq * d * sizeof *qv);
    for (int i = 0; i < nq && !rc; i++) {
        zm_range one = {(unsigned long long)qid[i], 1};
        rc = zm_store_read(s, path, ZM_DT_F32, 0, &one, 1, qv + (size_t)i * d, err);
    }
    const unsigned long long r0 = N * (unsigned long long)ctx->rank / (unsigned long long)ctx->size;
    const unsigned long long r1 = N * (unsigned long long)(ctx->rank + 1) / (unsigned long long)ctx->size;
    long nloc = (long)(r1 - r0);
    float *x = zm_malloc((size_t)(nloc ? nloc : 1) * d * sizeof *x);
    zm_range mine = {r0, (unsigned long long)nloc};
    if (!rc) rc = zm_store_read(s, path, ZM_DT_F32, 0, &mine, 1, x, err);
    unsigned long long fp = zm_vectors_fingerprint(ctx, x, nloc, d, r0);
    /* rows without a representation (rejected stamps) cannot be neighbours: push them far */
    for (long i = 0; i < nloc; i++)
        for (int j = 0; j < d; j++)
            if (!isfinite(x[(size_t)i * d + j])) x[(size_t)i * d + j] = 1e18f;
    if (cosine) {
        zm_normalise_rows(x, nloc, d);
        zm_normalise_rows(qv, nq, d);
    }
    long long *ids = zm_malloc((size_t)nq * (k + 1) * sizeof *ids);
    float *dist = zm_malloc((size_t)nq * (k + 1) * sizeof *dist);
    const int use_ivf = !strcmp(zm_param_str(p, "similar.method"), "ivf");
    if (!rc && use_ivf)
        rc = search_ivf(ctx, s, path, fp, x, nloc, d, r0, qv, nq, k + 1, (int)zm_param_int(p, "similar.nprobe"), ids, dist, err);
    if (rc) {
        /* every rank has the same error */
    } else if (!use_ivf) {
        /* k + 1: the query itself comes back first */
        zm_knn_exact(x, nloc, d, (long long)r0, qv, nq, k + 1, ids, dist);
        zm_knn_merge(ctx, nq, k + 1, ids, dist);
    }
    if (!rc && ctx->rank == 0) {
        const char *out = zm_param_str(p, "similar.output");
        FILE *f = fopen(out, "w");
        if (!f) rc = zm_err_set(err, ZM_EIO, "similar: cannot write %s", out);
        else {
            fprintf(f, "query_id,rank,id,ra,dec,distance\n");
            for (int i = 0; i < nq; i++) {
                int r = 0;
                for (int j = 0; j < k + 1 && r < k; j++) {
                    long long id = ids[(size_t)i * (k + 1) + j];
                    if (id == qid[i]) continue;
                    double dd = sqrt(fmax(dist[(size_t)i * (k + 1) + j], 0));
                    if (id >= 0) fprintf(f, "%lld,%d,%lld,%.7f,%.7f,%.6g\n", qid[i], ++r, id, ra[id], dec[id], dd);
                    else fprintf(f, "%lld,%d,-1,,,\n", qid[i], ++r);
                }
            }
            fclose(f);
            zm_info("similar: %d queries, %d neighbours each, in %s", nq, k, out);
        }
        /* a gallery per query */
        const char *gdir = zm_param_str(p, "similar.gallery_dir");
        unsigned long long cd[4] = {0};
        if (!rc && gdir && gdir[0] && zm_store_shape(s, "/cutouts/images", cd, err) == 4) {
            zm_dtype t = ZM_DT_U8;
            zm_store_type(s, "/cutouts/images", &t, err);
            size_t per = (size_t)cd[1] * cd[2] * cd[3];
            uint8_t *sheet = zm_malloc((size_t)(k + 1) * per);
            float *buf = zm_malloc(per * sizeof *buf);
            long long gid[1024];
            for (int i = 0; i < nq && !rc; i++) {
                int m = 0;
                gid[m++] = qid[i];
                for (int j = 0; j < k + 1 && m <= k && m < 1024; j++) {
                    long long id = ids[(size_t)i * (k + 1) + j];
                    if (id >= 0 && id != qid[i]) gid[m++] = id;
                }
                for (int j = 0; j < m && !rc; j++) {
                    zm_range one = {(unsigned long long)gid[j], 1};
                    rc = zm_store_read(s, "/cutouts/images", ZM_DT_F32, 0, &one, 1, buf, err);
                    for (size_t q = 0; q < per; q++) {
                        float v = t == ZM_DT_F16 ? buf[q] * 255.0f + 0.5f : buf[q];
                        sheet[(size_t)j * per + q] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                    }
                }
                char png[4200];
                snprintf(png, sizeof png, "%s/similar-%lld.png", gdir, qid[i]);
                if (!rc) rc = zm_gallery_write(png, sheet, m, (int)cd[1], (int)cd[2], gid, m <= 11 ? m : 0, err);
            }
            free(sheet), free(buf);
            if (!rc) zm_info("similar: galleries (query first) in %s/similar-<id>.png", gdir);
        }
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    zm_skyindex_free(sky);
    free(ra), free(dec), free(qv), free(x), free(ids), free(dist);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_similar = {
    "similar", "the galaxies most like a query galaxy (by id, position or a file of queries)",
    "  --id N               a query by row id (repeatable)\n"
    "  --ra RA --dec DEC    a query by position: the nearest galaxy within [similar] radius_arcsec\n"
    "  --queries FILE.csv   many queries: columns id, or ra and dec",
    run_similar};
