/* test_gp.c: Gaussian-process regression (rational quadratic + white noise) against
 * scikit-learn: with the same hyperparameters the predictive mean and standard deviation
 * agree within 1e-4 relative; our optimised log marginal likelihood is at least
 * scikit-learn's (minus 1e-3), also when the search starts with alpha and the noise at
 * their bounds (where a refit in the labelling loop often starts, and where the simplex
 * used to collapse); a singular kernel matrix gets jitter, not a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/gp.h"
#include "zoomorph/rng.h"

#define N 120
#define D 5
#define M 40

START_TEST(against_sklearn)
{
    double x[N * D], y[N], xs[M * D];
    zm_rng r;
    zm_rng_seed(&r, 4, 0);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < D; j++) x[i * D + j] = 2 * zm_rng_normal(&r), s += sin(x[i * D + j]);
        y[i] = s + 0.1 * zm_rng_normal(&r);
    }
    for (int i = 0; i < M * D; i++) xs[i] = 2 * zm_rng_normal(&r);
    const char *dir = zt_tmpdir("gp");
    char px[4200], py[4200], ps[4200], out[4200], pm[4300], pd[4300];
    snprintf(px, sizeof px, "%s/x", dir), snprintf(py, sizeof py, "%s/y", dir), snprintf(ps, sizeof ps, "%s/xs", dir);
    snprintf(out, sizeof out, "%s/ref", dir), snprintf(pm, sizeof pm, "%s.mean", out), snprintf(pd, sizeof pd, "%s.std", out);
    zt_write_f64(px, x, N * D), zt_write_f64(py, y, N), zt_write_f64(ps, xs, M * D);
    zm_gp_kernel k = {1.5, 1.2, 0.8, 0.05};
    char cmd[16384], line[128] = "";
    snprintf(cmd, sizeof cmd, "%s %s/tests/reference/gp_ref.py %s %d %d %s %s %d %g %g %g %g %s", zt_env("ZM_PYTHON", "/usr/bin/python3"),
             zt_env("ZM_SOURCE_DIR", "."), px, N, D, py, ps, M, k.amp, k.length, k.alpha, k.noise, out);
    FILE *pp = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, pp));
    ck_assert_int_eq(pclose(pp), 0);
    double sk_lml = atof(line);
    double *rm = zt_read_f64(pm, M), *rs = zt_read_f64(pd, M), mu[M], sd[M];
    zm_gp g;
    zm_err err = {0};
    ck_assert_int_eq(zm_gp_fit(&g, x, y, N, D, &k, &err), 0);
    zm_gp_predict(&g, xs, M, mu, sd);
    double wm = 0, ws = 0;
    for (int i = 0; i < M; i++) {
        wm = fmax(wm, fabs(mu[i] - rm[i]) / fmax(fabs(rm[i]), 1e-2));
        ws = fmax(ws, fabs(sd[i] - rs[i]) / fmax(rs[i], 1e-6));
    }
    fprintf(stderr, "GP vs scikit-learn (same kernel): worst relative difference %.2e (mean), %.2e (std)\n", wm, ws);
    ck_assert(wm < 1e-4 && ws < 1e-4);
    zm_gp_free(&g);
    ck_assert_int_eq(zm_gp_fit_optimise(&g, x, y, N, D, &k, 3, &err), 0);
    fprintf(stderr, "optimised log marginal likelihood: zoomorph %.4f (amp %.3g, length %.3g, alpha %.3g, noise %.3g), "
            "scikit-learn %.4f\n", g.lml, g.k.amp, g.k.length, g.k.alpha, g.k.noise, sk_lml);
    ck_assert(g.lml >= sk_lml - 1e-3);
    zm_gp_free(&g);
    free(rm), free(rs);
}
END_TEST

/* Scores 0..5 like a researcher's, the search started at alpha = 1e5 and noise = 1e-5 (the
 * bounds) and no restarts: the bounded Nelder-Mead must still reach scikit-learn's optimum
 * (L-BFGS-B from amp 1, length 5, alpha 1, noise 0.1 with 3 restarts). */
START_TEST(optimum_from_a_bound)
{
    enum { n = 60, d = 5 };
    double x[n * d], y[n];
    zm_rng r;
    zm_rng_seed(&r, 11, 0);
    for (int i = 0; i < n; i++) {
        double s = 1;
        for (int j = 0; j < d; j++) x[i * d + j] = 2 * zm_rng_normal(&r), s += sin(x[i * d + j]);
        y[i] = fmin(fmax(round(s + 0.8 * zm_rng_normal(&r)), 0), 5);
    }
    const char *dir = zt_tmpdir("gp_bound");
    char px[4200], py[4200], out[4200], cmd[16384], line[128] = "";
    snprintf(px, sizeof px, "%s/x", dir), snprintf(py, sizeof py, "%s/y", dir), snprintf(out, sizeof out, "%s/ref", dir);
    zt_write_f64(px, x, n * d), zt_write_f64(py, y, n);
    snprintf(cmd, sizeof cmd, "%s %s/tests/reference/gp_ref.py %s %d %d %s %s %d 1 5 1 0.1 %s", zt_env("ZM_PYTHON", "/usr/bin/python3"),
             zt_env("ZM_SOURCE_DIR", "."), px, n, d, py, px, n, out);
    FILE *pp = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, pp));
    ck_assert_int_eq(pclose(pp), 0);
    double sk_lml = atof(line);
    zm_gp_kernel k0 = {1, 5, 1e5, 1e-5};
    zm_gp g;
    zm_err err = {0};
    ck_assert_int_eq(zm_gp_fit_optimise(&g, x, y, n, d, &k0, 0, &err), 0);
    fprintf(stderr, "from alpha and noise at their bounds: zoomorph %.4f (amp %.3g, length %.3g, alpha %.3g, noise %.3g), "
            "scikit-learn %.4f\n", g.lml, g.k.amp, g.k.length, g.k.alpha, g.k.noise, sk_lml);
    ck_assert(g.lml >= sk_lml - 1e-3);
    zm_gp_free(&g);
}
END_TEST

START_TEST(singular_gets_jitter)
{
    double x[6] = {1, 1, 1, 1, 2, 2}, y[3] = {1, 1, 2}, mu[1], sd[1];
    zm_gp_kernel k = {1, 1, 1, 0}; /* no noise, two identical points: singular */
    zm_gp g;
    zm_err err = {0};
    ck_assert_int_eq(zm_gp_fit(&g, x, y, 3, 2, &k, &err), 0);
    ck_assert(g.jitter > 0);
    zm_gp_predict(&g, x, 1, mu, sd);
    ck_assert(isfinite(mu[0]) && isfinite(sd[0]));
    zm_gp_free(&g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gp");
    TCase *tc = tcase_create("gp");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, against_sklearn);
    tcase_add_test(tc, optimum_from_a_bound);
    tcase_add_test(tc, singular_gets_jitter);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
