/*
 * stage_anomaly.c: `zoomorph anomaly` ranks galaxies by how anomalous, then by how
 * interesting to one researcher, they are:
 *  - always: the isolation forest (src/anomaly/iforest.c) on [anomaly] space (PCA-40 by
 *    default), grown from a pool over all ranks, every rank scoring its rows:
 *    /anomaly/iforest_score;
 *  - labels (src/anomaly/active.c; rank 0 computes, the small problem): the researcher's
 *    0..5 scores kept in /anomaly/label. `--labels FILE` adds a file of them (columns id
 *    and score, or ra, dec and score; all at once or one batch at a time), `--next` writes
 *    the next batch to label ([anomaly] next: a CSV of id, ra, dec and an empty score
 *    column, and a PNG gallery beside it). With labels in the store the GP (and the
 *    neighbour score) are refitted and the ranking of [anomaly] method is written:
 *    /anomaly/{gp_mean,gp_std,neighbour_score,score} and the CSV; without, the isolation
 *    forest's. A gallery of the top [anomaly] gallery_n goes to [anomaly] gallery.
 *  - `--evaluate interest.csv --budget B`: the paper's evaluation replayed with the file
 *    as the oracle, over the galaxies it names: the isolation forest alone, active
 *    learning with the GP, and Astronomaly's neighbour score, over [anomaly] eval_seeds
 *    seeds (mean and spread), the fraction interesting in the top 50/100/200 and the
 *    curve of the top 100 against labels used ([anomaly] eval_plot). Two figures per
 *    method: "with the labels", the final ranking as it stands (labelled galaxies by their
 *    label, the rest by the prediction), where every interesting galaxy the oracle was
 *    asked about counts; and "unlabelled only", the rest in the prediction's order, what
 *    the method found without being told. Every seed's figures, final GP kernel and
 *    labelled galaxies go to [anomaly] eval_output (.csv, -labels.csv), which
 *    tests/reference/anomaly_eval_ref.py recomputes. Writes no labels.
 *    [anomaly] evaluate and budget give the same without the flags.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/active.h"
#include "zoomorph/crossmatch.h"
#include "zoomorph/gallery.h"
#include "zoomorph/iforest.h"
#include "zoomorph/log.h"
#include "zoomorph/plot.h"
#include "zoomorph/table.h"

static const zm_field F_IFOREST = {"/anomaly/iforest_score", ZM_DT_F32, 0, {0}, 0, "",
                                   "isolation-forest anomaly score 2^(-E[h]/c(psi)); higher is more anomalous"};
static const zm_field F_LABEL = {"/anomaly/label", ZM_DT_F32, 0, {0}, 0, "",
                                 "the researcher's interest score 0..5; NaN where not labelled"};
static const zm_field F_MEAN = {"/anomaly/gp_mean", ZM_DT_F32, 0, {0}, 0, "",
                                "Gaussian-process predicted interest score"};
static const zm_field F_SD = {"/anomaly/gp_std", ZM_DT_F32, 0, {0}, 0, "",
                              "Gaussian-process standard deviation of the interest score"};
static const zm_field F_NS = {"/anomaly/neighbour_score", ZM_DT_F32, 0, {0}, 0, "",
                              "Astronomaly's neighbour score: the isolation-forest score (0..5) re-weighted by the predicted interest"};
static const zm_field F_SCORE = {"/anomaly/score", ZM_DT_F32, 0, {0}, 0, "",
                                 "ranking key of [anomaly] method: the label where there is one, else the prediction"};

/* Everything rank 0 holds for the labelled ranking. */
typedef struct {
    long long N;
    int d;
    long nv;             /* rows with coordinates */
    long long *vid;      /* their store rows */
    long *row2v;         /* store row -> valid index or -1 */
    float *x;            /* nv x d coordinates */
    double *z;           /* nv x d standardised */
    double *ra, *dec;    /* N */
    float *ifs;          /* N isolation-forest scores */
} anomaly_data;

static void data_free(anomaly_data *D)
{
    free(D->vid), free(D->row2v), free(D->x), free(D->z), free(D->ra), free(D->dec);
    memset(D, 0, sizeof *D);
}

/* Every rank (the store's metadata reads are collective): coordinates of every row,
 * standardised over the rows that have them. */
static int data_load(zm_store *s, const char *path, long long N, int d, const float *ifs, anomaly_data *D, zm_err *err)
{
    memset(D, 0, sizeof *D);
    D->N = N, D->d = d, D->ifs = (float *)ifs;
    size_t n1 = (size_t)(N ? N : 1);
    float *x = zm_malloc(n1 * d * sizeof *x);
    D->ra = zm_malloc(n1 * sizeof *D->ra), D->dec = zm_malloc(n1 * sizeof *D->dec);
    D->vid = zm_malloc(n1 * sizeof *D->vid), D->row2v = zm_malloc(n1 * sizeof *D->row2v);
    zm_range all = {0, (unsigned long long)N};
    int rc = zm_store_read(s, path, ZM_DT_F32, 0, &all, 1, x, err);
    if (!rc) rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &all, 1, D->ra, err);
    if (!rc) rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &all, 1, D->dec, err);
    if (rc) return free(x), rc;
    for (long long i = 0; i < N; i++) {
        int good = isfinite(ifs[i]);
        for (int j = 0; j < d && good; j++) good = isfinite(x[(size_t)i * d + j]);
        D->row2v[i] = good ? D->nv : -1;
        if (good) {
            if (D->nv != i) memmove(x + (size_t)D->nv * d, x + (size_t)i * d, (size_t)d * sizeof *x);
            D->vid[D->nv++] = i;
        }
    }
    D->z = zm_malloc((size_t)(D->nv ? D->nv : 1) * d * sizeof *D->z);
    zm_standardise(x, D->nv, d, D->z);
    D->x = x;
    return 0;
}

/* ---- a file of labels: id, score or ra, dec, score -------------------------------- */

/* Reads path into lab[N] (NaN where the file says nothing); bad rows are listed (first
 * 10) and skipped. An unreadable or empty file, missing columns, or a file of which no
 * row gives a label is an error. */
static int read_labels(const char *path, const anomaly_data *D, double radius, float *lab, long *nlab, zm_err *err)
{
    zm_table *t = NULL;
    *nlab = 0;
    for (long long i = 0; i < D->N; i++) lab[i] = NAN;
    if (zm_table_open(path, &t, err)) return err->code;
    long nt = zm_table_nrows(t);
    int cid = zm_table_col(t, "id"), cra = zm_table_col(t, "ra"), cde = zm_table_col(t, "dec"), csc = zm_table_col(t, "score");
    int rc = 0;
    if (csc < 0 || (cid < 0 && (cra < 0 || cde < 0)))
        rc = zm_err_set(err, ZM_EMISSING, "labels file %s: no column '%s'; expected columns id, score or ra, dec, score",
                        path, csc < 0 ? "score" : cra < 0 ? "id' (or 'ra" : "id' (or 'dec");
    else if (nt == 0)
        rc = zm_err_set(err, ZM_EVALUE, "labels file %s has a header but no rows: nothing to label", path);
    if (rc) return zm_table_close(t), rc;
    size_t m = (size_t)nt;
    char *sc = zm_malloc(m * 32);
    double *a = zm_malloc(m * sizeof *a), *b = zm_malloc(m * sizeof *b);
    long long *id = zm_malloc(m * sizeof *id);
    unsigned char *bad = zm_calloc(m, 1);
    long *line_of = zm_malloc((size_t)(D->N ? D->N : 1) * sizeof *line_of);
    rc = zm_table_read_str(t, csc, sc, 32, err);
    if (!rc && cid >= 0) rc = zm_table_read_ll(t, cid, id, bad, err);
    if (!rc && cid < 0) rc = zm_table_read_double(t, cra, a, bad, err);
    if (!rc && cid < 0) rc = zm_table_read_double(t, cde, b, bad, err);
    zm_skyindex *ix = !rc && cid < 0 ? zm_skyindex_build(D->ra, D->dec, (long)D->N, radius) : NULL;
    long blank = 0, nbad = 0, noid = 0, nocoord = 0, dup = 0;
    for (long i = 0; !rc && i < nt; i++) {
        long line = zm_table_line(t, i);
        const char *v = sc + (size_t)i * 32;
        if (!v[0]) {
            blank++; /* not labelled yet */
            continue;
        }
        char *end = NULL;
        double x = strtod(v, &end);
        if (*end || !(x >= 0 && x <= ZM_SCORE_MAX)) {
            if (nbad++ < 10) zm_warn("anomaly: labels file %s line %ld: score '%s' is not a number in 0..5; row skipped", path, line, v);
            continue;
        }
        long long r = -1;
        if (cid >= 0) {
            r = bad[i] ? -1 : id[i];
            if (r < 0 || r >= D->N) {
                if (noid++ < 10) {
                    if (bad[i]) zm_warn("anomaly: labels file %s line %ld: id is not a whole number; row skipped", path, line);
                    else zm_warn("anomaly: labels file %s line %ld: id %lld is not in the store (%lld galaxies, ids 0..%lld); row skipped",
                                 path, line, id[i], D->N, D->N - 1);
                }
                continue;
            }
        } else {
            double dd;
            r = bad[i] ? -1 : zm_skyindex_nearest(ix, a[i], b[i], radius, &dd);
            if (r < 0) {
                if (noid++ < 10)
                    zm_warn("anomaly: labels file %s line %ld: no galaxy of the store within %g arcsec of (%.6f, %.6f); row skipped",
                            path, line, radius, a[i], b[i]);
                continue;
            }
        }
        if (D->row2v[r] < 0) {
            if (nocoord++ < 10) zm_warn("anomaly: labels file %s line %ld: galaxy %lld has no coordinates (rejected stamp); row skipped", path, line, r);
            continue;
        }
        if (!isnan(lab[r])) {
            if (dup++ < 10)
                zm_warn("anomaly: labels file %s line %ld: galaxy %lld already labelled on line %ld (%g); the last label (%g) is kept",
                        path, line, r, line_of[r], lab[r], x);
        } else {
            (*nlab)++;
        }
        lab[r] = (float)x, line_of[r] = line;
    }
    if (!rc)
        zm_info("anomaly: labels file %s: %ld galaxies labelled; %ld rows blank, %ld bad scores, %ld not in the store, "
                "%ld without coordinates, %ld repeated (last kept)", path, *nlab, blank, nbad, noid, nocoord, dup);
    if (!rc && *nlab == 0)
        rc = zm_err_set(err, ZM_EVALUE, "labels file %s: none of its %ld rows gives a label (0..5 in column score)", path, nt);
    zm_skyindex_free(ix);
    zm_table_close(t);
    free(sc), free(a), free(b), free(id), free(bad), free(line_of);
    return rc;
}

/* ---- galleries and CSVs ------------------------------------------------------------ */

/* A galley to write: the stamps of rows ids[0..n) into png. */
typedef struct {
    char png[4200];
    long long *ids;
    int n;
} gallery_req;

/* Collective (the store's metadata reads are): a PNG of the stamps of rows ids[0..n),
 * written by rank 0; nothing when the store has no stamps. */
static int write_gallery(const zm_ctx *ctx, zm_store *s, const char *png, const long long *ids, int n, zm_err *err)
{
    if (!png || !png[0] || n <= 0) return 0;
    uint8_t *sheet = NULL;
    int channels = 0, size = 0;
    int rc = zm_gallery_read(s, ids, n, NULL, &sheet, &channels, &size, err);
    if (rc == ZM_EMISSING) {
        if (ctx->rank == 0) zm_warn("anomaly: the store has no stamps; no gallery %s", png);
        rc = 0;
    } else if (!rc && ctx->rank == 0) {
        rc = zm_gallery_write(png, sheet, n, channels, size, ids, n <= 10 ? n : 10, err);
    }
    free(sheet);
    return rc;
}

/* png = csv with .csv replaced by .png (or .png appended) */
static void png_beside(const char *csv, char *png, size_t n)
{
    snprintf(png, n, "%s", csv);
    char *dot = strrchr(png, '.');
    if (dot && !strcmp(dot, ".csv")) *dot = 0;
    strncat(png, ".png", n - strlen(png) - 1);
}

/* ---- the evaluation ---------------------------------------------------------------- */

static double top_frac(const long *order, long n, const float *truth, int m, double thr)
{
    long hit = 0, k = 0;
    for (; k < n && k < m; k++) hit += truth[order[k]] >= thr;
    return k ? (double)hit / k : 0;
}

static void mean_sd(const double *v, int n, double *mu, double *sd)
{
    double a = 0, b = 0;
    for (int i = 0; i < n; i++) a += v[i] / n;
    for (int i = 0; i < n; i++) b += (v[i] - a) * (v[i] - a);
    *mu = a, *sd = n > 1 ? sqrt(b / (n - 1)) : 0;
}

/* The figures of one ranking (order[0..n) over the pool, labelled rows lab[] not NaN):
 * v[0..3) the fraction interesting in the top 50/100/200 with the labels (the ranking as
 * it is: labelled rows count), v[3..6) the same over the unlabelled rows alone in their
 * order (what the prediction found), v[6..9) how many of the top 50/100/200 are labelled. */
enum { EV_TOP = 0, EV_UNL = 3, EV_NLAB = 6, EV_N = 9 };
static const int ev_k[3] = {50, 100, 200};

static void figures(const long *order, long n, const float *truth, const float *lab, double thr, double *v)
{
    long *u = zm_malloc((size_t)(n ? n : 1) * sizeof *u), nu = 0;
    for (long r = 0; r < n; r++)
        if (!lab || isnan(lab[order[r]])) u[nu++] = order[r];
    for (int t = 0; t < 3; t++) {
        long nl = 0;
        for (long r = 0; r < n && r < ev_k[t]; r++) nl += lab && !isnan(lab[order[r]]);
        v[EV_TOP + t] = top_frac(order, n, truth, ev_k[t], thr);
        v[EV_UNL + t] = top_frac(u, nu, truth, ev_k[t], thr);
        v[EV_NLAB + t] = (double)nl;
    }
    free(u);
}

/* What one replay leaves: its figures, the labelled rows in the order labelled, and the
 * GP kernel of the last fit. */
typedef struct {
    double v[EV_N];
    long *picked; /* budget pool indices */
    long npicked;
    zm_gp_kernel k;
} replay_out;

/* Rank 0. One replay of the labelling loop of a method over the pool (np rows of z with
 * scores s5 and oracle truth); curve[b] gets the top-100 fraction (with the labels) after
 * batch b. */
static int replay(const double *z, long np, int d, const double *s5, const float *truth, int method, long budget,
                  long batch, double xi, double thr, int restarts, uint64_t seed, uint64_t stream, double *curve,
                  replay_out *out, zm_err *err)
{
    float *lab = zm_malloc((size_t)np * sizeof *lab);
    long *next = zm_malloc((size_t)batch * sizeof *next), *order = zm_malloc((size_t)np * sizeof *order);
    double *key = zm_malloc((size_t)np * sizeof *key);
    for (long i = 0; i < np; i++) lab[i] = NAN;
    zm_active a;
    zm_active_init(&a, np, d, z, s5, lab);
    a.restarts = restarts;
    int rc = 0;
    long used = 0;
    out->npicked = 0;
    for (int b = 0; used < budget && !rc; b++) {
        long want = budget - used < batch ? budget - used : batch;
        long got = zm_active_propose(&a, method, want, xi, seed, stream, next);
        if (got == 0) break;
        for (long q = 0; q < got; q++) lab[next[q]] = truth[next[q]], out->picked[out->npicked++] = next[q];
        used += got;
        /* the hyperparameters are refitted every fifth batch and at the end */
        rc = zm_active_update(&a, b % 5 == 0 || used >= budget, err);
        zm_active_key(&a, method, key);
        zm_rank_desc(key, lab, np, order);
        curve[b] = top_frac(order, np, truth, 100, thr);
    }
    figures(order, np, truth, lab, thr, out->v);
    out->k = a.k;
    zm_active_free(&a);
    free(lab), free(next), free(order), free(key);
    return rc;
}

static int evaluate(const zm_params *p, const anomaly_data *D, const char *oracle, long budget, zm_err *err)
{
    const double thr = zm_param_real(p, "anomaly.interesting"), xi = zm_param_real(p, "anomaly.trade_off");
    const int seeds = (int)zm_param_int(p, "anomaly.eval_seeds"), trees = (int)zm_param_int(p, "anomaly.trees"),
              psi = (int)zm_param_int(p, "anomaly.samples");
    const long batch = zm_param_int(p, "anomaly.batch");
    const uint64_t seed0 = (uint64_t)zm_param_int(p, "anomaly.seed");
    float *lab = zm_malloc((size_t)(D->N ? D->N : 1) * sizeof *lab);
    long nlab = 0;
    int rc = read_labels(oracle, D, zm_param_real(p, "anomaly.match_arcsec"), lab, &nlab, err);
    if (rc) return free(lab), rc;
    /* the pool: rows the oracle scores */
    const int d = D->d;
    long np = 0;
    long long *prow = zm_malloc((size_t)nlab * sizeof *prow);
    for (long v = 0; v < D->nv; v++)
        if (!isnan(lab[D->vid[v]])) prow[np++] = D->vid[v];
    double *z = zm_malloc((size_t)np * d * sizeof *z), *s5 = zm_malloc((size_t)np * sizeof *s5), *raw = zm_malloc((size_t)np * sizeof *raw);
    float *truth = zm_malloc((size_t)np * sizeof *truth);
    const float *xv = D->x;
    long ninter = 0;
    for (long i = 0; i < np; i++) {
        memcpy(z + (size_t)i * d, D->z + (size_t)D->row2v[prow[i]] * d, (size_t)d * sizeof *z);
        truth[i] = lab[prow[i]];
        ninter += truth[i] >= thr;
    }
    if (budget > np) {
        zm_warn("anomaly: --budget %ld is more than the %ld galaxies the oracle scores; using %ld", budget, np, np);
        budget = np;
    }
    zm_info("anomaly evaluation: %ld galaxies scored by %s, %ld interesting (score >= %g); %ld labels, batches of %ld, "
            "%d seeds", np, oracle, ninter, thr, budget, batch, seeds);
    const int nb = (int)((budget + batch - 1) / batch);
    /* res[seed][method 0..2][EV_N]: the isolation forest alone, the GP, the neighbour score */
    double *res = zm_calloc((size_t)seeds * 3 * EV_N, sizeof *res);
    double *curve = zm_calloc((size_t)seeds * 2 * (nb ? nb : 1), sizeof *curve);
    double *if100 = zm_calloc((size_t)seeds, sizeof *if100);
    long *order = zm_malloc((size_t)np * sizeof *order);
    float *sc = zm_malloc((size_t)D->nv * sizeof *sc);
    replay_out ro[2];
    ro[0].picked = zm_malloc((size_t)(budget ? budget : 1) * sizeof(long));
    ro[1].picked = zm_malloc((size_t)(budget ? budget : 1) * sizeof(long));
    /* [anomaly] eval_output: every seed's figures and kernel, and the labelled galaxies */
    const char *eo = zm_param_str(p, "anomaly.eval_output");
    FILE *fo = NULL, *fl = NULL;
    char fon[4200] = "", fln[4200] = "";
    if (eo && eo[0]) {
        snprintf(fon, sizeof fon, "%s.csv", eo), snprintf(fln, sizeof fln, "%s-labels.csv", eo);
        if (!(fo = fopen(fon, "w")) || !(fl = fopen(fln, "w")))
            rc = zm_err_set(err, ZM_EIO, "anomaly evaluation: cannot write %s", fo ? fln : fon);
        else {
            fprintf(fo, "seed,method,labels,top50,top100,top200,unlabelled_top50,unlabelled_top100,unlabelled_top200,"
                        "labelled_in_top50,labelled_in_top100,labelled_in_top200,amp,length,alpha,noise\n");
            fprintf(fl, "seed,method,step,id,score\n");
        }
    }
    static const char *mkey[3] = {"iforest", "gp", "neighbour"};
    for (int k = 0; k < seeds && !rc; k++) {
        /* a forest of this seed over every row with coordinates, scores of the pool */
        zm_iforest f;
        rc = zm_iforest_fit(&f, xv, D->nv, d, trees, psi, seed0 + (uint64_t)k, err);
        if (rc) break;
        zm_iforest_score(&f, xv, D->nv, sc);
        zm_iforest_free(&f);
        for (long i = 0; i < np; i++) raw[i] = sc[D->row2v[prow[i]]];
        zm_rank_desc(raw, NULL, np, order);
        double *r = res + (size_t)k * 3 * EV_N;
        figures(order, np, truth, NULL, thr, r);
        if100[k] = r[EV_TOP + 1];
        if (fo) fprintf(fo, "%d,iforest,0,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,0,0,0,,,,\n", k, r[0], r[1], r[2], r[3], r[4], r[5]);
        zm_minmax_scale(raw, np, 0, ZM_SCORE_MAX, s5);
        for (int m = 0; m < 2 && !rc; m++) {
            replay_out *o = &ro[m];
            rc = replay(z, np, d, s5, truth, m == 0 ? ZM_ACTIVE_GP : ZM_ACTIVE_NEIGHBOUR, budget, batch, xi, thr,
                        (int)zm_param_int(p, "anomaly.restarts"), seed0,
                        100 + (uint64_t)k, curve + ((size_t)k * 2 + m) * nb, o, err);
            if (rc) break;
            double *v = r + (size_t)(m + 1) * EV_N;
            memcpy(v, o->v, sizeof o->v);
            long ni = 0;
            for (long q = 0; q < o->npicked; q++) ni += truth[o->picked[q]] >= thr;
            zm_info("anomaly evaluation: seed %d, %s: %ld labels, %ld of them interesting; top 50/100/200 with the labels "
                    "%.3f %.3f %.3f (%.0f/%.0f/%.0f of them labelled), unlabelled only %.3f %.3f %.3f", k,
                    m == 0 ? "GP + expected improvement" : "neighbour score", o->npicked, ni, v[EV_TOP], v[EV_TOP + 1],
                    v[EV_TOP + 2], v[EV_NLAB], v[EV_NLAB + 1], v[EV_NLAB + 2], v[EV_UNL], v[EV_UNL + 1], v[EV_UNL + 2]);
            if (fo) {
                fprintf(fo, "%d,%s,%ld", k, mkey[m + 1], o->npicked);
                for (int t = 0; t < 6; t++) fprintf(fo, ",%.17g", v[t]);
                fprintf(fo, ",%.0f,%.0f,%.0f,%.17g,%.17g,%.17g,%.17g\n", v[6], v[7], v[8], o->k.amp, o->k.length, o->k.alpha,
                        o->k.noise);
                for (long q = 0; q < o->npicked; q++)
                    fprintf(fl, "%d,%s,%ld,%lld,%g\n", k, mkey[m + 1], q, prow[o->picked[q]], truth[o->picked[q]]);
            }
        }
    }
    if (fo && fclose(fo) && !rc) rc = zm_err_set(err, ZM_EIO, "anomaly evaluation: writing %s failed", fon);
    if (fl && fclose(fl) && !rc) rc = zm_err_set(err, ZM_EIO, "anomaly evaluation: writing %s failed", fln);
    if (!rc && fo) zm_info("anomaly evaluation: every seed's figures in %s, the labelled galaxies in %s", fon, fln);
    free(ro[0].picked), free(ro[1].picked);
    if (!rc) {
        static const char *names[3] = {"isolation forest alone", "GP active learning (expected improvement)",
                                       "Astronomaly neighbour score"};
        zm_info("anomaly evaluation (%s, %ld galaxies, interesting = score >= %g, %ld labels, %d seeds; mean +- sd of the "
                "fraction interesting in the top 50, 100, 200):", oracle, np, thr, budget, seeds);
        zm_info("  'with the labels' ranks labelled galaxies by their label, the rest by the prediction: the labelled "
                "count, and the oracle picked them; 'unlabelled only' ranks the rest alone: what the prediction found");
        for (int m = 0; m < 3; m++) {
            for (int w = 0; w < (m ? 2 : 1); w++) {
                double mu[3], sd[3], v[1000];
                for (int t = 0; t < 3; t++) {
                    for (int k = 0; k < seeds; k++) v[k] = res[((size_t)k * 3 + m) * EV_N + (w ? EV_UNL : EV_TOP) + t];
                    mean_sd(v, seeds, &mu[t], &sd[t]);
                }
                char nm[96];
                snprintf(nm, sizeof nm, "%s%s", names[m], !m ? "" : w ? ", unlabelled only" : ", with the labels");
                zm_info("  %-60s top 50 %.3f +- %.3f, top 100 %.3f +- %.3f, top 200 %.3f +- %.3f", nm, mu[0], sd[0], mu[1],
                        sd[1], mu[2], sd[2]);
            }
        }
        /* the curves: mean over seeds of the top-100 fraction against labels used */
        double *x = zm_malloc((size_t)(nb + 1) * sizeof *x), *y = zm_calloc((size_t)3 * (nb + 1), sizeof *y);
        char line[3][8192] = {"", "", ""};
        for (int b = 0; b <= nb; b++) {
            x[b] = b == nb ? (double)budget : (double)b * batch;
            for (int k = 0; k < seeds; k++) {
                y[b] += if100[k] / seeds;
                for (int m = 0; m < 2; m++)
                    y[(size_t)(m + 1) * (nb + 1) + b] += (b == 0 ? if100[k] : curve[((size_t)k * 2 + m) * nb + b - 1]) / seeds;
            }
        }
        /* before any label every method ranks by the forest only for the neighbour score;
         * the GP's ranking with no labels is undefined: its curve starts at the first batch */
        y[1 * (nb + 1)] = NAN;
        for (int m = 1; m < 3; m++)
            for (int b = 1; b <= nb; b++) {
                char e[32];
                snprintf(e, sizeof e, "%s%.0f:%.3f", b > 1 ? " " : "", x[b], y[(size_t)m * (nb + 1) + b]);
                strncat(line[m], e, sizeof line[m] - strlen(line[m]) - 1);
            }
        zm_info("  top-100 fraction against labels used, GP: %s", line[1]);
        zm_info("  top-100 fraction against labels used, neighbour score: %s", line[2]);
        const char *png = zm_param_str(p, "anomaly.eval_plot");
        if (png && png[0]) {
            zm_series sr[3] = {{x, y, nb + 1, 0}, {x, y + (nb + 1), nb + 1, 1}, {x, y + 2 * (nb + 1), nb + 1, 2}};
            x[0] = 0;
            if (zm_plot_lines(png, 640, 400, sr, 3, 0, err))
                zm_warn("anomaly: no plot: %s", err->msg), err->msg[0] = 0;
            else
                zm_info("anomaly evaluation: curve in %s (isolation forest blue, GP orange, neighbour score green)", png);
        }
        free(x), free(y);
    }
    free(lab), free(prow), free(z), free(s5), free(raw), free(truth), free(res), free(curve), free(if100), free(order),
        free(sc);
    return rc;
}

/* ---- labels in the store: ranking and the next batch ------------------------------- */

typedef struct {
    float *label, *mean, *sd, *ns, *key; /* N each; rank 0 fills them */
    zm_gp_kernel k;
    long nl;
    int have;                            /* labels mode */
} label_state;

static int method_of(const zm_params *p)
{
    return strcmp(zm_param_str(p, "anomaly.method"), "neighbour") ? ZM_ACTIVE_GP : ZM_ACTIVE_NEIGHBOUR;
}

/* Rank 0: merges new labels into the stored ones, refits, writes the ranked CSV, the
 * gallery of the top and (want_next) the next batch. */
/* Every rank: the labels and kernel kept in the store (a no-op before the first labels). */
static int load_state(zm_store *s, long long N, label_state *L, zm_err *err)
{
    int rc = 0;
    if (zm_store_exists(s, F_LABEL.path)) {
        zm_range all = {0, (unsigned long long)N};
        unsigned long long n = 0;
        rc = zm_store_nrows(s, F_LABEL.path, &n, err);
        if (!rc && n != (unsigned long long)N)
            rc = zm_err_set(err, ZM_ESTATE, "store %s: %s has %llu rows, the store %lld; labels from another plan?",
                            zm_store_path(s), F_LABEL.path, n, N);
        if (!rc) rc = zm_store_read(s, F_LABEL.path, ZM_DT_F32, 0, &all, 1, L->label, err);
        char kb[256];
        if (!rc && !zm_store_get_attr(s, "/anomaly", "gp_kernel", kb, sizeof kb))
            sscanf(kb, "%lf %lf %lf %lf", &L->k.amp, &L->k.length, &L->k.alpha, &L->k.noise);
    }
    return rc;
}

static int rank_with_labels(const zm_params *p, const anomaly_data *D, const char *labels_file, int want_next, label_state *L,
                            gallery_req *top, gallery_req *nxt, zm_err *err)
{
    const long long N = D->N;
    const int d = D->d, method = method_of(p);
    int rc = 0;
    if (labels_file) {
        float *nw = zm_malloc((size_t)(N ? N : 1) * sizeof *nw);
        long nn = 0, again = 0;
        rc = read_labels(labels_file, D, zm_param_real(p, "anomaly.match_arcsec"), nw, &nn, err);
        for (long long i = 0; !rc && i < N; i++)
            if (!isnan(nw[i])) {
                if (!isnan(L->label[i]) && L->label[i] != nw[i]) again++;
                L->label[i] = nw[i];
            }
        if (!rc && again) zm_warn("anomaly: %ld galaxies labelled in an earlier run got a new label (the new one is kept)", again);
        free(nw);
        if (rc) return rc;
    }
    /* the valid rows' view */
    const long nv = D->nv;
    float *lv = zm_malloc((size_t)(nv ? nv : 1) * sizeof *lv);
    double *raw = zm_malloc((size_t)(nv ? nv : 1) * sizeof *raw), *s5 = zm_malloc((size_t)(nv ? nv : 1) * sizeof *s5),
           *key = zm_malloc((size_t)(nv ? nv : 1) * sizeof *key);
    for (long v = 0; v < nv; v++) lv[v] = L->label[D->vid[v]], raw[v] = D->ifs[D->vid[v]];
    zm_minmax_scale(raw, nv, 0, ZM_SCORE_MAX, s5);
    zm_active a;
    zm_active_init(&a, nv, d, D->z, s5, lv);
    a.k = L->k;
    a.restarts = (int)zm_param_int(p, "anomaly.restarts");
    rc = zm_active_update(&a, 1, err);
    L->nl = a.nl;
    L->k = a.k;
    long *order = zm_malloc((size_t)(nv ? nv : 1) * sizeof *order);
    if (!rc) {
        if (a.jitter > 0) zm_warn("anomaly: the GP's kernel matrix needed %.3g added to its diagonal", a.jitter);
        zm_active_key(&a, method, key);
        zm_rank_desc(key, lv, nv, order);
        for (long long i = 0; i < N; i++) L->mean[i] = L->sd[i] = L->ns[i] = L->key[i] = NAN;
        for (long v = 0; v < nv; v++) {
            long long i = D->vid[v];
            L->mean[i] = (float)a.mean[v], L->sd[i] = (float)a.sd[v], L->ns[i] = (float)a.ns[v], L->key[i] = (float)key[v];
        }
        zm_info("anomaly: %ld labels; GP kernel amp %.3g, length %.3g, alpha %.3g, noise %.3g; ranking by %s", a.nl, a.k.amp,
                a.k.length, a.k.alpha, a.k.noise, method == ZM_ACTIVE_GP ? "the GP" : "the neighbour score");
        const char *out = zm_param_str(p, "anomaly.output");
        FILE *o = fopen(out, "w");
        if (!o) rc = zm_err_set(err, ZM_EIO, "anomaly: cannot write %s", out);
        else {
            fprintf(o, "rank,id,ra,dec,score,label,gp_mean,gp_std,neighbour_score,iforest_score\n");
            long ntop = zm_param_int(p, "anomaly.top_n");
            for (long r = 0; r < nv && r < ntop; r++) {
                long v = order[r];
                long long i = D->vid[v];
                fprintf(o, "%ld,%lld,%.7f,%.7f,%.4f,", r + 1, i, D->ra[i], D->dec[i], key[v]);
                if (isnan(lv[v])) fprintf(o, ",");
                else fprintf(o, "%g,", lv[v]);
                fprintf(o, "%.4f,%.4f,%.4f,%.6f\n", a.mean[v], a.sd[v], a.ns[v], D->ifs[i]);
            }
            if (fclose(o)) rc = zm_err_set(err, ZM_EIO, "anomaly: writing %s failed", out);
            else zm_info("anomaly: ranking (top %ld) in %s", ntop, out);
        }
        int gn = (int)zm_param_int(p, "anomaly.gallery_n");
        top->ids = zm_malloc((size_t)(gn > 0 ? gn : 1) * sizeof *top->ids);
        for (top->n = 0; top->n < gn && top->n < nv; top->n++) top->ids[top->n] = D->vid[order[top->n]];
        snprintf(top->png, sizeof top->png, "%s", zm_param_str(p, "anomaly.gallery"));
    }
    if (!rc && want_next) {
        long batch = zm_param_int(p, "anomaly.batch"), *next = zm_malloc((size_t)batch * sizeof *next);
        long got = zm_active_propose(&a, method, batch, zm_param_real(p, "anomaly.trade_off"),
                                     (uint64_t)zm_param_int(p, "anomaly.seed"), 100, next);
        const char *csv = zm_param_str(p, "anomaly.next");
        FILE *o = fopen(csv, "w");
        if (!o) rc = zm_err_set(err, ZM_EIO, "anomaly: cannot write %s", csv);
        long long *ids = zm_malloc((size_t)(got ? got : 1) * sizeof *ids);
        nxt->ids = ids, nxt->n = (int)got;
        if (o) {
            fprintf(o, "id,ra,dec,score\n");
            for (long q = 0; q < got; q++) {
                ids[q] = D->vid[next[q]];
                fprintf(o, "%lld,%.7f,%.7f,\n", ids[q], D->ra[ids[q]], D->dec[ids[q]]);
            }
            if (fclose(o)) rc = zm_err_set(err, ZM_EIO, "anomaly: writing %s failed", csv);
        }
        char *png = nxt->png;
        png_beside(csv, png, sizeof nxt->png);
        if (!rc)
            zm_info("anomaly: the next %ld galaxies to label in %s (gallery %s): fill in column score (0..5), then run "
                    "'zoomorph anomaly --labels %s'", got, csv, png, csv);
        if (!rc && got == 0) zm_warn("anomaly: every galaxy with coordinates is labelled; nothing left to propose");
        free(next);
    }
    zm_active_free(&a);
    free(lv), free(raw), free(s5), free(key), free(order);
    return rc;
}

/* Collective: the labelled state into the store (rank 0 holds the rows). */
static int write_state(const zm_ctx *ctx, zm_store *s, long long N, label_state *L, zm_err *err)
{
    const zm_field *f[5] = {&F_LABEL, &F_MEAN, &F_SD, &F_NS, &F_SCORE};
    float *v[5] = {L->label, L->mean, L->sd, L->ns, L->key};
    zm_range all = {0, (unsigned long long)N};
    int rc = 0;
    for (int q = 0; q < 5 && !rc; q++) {
        rc = zm_store_define(s, f[q], (unsigned long long)N, 1, err);
        if (!rc) rc = zm_store_write(s, f[q], &all, ctx->rank == 0 ? 1 : 0, v[q], err);
    }
    ZM_CHECK_MPI(MPI_Bcast(&L->k, 4, MPI_DOUBLE, 0, ctx->comm));
    ZM_CHECK_MPI(MPI_Bcast(&L->nl, 1, MPI_LONG, 0, ctx->comm));
    char kb[256], nb[32];
    snprintf(kb, sizeof kb, "%.17g %.17g %.17g %.17g", L->k.amp, L->k.length, L->k.alpha, L->k.noise);
    snprintf(nb, sizeof nb, "%ld", L->nl);
    if (!rc) rc = zm_store_set_attr(s, "/anomaly", "gp_kernel", kb);
    if (!rc) rc = zm_store_set_attr(s, "/anomaly", "labels", nb);
    if (!rc) rc = zm_catalogue_register(s, "anomaly_score", F_SCORE.path, err);
    if (!rc) rc = zm_catalogue_register(s, "anomaly_label", F_LABEL.path, err);
    return rc;
}

/* ---- the stage --------------------------------------------------------------------- */

static int run_anomaly(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    const char *oracle = zm_param_str(p, "anomaly.evaluate"), *labels_file = NULL;
    long budget = (long)zm_param_int(p, "anomaly.budget");
    int want_next = 0;
    if (oracle && !oracle[0]) oracle = NULL;
    for (int i = 0; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--evaluate") && i + 1 < a->argc) oracle = a->argv[++i];
        else if (!strcmp(a->argv[i], "--labels") && i + 1 < a->argc) labels_file = a->argv[++i], want_next = 1;
        else if (!strcmp(a->argv[i], "--next")) want_next = 1;
        else if (!strcmp(a->argv[i], "--budget") && i + 1 < a->argc) {
            char *end = NULL;
            budget = strtol(a->argv[++i], &end, 10);
            if (*end || budget < 1) {
                zm_err_set(err, ZM_EUSAGE, "anomaly: --budget '%s' is not a positive whole number", a->argv[i]);
                return ZM_EXIT_USAGE;
            }
        } else {
            zm_err_set(err, ZM_EUSAGE, "anomaly: unknown flag '%s' (or a flag without its value)", a->argv[i]);
            return ZM_EXIT_USAGE;
        }
    }
    if (oracle && (labels_file || want_next)) {
        zm_err_set(err, ZM_EUSAGE, "anomaly: --evaluate replays labels from an oracle; it does not go with --labels or --next");
        return ZM_EXIT_USAGE;
    }
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "pca", &s, err)) return ZM_EXIT_INPUT;
    char path[128];
    snprintf(path, sizeof path, "/pca/%s", zm_param_str(p, "anomaly.space"));
    unsigned long long dims[4] = {0};
    if (zm_store_shape(s, path, dims, err) != 2) {
        zm_err_set(err, ZM_ESTATE, "store %s has no %s ([anomaly] space); check [pca] sizes and run 'zoomorph pca'",
                   zm_store_path(s), path);
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    const long long N = (long long)dims[0];
    const int d = (int)dims[1];
    const unsigned long long r0 = (unsigned long long)N * ctx->rank / ctx->size, r1 = (unsigned long long)N * (ctx->rank + 1) / ctx->size;
    const long nloc = (long)(r1 - r0);
    float *x = zm_malloc((size_t)(nloc ? nloc : 1) * d * sizeof *x), *sc = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *sc);
    zm_range mine = {r0, (unsigned long long)nloc};
    int rc = zm_store_read(s, path, ZM_DT_F32, 0, &mine, 1, x, err);
    /* rows without coordinates (rejected stamps) are scored NaN; the forest skips them */
    float *xv = zm_malloc((size_t)(nloc ? nloc : 1) * d * sizeof *xv);
    unsigned char *ok = zm_malloc((size_t)(nloc ? nloc : 1));
    const long nv = zm_pack_finite_rows(x, nloc, d, xv, ok);
    zm_iforest f;
    memset(&f, 0, sizeof f);
    const int trees = (int)zm_param_int(p, "anomaly.trees"), psi = (int)zm_param_int(p, "anomaly.samples");
    if (zm_any(ctx, rc)) rc = rc ? rc : zm_err_set(err, ZM_EIO, "anomaly: reading failed on another rank");
    else rc = zm_iforest_fit_mpi(ctx, &f, xv, nv, d, trees, psi, (uint64_t)zm_param_int(p, "anomaly.seed"), err);
    if (!rc) {
        zm_iforest_score(&f, x, nloc, sc);
        for (long i = 0; i < nloc; i++)
            if (!ok[i]) sc[i] = NAN;
        char *dump = zm_params_dump(p);
        zm_store_stage_begin(s, "anomaly", dump);
        free(dump);
        rc = zm_store_define(s, &F_IFOREST, (unsigned long long)N, 1, err);
        if (!rc) rc = zm_store_write(s, &F_IFOREST, &mine, 1, sc, err);
        if (!rc) rc = zm_catalogue_register(s, "anomaly_iforest", F_IFOREST.path, err);
    }
    /* everyone gathers all scores (N floats) */
    float *all = zm_malloc((size_t)(N ? N : 1) * sizeof *all);
    int *cnt = zm_malloc((size_t)ctx->size * sizeof *cnt), *dsp = zm_malloc((size_t)ctx->size * sizeof *dsp);
    for (int q = 0; q < ctx->size; q++) {
        dsp[q] = (int)((unsigned long long)N * q / ctx->size);
        cnt[q] = (int)((unsigned long long)N * (q + 1) / ctx->size) - dsp[q];
    }
    if (!rc) ZM_CHECK_MPI(MPI_Allgatherv(sc, (int)nloc, MPI_FLOAT, all, cnt, dsp, MPI_FLOAT, ctx->comm));
    /* labels mode: flags given, or labels already in the store */
    int labelled = !rc && !oracle && (labels_file || want_next || zm_store_exists(s, F_LABEL.path));
    anomaly_data D;
    memset(&D, 0, sizeof D);
    label_state L;
    memset(&L, 0, sizeof L);
    L.k = (zm_gp_kernel){1.0, 5.0, 1.0, 0.1};
    size_t n1 = (size_t)(N ? N : 1);
    L.label = zm_malloc(n1 * sizeof(float)), L.mean = zm_malloc(n1 * sizeof(float)), L.sd = zm_malloc(n1 * sizeof(float));
    L.ns = zm_malloc(n1 * sizeof(float)), L.key = zm_malloc(n1 * sizeof(float));
    for (long long i = 0; i < N; i++) L.label[i] = L.mean[i] = L.sd[i] = L.ns[i] = L.key[i] = NAN;
    gallery_req greq[2];
    memset(greq, 0, sizeof greq);
    /* every rank reads (collective metadata); rank 0 computes */
    if (!rc) rc = data_load(s, path, N, d, all, &D, err);
    if (!rc && labelled) rc = load_state(s, N, &L, err);
    if (zm_any(ctx, rc)) rc = rc ? rc : zm_err_set(err, ZM_EIO, "anomaly: reading failed on another rank");
    else if (ctx->rank == 0) {
        if (oracle) rc = evaluate(p, &D, oracle, budget, err);
        if (!rc && labelled) rc = rank_with_labels(p, &D, labels_file, want_next, &L, &greq[0], &greq[1], err);
        else if (!rc) {
            /* no labels: the isolation forest's ranking */
            double *key = zm_malloc(n1 * sizeof *key);
            long *order = zm_malloc(n1 * sizeof *order);
            for (long long i = 0; i < N; i++) key[i] = all[i];
            zm_rank_desc(key, NULL, (long)N, order);
            const char *out = zm_param_str(p, "anomaly.output");
            FILE *o = fopen(out, "w");
            if (!o) rc = zm_err_set(err, ZM_EIO, "anomaly: cannot write %s", out);
            long top = zm_param_int(p, "anomaly.top_n"), k = 0;
            if (o) {
                fprintf(o, "rank,id,ra,dec,iforest_score\n");
                for (; k < N && k < top && isfinite(all[order[k]]); k++)
                    fprintf(o, "%ld,%ld,%.7f,%.7f,%.6f\n", k + 1, order[k], D.ra[order[k]], D.dec[order[k]], all[order[k]]);
                if (fclose(o)) rc = zm_err_set(err, ZM_EIO, "anomaly: writing %s failed", out);
                else zm_info("anomaly: isolation forest (%d trees x %d) on %s; top %ld in %s", trees, psi, path, k, out);
            }
            int gn = (int)zm_param_int(p, "anomaly.gallery_n");
            greq[0].ids = zm_malloc((size_t)(gn > 0 ? gn : 1) * sizeof *greq[0].ids);
            for (; greq[0].n < gn && greq[0].n < N && isfinite(all[order[greq[0].n]]); greq[0].n++) greq[0].ids[greq[0].n] = order[greq[0].n];
            snprintf(greq[0].png, sizeof greq[0].png, "%s", zm_param_str(p, "anomaly.gallery"));
            free(key), free(order);
        }
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc) {
        ZM_CHECK_MPI(MPI_Bcast(&err->code, 1, MPI_INT, 0, ctx->comm));
        ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    }
    /* the galleries: every rank reads the stamps, rank 0 writes */
    for (int g = 0; g < 2 && !rc; g++) {
        ZM_CHECK_MPI(MPI_Bcast(&greq[g].n, 1, MPI_INT, 0, ctx->comm));
        ZM_CHECK_MPI(MPI_Bcast(greq[g].png, sizeof greq[g].png, MPI_CHAR, 0, ctx->comm));
        if (ctx->rank != 0) greq[g].ids = zm_malloc((size_t)(greq[g].n ? greq[g].n : 1) * sizeof *greq[g].ids);
        if (greq[g].n) ZM_CHECK_MPI(MPI_Bcast(greq[g].ids, greq[g].n, MPI_LONG_LONG, 0, ctx->comm));
        rc = write_gallery(ctx, s, greq[g].png, greq[g].ids, greq[g].n, err);
        if (zm_any(ctx, rc)) rc = rc ? rc : zm_err_set(err, ZM_EIO, "anomaly: writing a gallery failed on rank 0");
    }
    free(greq[0].ids), free(greq[1].ids);
    if (!rc && labelled) rc = write_state(ctx, s, N, &L, err);
    if (!rc) zm_store_stage_end(s, "anomaly", labelled ? "isolation-forest scores; labelled ranking" : "isolation-forest scores");
    data_free(&D);
    free(L.label), free(L.mean), free(L.sd), free(L.ns), free(L.key);
    zm_iforest_free(&f);
    free(x), free(sc), free(xv), free(ok), free(all), free(cnt), free(dsp);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_anomaly = {
    "anomaly",
    "isolation-forest anomaly scores; with a researcher's labels, the GP (or neighbour-score) ranking; --evaluate replays the paper's test",
    "  --next                write the next batch to label ([anomaly] next: CSV and PNG gallery)\n"
    "  --labels FILE.csv     add labels (columns id, score or ra, dec, score; scores 0..5), refit, rank,\n"
    "                        and write the next batch\n"
    "  --evaluate FILE.csv   replay the active learning with an oracle (ra, dec, score 0..5) over the\n"
    "                        galaxies it scores: isolation forest, GP, neighbour score (default [anomaly] evaluate)\n"
    "  --budget N            labels the oracle gives (default [anomaly] budget, 200)",
    run_anomaly};
