/*
 * stage_similar_eval.c: `zoomorph similar --evaluate-tags tags.csv [--truth truth.fits]`,
 * the paper's evaluation of look-alike search as a command.
 *
 * The tags (ra, dec, tag: as Galaxy Zoo Talk exports them and the simulator writes them)
 * are matched to galaxies within [similar] radius_arcsec. For every tag carried by at
 * least [similar] eval_min_tagged galaxies: the galaxy tagged most often (ties: the lowest
 * id) queries the survey, and its k neighbours' share carrying the tag is precision@k;
 * as a second figure every tagged galaxy queries in turn and the precisions are
 * averaged. Each is set against the tag's base rate (tagged galaxies / galaxies). With
 * --truth (the simulator's truth.fits) the same neighbours are scored against the true
 * features (volunteers tag only some of the galaxies that show one). With [similar]
 * eval_baseline the same queries are run in a no-learning space: PCA of the raw stamp
 * pixels (/cutouts/images averaged in blocks to at most [similar] baseline_pixels a
 * side, as many components as the searched space has columns, at most 64).
 *
 * Queries and neighbours are the galaxies with a representation, of [similar] eval_split
 * when it is not "all". Writes <eval_output>.csv and .md, and a gallery per tag
 * (tag-<tag>.png in [similar] gallery_dir: the top query, then its neighbours).
 * Collective throughout; rank 0 writes the files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "similar.h"
#include "zoomorph/crossmatch.h"
#include "zoomorph/knn.h"
#include "zoomorph/log.h"
#include "zoomorph/pca.h"
#include "zoomorph/simlabels.h"
#include "zoomorph/table.h"

#define TAGLEN 64

typedef struct {
    char name[TAGLEN];
    long long *gal;   /* distinct eligible galaxies carrying the tag, ascending */
    int *times;       /* how often each was tagged */
    long n;
    long long top;    /* the galaxy tagged most often */
    unsigned char *truth; /* N, or NULL when the truth has no such feature */
    long ntruth;      /* eligible galaxies with the true feature */
    /* results: [space][0 tags, 1 truth] */
    double p_top[2][2], p_mean[2][2];
} tag_stats;

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int has(const tag_stats *t, long long id)
{
    return bsearch(&id, t->gal, (size_t)t->n, sizeof *t->gal, cmp_ll) != NULL;
}

/* Rows ids of the space (each rank holds a slice) to every rank: out is n x d. */
static void gather_rows(const zm_ctx *ctx, const zm_space *sp, const long long *ids, int n, float *out)
{
    memset(out, 0, (size_t)n * sp->d * sizeof *out);
    for (int i = 0; i < n; i++) {
        long long r = ids[i] - (long long)sp->r0;
        if (r >= 0 && r < sp->nloc) memcpy(out + (size_t)i * sp->d, sp->x + (size_t)r * sp->d, (size_t)sp->d * sizeof *out);
    }
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, out, n * sp->d, MPI_FLOAT, MPI_SUM, ctx->comm));
}

/* The no-learning space: PCA (kb components) of block-averaged stamp pixels, over the
 * same row slices as sp. Collective. */
static int baseline_space(const zm_ctx *ctx, const zm_params *p, zm_store *s, const zm_space *sp,
                          const unsigned char *eligible, int kb, zm_space *bs, zm_err *err)
{
    memset(bs, 0, sizeof *bs);
    unsigned long long cd[4] = {0};
    if (zm_store_shape(s, "/cutouts/images", cd, err) != 4)
        return zm_err_set(err, ZM_ESTATE, "store %s has no /cutouts/images for the raw-pixel baseline (set [similar] "
                          "eval_baseline = false to go without)", zm_store_path(s));
    const int C = (int)cd[1], S = (int)cd[2], maxpix = (int)zm_param_int(p, "similar.baseline_pixels");
    const int f = (S + maxpix - 1) / maxpix, B = S / f, db = C * B * B;
    if (kb > db) kb = db;
    snprintf(bs->path, sizeof bs->path, "raw-pixel PCA-%d (%d x %d x %d blocks of %d pixels)", kb, C, B, B, f * f);
    bs->N = sp->N, bs->r0 = sp->r0, bs->nloc = sp->nloc, bs->d = kb, bs->cosine = sp->cosine;
    const size_t per = (size_t)C * S * S;
    const long chunk = 512;
    float *buf = zm_malloc((size_t)chunk * per * sizeof *buf);
    float *px = zm_malloc((size_t)(sp->nloc ? sp->nloc : 1) * db * sizeof *px);
    long nv = 0;
    int rc = 0;
    for (long c0 = 0; c0 < sp->nloc && !rc; c0 += chunk) {
        long m = sp->nloc - c0 < chunk ? sp->nloc - c0 : chunk;
        zm_range rg = {sp->r0 + (unsigned long long)c0, (unsigned long long)m};
        rc = zm_store_read(s, "/cutouts/images", ZM_DT_F32, 0, &rg, 1, buf, err);
        for (long i = 0; !rc && i < m; i++) {
            if (!eligible[sp->r0 + (unsigned long long)(c0 + i)]) continue; /* rejected stamps, other splits */
            float *o = px + (size_t)nv++ * db;
            const float *im = buf + (size_t)i * per;
            for (int ch = 0; ch < C; ch++)
                for (int by = 0; by < B; by++)
                    for (int bx = 0; bx < B; bx++) {
                        double acc = 0;
                        for (int y = by * f; y < (by + 1) * f; y++)
                            for (int x = bx * f; x < (bx + 1) * f; x++) acc += im[((size_t)ch * S + y) * S + x];
                        o[((size_t)ch * B + by) * B + bx] = (float)(acc / (f * f));
                    }
        }
    }
    free(buf);
    zm_pca pc;
    memset(&pc, 0, sizeof pc);
    if (zm_any(ctx, rc)) {
        free(px);
        return rc ? rc : zm_err_set(err, ZM_EIO, "similar: reading the stamps failed on another rank");
    }
    rc = zm_pca_fit(ctx, px, nv, db, kb, &pc, err);
    if (rc) {
        free(px);
        return rc;
    }
    bs->x = zm_malloc((size_t)(sp->nloc ? sp->nloc : 1) * kb * sizeof *bs->x);
    float *proj = zm_malloc((size_t)(nv ? nv : 1) * kb * sizeof *proj);
    zm_pca_transform(&pc, px, nv, proj);
    double share = 0;
    for (int j = 0; j < kb; j++) share += pc.explained_ratio[j];
    zm_info0("similar: baseline %s: %.1f%% of the pixel variance", bs->path, 100.0 * share);
    for (long i = 0, v = 0; i < sp->nloc; i++) {
        if (eligible[sp->r0 + (unsigned long long)i]) memcpy(bs->x + (size_t)i * kb, proj + (size_t)v++ * kb, (size_t)kb * sizeof *proj);
        else zm_space_push_far(bs, i);
    }
    if (bs->cosine)
        for (long i = 0; i < sp->nloc; i++)
            if (eligible[sp->r0 + (unsigned long long)i]) zm_normalise_rows(bs->x + (size_t)i * kb, 1, kb);
    free(px), free(proj);
    zm_pca_free(&pc);
    return 0;
}

/* Precision@k of each query's neighbours (the query excluded) against membership. */
static double precision(const long long *ids, int kk, int k, long long self, const tag_stats *t, int truth)
{
    int hit = 0, m = 0;
    for (int j = 0; j < kk && m < k; j++) {
        long long id = ids[j];
        if (id == self) continue;
        m++;
        if (id >= 0 && (truth ? t->truth[id] : has(t, id))) hit++;
    }
    return (double)hit / k;
}

/* Runs every query of the scored tags in one space; fills p_top/p_mean[sidx]; the top
 * query's neighbours of each tag into topnb (ntags x k) when given. Collective. */
static int score_space(const zm_ctx *ctx, const zm_params *p, zm_store *s, const zm_space *sp, int use_ivf,
                       tag_stats *tags, int ntags, int k, int sidx, long long *topnb, zm_err *err)
{
    long nq = 0;
    for (int t = 0; t < ntags; t++) nq += 1 + tags[t].n;
    long long *qid = zm_malloc((size_t)nq * sizeof *qid);
    long w = 0;
    for (int t = 0; t < ntags; t++) {
        qid[w++] = tags[t].top;
        for (long i = 0; i < tags[t].n; i++) qid[w++] = tags[t].gal[i];
    }
    const int kk = k + 1, block = 1024;
    float *qv = zm_malloc((size_t)block * sp->d * sizeof *qv);
    long long *ids = zm_malloc((size_t)nq * kk * sizeof *ids);
    float *dist = zm_malloc((size_t)block * kk * sizeof *dist);
    int rc = 0;
    for (long q0 = 0; q0 < nq && !rc; q0 += block) {
        int m = (int)(nq - q0 < block ? nq - q0 : block);
        gather_rows(ctx, sp, qid + q0, m, qv);
        /* gathered rows are already unit rows for cosine; normalising again is harmless */
        rc = zm_space_search(ctx, p, s, sp, use_ivf, qv, m, kk, ids + (size_t)q0 * kk, dist, err);
    }
    for (int t = 0, r = 0; t < ntags && !rc; t++) {
        tag_stats *T = &tags[t];
        const long long *top = ids + (size_t)r * kk;
        for (int h = 0; h < 2; h++) T->p_top[sidx][h] = h && !T->truth ? NAN : precision(top, kk, k, T->top, T, h);
        if (topnb)
            for (int j = 0, m = 0; j < kk && m < k; j++)
                if (top[j] != T->top) topnb[(size_t)t * k + m++] = top[j];
        r++;
        double sum[2] = {0, 0};
        for (long i = 0; i < T->n; i++, r++)
            for (int h = 0; h < 2; h++)
                if (!h || T->truth) sum[h] += precision(ids + (size_t)r * kk, kk, k, T->gal[i], T, h);
        T->p_mean[sidx][0] = sum[0] / T->n;
        T->p_mean[sidx][1] = T->truth ? sum[1] / T->n : NAN;
    }
    free(qid), free(qv), free(ids), free(dist);
    return rc;
}

/* Reads the tags and matches them to eligible galaxies; the scored tags in *out. */
static int read_tags(const char *path, const double *ra, const double *dec, unsigned long long N,
                     const unsigned char *eligible, double radius, int min_tagged, tag_stats **out, int *nout,
                     zm_err *err)
{
    zm_table *t = NULL;
    int rc = zm_table_open(path, &t, err);
    if (rc) return rc;
    long n = zm_table_nrows(t);
    int cra = zm_table_col(t, "ra"), cdec = zm_table_col(t, "dec"), ctag = zm_table_col(t, "tag");
    if (cra < 0 || cdec < 0 || ctag < 0) {
        zm_table_close(t);
        return zm_err_set(err, ZM_EMISSING, "tags file %s: columns ra, dec and tag are needed", path);
    }
    size_t m = (size_t)(n ? n : 1);
    double *tra = zm_malloc(m * sizeof *tra), *tde = zm_malloc(m * sizeof *tde);
    unsigned char *bad = zm_calloc(m, 1), *bad2 = zm_calloc(m, 1);
    char *tg = zm_calloc(m, TAGLEN);
    rc = zm_table_read_double(t, cra, tra, bad, err);
    if (!rc) rc = zm_table_read_double(t, cdec, tde, bad2, err);
    if (!rc) rc = zm_table_read_str(t, ctag, tg, TAGLEN, err);
    /* (tag, galaxy) pairs of matched rows */
    zm_skyindex *sky = zm_skyindex_build(ra, dec, (long)N, radius);
    char (*names)[TAGLEN] = zm_calloc(m, TAGLEN);
    int nnames = 0;
    long long *pair = zm_malloc(m * sizeof *pair); /* tag * N + galaxy */
    long np = 0, nbad = 0, nfar = 0, nother = 0;
    for (long i = 0; !rc && i < n; i++) {
        const char *name = tg + (size_t)i * TAGLEN;
        while (*name == '#') name++; /* Talk writes #ring */
        double dd;
        long j = bad[i] || bad2[i] || !name[0] ? -2 : zm_skyindex_nearest(sky, tra[i], tde[i], radius, &dd);
        if (j == -2) {
            if (nbad++ < 5) zm_warn0("similar: tags file %s line %ld: no ra, dec or tag; skipped", path, zm_table_line(t, i));
            continue;
        }
        if (j < 0) {
            nfar++;
            continue;
        }
        if (!eligible[j]) {
            nother++;
            continue;
        }
        int ti = -1;
        for (int q = 0; q < nnames && ti < 0; q++)
            if (!strcmp(names[q], name)) ti = q;
        if (ti < 0) snprintf(names[ti = nnames++], TAGLEN, "%s", name);
        pair[np++] = (long long)ti * (long long)N + j;
    }
    zm_skyindex_free(sky);
    if (!rc) {
        qsort(pair, (size_t)np, sizeof *pair, cmp_ll);
        zm_info0("similar: %s: %ld tag rows, %ld matched to galaxies searched (%ld with no galaxy within %g arcsec, "
                 "%ld on galaxies outside the search, %ld unreadable), %d distinct tags",
                 path, n, np, nfar, radius, nother, nbad, nnames);
        /* tags in name order */
        int *order = zm_malloc((size_t)(nnames ? nnames : 1) * sizeof *order);
        for (int q = 0; q < nnames; q++) order[q] = q;
        for (int a = 1; a < nnames; a++)
            for (int b = a; b > 0 && strcmp(names[order[b - 1]], names[order[b]]) > 0; b--) {
                int tmp = order[b];
                order[b] = order[b - 1], order[b - 1] = tmp;
            }
        tag_stats *ts = zm_calloc((size_t)(nnames ? nnames : 1), sizeof *ts);
        int nt = 0;
        char skipped[2048] = "";
        for (int oq = 0; oq < nnames; oq++) {
            int q = order[oq];
            long lo = 0;
            while (lo < np && pair[lo] / (long long)N < q) lo++;
            long hi = lo;
            while (hi < np && pair[hi] / (long long)N == q) hi++;
            tag_stats T;
            memset(&T, 0, sizeof T);
            snprintf(T.name, TAGLEN, "%s", names[q]);
            T.gal = zm_malloc((size_t)(hi - lo + 1) * sizeof *T.gal);
            T.times = zm_malloc((size_t)(hi - lo + 1) * sizeof *T.times);
            int best = 0;
            for (long i = lo; i < hi; i++) {
                long long g = pair[i] % (long long)N;
                if (T.n && T.gal[T.n - 1] == g) T.times[T.n - 1]++;
                else T.gal[T.n] = g, T.times[T.n++] = 1;
                if (T.times[T.n - 1] > best) best = T.times[T.n - 1], T.top = g;
            }
            if (T.n >= min_tagged) ts[nt++] = T;
            else {
                char one[96];
                snprintf(one, sizeof one, "%s%s (%ld)", skipped[0] ? ", " : "", T.name, T.n);
                strncat(skipped, one, sizeof skipped - strlen(skipped) - 1);
                free(T.gal), free(T.times);
            }
        }
        if (skipped[0]) zm_info0("similar: tags on fewer than %d galaxies, not scored: %s", min_tagged, skipped);
        free(order);
        *out = ts, *nout = nt;
    }
    free(tra), free(tde), free(bad), free(bad2), free(tg), free(names), free(pair);
    zm_table_close(t);
    return rc;
}

/* The simulator's truth per galaxy for each scored tag. */
static int read_truth(const char *path, const double *ra, const double *dec, unsigned long long N,
                      const unsigned char *eligible, tag_stats *tags, int ntags, zm_err *err)
{
    zm_table *t = NULL;
    int rc = zm_table_open(path, &t, err);
    if (rc) return rc;
    long n = zm_table_nrows(t);
    int cra = zm_table_col(t, "ra"), cdec = zm_table_col(t, "dec");
    if (cra < 0 || cdec < 0) {
        zm_table_close(t);
        return zm_err_set(err, ZM_EMISSING, "truth file %s: columns ra and dec are needed", path);
    }
    size_t m = (size_t)(n ? n : 1);
    double *tra = zm_malloc(m * sizeof *tra), *tde = zm_malloc(m * sizeof *tde);
    long *row = zm_malloc((size_t)(N ? N : 1) * sizeof *row); /* galaxy -> truth row */
    for (unsigned long long i = 0; i < N; i++) row[i] = -1;
    rc = zm_table_read_double(t, cra, tra, NULL, err);
    if (!rc) rc = zm_table_read_double(t, cdec, tde, NULL, err);
    long matched = 0;
    if (!rc) {
        zm_skyindex *sky = zm_skyindex_build(tra, tde, n, 1.0);
        for (unsigned long long g = 0; g < N; g++) {
            double dd;
            row[g] = zm_skyindex_nearest(sky, ra[g], dec[g], 1.0, &dd);
            matched += row[g] >= 0;
        }
        zm_skyindex_free(sky);
        zm_info0("similar: %s: %llu of %llu galaxies matched to the truth within 1 arcsec", path,
                 (unsigned long long)matched, N);
    }
    unsigned char *present = zm_malloc(m);
    for (int q = 0; q < ntags && !rc; q++) {
        int r = zm_sim_tag_truth(t, tags[q].name, present, err);
        if (r == 1) {
            zm_info0("similar: tag '%s' has no truth in the simulator; scored against the tags only", tags[q].name);
            continue;
        }
        if (r == ZM_EMISSING) { /* a truth table without this tag's columns: drop it, keep the rest */
            zm_warn0("similar: tag '%s' is not scored against the truth: %s", tags[q].name, err->msg);
            memset(err, 0, sizeof *err);
            continue;
        }
        if (r) {
            rc = r;
            break;
        }
        tags[q].truth = zm_calloc((size_t)(N ? N : 1), 1);
        for (unsigned long long g = 0; g < N; g++) {
            tags[q].truth[g] = row[g] >= 0 && present[row[g]];
            tags[q].ntruth += tags[q].truth[g] && eligible[g];
        }
    }
    free(tra), free(tde), free(row), free(present);
    zm_table_close(t);
    return rc;
}

/* "0.123 (4.5x)": a precision and its ratio to the base rate ("-" when undefined). */
static void pr(char *b, size_t n, double v, double base, const char *f)
{
    char one[32];
    if (!isfinite(v)) {
        snprintf(b, n, "-");
        return;
    }
    snprintf(one, sizeof one, f, v);
    if (base > 0) snprintf(b, n, "%s (%.1fx)", one, v / base);
    else snprintf(b, n, "%s", one);
}

static int write_tables(const char *prefix, const tag_stats *tags, int ntags, long neligible, int k, int truth,
                        int baseline, const char *space, const char *bspace, const char *split, zm_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.csv", prefix);
    FILE *f = fopen(path, "w");
    if (!f) return zm_err_set(err, ZM_EIO, "similar: cannot write %s", path);
    fprintf(f, "tag,tagged,base_rate,query_id,query_times_tagged,p_top,ratio_top,p_mean,ratio_mean,"
               "truth_base_rate,truth_p_top,truth_ratio_top,truth_p_mean,truth_ratio_mean,"
               "baseline_p_top,baseline_p_mean,baseline_truth_p_top,baseline_truth_p_mean\n");
    for (int t = 0; t < ntags; t++) {
        const tag_stats *T = &tags[t];
        double base = (double)T->n / neligible, tb = T->truth ? (double)T->ntruth / neligible : NAN;
        int times = 0;
        for (long i = 0; i < T->n; i++)
            if (T->gal[i] == T->top) times = T->times[i];
        fprintf(f, "%s,%ld,%.6g,%lld,%d,%.4f,%.4g,%.4f,%.4g,%.6g,%.4f,%.4g,%.4f,%.4g,%.4f,%.4f,%.4f,%.4f\n", T->name, T->n,
                base, T->top, times, T->p_top[0][0], T->p_top[0][0] / base, T->p_mean[0][0], T->p_mean[0][0] / base, tb,
                T->p_top[0][1], T->p_top[0][1] / tb, T->p_mean[0][1], T->p_mean[0][1] / tb,
                baseline ? T->p_top[1][0] : NAN, baseline ? T->p_mean[1][0] : NAN, baseline ? T->p_top[1][1] : NAN,
                baseline ? T->p_mean[1][1] : NAN);
    }
    if (fclose(f)) return zm_err_set(err, ZM_EIO, "similar: cannot write %s", path);
    snprintf(path, sizeof path, "%s.md", prefix);
    f = fopen(path, "w");
    if (!f) return zm_err_set(err, ZM_EIO, "similar: cannot write %s", path);
    fprintf(f, "Precision@%d of look-alikes (%s; %ld galaxies searched, split %s). *top*: the galaxy tagged most "
               "often queries; *mean*: every tagged galaxy queries in turn. In brackets: precision / base rate.%s%s%s%s\n\n",
            k, space, neligible, split, truth ? " *true*: neighbours scored against the simulator's true features." : "",
            baseline ? " *pixels*: the same queries in a no-learning space, " : "", baseline ? bspace : "",
            baseline ? "." : "");
    fprintf(f, "| tag | tagged | base rate | P@%d top | P@%d mean |", k, k);
    if (truth) fprintf(f, " true base | true P@%d top | true P@%d mean |", k, k);
    if (baseline) fprintf(f, " pixels P@%d mean |", k);
    if (baseline && truth) fprintf(f, " pixels true P@%d mean |", k);
    fprintf(f, "\n|---|---:|---:|---:|---:|");
    if (truth) fprintf(f, "---:|---:|---:|");
    if (baseline) fprintf(f, "---:|%s", truth ? "---:|" : "");
    fprintf(f, "\n");
    double sr[4] = {0}, cnt[4] = {0};
    for (int t = 0; t < ntags; t++) {
        const tag_stats *T = &tags[t];
        double base = (double)T->n / neligible, tb = T->truth ? (double)T->ntruth / neligible : NAN;
        char c[8][64];
        pr(c[1], 64, T->p_top[0][0], base, "%.2f");
        pr(c[2], 64, T->p_mean[0][0], base, "%.3f");
        fprintf(f, "| %s | %ld | %.4f | %s | %s |", T->name, T->n, base, c[1], c[2]);
        sr[0] += T->p_mean[0][0] / base, cnt[0]++;
        if (truth) {
            pr(c[3], 64, tb, 0, "%.4f");
            pr(c[4], 64, T->truth ? T->p_top[0][1] : NAN, tb, "%.2f");
            pr(c[5], 64, T->truth ? T->p_mean[0][1] : NAN, tb, "%.3f");
            if (tb > 0) sr[1] += T->p_mean[0][1] / tb, cnt[1]++;
            fprintf(f, " %s | %s | %s |", c[3], c[4], c[5]);
        }
        if (baseline) {
            pr(c[6], 64, T->p_mean[1][0], base, "%.3f");
            sr[2] += T->p_mean[1][0] / base, cnt[2]++;
            fprintf(f, " %s |", c[6]);
            if (truth) {
                pr(c[7], 64, T->truth ? T->p_mean[1][1] : NAN, tb, "%.3f");
                if (tb > 0) sr[3] += T->p_mean[1][1] / tb, cnt[3]++;
                fprintf(f, " %s |", c[7]);
            }
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nMean over the %d tags of P@%d mean / base rate: %.2f (tags)", ntags, k, cnt[0] ? sr[0] / cnt[0] : NAN);
    if (truth) fprintf(f, ", %.2f (true features, %d tags with a true base rate above 0)", cnt[1] ? sr[1] / cnt[1] : NAN,
                       (int)cnt[1]);
    if (baseline) {
        fprintf(f, "; raw-pixel baseline %.2f (tags)", cnt[2] ? sr[2] / cnt[2] : NAN);
        if (truth) fprintf(f, ", %.2f (true features)", cnt[3] ? sr[3] / cnt[3] : NAN);
    }
    fprintf(f, ".\n");
    if (fclose(f)) return zm_err_set(err, ZM_EIO, "similar: cannot write %s", path);
    zm_info("similar: evaluation table in %s.csv and %s.md", prefix, prefix);
    return 0;
}

int zm_similar_evaluate(const zm_stage_args *a, const char *tags_csv, const char *truth_fits, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 0, "embed", &s, err)) return ZM_EXIT_INPUT;
    zm_space sp, bs;
    memset(&bs, 0, sizeof bs);
    int rc = zm_space_load(ctx, p, s, &sp, err);
    const unsigned long long N = sp.N;
    const int k = (int)zm_param_int(p, "similar.k");
    const char *split = zm_param_str(p, "similar.eval_split");
    const int use_ivf = !strcmp(zm_param_str(p, "similar.method"), "ivf"), baseline = zm_param_bool(p, "similar.eval_baseline");
    /* eligible: a representation, and the split asked for */
    unsigned char *eligible = zm_calloc((size_t)(N ? N : 1), 1);
    for (long i = 0; !rc && i < sp.nloc; i++) eligible[sp.r0 + (unsigned long long)i] = sp.x[(size_t)i * sp.d] != 1e18f;
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, eligible, (int)N, MPI_UNSIGNED_CHAR, MPI_MAX, ctx->comm));
    if (!rc && strcmp(split, "all")) {
        int want = !strcmp(split, "train") ? 0 : !strcmp(split, "validation") ? 1 : 2;
        unsigned char *sv = zm_malloc((size_t)(N ? N : 1));
        zm_range all = {0, N};
        if (!zm_store_exists(s, "/labels/split"))
            rc = zm_err_set(err, ZM_ESTATE, "store %s has no /labels/split for [similar] eval_split = %s; run 'zoomorph "
                            "votes' with a vote table that has a split column", zm_store_path(s), split);
        else rc = zm_store_read(s, "/labels/split", ZM_DT_U8, 0, &all, 1, sv, err);
        for (unsigned long long i = 0; !rc && i < N; i++) eligible[i] &= sv[i] == want;
        free(sv);
    }
    long neligible = 0;
    for (unsigned long long i = 0; i < N; i++) neligible += eligible[i];
    for (long i = 0; !rc && i < sp.nloc; i++)
        if (!eligible[sp.r0 + (unsigned long long)i]) zm_space_push_far(&sp, i);
    double *ra = zm_malloc((size_t)(N ? N : 1) * sizeof *ra), *dec = zm_malloc((size_t)(N ? N : 1) * sizeof *dec);
    zm_range all = {0, N};
    if (!rc) rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &all, 1, ra, err);
    if (!rc) rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &all, 1, dec, err);
    tag_stats *tags = NULL;
    int ntags = 0;
    if (!rc) rc = read_tags(tags_csv, ra, dec, N, eligible, zm_param_real(p, "similar.radius_arcsec"),
                            (int)zm_param_int(p, "similar.eval_min_tagged"), &tags, &ntags, err);
    if (!rc && ntags == 0)
        rc = zm_err_set(err, ZM_EVALUE, "tags file %s: no tag is carried by [similar] eval_min_tagged = %lld galaxies "
                        "searched", tags_csv, (long long)zm_param_int(p, "similar.eval_min_tagged"));
    if (!rc && truth_fits) rc = read_truth(truth_fits, ra, dec, N, eligible, tags, ntags, err);
    long long *topnb = zm_malloc((size_t)(ntags ? ntags : 1) * k * sizeof *topnb);
    for (size_t i = 0; i < (size_t)(ntags ? ntags : 1) * k; i++) topnb[i] = -1;
    rc = zm_any(ctx, rc) ? (rc ? rc : zm_err_set(err, ZM_EIO, "similar: the evaluation failed on another rank")) : 0;
    if (!rc) rc = score_space(ctx, p, s, &sp, use_ivf, tags, ntags, k, 0, topnb, err);
    if (!rc && baseline) {
        int kb = sp.d < 64 ? sp.d : 64;
        rc = baseline_space(ctx, p, s, &sp, eligible, kb, &bs, err);
        if (!rc) rc = score_space(ctx, p, s, &bs, 0, tags, ntags, k, 1, NULL, err);
    }
    if (!rc && ctx->rank == 0) {
        char space[200];
        snprintf(space, sizeof space, "%s, %s, %s search", sp.path, sp.cosine ? "cosine" : "Euclidean",
                 use_ivf ? "IVF" : "exact");
        rc = write_tables(zm_param_str(p, "similar.eval_output"), tags, ntags, neligible, k, truth_fits != NULL,
                          baseline, space, bs.path, split, err);
        const char *gdir = zm_param_str(p, "similar.gallery_dir");
        for (int t = 0; !rc && gdir && gdir[0] && t < ntags; t++) {
            char png[4200];
            snprintf(png, sizeof png, "%s/tag-%s.png", gdir, tags[t].name);
            int m = 0;
            while (m < k && topnb[(size_t)t * k + m] >= 0) m++;
            rc = zm_similar_gallery(s, png, NULL, tags[t].top, topnb + (size_t)t * k, m, err);
        }
        if (!rc && gdir && gdir[0]) zm_info("similar: a gallery per tag (top query first) in %s/tag-<tag>.png", gdir);
        for (int t = 0; !rc && t < ntags; t++)
            zm_info("similar: %-12s %5ld tagged  base %.4f  P@%d top %.2f  mean %.3f (%.1fx)", tags[t].name, tags[t].n,
                    (double)tags[t].n / neligible, k, tags[t].p_top[0][0], tags[t].p_mean[0][0],
                    tags[t].p_mean[0][0] * neligible / tags[t].n);
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    for (int t = 0; t < ntags; t++) free(tags[t].gal), free(tags[t].times), free(tags[t].truth);
    free(tags), free(topnb), free(eligible), free(ra), free(dec);
    zm_space_free(&sp);
    zm_space_free(&bs);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

