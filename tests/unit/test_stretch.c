/* test_stretch.c: the Galaxy Zoo stretch of the real Galaxy Zoo DECaLS cutouts
 * (shared/data/real/decals-cutouts/example_*.fits) against an independent numpy
 * implementation (tests/reference/gz_stretch.py), directly and through the whole cutout
 * path at the native 424 pixels (WCS, identity resampling, flip to display order).
 * It also prints the comparison with the example_*.png files shipped beside the FITS:
 * those PNGs show other galaxies than the FITS of the same name (see docs/validation.md),
 * so that comparison is reported, not asserted. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/cutout.h"
#include "zoomorph/fitsimg.h"
#include "zoomorph/picture.h"
#include "zoomorph/stretch.h"

/* Mean |ours - png| in 0-255 grey levels over the 3 planes; ours is planar RGB in FITS
 * row order (row 0 south) unless flipped already. */
static double compare(const float *rgb, int flip, const float *png, int w, int h, double *worst)
{
    double sum = 0;
    *worst = 0;
    size_t n = (size_t)w * h;
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int ys = flip ? h - 1 - y : y;
                double a = 255.0 * rgb[k * n + (size_t)ys * w + x], b = 255.0 * png[k * n + (size_t)y * w + x];
                double d = fabs(a - b);
                sum += d;
                if (d > *worst) *worst = d;
            }
    return sum / (3.0 * n);
}

/* Runs the numpy reference on fits; returns 3 x n floats (malloc'ed). */
static float *numpy_stretch(const char *fits, size_t n)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/ref.f32", zt_tmpdir("stretch"));
    int rc = zt_run("%s %s/tests/reference/gz_stretch.py '%s' '%s'", zt_env("ZM_PYTHON", "/usr/bin/python3"),
                    zt_env("ZM_SOURCE_DIR", "."), fits, out);
    ck_assert_int_eq(rc, 0);
    float *ref = malloc(3 * n * sizeof *ref);
    FILE *f = fopen(out, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(ref, sizeof *ref, 3 * n, f), 3 * n);
    fclose(f);
    return ref;
}

static void check_example(const char *name, double unused)
{
    const char *data = zt_shared_data();
    if (!data) {
        fprintf(stderr, "SKIP: ../shared/data/real is absent\n");
        return;
    }
    char fits[4096], png[4096];
    snprintf(fits, sizeof fits, "%s/decals-cutouts/%s.fits", data, name);
    snprintf(png, sizeof png, "%s/decals-cutouts/%s.png", data, name);
    zm_image img;
    zm_err err = {0};
    ck_assert_msg(zm_image_read(fits, 1, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.nplanes, 3);
    ck_assert_str_eq(img.bands, "grz");
    float *pic = NULL;
    int w, h;
    ck_assert_msg(zm_picture_read(png, &pic, &w, &h, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(w, img.nx);
    ck_assert_int_eq(h, img.ny);
    size_t n = (size_t)w * h;
    const float *bands[3] = {img.pix, img.pix + n, img.pix + 2 * n};
    zm_stretch st;
    zm_stretch_default(&st);
    float *rgb = malloc(3 * n * sizeof *rgb);
    zm_stretch_rgb(&st, bands, n, rgb);
    float *ref = numpy_stretch(fits, n);
    double worst_ref, mean_ref = compare(rgb, 0, ref, w, h, &worst_ref);
    fprintf(stderr, "%s: stretch vs numpy reference: mean |diff| %.5f grey levels, worst %.4f\n",
            name, mean_ref, worst_ref);
    ck_assert_msg(worst_ref < 0.01, "%s: worst difference from numpy %.4f grey levels", name, worst_ref);
    double worst, mean = compare(rgb, 1, pic, w, h, &worst);
    fprintf(stderr, "%s: stretch vs the shipped %s.png (another galaxy): mean |diff| %.2f grey "
            "levels, worst %.1f (reported only)\n", name, name, mean, worst);

    /* the whole cutout path at native resolution: centre of the 424 pixels, field 424 px */
    zm_cutout_cfg cfg = {.size = w, .channels = 3, .max_empty = 1.0, .edge_reject = 0};
    cfg.stretch = st;
    double ra, dec;
    ck_assert_int_eq(zm_wcs_pix2sky(img.wcs, (w - 1) / 2.0, (h - 1) / 2.0, &ra, &dec), 0);
    double field = zm_image_width_arcsec(&img, ra, dec);
    zm_band_set bs = {{&img, &img, &img}, {0, 1, 2}, {0, 0, 0}};
    float *work = malloc(zm_cutout_work_floats(&cfg) * sizeof *work), *stamp = malloc(3 * n * sizeof *stamp);
    unsigned flags = 0;
    ck_assert_msg(zm_cutout_make(&cfg, &bs, ra, dec, field, work, stamp, &flags, &err) == 0, "%s", err.msg);
    /* the stamp is in display order (row 0 north): flip the FITS-order reference */
    double worst2, mean2 = 0;
    worst2 = 0;
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double d = 255.0 * fabs(stamp[k * n + (size_t)y * w + x] - ref[k * n + (size_t)(h - 1 - y) * w + x]);
                mean2 += d / (3.0 * n);
                if (d > worst2) worst2 = d;
            }
    fprintf(stderr, "%s: cutout path (WCS + Lanczos at native scale) vs numpy reference: mean "
            "|diff| %.4f grey levels, worst %.3f, flags %u\n", name, mean2, worst2, flags);
    ck_assert_msg(mean2 < 0.05 && worst2 < 1.0, "%s: cutout path differs: mean %.4f worst %.3f", name,
                  mean2, worst2);
    ck_assert_uint_eq(flags, 0);
    free(rgb), free(pic), free(work), free(stamp), free(ref);
    zm_image_free(&img);
}

START_TEST(example_a) { check_example("example_a", 3.0); }
END_TEST
START_TEST(example_b) { check_example("example_b", 3.0); }
END_TEST
START_TEST(example_c) { check_example("example_c", 3.0); }
END_TEST
START_TEST(example_e) { check_example("example_e", 3.0); }
END_TEST

START_TEST(grey_is_mean_of_rgb)
{
    float g[4] = {0, 0.01f, 1.0f, NAN}, r[4] = {0.1f, 0, 2, 0}, z[4] = {0, 0.5f, 3, 0};
    const float *b[3] = {g, r, z};
    zm_stretch st;
    zm_stretch_default(&st);
    float rgb[12], grey[4];
    zm_stretch_rgb(&st, b, 4, rgb);
    zm_rgb_to_grey(rgb, 4, grey);
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(grey[i], (rgb[i] + rgb[4 + i] + rgb[8 + i]) / 3, 1e-7);
    /* zero flux maps to (asinh(0) - asinh(-0.5)) / (asinh(300) - asinh(-0.5)) */
    float zero = (0.0f - asinhf(-0.5f)) / (asinhf(300.0f) - asinhf(-0.5f));
    ck_assert_float_eq_tol(rgb[0 * 4 + 0], zero, 1e-6);          /* z plane of pixel 0 */
    ck_assert_float_eq_tol(rgb[2 * 4 + 3], zero, 1e-6);          /* NaN g -> 0 flux    */
    for (int i = 0; i < 12; i++) ck_assert(rgb[i] >= 0 && rgb[i] <= 1);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s = suite_create("stretch");
    TCase *tc = tcase_create("stretch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, example_a);
    tcase_add_test(tc, example_b);
    tcase_add_test(tc, example_c);
    tcase_add_test(tc, example_e);
    tcase_add_test(tc, grey_is_mean_of_rgb);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
