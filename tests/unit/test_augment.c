/* test_augment.c: the training augmentation against scipy.ndimage.map_coordinates
 * (bilinear, reflect) for random rotations, flips and crops; a quarter turn is exact;
 * the central crop is the identity on its window; draws are deterministic; the eight
 * test-time views are the square's symmetries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/augment.h"

START_TEST(against_scipy)
{
    const int S = 48, C = 40;
    float *in = malloc(S * S * sizeof *in), *out = malloc(C * C * sizeof *out), *ref = malloc(C * C * sizeof *ref);
    zm_rng r;
    zm_rng_seed(&r, 5, 0);
    for (int i = 0; i < S * S; i++) in[i] = (float)zm_rng_uniform(&r);
    const char *dir = zt_tmpdir("augment");
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/in.f32", dir);
    snprintf(dst, sizeof dst, "%s/out.f32", dir);
    FILE *f = fopen(src, "wb");
    fwrite(in, sizeof *in, S * S, f);
    fclose(f);
    double worst = 0;
    for (int t = 0; t < 6; t++) {
        zm_aug a;
        zm_aug_draw(&r, S, C, &a);
        zm_aug_apply(in, 1, S, C, &a, out);
        ck_assert_int_eq(zt_run("%s %s/tests/reference/augment_ref.py %s %d %d %.17g %d %d %d %d %s",
                                zt_env("ZM_PYTHON", "/usr/bin/python3"), zt_env("ZM_SOURCE_DIR", "."), src, S, C,
                                a.angle, a.flip_x, a.flip_y, a.x0, a.y0, dst), 0);
        f = fopen(dst, "rb");
        ck_assert_uint_eq(fread(ref, sizeof *ref, C * C, f), (size_t)(C * C));
        fclose(f);
        for (int i = 0; i < C * C; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
    }
    fprintf(stderr, "augmentation vs scipy map_coordinates: worst |diff| %.2e (values in [0,1])\n", worst);
    ck_assert(worst < 1e-5);
    free(in), free(out), free(ref);
}
END_TEST

START_TEST(quarter_turn_and_center)
{
    const int S = 8;
    float in[64], out[64];
    for (int i = 0; i < 64; i++) in[i] = (float)i;
    zm_aug a = {M_PI / 2, 0, 0, 0, 0};
    zm_aug_apply(in, 1, S, S, &a, out);
    /* counter-clockwise on the display: the top row becomes the left column, reversed */
    for (int r = 0; r < S; r++)
        for (int c = 0; c < S; c++) ck_assert_float_eq_tol(out[r * S + c], in[c * S + (S - 1 - r)], 1e-4);
    zm_aug_center(S, 4, &a);
    zm_aug_apply(in, 1, S, 4, &a, out);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) ck_assert_float_eq_tol(out[r * 4 + c], in[(r + 2) * S + c + 2], 1e-6);
    zm_rng r1, r2;
    zm_rng_seed(&r1, 9, 3);
    zm_rng_seed(&r2, 9, 3);
    zm_aug x, y;
    zm_aug_draw(&r1, 300, 224, &x);
    zm_aug_draw(&r2, 300, 224, &y);
    ck_assert(x.angle == y.angle && x.x0 == y.x0 && x.flip_x == y.flip_x);
    ck_assert(x.x0 >= 0 && x.x0 <= 76);
}
END_TEST

/* the eight views: v % 4 quarter turns counter-clockwise on the display, then a mirror;
 * 2, 4 and 8 views are {0, 4}, {0..3}, {0..7}; all distinct on an asymmetric stamp */
START_TEST(dihedral_views)
{
    const int S = 10, K = 6;
    float in[100], out[8][36];
    for (int i = 0; i < 100; i++) in[i] = (float)(i * i % 37);
    for (int v = 0; v < 8; v++) {
        zm_aug_view_apply(in, 1, 1, S, K, (zm_views){8, 0}, v, out[v]);
        for (int r = 0; r < K; r++)
            for (int c = 0; c < K; c++) {
                /* output (r, c) of the crop: mirror first (column), then v % 4 quarter turns */
                int rr = r, cc = v >= 4 ? K - 1 - c : c;
                for (int q = 0; q < (v & 3); q++) {
                    int t = rr;
                    rr = cc, cc = K - 1 - t;
                }
                ck_assert_float_eq_tol(out[v][r * K + c], in[(rr + 2) * S + cc + 2], 1e-4);
            }
        for (int u = 0; u < v; u++) ck_assert(memcmp(out[u], out[v], sizeof out[v]) != 0);
    }
    /* 2 views: the stamp and view 4 (its mirror); 4 views: views 0..3; two stamps at once */
    float two[2][36], pair[2][100], pair_out[2][36];
    for (int k = 0; k < 2; k++) {
        zm_aug_view_apply(in, 1, 1, S, K, (zm_views){2, 0}, k, two[k]);
        ck_assert(memcmp(two[k], out[4 * k], sizeof two[k]) == 0);
    }
    zm_aug_view_apply(in, 1, 1, S, K, (zm_views){4, 0}, 3, two[0]);
    ck_assert(memcmp(two[0], out[3], sizeof two[0]) == 0);
    memcpy(pair[0], in, sizeof in), memcpy(pair[1], in, sizeof in);
    zm_aug_view_apply(pair[0], 2, 1, S, K, (zm_views){8, 0}, 6, pair_out[0]);
    for (int i = 0; i < 2; i++) ck_assert(memcmp(pair_out[i], out[6], sizeof pair_out[i]) == 0);
}
END_TEST

/* views turned a further 45 degrees: view v is training's rotation (zm_aug_apply, checked
 * against scipy above) by v % 4 quarter turns + 45 degrees, then the mirror; they are
 * interpolated (none equals an on-grid view), and the 8 of a quarter-turned or mirrored
 * stamp are the 8 of the stamp in another order (the set is closed under both) */
START_TEST(turned_views)
{
    enum { S = 12, K = 8, N = K * K };
    float in[S * S], turned[S * S], mirrored[S * S], out[8][N], grid[N], ref[N], o2[N];
    for (int i = 0; i < S * S; i++) in[i] = (float)(i * i % 41);
    for (int r = 0; r < S; r++)
        for (int c = 0; c < S; c++) {
            turned[r * S + c] = in[c * S + (S - 1 - r)]; /* np.rot90: a quarter turn counter-clockwise */
            mirrored[r * S + c] = in[r * S + (S - 1 - c)];
        }
    const zm_views v45 = {8, 45};
    for (int v = 0; v < 8; v++) {
        zm_aug_view_apply(in, 1, 1, S, K, v45, v, out[v]);
        zm_aug a;
        zm_aug_center(S, K, &a);
        a.angle = (v % 4 * 90 + 45) * M_PI / 180, a.flip_x = v >= 4;
        zm_aug_apply(in, 1, S, K, &a, ref);
        for (int i = 0; i < N; i++) ck_assert_float_eq_tol(out[v][i], ref[i], 1e-4);
        for (int u = 0; u < 8; u++) {
            zm_aug_view_apply(in, 1, 1, S, K, (zm_views){8, 0}, u, grid);
            ck_assert(memcmp(grid, out[v], sizeof grid) != 0);
        }
    }
    const float *const inputs[2] = {turned, mirrored};
    for (int t = 0; t < 2; t++) {
        int used = 0;
        for (int v = 0; v < 8; v++) {
            zm_aug_view_apply(inputs[t], 1, 1, S, K, v45, v, o2);
            int found = -1;
            for (int u = 0; u < 8 && found < 0; u++) {
                float d = 0;
                for (int i = 0; i < N; i++) d = fmaxf(d, fabsf(o2[i] - out[u][i]));
                if (d < 1e-3f && !(used >> u & 1)) found = u;
            }
            ck_assert_msg(found >= 0, "view %d of the %s stamp is none of the stamp's 8 views", v, t ? "mirrored" : "turned");
            used |= 1 << found;
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("augment");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, against_scipy);
    tcase_add_test(tc, quarter_turn_and_center);
    tcase_add_test(tc, dihedral_views);
    tcase_add_test(tc, turned_views);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
