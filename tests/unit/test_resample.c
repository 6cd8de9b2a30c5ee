/* test_resample.c: the fast separable Lanczos path against the scalar 2-D reference
 * (shrinking, enlarging, flipping, off the edge, NaN fallback), exactness on integer
 * shifts, flux of a smooth source, and the empty-pixel statistics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/resample.h"
#include "zoomorph/rng.h"

static float *random_image(long nx, long ny, uint64_t seed)
{
    float *im = malloc((size_t)nx * ny * sizeof *im);
    zm_rng r;
    zm_rng_seed(&r, seed, 0);
    for (long i = 0; i < nx * ny; i++) im[i] = (float)zm_rng_normal(&r);
    return im;
}

static void compare_paths(const char *name, const zm_affine *m, int S, long nx, long ny)
{
    float *in = random_image(nx, ny, 7), *a = malloc((size_t)S * S * sizeof *a), *b = malloc((size_t)S * S * sizeof *b);
    zm_resample_stats sa, sb;
    zm_resample(in, nx, ny, m, S, S, a, &sa);
    zm_resample_ref(in, nx, ny, m, S, S, b, &sb);
    double worst = 0;
    for (int i = 0; i < S * S; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    fprintf(stderr, "%s: fast vs reference worst |diff| %.2e (values ~1)\n", name, worst);
    ck_assert_msg(worst < 5e-5, "%s: %g", name, worst);
    ck_assert_int_eq(sa.outside, sb.outside);
    ck_assert_int_eq(sa.nan, sb.nan);
    ck_assert_int_eq(sa.zero, sb.zero);
    free(in), free(a), free(b);
}

START_TEST(fast_matches_reference)
{
    zm_affine shrink = {10.3, 90.7, 2.37, 0, 0, -2.37};   /* 2.37 px per output px, flipped */
    compare_paths("shrink x2.37 flipped", &shrink, 40, 120, 110);
    zm_affine grow = {20.25, 20.5, 0.31, 0, 0, 0.31};
    compare_paths("enlarge x3.2", &grow, 64, 60, 60);
    zm_affine edge = {-30.0, -12.0, 1.5, 0, 0, 1.5};      /* runs off two edges */
    compare_paths("off the edge", &edge, 50, 80, 80);
    zm_affine rot = {5.0, 90.0, 1.9, 0.02, 0.017, -1.9};  /* a slight rotation (TAN) */
    compare_paths("rotated 0.5 deg, shrink x1.9", &rot, 40, 100, 100);
    zm_affine rot45 = {50.0, 2.0, 0.7, 0.7, -0.7, 0.7};   /* 45 deg, enlarged */
    compare_paths("rotated 45 deg", &rot45, 40, 100, 100);
}
END_TEST

START_TEST(integer_shift_is_exact)
{
    long nx = 50, ny = 40;
    float *in = random_image(nx, ny, 3), *out = malloc(20 * 20 * sizeof *out);
    zm_affine m = {5, 7, 1, 0, 0, 1};
    zm_resample(in, nx, ny, &m, 20, 20, out, NULL);
    for (int r = 0; r < 20; r++)
        for (int c = 0; c < 20; c++) ck_assert_float_eq_tol(out[r * 20 + c], in[(7 + r) * nx + 5 + c], 1e-6);
    free(in), free(out);
}
END_TEST

START_TEST(nan_falls_back_and_is_counted)
{
    long nx = 60, ny = 60;
    float *in = random_image(nx, ny, 5), *a = malloc(30 * 30 * sizeof *a), *b = malloc(30 * 30 * sizeof *b);
    for (int i = 0; i < 10; i++) in[31 * nx + 20 + i] = NAN; /* odd row: nearest to some outputs */
    in[5 * nx + 5] = 0.0f;
    zm_affine m = {0.5, 0.5, 2, 0, 0, 2};
    zm_resample_stats st;
    zm_resample(in, nx, ny, &m, 30, 30, a, &st);
    zm_resample_ref(in, nx, ny, &m, 30, 30, b, NULL);
    for (int i = 0; i < 900; i++) {
        ck_assert(isfinite(a[i]));
        ck_assert_float_eq_tol(a[i], b[i], 1e-6);
    }
    ck_assert_int_gt(st.nan, 0);
    free(in), free(a), free(b);
}
END_TEST

START_TEST(smooth_source_keeps_surface_brightness)
{
    /* a wide Gaussian sampled at 1 px, resampled to 0.5 px: values at matching sky
     * positions agree (Lanczos reproduces smooth functions) */
    long n = 100;
    float *in = malloc((size_t)n * n * sizeof *in), *out = malloc(100 * 100 * sizeof *out);
    for (long y = 0; y < n; y++)
        for (long x = 0; x < n; x++) in[y * n + x] = (float)exp(-((x - 49.3) * (x - 49.3) + (y - 50.1) * (y - 50.1)) / (2 * 64.0));
    zm_affine m = {25.0, 25.0, 0.5, 0, 0, 0.5};
    zm_resample(in, n, n, &m, 100, 100, out, NULL);
    double worst = 0;
    for (int r = 0; r < 100; r++)
        for (int c = 0; c < 100; c++) {
            double x = 25 + 0.5 * c, y = 25 + 0.5 * r;
            double truth = exp(-((x - 49.3) * (x - 49.3) + (y - 50.1) * (y - 50.1)) / (2 * 64.0));
            worst = fmax(worst, fabs(out[r * 100 + c] - truth));
        }
    fprintf(stderr, "Gaussian sigma 8 px resampled to 0.5 px: worst |diff| %.2e\n", worst);
    ck_assert(worst < 2e-3);
    free(in), free(out);
}
END_TEST

START_TEST(binned_shrink_matches_reference)
{
    /* a smooth galaxy-like profile on 800 px shrunk x9.6 (a large galaxy's stamp) */
    long n = 800;
    float *in = malloc((size_t)n * n * sizeof *in), *a = malloc(64 * 64 * sizeof *a), *b = malloc(64 * 64 * sizeof *b);
    for (long y = 0; y < n; y++)
        for (long x = 0; x < n; x++) {
            double r = hypot(x - 401.3, (y - 398.7) / 0.7);
            in[y * n + x] = (float)(exp(-r / 40.0) + 0.3 * exp(-r / 8.0));
        }
    zm_affine m = {95.0, 700.0, 9.6, 0.01, 0.012, -9.6};
    zm_resample_stats sa, sb;
    zm_resample_binned(in, n, n, &m, 64, 64, a, &sa);
    zm_resample_ref(in, n, n, &m, 64, 64, b, &sb);
    double worst = 0, peak = 0;
    for (int i = 0; i < 64 * 64; i++) worst = fmax(worst, fabs(a[i] - b[i])), peak = fmax(peak, b[i]);
    fprintf(stderr, "binned (4x4) then Lanczos vs Lanczos alone, shrinking x9.6: worst |diff| %.2e of peak %.2f (%.2f%%)\n", worst, peak,
            100 * worst / peak);
    ck_assert(worst < 0.02 * peak);
    ck_assert_int_eq(sa.outside, sb.outside);
    ck_assert_int_eq(sa.zero, sb.zero);
    free(in), free(a), free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resample");
    TCase *tc = tcase_create("resample");
    tcase_add_test(tc, fast_matches_reference);
    tcase_add_test(tc, integer_shift_is_exact);
    tcase_add_test(tc, nan_falls_back_and_is_counted);
    tcase_add_test(tc, smooth_source_keeps_surface_brightness);
    tcase_add_test(tc, binned_shrink_matches_reference);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
