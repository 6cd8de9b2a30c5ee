/* simvotes.c: see simvotes.h. The probability model is deliberately simple and
 * monotone in the true parameters; every constant is named where it is used. */
#include "zoomorph/simvotes.h"

#include <fitsio.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double clamp(double x, double a, double b) { return x < a ? a : x > b ? b : x; }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

typedef struct {
    const zm_sim_comp *c[ZM_COMP_NKINDS];
    double fr[ZM_COMP_NKINDS]; /* share of the r flux */
} comps;

static void find_comps(const zm_sim_object *o, comps *k)
{
    memset(k, 0, sizeof *k);
    double tot = o->flux[1] > 0 ? o->flux[1] : 1.0;
    for (int i = 0; i < o->g.ncomp; i++) {
        int kind = o->g.comp[i].kind;
        if (kind < 0 || kind >= ZM_COMP_NKINDS) continue;
        k->c[kind] = &o->g.comp[i];
        k->fr[kind] = o->g.comp[i].flux[1] / tot;
    }
}

/* Set the answers of question qname to the given weights (normalised here). Missing
 * columns (another tree) are skipped. */
static void set_q(const zm_gz_schema *s, double *p, const char *qname, const char *const *ans,
                  const double *w, int n)
{
    int q = zm_gz_question_find(s, qname);
    if (q < 0) return;
    double sum = 0.0;
    char col[ZM_GZ_COL_LEN];
    for (int i = 0; i < n; i++) sum += w[i] > 0 ? w[i] : 0;
    if (sum <= 0) return;
    for (int i = 0; i < n; i++) {
        snprintf(col, sizeof col, "%s_%s", qname, ans[i]);
        int a = zm_gz_answer_find(s, col);
        if (a >= 0) p[a] = (w[i] > 0 ? w[i] : 0) / sum;
    }
}

/* weights exp(-(x - centre)^2 / (2 width^2)) over answer centres */
static void soft_bins(double x, const double *centre, int n, double width, double *w)
{
    for (int i = 0; i < n; i++) w[i] = exp(-0.5 * (x - centre[i]) * (x - centre[i]) / (width * width));
}

void zm_sim_vote_probs(const zm_gz_schema *s, const zm_sim_object *o, double *p, double *p_ring)
{
    /* start uniform: questions the model does not know stay so */
    for (int q = 0; q < s->nquestions; q++)
        for (int a = 0; a < s->q[q].nanswers; a++) p[s->q[q].first + a] = 1.0 / s->q[q].nanswers;
    comps k;
    find_comps(o, &k);
    /* visibility: resolved (size against seeing) and bright enough */
    double fwhm = o->psf_fwhm[1] > 0 ? o->psf_fwhm[1] : 1.3;
    double size = o->r50 / (o->r50 + fwhm);
    double bright = clamp(1.0 - 0.12 * (o->mag_r - 15.5), 0.6, 1.0);
    double v = clamp(1.6 * size - 0.3, 0.05, 1.0) * bright;
    int disc = k.c[ZM_COMP_DISC] != NULL, edge = o->cls == ZM_SIM_EDGEON;
    double bf = o->bulge_frac, incl = isnan(o->incl) ? 0.0 : o->incl;

    /* smooth or featured: discs look featured in proportion to how visible their
     * disc structure is */
    double feat = disc ? (edge ? 0.85 * v + 0.05
                               : v * (0.25 + 0.6 * (1.0 - bf) + 1.2 * k.fr[ZM_COMP_ARMS] +
                                      1.5 * k.fr[ZM_COMP_BAR] + 1.5 * k.fr[ZM_COMP_CLUMPS]))
                       : 0.08;
    feat = clamp(feat, 0.03, 0.95);
    const char *sf[] = {"smooth", "featured-or-disk", "artifact"};
    /* artefacts crossing the field draw "artifact" answers */
    double art = 0.02 + 0.6 * o->artefact;
    feat *= 1.0 - art;
    double w3[3] = {1.0 - feat - art, feat, art};
    set_q(s, p, "smooth-or-featured", sf, w3, 3);

    const char *yn[] = {"yes", "no"};
    double pe = edge ? 0.93 : 0.03 + 0.9 * sigmoid((incl - 78.0) / 4.0);
    double w2[2] = {pe, 1.0 - pe};
    set_q(s, p, "disk-edge-on", yn, w2, 2);

    double arms = k.fr[ZM_COMP_ARMS];
    double ps = 0.08 + 0.87 * (1.0 - exp(-10.0 * arms * v));
    w2[0] = ps, w2[1] = 1.0 - ps;
    set_q(s, p, "has-spiral-arms", yn, w2, 2);

    const char *bar[] = {"strong", "weak", "no"};
    double fb = k.fr[ZM_COMP_BAR];
    if (fb > 0) {
        double strong = fb >= 0.08 ? 0.65 : 0.15, weak = fb >= 0.08 ? 0.25 : 0.55;
        w3[0] = v * strong, w3[1] = v * weak, w3[2] = 1.0 - v * (strong + weak);
    } else {
        w3[0] = 0.03, w3[1] = 0.12, w3[2] = 0.85;
    }
    set_q(s, p, "bar", bar, w3, 3);

    const char *bulge[] = {"dominant", "large", "moderate", "small", "none"};
    const double bc[5] = {0.7, 0.45, 0.25, 0.1, 0.0};
    double w5[6];
    soft_bins(bf, bc, 5, 0.1 + 0.1 * (1.0 - v), w5);
    set_q(s, p, "bulge-size", bulge, w5, 5);

    const char *round[] = {"round", "in-between", "cigar-shaped"};
    const double rc[3] = {0.9, 0.65, 0.35};
    soft_bins(o->q, rc, 3, 0.1, w3);
    set_q(s, p, "how-rounded", round, w3, 3);

    const char *eb[] = {"boxy", "none", "rounded"};
    int boxy = k.c[ZM_COMP_BULGE] && k.c[ZM_COMP_BULGE]->p[0] > 2.05f;
    if (boxy) w3[0] = 0.2 + 0.55 * v, w3[1] = 0.1, w3[2] = 0.7 - 0.55 * v;
    else w3[0] = 0.1, w3[1] = bf < 0.05 ? 0.7 : 0.2, w3[2] = bf < 0.05 ? 0.2 : 0.7;
    set_q(s, p, "edge-on-bulge", eb, w3, 3);

    const char *wind[] = {"tight", "medium", "loose"};
    const double wc[3] = {11.0, 20.0, 32.0};
    double pitch = k.c[ZM_COMP_ARMS] ? k.c[ZM_COMP_ARMS]->p[1] : 20.0;
    soft_bins(pitch, wc, 3, 5.0 + 5.0 * (1.0 - v), w3);
    set_q(s, p, "spiral-winding", wind, w3, 3);

    const char *cnt[] = {"1", "2", "3", "4", "more-than-4", "cant-tell"};
    int m = k.c[ZM_COMP_ARMS] ? (int)k.c[ZM_COMP_ARMS]->p[0] : 2;
    int slot = m >= 5 ? 4 : m - 1;
    for (int i = 0; i < 5; i++) w5[i] = abs(i - slot) == 1 ? 0.1 : i == slot ? 0.6 * v + 0.1 : 0.02;
    w5[5] = 0.15 + 0.3 * (1.0 - v);
    if (k.c[ZM_COMP_ARMS] && k.c[ZM_COMP_ARMS]->n > 0.0f) w5[5] += 0.5 * k.c[ZM_COMP_ARMS]->n; /* flocculent */
    set_q(s, p, "spiral-arm-count", cnt, w5, 6);

    const char *merge[] = {"none", "minor-disturbance", "major-disturbance", "merger"};
    /* mergers and disturbances: driven by the companion's and the tails' and shells'
     * light, seen as well as the galaxy is visible */
    double fcomp = k.fr[ZM_COMP_COMPANION], fdist = k.fr[ZM_COMP_TAIL] + k.fr[ZM_COMP_SHELL];
    double w4[4] = {0.85, 0.1, 0.03, 0.02};
    if (fcomp > 0) {
        double sm = clamp(v * (0.6 + 2.0 * fcomp), 0.0, 0.95);
        w4[0] = 1.0 - sm, w4[1] = 0.15 * sm, w4[2] = 0.3 * sm, w4[3] = 0.55 * sm;
    } else if (fdist > 0) {
        double sd = clamp(v * (0.4 + 5.0 * fdist), 0.0, 0.9);
        w4[0] = 1.0 - sd, w4[1] = 0.55 * sd, w4[2] = 0.35 * sd, w4[3] = 0.1 * sd;
    }
    set_q(s, p, "merging", merge, w4, 4);

    /* volunteer confusion: a small share of answers at random */
    const double eps = 0.04;
    for (int q = 0; q < s->nquestions; q++)
        for (int a = 0; a < s->q[q].nanswers; a++) {
            double *x = &p[s->q[q].first + a];
            *x = (1.0 - eps) * *x + eps / s->q[q].nanswers;
        }
    double fring = k.fr[ZM_COMP_RING] + k.fr[ZM_COMP_ORING];
    *p_ring = fring > 0 ? clamp(0.05 + 0.8 * v * clamp(fring * 10.0, 0.0, 1.0), 0.0, 0.95) : 0.02;
}

void zm_sim_votes_draw(const zm_gz_schema *s, const double *p, double p_ring, int nvol, zm_rng *r,
                       int *counts, int *totals, int *ring)
{
    memset(counts, 0, (size_t)s->nanswers * sizeof *counts);
    memset(totals, 0, (size_t)s->nquestions * sizeof *totals);
    *ring = 0;
    int *chosen = zm_malloc((size_t)s->nquestions * sizeof *chosen);
    for (int v = 0; v < nvol; v++) {
        int face_on_disc = 0;
        /* parents come before children in a schema, so one pass walks the tree */
        for (int q = 0; q < s->nquestions; q++) {
            chosen[q] = -1;
            int par = s->q[q].parent;
            if (par >= 0 && chosen[s->question_of[par]] != par) continue;
            double u = zm_rng_uniform(r), c = 0.0;
            int a = s->q[q].first + s->q[q].nanswers - 1;
            for (int i = 0; i < s->q[q].nanswers; i++) {
                c += p[s->q[q].first + i];
                if (u < c) {
                    a = s->q[q].first + i;
                    break;
                }
            }
            chosen[q] = a;
            counts[a]++;
            totals[q]++;
            if (!strcmp(s->q[q].name, "disk-edge-on") && !strcmp(s->answer[a], "no")) face_on_disc = 1;
        }
        double pr = face_on_disc ? p_ring : 0.01;
        if (zm_rng_uniform(r) < pr) (*ring)++;
    }
    free(chosen);
}

/* votes.fits: the rows of votes.csv as a binary table (EXTNAME VOTES, ZMSIMVER). */
static int write_votes_fits(const char *path, const zm_gz_schema *s, const zm_sim_object *o, long n,
                            const long *rows, long nrows, const int *nvol, const int *counts,
                            const int *totals, const int *rings, zm_err *err)
{
    int na = s->nanswers, nq = s->nquestions, ncol = 6 + 2 * na + nq + 3, st = 0;
    char **tt = zm_calloc((size_t)ncol, sizeof *tt), **tf = zm_calloc((size_t)ncol, sizeof *tf);
    char *names = zm_calloc((size_t)ncol, ZM_GZ_COL_LEN + 16);
    int k = 0;
#define NAME(...) (snprintf(names + (size_t)k * (ZM_GZ_COL_LEN + 16), ZM_GZ_COL_LEN + 16, __VA_ARGS__), \
                   tt[k] = names + (size_t)k * (ZM_GZ_COL_LEN + 16))
    char col[ZM_GZ_COL_LEN];
    const char *fixed[6][2] = {{"brickname", "16A"}, {"objid", "K"}, {"ra", "D"}, {"dec", "D"},
                               {"split", "10A"},    {"volunteers", "J"}};
    for (int i = 0; i < 6; i++, k++) NAME("%s", fixed[i][0]), tf[k] = (char *)fixed[i][1];
    for (int a = 0; a < na; a++, k++) zm_gz_answer_column(s, a, col), NAME("%s", col), tf[k] = "J";
    for (int q = 0; q < nq; q++, k++) NAME("%s_total-votes", s->q[q].name), tf[k] = "J";
    for (int a = 0; a < na; a++, k++) zm_gz_answer_column(s, a, col), NAME("%s_fraction", col), tf[k] = "E";
    NAME("rare-features_ring"), tf[k++] = "J";
    NAME("rare-features_total-votes"), tf[k++] = "J";
    NAME("rare-features_ring_fraction"), tf[k++] = "E";
#undef NAME
    fitsfile *f = NULL;
    char fpath[1300];
    snprintf(fpath, sizeof fpath, "!%s", path);
    fits_create_file(&f, fpath, &st);
    fits_create_tbl(f, BINARY_TBL, 0, ncol, tt, tf, NULL, "VOTES", &st);
    int ver = ZM_SIM_FORMAT_VERSION;
    fits_update_key(f, TINT, "ZMSIMVER", &ver, "zoomorph simulator format version", &st);
    long long *ll = zm_malloc((size_t)(nrows ? nrows : 1) * sizeof *ll);
    double *dd = zm_malloc((size_t)(nrows ? nrows : 1) * sizeof *dd);
    int *ii = zm_malloc((size_t)(nrows ? nrows : 1) * sizeof *ii);
    float *ff = zm_malloc((size_t)(nrows ? nrows : 1) * sizeof *ff);
    char **ss = zm_malloc((size_t)(nrows ? nrows : 1) * sizeof *ss);
    if (nrows > 0) {
        for (long r = 0; r < nrows; r++) ss[r] = (char *)o[rows[r]].brickname;
        fits_write_col(f, TSTRING, 1, 1, 1, nrows, ss, &st);
        for (long r = 0; r < nrows; r++) ll[r] = o[rows[r]].objid;
        fits_write_col(f, TLONGLONG, 2, 1, 1, nrows, ll, &st);
        for (long r = 0; r < nrows; r++) dd[r] = o[rows[r]].ra;
        fits_write_col(f, TDOUBLE, 3, 1, 1, nrows, dd, &st);
        for (long r = 0; r < nrows; r++) dd[r] = o[rows[r]].dec;
        fits_write_col(f, TDOUBLE, 4, 1, 1, nrows, dd, &st);
        for (long r = 0; r < nrows; r++) ss[r] = (char *)zm_sim_split_names[o[rows[r]].split];
        fits_write_col(f, TSTRING, 5, 1, 1, nrows, ss, &st);
        fits_write_col(f, TINT, 6, 1, 1, nrows, (void *)nvol, &st);
        for (int a = 0; a < na; a++) {
            for (long r = 0; r < nrows; r++) ii[r] = counts[(size_t)r * na + a];
            fits_write_col(f, TINT, 7 + a, 1, 1, nrows, ii, &st);
        }
        for (int q = 0; q < nq; q++) {
            for (long r = 0; r < nrows; r++) ii[r] = totals[(size_t)r * nq + q];
            fits_write_col(f, TINT, 7 + na + q, 1, 1, nrows, ii, &st);
        }
        for (int a = 0; a < na; a++) {
            for (long r = 0; r < nrows; r++) {
                int t = totals[(size_t)r * nq + s->question_of[a]];
                ff[r] = t ? (float)((double)counts[(size_t)r * na + a] / t) : NAN;
            }
            fits_write_col(f, TFLOAT, 7 + na + nq + a, 1, 1, nrows, ff, &st);
        }
        fits_write_col(f, TINT, ncol - 2, 1, 1, nrows, (void *)rings, &st);
        fits_write_col(f, TINT, ncol - 1, 1, 1, nrows, (void *)nvol, &st);
        for (long r = 0; r < nrows; r++) ff[r] = (float)((double)rings[r] / nvol[r]);
        fits_write_col(f, TFLOAT, ncol, 1, 1, nrows, ff, &st);
    }
    int st2 = 0;
    if (f) fits_close_file(f, st ? &st2 : &st);
    free(ll), free(dd), free(ii), free(ff), free(ss), free(tt), free(tf), free(names);
    (void)n;
    if (st) {
        char msg[FLEN_ERRMSG];
        fits_get_errstatus(st, msg);
        return zm_err_set(err, ZM_EIO, "%s: cannot write the votes table: %s", path, msg);
    }
    return 0;
}

int zm_sim_write_votes(const char *path, const char *fits_path, const char *rings_path,
                       const zm_gz_schema *s, const zm_sim_object *o, long n, uint64_t seed,
                       int min_vol, int max_vol, zm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return zm_err_set(err, ZM_EIO, "cannot create %s", path);
    FILE *fr = NULL;
    if (rings_path && !(fr = fopen(rings_path, "w"))) {
        fclose(f);
        return zm_err_set(err, ZM_EIO, "cannot create %s", rings_path);
    }
    if (fr) fprintf(fr, "ra,dec,ring,brickname,objid,split\n");
    int a_feat = zm_gz_answer_find(s, "smooth-or-featured_featured-or-disk");
    int a_face = zm_gz_answer_find(s, "disk-edge-on_no");
    char col[ZM_GZ_COL_LEN];
    fprintf(f, "brickname,objid,ra,dec,split,volunteers");
    for (int a = 0; a < s->nanswers; a++) {
        zm_gz_answer_column(s, a, col);
        fprintf(f, ",%s", col);
    }
    for (int q = 0; q < s->nquestions; q++) fprintf(f, ",%s_total-votes", s->q[q].name);
    for (int a = 0; a < s->nanswers; a++) {
        zm_gz_answer_column(s, a, col);
        fprintf(f, ",%s_fraction", col);
    }
    fprintf(f, ",rare-features_ring,rare-features_total-votes,rare-features_ring_fraction\n");
    double *p = zm_malloc((size_t)s->nanswers * sizeof *p);
    size_t nn = (size_t)(n ? n : 1);
    /* every galaxy's row is kept for votes.fits */
    int *all_counts = zm_malloc(nn * (size_t)s->nanswers * sizeof *all_counts);
    int *all_totals = zm_malloc(nn * (size_t)s->nquestions * sizeof *all_totals);
    int *all_nvol = zm_malloc(nn * sizeof *all_nvol), *all_ring = zm_malloc(nn * sizeof *all_ring);
    long *rows = zm_malloc(nn * sizeof *rows), nrows = 0;
    for (long i = 0; i < n; i++) {
        if (o[i].cls == ZM_SIM_STAR) continue;
        int *counts = all_counts + (size_t)nrows * s->nanswers, *totals = all_totals + (size_t)nrows * s->nquestions;
        zm_rng r;
        /* top bit set: never collides with the brick streams of simsurvey.c */
        zm_rng_seed(&r, seed, (1ULL << 63) | ((uint64_t)o[i].brick_index << 24) | (uint64_t)o[i].objid);
        int nvol = min_vol + (int)zm_rng_below(&r, (uint64_t)(max_vol - min_vol + 1));
        double pring;
        int ring;
        zm_sim_vote_probs(s, &o[i], p, &pring);
        zm_sim_votes_draw(s, p, pring, nvol, &r, counts, totals, &ring);
        rows[nrows] = i, all_nvol[nrows] = nvol, all_ring[nrows] = ring;
        nrows++;
        fprintf(f, "%s,%ld,%.8f,%.8f,%s,%d", o[i].brickname, o[i].objid, o[i].ra, o[i].dec,
                zm_sim_split_names[o[i].split], nvol);
        for (int a = 0; a < s->nanswers; a++) fprintf(f, ",%d", counts[a]);
        for (int q = 0; q < s->nquestions; q++) fprintf(f, ",%d", totals[q]);
        for (int a = 0; a < s->nanswers; a++) {
            int t = totals[s->question_of[a]];
            if (t) fprintf(f, ",%.4f", (double)counts[a] / t);
            else fprintf(f, ",nan");
        }
        fprintf(f, ",%d,%d,%.4f\n", ring, nvol, (double)ring / nvol);
        if (fr && a_feat >= 0 && a_face >= 0) {
            int tf = totals[s->question_of[a_feat]], te = totals[s->question_of[a_face]];
            double ffeat = tf ? (double)counts[a_feat] / tf : 0, fface = te ? (double)counts[a_face] / te : 0;
            double fring = (double)ring / nvol;
            if (ffeat > 0.5 && fface > 0.5 && (fring > 0.25 || fring < 0.05))
                fprintf(fr, "%.8f,%.8f,%d,%s,%ld,%s\n", o[i].ra, o[i].dec, fring > 0.25, o[i].brickname,
                        o[i].objid, zm_sim_split_names[o[i].split]);
        }
    }
    free(p);
    int bad = fclose(f) != 0;
    int rc = 0;
    if (fr && fclose(fr) != 0) rc = zm_err_set(err, ZM_EIO, "cannot write %s", rings_path);
    if (!rc && bad) rc = zm_err_set(err, ZM_EIO, "cannot write %s", path);
    if (!rc && fits_path)
        rc = write_votes_fits(fits_path, s, o, n, rows, nrows, all_nvol, all_counts, all_totals, all_ring, err);
    free(all_counts), free(all_totals), free(all_nvol), free(all_ring), free(rows);
    return rc;
}
