/* test_plot.c: the report's PNG plots read back (zm_picture_read): a scatter point lands
 * on the pixel the documented plot area puts it at, in its series' colour; the y = x
 * diagonal is drawn; points outside the range are left out; an empty range is an error;
 * a line plot of finite points writes a PNG, one of none is an error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/picture.h"
#include "zoomorph/plot.h"

#define W 300
#define H 250

/* The colour (0-255) at pixel (x, y) of planar RGB floats in [0, 1]. */
static void at(const float *rgb, int x, int y, int out[3])
{
    for (int k = 0; k < 3; k++) out[k] = (int)lround(255.0 * rgb[(size_t)k * W * H + (size_t)y * W + x]);
}

START_TEST(scatter_points_where_documented)
{
    const char *dir = zt_tmpdir("plot");
    char path[4200];
    snprintf(path, sizeof path, "%s/scatter.png", dir);
    double x[3] = {0.25, 0.75, 2.0}, y[3] = {0.5, 0.1, 0.5};
    zm_series s = {x, y, 3, 3};
    zm_err err = {0};
    ck_assert_int_eq(zm_plot_scatter(path, W, H, &s, 1, 0, 1, 1, &err), 0);
    float *rgb = NULL;
    int w = 0, h = 0;
    ck_assert_int_eq(zm_picture_read(path, &rgb, &w, &h, &err), 0);
    ck_assert_int_eq(w, W);
    ck_assert_int_eq(h, H);
    uint8_t want[3];
    zm_plot_palette(3, want);
    /* plot area: x in [70, W - 15], y from H - 35 (value 0) up to 15 (value 1) */
    for (int i = 0; i < 2; i++) {
        int X = 70 + (int)lround(x[i] * (W - 85)), Y = H - 35 - (int)lround(y[i] * (H - 50)), c[3];
        at(rgb, X, Y, c);
        ck_assert_msg(c[0] == want[0] && c[1] == want[1] && c[2] == want[2], "point %d at (%d, %d): %d %d %d", i, X, Y,
                      c[0], c[1], c[2]);
    }
    /* the diagonal at value 0.9 (no point there), grey */
    int c[3];
    at(rgb, 70 + (int)lround(0.9 * (W - 85)), H - 35 - (int)lround(0.9 * (H - 50)), c);
    ck_assert_msg(c[0] == 150 && c[1] == 150 && c[2] == 150, "diagonal: %d %d %d", c[0], c[1], c[2]);
    /* nothing of the series' colour outside the plot area (the point at x = 2 is left out) */
    for (int yy = 0; yy < H; yy++)
        for (int xx = W - 14; xx < W; xx++) {
            at(rgb, xx, yy, c);
            ck_assert(!(c[0] == want[0] && c[1] == want[1] && c[2] == want[2]));
        }
    free(rgb);
    ck_assert_int_ne(zm_plot_scatter(path, W, H, &s, 1, 1, 1, 0, &err), 0);
    ck_assert(err.msg[0]);
}
END_TEST

START_TEST(lines_need_finite_points)
{
    const char *dir = zt_tmpdir("plot");
    char path[4200];
    snprintf(path, sizeof path, "%s/lines.png", dir);
    double x[4] = {1, 2, 3, 4}, y[4] = {3, 2, NAN, 1}, bad[4] = {NAN, NAN, NAN, NAN};
    zm_series s = {x, y, 4, 0}, b = {x, bad, 4, 1};
    zm_err err = {0};
    ck_assert_int_eq(zm_plot_lines(path, W, H, &s, 1, 0, &err), 0);
    float *rgb = NULL;
    int w = 0, h = 0;
    ck_assert_int_eq(zm_picture_read(path, &rgb, &w, &h, &err), 0);
    free(rgb);
    ck_assert_int_ne(zm_plot_lines(path, W, H, &b, 1, 0, &err), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_test(tc, scatter_points_where_documented);
    tcase_add_test(tc, lines_need_finite_points);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
