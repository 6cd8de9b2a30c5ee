/*
 * stage_report.c: `zoomorph report` writes a static HTML page of a run for people: no
 * server, no script, no external asset. The PNG figures go into a folder beside the page,
 * <page without .html>_files/, referenced by relative paths, so the page and its folder
 * can be copied anywhere together (and a figure taken on its own). Sections, each present
 * when the store holds its data and otherwise saying what is missing:
 *   summary    the run's stages, status, time and output (/meta run_summary of `zoomorph
 *              run`, or the stages recorded in /meta/stages), the store's counts
 *   stamps     a contact sheet of the first stamps
 *   pretrain   train and validation loss per epoch (/pretrain/history)
 *   votes      predicted against volunteer vote fractions, one scatter plot per question
 *              (galaxies with at least [report] min_votes answers to it), with the mean
 *              absolute error
 *   similar    a gallery per query of [similar] output (query first)
 *   anomaly    the [report] top_n most anomalous galaxies (/anomaly/iforest_score)
 *   finetune   the fine-tuning curves of each task (/finetune/<task>/history: per epoch train,
 *              validation loss)
 *   catalogue  the FITS catalogue's rows and columns
 * Rank 0 does the work; the others wait for its status.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stage_common.h"
#include "zoomorph/gallery.h"
#include "zoomorph/log.h"
#include "zoomorph/plot.h"
#include "zoomorph/table.h"
#include "zoomorph/version.h"

typedef struct {
    FILE *f;
    char dir[4096];   /* the figures' folder */
    char rel[512];    /* its name relative to the page */
    int nimg;
} page;

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* A figure's file name (in the folder) and its path; returns the relative src. */
static void fig_paths(page *pg, const char *name, char *file, size_t nf, char *src, size_t ns)
{
    snprintf(file, nf, "%s/%s", pg->dir, name);
    snprintf(src, ns, "%s/%s", pg->rel, name);
}

static void img(page *pg, const char *src, const char *alt, const char *caption)
{
    fputs("<figure><img src=\"", pg->f);
    esc(pg->f, src);
    fputs("\" alt=\"", pg->f);
    esc(pg->f, alt);
    fputs("\">", pg->f);
    if (caption) {
        fputs("<figcaption>", pg->f);
        esc(pg->f, caption);
        fputs("</figcaption>", pg->f);
    }
    fputs("</figure>\n", pg->f);
    pg->nimg++;
}

static void missing(page *pg, const char *what)
{
    fputs("<p class=\"missing\">", pg->f);
    esc(pg->f, what);
    fputs("</p>\n", pg->f);
}

/* A gallery of rows ids into the folder; caption under it. */
static int gallery(page *pg, zm_store *s, const char *name, const long long *ids, int n, int ncols, const char *alt,
                   const char *caption, zm_err *err)
{
    char file[4600], src[1100];
    fig_paths(pg, name, file, sizeof file, src, sizeof src);
    int rc = zm_gallery_write_rows(s, file, ids, n, NULL, ncols, err);
    if (rc == ZM_EMISSING) {
        missing(pg, "no stamps in the store (run 'zoomorph cutout')");
        return 0;
    }
    if (!rc) img(pg, src, alt, caption);
    return rc;
}

static void section(page *pg, const char *id, const char *title)
{
    fprintf(pg->f, "<section id=\"%s\">\n<h2>", id);
    esc(pg->f, title);
    fputs("</h2>\n", pg->f);
}

static void end_section(page *pg) { fputs("</section>\n", pg->f); }

static void summary(page *pg, zm_store *s)
{
    section(pg, "summary", "Run summary");
    char *text = zm_malloc(16384);
    unsigned long long N = 0, nrej = 0;
    zm_err e = {0};
    zm_store_nrows(s, ZM_F_GAL_ID.path, &N, &e);
    zm_store_nrows(s, "/rejects/stage", &nrej, &e);
    char created[64] = "", ver[64] = "";
    zm_store_get_attr(s, "/meta", "created", created, sizeof created);
    zm_store_get_attr(s, "/meta", "zoomorph_version", ver, sizeof ver);
    fputs("<p>Store <code>", pg->f);
    esc(pg->f, zm_store_path(s));
    fprintf(pg->f, "</code>, created %s by zoomorph %s: %llu galaxies, %llu rejected inputs or galaxies "
                   "(<code>/rejects</code>). Report by zoomorph %s (%s).</p>\n",
            created, ver, N, nrej, ZM_VERSION, ZM_GIT_REVISION);
    fputs("<table>\n<tr><th>stage</th><th>status</th><th>time (s)</th><th>output</th></tr>\n", pg->f);
    if (!zm_store_get_attr(s, "/meta", "run_summary", text, 16384)) {
        char *save = NULL;
        for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
            char *f[4] = {ln, "", "", ""};
            for (int k = 1; k < 4; k++) {
                char *t = strchr(f[k - 1], '\t');
                if (!t) break;
                *t = '\0';
                f[k] = t + 1;
            }
            double sec = atof(f[2]);
            fprintf(pg->f, "<tr class=\"%s\"><td>", !strcmp(f[1], "not asked") ? "notasked" : "");
            esc(pg->f, f[0]);
            fputs("</td><td>", pg->f);
            esc(pg->f, f[1]);
            fputs("</td><td class=\"num\">", pg->f);
            if (sec > 0) fprintf(pg->f, "%.1f", sec);
            fputs("</td><td>", pg->f);
            esc(pg->f, f[3]);
            fputs("</td></tr>\n", pg->f);
        }
    } else {
        for (int i = 0; i < zm_nstages; i++) {
            char g[128], st[32] = "", a[64] = "", b[64] = "", sum[1024] = "";
            snprintf(g, sizeof g, "/meta/stages/%s", zm_stages[i]->name);
            if (zm_store_get_attr(s, g, "status", st, sizeof st)) continue;
            zm_store_get_attr(s, g, "started", a, sizeof a);
            zm_store_get_attr(s, g, "finished", b, sizeof b);
            zm_store_get_attr(s, g, "summary", sum, sizeof sum);
            fprintf(pg->f, "<tr><td>%s</td><td>", zm_stages[i]->name);
            esc(pg->f, st);
            fprintf(pg->f, "</td><td>%s to %s</td><td>", a, b);
            esc(pg->f, sum);
            fputs("</td></tr>\n", pg->f);
        }
    }
    fputs("</table>\n", pg->f);
    free(text);
    end_section(pg);
}

static int stamps(page *pg, zm_store *s, zm_err *err)
{
    section(pg, "stamps", "Stamps");
    long long ids[48];
    int k = 0;
    int rc = zm_gallery_kept_rows(s, 0, 48, ids, &k, err);
    if (rc == ZM_EMISSING) {
        missing(pg, "no stamps in the store (run 'zoomorph cutout')");
        rc = 0;
    } else if (!rc) {
        char cap[128];
        snprintf(cap, sizeof cap, "The first %d stamps as stored (row 0 north, east left), labelled with their ids.", k);
        rc = gallery(pg, s, "stamps.png", ids, k, 12, "stamps", cap, err);
    }
    end_section(pg);
    return rc;
}

/* Two line series (columns 0 and 1 of a [E, stride] history) against epoch. */
static int curves(page *pg, zm_store *s, const char *path, const char *name, const char *what, zm_err *err)
{
    unsigned long long d[4] = {0};
    if (zm_store_shape(s, path, d, err) != 2 || d[0] == 0 || d[1] < 2) {
        char m[256];
        snprintf(m, sizeof m, "no %s in this store (%s)", what, path);
        missing(pg, m);
        return 0;
    }
    int E = (int)d[0], stride = (int)d[1];
    double *h = zm_malloc((size_t)E * stride * sizeof *h), *ep = zm_malloc((size_t)E * sizeof *ep),
           *tr = zm_malloc((size_t)E * sizeof *tr), *va = zm_malloc((size_t)E * sizeof *va);
    zm_range all = {0, d[0]};
    int rc = zm_store_read(s, path, ZM_DT_F64, 0, &all, 1, h, err);
    for (int e = 0; e < E; e++) ep[e] = e + 1, tr[e] = h[(size_t)e * stride], va[e] = h[(size_t)e * stride + 1];
    zm_series ser[2] = {{ep, tr, E, 0}, {ep, va, E, 1}};
    char file[4600], src[1100], cap[512];
    fig_paths(pg, name, file, sizeof file, src, sizeof src);
    if (!rc) rc = zm_plot_lines(file, 640, 360, ser, 2, 0, err);
    if (!rc) {
        snprintf(cap, sizeof cap, "%s per epoch (%d epochs): blue train, orange validation; last %.4g / %.4g.", what, E,
                 tr[E - 1], va[E - 1]);
        img(pg, src, what, cap);
    }
    free(h), free(ep), free(tr), free(va);
    return rc;
}

/* A text file (a markdown table) into the page as preformatted text; 0 if it is absent. */
static int text_file(page *pg, const char *path)
{
    FILE *t = path && path[0] ? fopen(path, "r") : NULL;
    if (!t) return 0;
    fputs("<pre>", pg->f);
    char line[4096];
    while (fgets(line, sizeof line, t)) esc(pg->f, line);
    fputs("</pre>\n", pg->f);
    fclose(t);
    return 1;
}

/* A PNG made elsewhere, copied into the figures folder; 0 if it is absent. */
static int copy_figure(page *pg, const char *from, const char *name, const char *alt, const char *caption, zm_err *err)
{
    FILE *in = from && from[0] ? fopen(from, "rb") : NULL;
    if (!in) return 0;
    char file[4600], src[1100], buf[65536];
    fig_paths(pg, name, file, sizeof file, src, sizeof src);
    FILE *out = fopen(file, "wb");
    int bad = !out;
    size_t n;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0) bad = fwrite(buf, 1, n, out) != n;
    if (out && fclose(out)) bad = 1;
    fclose(in);
    if (bad) return zm_err_set(err, ZM_EIO, "report: cannot copy %s to %s", from, file);
    img(pg, src, alt, caption);
    return 1;
}

/* One loss curve per fine-tuned task: the tasks are the finetune_<task> columns the stage
 * registered for the catalogue (/finetune/<task>/prediction), their history beside them. */
static int finetune(page *pg, zm_store *s, zm_err *err)
{
    section(pg, "finetune", "Fine-tuning");
    char reg[8192];
    int n = 0, rc = 0;
    if (zm_store_get_attr(s, ZM_CATALOGUE_REGISTRY, "columns", reg, sizeof reg)) reg[0] = '\0';
    char *save = NULL;
    for (char *t = strtok_r(reg, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (strncmp(t, "finetune_", 9) || !eq) continue;
        *eq = '\0';
        char hist[300], name[128], what[160];
        snprintf(hist, sizeof hist, "%s", eq + 1);
        char *slash = strrchr(hist, '/');
        if (!slash) continue;
        snprintf(slash, sizeof hist - (size_t)(slash - hist), "/history");
        snprintf(name, sizeof name, "%s-loss.png", t);
        snprintf(what, sizeof what, "fine-tuning loss of task %s", t + 9);
        rc = curves(pg, s, hist, name, what, err);
        n++;
    }
    if (!n) missing(pg, "no fine-tuned task in this store ('zoomorph finetune')");
    end_section(pg);
    return rc;
}

/* The learning curve of `zoomorph finetune --learning-curve` ([finetune] lc_out .png and
 * .md) and the benchmark table ([report] benchmarks), when they exist. */
static int extras(page *pg, const zm_params *p, zm_err *err)
{
    char png[4200], md[4200];
    const char *lc = zm_param_str(p, "finetune.lc_out");
    snprintf(png, sizeof png, "%s.png", lc);
    snprintf(md, sizeof md, "%s.md", lc);
    section(pg, "learning-curve", "Fine-tuning learning curve");
    int rc = copy_figure(pg, png, "learning-curve.png", "fine-tuning learning curve",
                         "test accuracy against the number of labels: pretrained encoder and from scratch", err);
    if (rc >= 0 && !text_file(pg, md) && rc == 0)
        missing(pg, "no learning curve ('zoomorph finetune --learning-curve' writes [finetune] lc_out .png and .md)");
    end_section(pg);
    if (rc < 0) return rc;
    section(pg, "benchmarks", "Benchmarks");
    if (!text_file(pg, zm_param_str(p, "report.benchmarks")))
        missing(pg, "no benchmark table ([report] benchmarks names one, e.g. the output of 'make bench')");
    end_section(pg);
    return 0;
}

static int load_tree(const zm_params *p, zm_gz_schema *t, zm_err *err)
{
    const char *tree = zm_param_str(p, "labels.tree");
    return !strcmp(tree, "decals") ? zm_gz_schema_decals(t, err) : zm_gz_schema_load(t, tree, err);
}

static int votes(page *pg, zm_store *s, const zm_params *p, zm_err *err)
{
    section(pg, "votes", "Predicted against volunteer vote fractions");
    unsigned long long dv[4] = {0}, dp[4] = {0};
    if (zm_store_shape(s, "/labels/votes", dv, err) != 2 || zm_store_shape(s, "/predictions/vote_fraction", dp, err) != 2 ||
        dv[0] != dp[0] || dv[1] != dp[1]) {
        missing(pg, "needs volunteer votes (/labels/votes, 'zoomorph votes') and predictions (/predictions/vote_fraction, "
                    "'zoomorph embed') of the same tree");
        end_section(pg);
        return 0;
    }
    zm_gz_schema tree;
    if (load_tree(p, &tree, err)) return err->code;
    if (tree.nanswers != (int)dv[1]) {
        zm_gz_schema_free(&tree);
        missing(pg, "the store's vote columns do not match [labels] tree");
        end_section(pg);
        return 0;
    }
    const long N = (long)dv[0];
    const int A = (int)dv[1];
    float *k = zm_malloc((size_t)N * A * sizeof *k), *f = zm_malloc((size_t)N * A * sizeof *f);
    unsigned char *has = zm_malloc((size_t)N);
    zm_range all = {0, (unsigned long long)N};
    int rc = zm_store_read(s, "/labels/votes", ZM_DT_F32, 0, &all, 1, k, err);
    if (!rc) rc = zm_store_read(s, "/predictions/vote_fraction", ZM_DT_F32, 0, &all, 1, f, err);
    if (!rc) rc = zm_store_read(s, "/labels/has_votes", ZM_DT_U8, 0, &all, 1, has, err);
    const long maxp = (long)zm_param_int(p, "report.max_points"), minv = (long)zm_param_int(p, "report.min_votes");
    fprintf(pg->f, "<p>One point per galaxy and answer: the volunteers' fraction (x) against the predicted expected "
                   "fraction (y), for galaxies with at least %ld answers to the question (at most %ld galaxies drawn); "
                   "the grey line is y = x. The mean absolute error is over every such galaxy.</p>\n"
                   "<table>\n<tr><th>question</th><th>galaxies</th><th>mean absolute error</th></tr>\n",
            minv, maxp);
    char *figs = zm_calloc((size_t)tree.nquestions, 8192);
    for (int q = 0; q < tree.nquestions && !rc; q++) {
        const zm_gz_question *Q = &tree.q[q];
        long ng = 0;
        double mae = 0;
        for (long i = 0; i < N; i++) {
            double tot = 0;
            for (int a = 0; a < Q->nanswers; a++) tot += k[(size_t)i * A + Q->first + a];
            if (!has[i] || tot < minv || !isfinite(f[(size_t)i * A + Q->first])) continue;
            for (int a = 0; a < Q->nanswers; a++) mae += fabs(k[(size_t)i * A + Q->first + a] / tot - f[(size_t)i * A + Q->first + a]);
            ng++;
        }
        if (ng) mae /= (double)ng * Q->nanswers;
        fprintf(pg->f, "<tr><td>%s</td><td class=\"num\">%ld</td><td class=\"num\">", Q->name, ng);
        if (ng) fprintf(pg->f, "%.4f", mae);
        fputs("</td></tr>\n", pg->f);
        if (!ng) continue;
        /* one series per answer, at most maxp galaxies (evenly spaced) */
        zm_series ser[16];
        int na = Q->nanswers < 16 ? Q->nanswers : 16;
        double *xs = zm_malloc((size_t)na * (maxp + 1) * sizeof *xs), *ys = zm_malloc((size_t)na * (maxp + 1) * sizeof *ys);
        for (int a = 0; a < na; a++) ser[a] = (zm_series){xs + (size_t)a * (maxp + 1), ys + (size_t)a * (maxp + 1), 0, a};
        long seen = 0;
        const double step = ng > maxp ? (double)ng / maxp : 1.0;
        double next = 0;
        for (long i = 0; i < N; i++) {
            double tot = 0;
            for (int a = 0; a < Q->nanswers; a++) tot += k[(size_t)i * A + Q->first + a];
            if (!has[i] || tot < minv || !isfinite(f[(size_t)i * A + Q->first])) continue;
            if (seen++ < (long)next) continue;
            next += step;
            for (int a = 0; a < na; a++) {
                zm_series *sr = &ser[a];
                if (sr->n > maxp) continue;
                xs[(size_t)a * (maxp + 1) + sr->n] = k[(size_t)i * A + Q->first + a] / tot;
                ys[(size_t)a * (maxp + 1) + sr->n] = f[(size_t)i * A + Q->first + a];
                sr->n++;
            }
        }
        char name[128], file[4600], src[1100];
        snprintf(name, sizeof name, "votes-%s.png", Q->name);
        fig_paths(pg, name, file, sizeof file, src, sizeof src);
        rc = zm_plot_scatter(file, 420, 380, ser, na, 0, 1, 1, err);
        free(xs), free(ys);
        if (rc) break;
        /* the figure, with a legend of answer colours, after the table */
        char *fg = figs + (size_t)q * 8192;
        int len = snprintf(fg, 8192, "<figure class=\"scatter\"><img src=\"%s\" alt=\"%s: predicted against volunteer "
                                      "fractions\"><figcaption><b>%s</b> (%ld galaxies):", src, Q->name, Q->name, ng);
        for (int a = 0; a < na && len < 8000; a++) {
            uint8_t c[3];
            zm_plot_palette(a, c);
            len += snprintf(fg + len, 8192 - (size_t)len, " <span class=\"key\" style=\"background:#%02x%02x%02x\"></span>%s",
                            c[0], c[1], c[2], tree.answer[Q->first + a]);
        }
        snprintf(fg + len, 8192 - (size_t)len, "</figcaption></figure>\n");
    }
    fputs("</table>\n<div class=\"grid\">\n", pg->f);
    for (int q = 0; q < tree.nquestions; q++)
        if (figs[(size_t)q * 8192]) fputs(figs + (size_t)q * 8192, pg->f), pg->nimg++;
    fputs("</div>\n", pg->f);
    free(figs), free(k), free(f), free(has);
    zm_gz_schema_free(&tree);
    end_section(pg);
    return rc;
}

static int similar(page *pg, zm_store *s, const zm_params *p, zm_err *err)
{
    section(pg, "similar", "Look-alikes (similarity search)");
    const char *csv = zm_param_str(p, "similar.output");
    struct stat sb;
    if (stat(csv, &sb) != 0) {
        char m[4200];
        snprintf(m, sizeof m, "no similarity results (%s; set [similar] queries and run 'zoomorph similar')", csv);
        missing(pg, m);
        end_section(pg);
        return 0;
    }
    zm_table *t = NULL;
    int rc = zm_table_open(csv, &t, err);
    if (rc) return rc;
    long n = zm_table_nrows(t);
    int cq = zm_table_col(t, "query_id"), ci = zm_table_col(t, "id");
    if (cq < 0 || ci < 0) {
        zm_table_close(t);
        return zm_err_set(err, ZM_EMISSING, "report: %s has no query_id and id columns ([similar] output)", csv);
    }
    long long *q = zm_malloc((size_t)(n ? n : 1) * sizeof *q), *id = zm_malloc((size_t)(n ? n : 1) * sizeof *id);
    unsigned char *bad = zm_malloc((size_t)(n ? n : 1));
    rc = zm_table_read_ll(t, cq, q, NULL, err);
    if (!rc) rc = zm_table_read_ll(t, ci, id, bad, err);
    zm_table_close(t);
    unsigned long long N = 0;
    zm_store_nrows(s, ZM_F_GAL_ID.path, &N, err);
    fputs("<p>For each query galaxy (first, top left) its nearest neighbours in [similar] space, nearest first.</p>\n", pg->f);
    long long ids[1025];
    for (long i = 0; !rc && i < n;) {
        long j = i;
        int m = 0;
        ids[m++] = q[i];
        for (; j < n && q[j] == q[i]; j++)
            if (!bad[j] && id[j] >= 0 && (unsigned long long)id[j] < N && m < 1025) ids[m++] = id[j];
        if (q[i] >= 0 && (unsigned long long)q[i] < N) {
            char name[64], alt[64], cap[128];
            snprintf(name, sizeof name, "similar-%lld.png", q[i]);
            snprintf(alt, sizeof alt, "look-alikes of galaxy %lld", q[i]);
            snprintf(cap, sizeof cap, "Query galaxy %lld and its %d nearest neighbours.", q[i], m - 1);
            rc = gallery(pg, s, name, ids, m, m <= 11 ? m : 0, alt, cap, err);
        }
        i = j;
    }
    free(q), free(id), free(bad);
    end_section(pg);
    return rc;
}

typedef struct {
    float v;
    long long id;
} scored;

static int by_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int anomaly(page *pg, zm_store *s, const zm_params *p, zm_err *err)
{
    section(pg, "anomaly", "Most anomalous galaxies");
    unsigned long long N = 0;
    if (zm_store_nrows(s, "/anomaly/iforest_score", &N, err) || N == 0) {
        missing(pg, "no anomaly scores (/anomaly/iforest_score; run 'zoomorph anomaly')");
        end_section(pg);
        return 0;
    }
    float *sc = zm_malloc((size_t)N * sizeof *sc);
    zm_range all = {0, N};
    int rc = zm_store_read(s, "/anomaly/iforest_score", ZM_DT_F32, 0, &all, 1, sc, err);
    scored *r = zm_malloc((size_t)N * sizeof *r);
    long nr = 0;
    for (unsigned long long i = 0; i < N; i++)
        if (isfinite(sc[i])) r[nr++] = (scored){sc[i], (long long)i};
    qsort(r, (size_t)nr, sizeof *r, by_desc);
    int top = (int)zm_param_int(p, "report.top_n");
    if (top > nr) top = (int)nr;
    long long *ids = zm_malloc((size_t)(top ? top : 1) * sizeof *ids);
    for (int i = 0; i < top; i++) ids[i] = r[i].id;
    char cap[256];
    snprintf(cap, sizeof cap, "The %d highest isolation-forest scores of %ld galaxies, highest first (scores %.3f to %.3f).", top,
             nr, top ? r[0].v : 0.0, top ? r[top - 1].v : 0.0);
    if (!rc && top) rc = gallery(pg, s, "anomalies.png", ids, top, 8, "most anomalous galaxies", cap, err);
    free(sc), free(r), free(ids);
    end_section(pg);
    return rc;
}

static int catalogue(page *pg, const zm_params *p)
{
    section(pg, "catalogue", "Catalogue");
    const char *path = zm_param_str(p, "catalogue.path");
    fitsfile *f = NULL;
    int st = 0, ncol = 0;
    long nrow = 0;
    if (fits_open_table(&f, path, READONLY, &st)) {
        char m[4200];
        snprintf(m, sizeof m, "no catalogue at %s ([catalogue] path; run 'zoomorph catalogue')", path);
        missing(pg, m);
        end_section(pg);
        return 0;
    }
    fits_get_num_rows(f, &nrow, &st);
    fits_get_num_cols(f, &ncol, &st);
    fputs("<table>\n<tr><th>file</th><td><code>", pg->f);
    esc(pg->f, path);
    fprintf(pg->f, "</code> (FITS binary table)</td></tr>\n<tr><th>rows</th><td class=\"num\">%ld</td></tr>\n"
                   "<tr><th>columns</th><td class=\"num\">%d</td></tr>\n</table>\n<p class=\"cols\">", nrow, ncol);
    for (int c = 1; c <= ncol && !st; c++) {
        char key[16], name[FLEN_VALUE] = "";
        snprintf(key, sizeof key, "TTYPE%d", c);
        fits_read_key(f, TSTRING, key, name, NULL, &st);
        fprintf(pg->f, "%s<code>", c > 1 ? " " : "");
        esc(pg->f, name);
        fputs("</code>", pg->f);
    }
    fputs("</p>\n", pg->f);
    st = 0;
    fits_close_file(f, &st);
    end_section(pg);
    return 0;
}

static int run_report(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    if (a->argc) {
        zm_err_set(err, ZM_EUSAGE, "report: unknown flag '%s'", a->argv[0]);
        return ZM_EXIT_USAGE;
    }
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 0, NULL, &s, err)) return ZM_EXIT_INPUT;
    int rc = 0;
    page pg = {0};
    const char *out = zm_param_str(p, "report.path");
    if (ctx->rank == 0) {
        size_t L = strlen(out);
        int html = L > 5 && !strcmp(out + L - 5, ".html");
        snprintf(pg.dir, sizeof pg.dir, "%.*s_files", (int)(html ? L - 5 : L), out);
        const char *slash = strrchr(pg.dir, '/');
        snprintf(pg.rel, sizeof pg.rel, "%s", slash ? slash + 1 : pg.dir);
        if (mkdir(pg.dir, 0755) && errno != EEXIST)
            rc = zm_err_set(err, ZM_EIO, "config key [report] path: cannot create the figures' folder %s: %s", pg.dir,
                            strerror(errno));
        if (!rc && !(pg.f = fopen(out, "w")))
            rc = zm_err_set(err, ZM_EIO, "config key [report] path: cannot write %s: %s", out, strerror(errno));
        if (!rc) {
            fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>zoomorph report</title>\n"
                  "<style>\nbody{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\n"
                  "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;"
                  "vertical-align:top}\n.num{text-align:right}.notasked{color:#888}.missing{color:#a00}\n"
                  "figure{margin:1em 0}img{max-width:100%;image-rendering:pixelated}\n"
                  ".grid{display:flex;flex-wrap:wrap;gap:1em}.scatter{width:430px;margin:0}\n"
                  ".key{display:inline-block;width:.8em;height:.8em;margin:0 .2em 0 .6em}\n.cols code{font-size:85%}\n"
                  "</style>\n</head>\n<body>\n<h1>zoomorph report</h1>\n",
                  pg.f);
            summary(&pg, s);
            rc = stamps(&pg, s, err);
            if (!rc) {
                section(&pg, "pretrain", "Pretraining");
                rc = curves(&pg, s, "/pretrain/history", "pretrain-loss.png", "pretraining loss (Dirichlet, per galaxy)", err);
                end_section(&pg);
            }
            if (!rc) rc = votes(&pg, s, p, err);
            if (!rc) rc = similar(&pg, s, p, err);
            if (!rc) rc = anomaly(&pg, s, p, err);
            if (!rc) rc = finetune(&pg, s, err);
            if (!rc) rc = extras(&pg, p, err);
            if (!rc) rc = catalogue(&pg, p);
            fputs("</body>\n</html>\n", pg.f);
            if (fclose(pg.f) && !rc) rc = zm_err_set(err, ZM_EIO, "report: writing %s failed: %s", out, strerror(errno));
        }
        if (!rc) zm_info("report: %s (%d figures in %s)", out, pg.nimg, pg.dir);
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_report = {
    "report", "a static HTML page of the run (summary, loss curves, vote plots, galleries, catalogue)", "", run_report};
