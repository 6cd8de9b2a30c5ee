/* test_active.c: the active-learning numerics (src/anomaly/active.c) against an independent
 * numpy/scipy reference (tests/reference/neighbour_ref.py: Astronomaly's neighbour score
 * with a cKDTree, min-max scaling, standardisation, expected improvement with
 * scipy.stats.norm), then the loop's logic: proposals never repeat a labelled row, the
 * ranking interleaves labels with predictions, and on a toy survey whose interesting rows
 * form one small cluster, 60 labels by expected improvement put that cluster on top. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/active.h"
#include "zoomorph/rng.h"

#define N 600
#define D 6
#define NL 25

static double worst(const char *name, const double *a, const double *b, int n, double floor)
{
    double w = 0;
    int at = 0;
    for (int i = 0; i < n; i++) {
        double r = fabs(a[i] - b[i]) / fmax(fabs(b[i]), floor);
        if (r > w) w = r, at = i;
    }
    fprintf(stderr, "%s vs numpy: worst relative difference %.2e at %d\n", name, w, at);
    return w;
}

START_TEST(against_numpy)
{
    static double x[N * D], s[N], u[N], labd[NL], mean[N], sd[N];
    static float xf[N * D];
    long lab[NL];
    zm_rng r;
    zm_rng_seed(&r, 11, 0);
    for (int i = 0; i < N * D; i++) x[i] = 3 * zm_rng_normal(&r) + (i % D), xf[i] = (float)x[i], x[i] = xf[i];
    for (int i = 0; i < N; i++) {
        s[i] = 0.3 + 0.4 * zm_rng_uniform(&r);
        u[i] = -1 + 7 * zm_rng_uniform(&r); /* outside [0.1, 5] too: clipped */
        mean[i] = 5 * zm_rng_uniform(&r) - 1;
        sd[i] = 0.05 + zm_rng_uniform(&r);
    }
    for (int q = 0; q < NL; q++) lab[q] = q * 23 + 5, labd[q] = (double)lab[q];
    const char *dir = zt_tmpdir("active");
    char px[4200], ps[4200], pu[4200], pl[4200], pm[4200], pd[4200], out[4200], f[4300];
    snprintf(px, sizeof px, "%s/x", dir), snprintf(ps, sizeof ps, "%s/s", dir), snprintf(pu, sizeof pu, "%s/u", dir);
    snprintf(pl, sizeof pl, "%s/lab", dir), snprintf(pm, sizeof pm, "%s/mean", dir), snprintf(pd, sizeof pd, "%s/sd", dir);
    snprintf(out, sizeof out, "%s/ref", dir);
    zt_write_f64(px, x, N * D), zt_write_f64(ps, s, N), zt_write_f64(pu, u, N), zt_write_f64(pl, labd, NL);
    zt_write_f64(pm, mean, N), zt_write_f64(pd, sd, N);
    const double best = 3.0, xi = 0.5;
    ck_assert_int_eq(zt_run("%s %s/tests/reference/neighbour_ref.py %s %d %d %s %s %s %d %s %s %g %g %s",
                            zt_env("ZM_PYTHON", "/usr/bin/python3"), zt_env("ZM_SOURCE_DIR", "."), px, N, D, ps, pu,
                            pl, NL, pm, pd, best, xi, out),
                     0);
    snprintf(f, sizeof f, "%s.z", out);
    double *rz = zt_read_f64(f, N * D);
    snprintf(f, sizeof f, "%s.ns", out);
    double *rns = zt_read_f64(f, N);
    snprintf(f, sizeof f, "%s.ei", out);
    double *rei = zt_read_f64(f, N);

    static double z[N * D], s5[N], dist[N], ns[N], ei[N];
    zm_standardise(xf, N, D, z);
    ck_assert(worst("standardised coordinates", z, rz, N * D, 1e-3) < 1e-9);
    zm_minmax_scale(s, N, 0, ZM_SCORE_MAX, s5);
    zm_nearest_labelled(z, N, D, lab, NL, dist);
    zm_neighbour_score(s5, u, dist, N, 1.0, ns);
    ck_assert(worst("neighbour score", ns, rns, N, 1e-6) < 1e-9);
    for (int q = 0; q < NL; q++) ck_assert(dist[lab[q]] == 0);
    zm_expected_improvement(mean, sd, N, best, xi, ei);
    ck_assert(worst("expected improvement", ei, rei, N, 1e-12) < 1e-9);
    free(rz), free(rns), free(rei);
}
END_TEST

/* a toy survey: 2-d, most rows a broad blob, 40 rows of a tight far cluster (interest 5),
 * 40 isolated far outliers (interest 0: anomalous but boring) */
static void toy(double *z, float *truth, double *s, long n)
{
    zm_rng r;
    zm_rng_seed(&r, 3, 1);
    for (long i = 0; i < n; i++) {
        double a = zm_rng_normal(&r), b = zm_rng_normal(&r);
        truth[i] = (float)(zm_rng_uniform(&r) < 0.05);
        if (i % 15 == 0) a = 4 + 0.3 * a, b = 4 + 0.3 * b, truth[i] = 5;
        else if (i % 15 == 7) a *= 6, b = -6 - fabs(3 * b), truth[i] = 0;
        z[2 * i] = a, z[2 * i + 1] = b;
        s[i] = sqrt(a * a + b * b); /* outlyingness: the boring outliers score highest */
    }
}

START_TEST(loop_logic)
{
    enum { n = 600 };
    static double z[2 * n], s[n], s5[n], key[n];
    static float truth[n], label[n];
    static long order[n], next[10];
    toy(z, truth, s, n);
    zm_minmax_scale(s, n, 0, 5, s5);
    for (long i = 0; i < n; i++) label[i] = NAN;
    zm_active a;
    zm_active_init(&a, n, 2, z, s5, label);
    zm_err err = {0};
    /* first GP batch: 10 distinct random rows; repeatable from the seed */
    ck_assert_int_eq(zm_active_propose(&a, ZM_ACTIVE_GP, 10, 0.5, 7, 0, next), 10);
    long again[10];
    zm_active_propose(&a, ZM_ACTIVE_GP, 10, 0.5, 7, 0, again);
    for (int q = 0; q < 10; q++) {
        ck_assert_int_eq(next[q], again[q]);
        for (int p = 0; p < q; p++) ck_assert_int_ne(next[p], next[q]);
    }
    /* the neighbour method starts at the top of the anomaly score */
    zm_active_propose(&a, ZM_ACTIVE_NEIGHBOUR, 10, 0.5, 7, 0, again);
    for (int q = 0; q < 10; q++) ck_assert(s5[again[q]] >= s5[again[9]]);
    /* 60 labels by expected improvement */
    for (int b = 0; b < 6; b++) {
        for (int q = 0; q < 10; q++) {
            ck_assert(isnan(label[next[q]])); /* never proposed twice */
            label[next[q]] = truth[next[q]];
        }
        ck_assert_int_eq(zm_active_update(&a, b % 3 == 0, &err), 0);
        ck_assert_int_eq(a.nl, (b + 1) * 10);
        ck_assert_int_eq(zm_active_propose(&a, ZM_ACTIVE_GP, 10, 0.5, 7, 0, next), 10);
    }
    zm_active_key(&a, ZM_ACTIVE_GP, key);
    zm_rank_desc(key, label, n, order);
    int hits = 0;
    for (int i = 0; i < 30; i++) hits += truth[order[i]] >= 4;
    fprintf(stderr, "toy survey: %d of the top 30 interesting after 60 labels (40 exist)\n", hits);
    ck_assert_int_ge(hits, 27);
    /* interleaving: no labelled row with label 0 above an unlabelled row of higher mean */
    for (int i = 1; i < n; i++) ck_assert(key[order[i - 1]] >= key[order[i]]);
    /* the neighbour score is s on a label times f_u, and -> s far away */
    for (long q = 0; q < a.nl; q++) {
        long i = a.lab[q];
        double fu = 0.1 + 0.85 * fmin(fmax(a.mean[i], 0.1), 5) / 5;
        ck_assert(fabs(a.ns[i] - s5[i] * fu) < 1e-9);
    }
    zm_active_free(&a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("active");
    TCase *tc = tcase_create("active");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, against_numpy);
    tcase_add_test(tc, loop_logic);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
