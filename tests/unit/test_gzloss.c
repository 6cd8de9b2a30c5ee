/* test_gzloss.c: the Dirichlet-multinomial loss and its gradient against PyTorch autograd
 * (tests/reference/gz_loss.py) on random logits and counts with zeros and unanswered
 * questions, on the Galaxy Zoo DECaLS tree; digamma against known values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/gzloss.h"

START_TEST(against_pytorch)
{
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_decals(&s, &err), 0);
    const int B = 64, A = s.nanswers;
    double *x, *k, *loss, *grad;
    zt_gz_loss_reference("gzloss", &s, B, 7, &x, &k, &loss, &grad);
    float xf[64], kf[64], g[64];
    double worst_l = 0, worst_g = 0;
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < A; i++) {
            xf[i] = (float)x[b * A + i];
            kf[i] = (float)k[b * A + i];
        }
        double l = zm_gz_dirichlet_loss(&s, xf, kf, g, NULL);
        worst_l = fmax(worst_l, fabs(l - loss[b]) / fmax(fabs(loss[b]), 1.0));
        for (int i = 0; i < A; i++) {
            double r = grad[b * A + i];
            worst_g = fmax(worst_g, fabs(g[i] - r) / fmax(fabs(r), 1e-3));
        }
    }
    fprintf(stderr, "Dirichlet loss vs PyTorch: worst relative difference %.2e (loss), %.2e (gradient), "
            "%d galaxies x %d answers\n", worst_l, worst_g, B, A);
    ck_assert(worst_l < 1e-5);
    ck_assert(worst_g < 1e-3);
    free(x), free(k), free(loss), free(grad);
    zm_gz_schema_free(&s);
}
END_TEST

START_TEST(unanswered_costs_nothing)
{
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_decals(&s, &err), 0);
    float x[64], k[64] = {0}, g[64];
    for (int i = 0; i < s.nanswers; i++) x[i] = 0.1f * i - 1;
    ck_assert_double_eq(zm_gz_dirichlet_loss(&s, x, k, g, NULL), 0.0);
    for (int i = 0; i < s.nanswers; i++) ck_assert_float_eq(g[i], 0.0f);
    float a[64], fr[64];
    zm_gz_concentration(x, s.nanswers, a);
    zm_gz_vote_fraction(&s, a, fr);
    double sum = 0;
    for (int i = 0; i < s.q[0].nanswers; i++) sum += fr[s.q[0].first + i];
    ck_assert_double_eq_tol(sum, 1.0, 1e-6);
    for (int i = 0; i < s.nanswers; i++) ck_assert(a[i] > 1 && a[i] < 101);
    zm_gz_schema_free(&s);
}
END_TEST

START_TEST(digamma_values)
{
    ck_assert_double_eq_tol(zm_digamma(1.0), -0.5772156649015329, 1e-12);
    ck_assert_double_eq_tol(zm_digamma(0.5), -1.9635100260214235, 1e-12);
    ck_assert_double_eq_tol(zm_digamma(10.0), 2.251752589066721, 1e-12);
    ck_assert_double_eq_tol(zm_digamma(101.5), 4.615124601338064, 1e-12);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("gzloss");
    TCase *tc = tcase_create("gzloss");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, against_pytorch);
    tcase_add_test(tc, unanswered_costs_nothing);
    tcase_add_test(tc, digamma_values);
    suite_add_tcase(su, tc);
    return zt_run_suite(su);
}
