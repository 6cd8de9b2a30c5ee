/*
 * stage_anomaly.c: `zoomorph anomaly` ranks galaxies by how anomalous they are:
 *  - the isolation forest (src/anomaly/iforest.c) on [anomaly] space (PCA-40 by default),
 *    grown from a pool over all ranks, every rank scoring its rows: /anomaly/iforest_score
 *    and a CSV of the top [anomaly] top_n;
 *  - with --evaluate interest.csv (ra, dec, score 0..5: one researcher's interests) and
 *    --budget B: the paper's active learning replayed with that file as the oracle: a
 *    Gaussian process (rational quadratic + white noise) on the standardised coordinates,
 *    the first 10 labels at random, then batches of 10 chosen by expected improvement
 *    (trade-off 0.5) up to B labels; the final ranking puts labelled galaxies by their label
 *    and the rest by the GP mean. Reports, averaged over [anomaly] seeds, the fraction of
 *    the top 50, 100 and 200 that are interesting (score >= [anomaly] interesting) for the
 *    isolation forest alone and for the GP, and the curve against labels used.
 *    [anomaly] evaluate and budget give the same without the flags.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/crossmatch.h"
#include "zoomorph/gp.h"
#include "zoomorph/iforest.h"
#include "zoomorph/log.h"
#include "zoomorph/rng.h"
#include "zoomorph/table.h"

typedef struct {
    float v;
    long long id;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Fraction of the top m of a ranking whose interest is >= thr. */
static double top_fraction(const scored *rank, long n, const float *interest, int m, double thr)
{
    long hit = 0, k = 0;
    for (long i = 0; i < n && k < m; i++, k++) hit += interest[rank[i].id] >= thr;
    return k ? (double)hit / k : 0;
}

static double norm_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

static int run_anomaly(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    const char *oracle = zm_param_str(p, "anomaly.evaluate");
    long budget = (long)zm_param_int(p, "anomaly.budget");
    if (oracle && !oracle[0]) oracle = NULL;
    for (int i = 0; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--evaluate") && i + 1 < a->argc) oracle = a->argv[++i];
        else if (!strcmp(a->argv[i], "--budget") && i + 1 < a->argc) budget = atol(a->argv[++i]);
        else {
            zm_err_set(err, ZM_EUSAGE, "anomaly: unknown flag '%s'", a->argv[i]);
            return ZM_EXIT_USAGE;
        }
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
    long nv = 0;
    float *xv = zm_malloc((size_t)(nloc ? nloc : 1) * d * sizeof *xv);
    unsigned char *ok = zm_malloc((size_t)(nloc ? nloc : 1));
    for (long i = 0; i < nloc; i++) {
        int good = 1;
        for (int j = 0; j < d && good; j++) good = isfinite(x[(size_t)i * d + j]);
        ok[i] = (unsigned char)good;
        if (good) memcpy(xv + (size_t)nv++ * d, x + (size_t)i * d, (size_t)d * sizeof *x);
    }
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
        zm_field fs = {"/anomaly/iforest_score", ZM_DT_F32, 0, {0}, 0, "",
                       "isolation-forest anomaly score 2^(-E[h]/c(psi)); higher is more anomalous"};
        rc = zm_store_define(s, &fs, (unsigned long long)N, 1, err);
        if (!rc) rc = zm_store_write(s, &fs, &mine, 1, sc, err);
    }
    /* everyone gathers all scores (N floats) for the rankings */
    float *all = zm_malloc((size_t)(N ? N : 1) * sizeof *all);
    int *cnt = zm_malloc((size_t)ctx->size * sizeof *cnt), *dsp = zm_malloc((size_t)ctx->size * sizeof *dsp);
    for (int q = 0; q < ctx->size; q++) {
        dsp[q] = (int)((unsigned long long)N * q / ctx->size);
        cnt[q] = (int)((unsigned long long)N * (q + 1) / ctx->size) - dsp[q];
    }
    if (!rc) ZM_CHECK_MPI(MPI_Allgatherv(sc, (int)nloc, MPI_FLOAT, all, cnt, dsp, MPI_FLOAT, ctx->comm));
    scored *rank = zm_malloc((size_t)(N ? N : 1) * sizeof *rank);
    long nr = 0;
    for (long long i = 0; !rc && i < N; i++)
        if (isfinite(all[i])) rank[nr++] = (scored){all[i], i};
    qsort(rank, (size_t)nr, sizeof *rank, by_score_desc);
    if (!rc && ctx->rank == 0) {
        const char *out = zm_param_str(p, "anomaly.output");
        double *ra = zm_malloc((size_t)(N ? N : 1) * sizeof *ra), *de = zm_malloc((size_t)(N ? N : 1) * sizeof *de);
        zm_range allr = {0, (unsigned long long)N};
        rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &allr, 1, ra, err);
        if (!rc) rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &allr, 1, de, err);
        FILE *o = rc ? NULL : fopen(out, "w");
        if (!rc && !o) rc = zm_err_set(err, ZM_EIO, "anomaly: cannot write %s", out);
        if (o) {
            fprintf(o, "rank,id,ra,dec,iforest_score\n");
            long top = zm_param_int(p, "anomaly.top_n");
            for (long i = 0; i < nr && i < top; i++)
                fprintf(o, "%ld,%lld,%.7f,%.7f,%.6f\n", i + 1, rank[i].id, ra[rank[i].id], de[rank[i].id], rank[i].v);
            fclose(o);
            zm_info("anomaly: isolation forest (%d trees x %d) on %s; top %lld in %s", trees, psi, path,
                    (long long)zm_param_int(p, "anomaly.top_n"), out);
        }
        free(ra), free(de);
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));

    /* ---- the paper's evaluation, replayed with an oracle file (rank 0: small problem) */
    if (!rc && oracle) {
        if (budget > N) {
            zm_warn0("anomaly: --budget %ld is more than the %lld galaxies; using %lld", budget, N, N);
            budget = (long)N;
        }
        float *interest = zm_malloc((size_t)(N ? N : 1) * sizeof *interest);
        for (long long i = 0; i < N; i++) interest[i] = 0;
        zm_table *t = NULL;
        rc = zm_table_open(oracle, &t, err);
        long nt = rc ? 0 : zm_table_nrows(t);
        double *tra = zm_malloc((size_t)(nt ? nt : 1) * sizeof *tra), *tde = zm_malloc((size_t)(nt ? nt : 1) * sizeof *tde),
               *tsc = zm_malloc((size_t)(nt ? nt : 1) * sizeof *tsc);
        unsigned char *bad = zm_malloc((size_t)(nt ? nt : 1));
        int cra = rc ? -1 : zm_table_col(t, "ra"), cde = rc ? -1 : zm_table_col(t, "dec"), csc = rc ? -1 : zm_table_col(t, "score");
        if (!rc && (cra < 0 || cde < 0 || csc < 0)) rc = zm_err_set(err, ZM_EMISSING, "interest file %s: columns ra, dec and score are needed", oracle);
        if (!rc) rc = zm_table_read_double(t, cra, tra, NULL, err);
        if (!rc) rc = zm_table_read_double(t, cde, tde, NULL, err);
        if (!rc) rc = zm_table_read_double(t, csc, tsc, bad, err);
        long matched = 0, rejected = 0;
        if (!rc) {
            double *ra = zm_malloc((size_t)N * sizeof *ra), *de = zm_malloc((size_t)N * sizeof *de);
            zm_range allr = {0, (unsigned long long)N};
            rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &allr, 1, ra, err);
            if (!rc) rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &allr, 1, de, err);
            zm_skyindex *ix = zm_skyindex_build(ra, de, (long)N, 1.0);
            for (long i = 0; !rc && i < nt; i++) {
                if (bad[i] || !(tsc[i] >= 0 && tsc[i] <= 5)) {
                    if (ctx->rank == 0 && rejected < 10)
                        zm_warn("anomaly: %s line %ld: score is not a number in 0..5; row skipped", oracle, zm_table_line(t, i));
                    rejected++;
                    continue;
                }
                double dd;
                long j = zm_skyindex_nearest(ix, tra[i], tde[i], 1.0, &dd);
                if (j >= 0) interest[j] = (float)tsc[i], matched++;
            }
            zm_skyindex_free(ix);
            free(ra), free(de);
        }
        zm_table_close(t);
        free(tra), free(tde), free(tsc), free(bad);
        const double thr = zm_param_real(p, "anomaly.interesting");
        const int seeds = (int)zm_param_int(p, "anomaly.eval_seeds");
        /* standardised coordinates of every valid row (rank 0 runs the loop) */
        if (!rc && ctx->rank == 0) {
            zm_info("anomaly: %ld interest scores matched to galaxies (%ld rows skipped)", matched, rejected);
            float *xa = zm_malloc((size_t)N * d * sizeof *xa);
            zm_range allr = {0, (unsigned long long)N};
            rc = zm_store_read(s, path, ZM_DT_F32, 0, &allr, 1, xa, err);
            long nvld = 0;
            long long *vid = zm_malloc((size_t)N * sizeof *vid);
            for (long long i = 0; i < N; i++) {
                int good = 1;
                for (int j = 0; j < d && good; j++) good = isfinite(xa[(size_t)i * d + j]);
                if (good) vid[nvld++] = i;
            }
            double *z = zm_malloc((size_t)nvld * d * sizeof *z), mu[256] = {0}, sd[256] = {0};
            for (long i = 0; i < nvld; i++)
                for (int j = 0; j < d; j++) mu[j] += xa[(size_t)vid[i] * d + j] / nvld;
            for (long i = 0; i < nvld; i++)
                for (int j = 0; j < d; j++) sd[j] += pow(xa[(size_t)vid[i] * d + j] - mu[j], 2) / nvld;
            for (long i = 0; i < nvld; i++)
                for (int j = 0; j < d; j++) z[(size_t)i * d + j] = (xa[(size_t)vid[i] * d + j] - mu[j]) / (sd[j] > 0 ? sqrt(sd[j]) : 1);
            double if50 = top_fraction(rank, nr, interest, 50, thr), if100 = top_fraction(rank, nr, interest, 100, thr),
                   if200 = top_fraction(rank, nr, interest, 200, thr);
            double g50 = 0, g100 = 0, g200 = 0;
            int nbatch = (int)((budget + 9) / 10);
            double *curve = zm_calloc((size_t)nbatch + 1, sizeof *curve);
            double *mean = zm_malloc((size_t)nvld * sizeof *mean), *sdv = zm_malloc((size_t)nvld * sizeof *sdv);
            unsigned char *lab = zm_malloc((size_t)nvld);
            long *li = zm_malloc((size_t)(budget + 10) * sizeof *li);
            double *lx = zm_malloc((size_t)(budget + 10) * d * sizeof *lx), *ly = zm_malloc((size_t)(budget + 10) * sizeof *ly);
            scored *gr = zm_malloc((size_t)nvld * sizeof *gr);
            for (int sd_ = 0; sd_ < seeds && !rc; sd_++) {
                zm_rng r;
                zm_rng_seed(&r, (uint64_t)zm_param_int(p, "anomaly.seed"), 100 + (uint64_t)sd_);
                memset(lab, 0, (size_t)nvld);
                long nl = 0;
                zm_gp_kernel k = {1.0, 5.0, 1.0, 0.1};
                for (int b = 0; b < nbatch && nl < budget; b++) {
                    int take = (int)(budget - nl < 10 ? budget - nl : 10);
                    if (b == 0) {
                        for (int q = 0; q < take; q++) {
                            long c;
                            do c = (long)zm_rng_below(&r, (uint64_t)nvld);
                            while (lab[c]);
                            lab[c] = 1, li[nl++] = c;
                        }
                    } else {
                        /* expected improvement over the best label, trade-off 0.5 */
                        double best = -INFINITY;
                        for (long q = 0; q < nl; q++) best = fmax(best, ly[q]);
                        scored *ei = gr;
                        long ne = 0;
                        for (long c = 0; c < nvld; c++) {
                            if (lab[c]) continue;
                            double imp = mean[c] - best - 0.5, s_ = sdv[c], v = 0;
                            if (s_ > 0) {
                                double zz = imp / s_;
                                v = imp * norm_cdf(zz) + s_ * exp(-0.5 * zz * zz) / sqrt(2 * M_PI);
                            }
                            ei[ne++] = (scored){(float)v, c};
                        }
                        qsort(ei, (size_t)ne, sizeof *ei, by_score_desc);
                        for (int q = 0; q < take && q < ne; q++) lab[ei[q].id] = 1, li[nl++] = (long)ei[q].id;
                    }
                    for (long q = 0; q < nl; q++) {
                        memcpy(lx + (size_t)q * d, z + (size_t)li[q] * d, (size_t)d * sizeof *lx);
                        ly[q] = interest[vid[li[q]]];
                    }
                    zm_gp g;
                    /* the hyperparameters are refitted every fifth batch and at the end */
                    int refit = b % 5 == 0 || nl >= budget;
                    rc = refit ? zm_gp_fit_optimise(&g, lx, ly, (int)nl, d, &k, 0, err) : zm_gp_fit(&g, lx, ly, (int)nl, d, &k, err);
                    if (rc) break;
                    k = g.k;
                    zm_gp_predict(&g, z, (int)nvld, mean, sdv);
                    zm_gp_free(&g);
                    /* the curve: fraction interesting in the top 100 of the current ranking */
                    for (long c = 0; c < nvld; c++) gr[c] = (scored){(float)(lab[c] ? 10.0 + interest[vid[c]] : mean[c]), c};
                    qsort(gr, (size_t)nvld, sizeof *gr, by_score_desc);
                    long hit = 0;
                    for (long c = 0; c < 100 && c < nvld; c++) hit += interest[vid[gr[c].id]] >= thr;
                    curve[b + 1] += (double)hit / (100 < nvld ? 100 : nvld) / seeds;
                }
                if (rc) break;
                for (long c = 0; c < nvld; c++) gr[c].id = vid[gr[c].id];
                g50 += top_fraction(gr, nvld, interest, 50, thr) / seeds;
                g100 += top_fraction(gr, nvld, interest, 100, thr) / seeds;
                g200 += top_fraction(gr, nvld, interest, 200, thr) / seeds;
            }
            if (!rc) {
                zm_info("anomaly evaluation (%s, interesting = score >= %g, %ld labels, %d seeds):", oracle, thr, budget, seeds);
                zm_info("  isolation forest alone: top 50 %.3f, top 100 %.3f, top 200 %.3f", if50, if100, if200);
                zm_info("  Gaussian process + active learning: top 50 %.3f, top 100 %.3f, top 200 %.3f", g50, g100, g200);
                char cline[4096] = "";
                for (int b = 1; b <= nbatch; b++) {
                    char e[32];
                    snprintf(e, sizeof e, "%s%d:%.2f", b > 1 ? " " : "", b * 10, curve[b]);
                    strncat(cline, e, sizeof cline - strlen(cline) - 1);
                }
                zm_info("  top-100 fraction against labels used: %s", cline);
            }
            free(xa), free(vid), free(z), free(curve), free(mean), free(sdv), free(lab), free(li), free(lx), free(ly), free(gr);
        }
        free(interest);
        ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
        if (rc) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    }
    if (!rc) zm_store_stage_end(s, "anomaly", "isolation-forest scores");
    zm_iforest_free(&f);
    free(x), free(sc), free(xv), free(ok), free(all), free(cnt), free(dsp), free(rank);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_anomaly = {
    "anomaly", "isolation-forest anomaly scores; with --evaluate, the paper's active learning with a GP",
    "  --evaluate FILE.csv   replay the active learning with an oracle (ra, dec, score 0..5; default [anomaly] evaluate)\n"
    "  --budget N            labels the oracle gives (default [anomaly] budget, 200)",
    run_anomaly};
