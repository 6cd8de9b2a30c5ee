/* test_simrender.c: the simulator's renderer and brick grid: flux of rendered Sersic
 * and exponential profiles, half-light radii against the definition, centroids, PSF
 * flux conservation, stars, determinism, Legacy Surveys brick names. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "zoomorph/log.h"
#include "zoomorph/rng.h"
#include "zoomorph/simrender.h"
#include "zoomorph/simsurvey.h"

static double band_sum(const zm_sim_stamp *st, int b)
{
    double s = 0;
    const float *p = st->pix + (size_t)st->w * st->h * b;
    for (int i = 0; i < st->w * st->h; i++) s += p[i];
    return s;
}

static void centroid(const zm_sim_stamp *st, int b, double *cx, double *cy)
{
    double s = 0, sx = 0, sy = 0;
    const float *p = st->pix + (size_t)st->w * st->h * b;
    for (int j = 0; j < st->h; j++)
        for (int i = 0; i < st->w; i++) {
            double v = p[(size_t)j * st->w + i];
            s += v, sx += v * (st->x0 + i), sy += v * (st->y0 + j);
        }
    *cx = sx / s, *cy = sy / s;
}

/* Radius of the circle around (x, y) holding half of band b (pixel centres). */
static double half_light_radius(const zm_sim_stamp *st, int b, double x, double y)
{
    int n = st->w * st->h;
    double *r = malloc(n * sizeof *r), *v = malloc(n * sizeof *v), tot = band_sum(st, b);
    const float *p = st->pix + (size_t)n * b;
    int *idx = malloc(n * sizeof *idx);
    for (int j = 0; j < st->h; j++)
        for (int i = 0; i < st->w; i++) {
            int k = j * st->w + i;
            r[k] = hypot(st->x0 + i - x, st->y0 + j - y);
            v[k] = p[k];
            idx[k] = k;
        }
    /* insertion of a histogram in fine radial bins: cumulative flux */
    int nb = 20000;
    double rmax = st->w, *h = calloc(nb, sizeof *h);
    for (int k = 0; k < n; k++) {
        int bi = (int)(r[k] / rmax * nb);
        if (bi < nb) h[bi] += v[k];
    }
    double c = 0, res = NAN;
    for (int bi = 0; bi < nb; bi++) {
        if (c + h[bi] >= 0.5 * tot) {
            res = (bi + (0.5 * tot - c) / h[bi]) * rmax / nb;
            break;
        }
        c += h[bi];
    }
    free(r), free(v), free(idx), free(h);
    return res;
}

static zm_sim_galaxy one_component(int kind, double n, double r50, double q, double pa)
{
    zm_sim_galaxy g;
    memset(&g, 0, sizeof g);
    g.x = 150.3;
    g.y = 140.6;
    g.ncomp = 1;
    zm_sim_comp *c = &g.comp[0];
    c->kind = kind;
    c->n = (float)n;
    c->r50 = (float)r50;
    c->q = (float)q;
    c->pa = (float)pa;
    c->flux[0] = 10.0f, c->flux[1] = 20.0f, c->flux[2] = 30.0f;
    return g;
}

START_TEST(sersic_flux_and_half_light_radius)
{
    const double ns[] = {1.0, 2.5, 4.0};
    for (int t = 0; t < 4; t++) {
        int disc = t == 3;
        double n = disc ? 1.0 : ns[t], r50 = 5.0;
        zm_sim_galaxy g = one_component(disc ? ZM_COMP_DISC : ZM_COMP_BULGE, n, r50, 1.0, 0.0);
        zm_sim_stamp st = {0};
        /* a big stamp so that truncation leaves the half-light radius alone */
        int half = n > 3 ? 200 : 120;
        zm_sim_render_galaxy(&g, half, NULL, 9, 0, &st);
        for (int b = 0; b < 3; b++) {
            double s = band_sum(&st, b), want = g.comp[0].flux[b];
            ck_assert_msg(fabs(s / want - 1.0) < 1e-4, "n=%g band %d: flux %g, want %g", n, b, s, want);
        }
        double rh = half_light_radius(&st, 1, g.x, g.y);
        printf("%s n=%.1f: half-light radius %.4f px (want %.4f), rel diff %.4f\n",
               disc ? "disc" : "sersic", n, rh, r50, rh / r50 - 1.0);
        ck_assert_msg(fabs(rh / r50 - 1.0) < 0.02, "n=%g: r50 %g vs %g", n, rh, r50);
        zm_sim_stamp_free(&st);
    }
}
END_TEST

static zm_sim_galaxy composite(void)
{
    zm_sim_galaxy g;
    memset(&g, 0, sizeof g);
    g.x = 100.37;
    g.y = 90.81;
    zm_sim_comp c[5] = {
        {ZM_COMP_BULGE, {3, 5, 7}, 2.0f, 4.0f, 0.8f, 30.0f, {0}},
        {ZM_COMP_DISC, {8, 10, 11}, 9.0f, 1.0f, 0.5f, 30.0f, {0}},
        {ZM_COMP_BAR, {1, 2, 3}, 6.0f, 1.0f, 0.3f, 75.0f, {2.5f}},
        {ZM_COMP_ARMS, {4, 4, 3}, 9.0f, 1.0f, 0.5f, 30.0f, {2, 20, 40, 4}},
        {ZM_COMP_RING, {1, 1, 1}, 7.0f, 1.0f, 0.5f, 30.0f, {1.0f}},
    };
    g.ncomp = 5;
    memcpy(g.comp, c, sizeof c);
    return g;
}

START_TEST(psf_convolved_flux_and_centroid)
{
    zm_sim_psf psf[3];
    const double fwhm[3] = {6.0, 5.0, 4.2};
    for (int b = 0; b < 3; b++) zm_sim_psf_make(&psf[b], fwhm[b], 3.5);
    zm_sim_galaxy g = composite();
    zm_sim_stamp st = {0};
    zm_sim_render_galaxy(&g, zm_sim_stamp_half(&g, 256), psf, 9, 0, &st);
    double worst = 0, worstc = 0;
    for (int b = 0; b < 3; b++) {
        double want = 0, cx, cy;
        for (int c = 0; c < g.ncomp; c++) want += g.comp[c].flux[b];
        double s = band_sum(&st, b);
        worst = fmax(worst, fabs(s / want - 1.0));
        centroid(&st, b, &cx, &cy);
        worstc = fmax(worstc, fmax(fabs(cx - g.x), fabs(cy - g.y)));
    }
    printf("composite galaxy with PSF: worst flux rel diff %.2e, worst centroid offset %.4f px\n",
           worst, worstc);
    ck_assert(worst < 1e-4);
    ck_assert(worstc < 0.05);
    /* a star: flux, centroid, and FWHM of the rendered profile */
    float flux[3] = {5, 10, 20};
    zm_sim_render_star(33.21, 47.66, flux, psf, &st);
    for (int b = 0; b < 3; b++) {
        double cx, cy;
        centroid(&st, b, &cx, &cy);
        ck_assert_msg(fabs(band_sum(&st, b) / flux[b] - 1.0) < 1e-4, "star flux band %d", b);
        ck_assert_msg(fabs(cx - 33.21) < 0.05 && fabs(cy - 47.66) < 0.05, "star centroid band %d: %g %g", b, cx, cy);
        ck_assert(psf[b].nea > 1.0);
    }
    /* the PSF kernel sums to one and is symmetric */
    for (int b = 0; b < 3; b++) {
        int w = 2 * psf[b].radius + 1;
        double s = 0;
        for (int i = 0; i < w * w; i++) s += psf[b].k[i];
        ck_assert(fabs(s - 1.0) < 1e-5);
        ck_assert(fabs(psf[b].k[0] - psf[b].k[w * w - 1]) < 1e-9);
    }
    zm_sim_stamp_free(&st);
    for (int b = 0; b < 3; b++) zm_sim_psf_free(&psf[b]);
}
END_TEST

START_TEST(rendering_is_deterministic)
{
    zm_sim_psf psf[3];
    for (int b = 0; b < 3; b++) zm_sim_psf_make(&psf[b], 5.0, 3.5);
    zm_sim_galaxy g = composite();
    zm_sim_stamp a = {0}, c = {0};
    int half = zm_sim_stamp_half(&g, 256);
    zm_sim_render_galaxy(&g, half, psf, 9, 0, &a);
    zm_sim_render_galaxy(&g, half, psf, 9, 0, &c);
    ck_assert_int_eq(a.w, c.w);
    ck_assert(memcmp(a.pix, c.pix, sizeof(float) * 3 * a.w * a.h) == 0);
    /* drawing galaxies from the same stream gives the same galaxy */
    zm_sim_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pixscale = 0.262;
    cfg.bar_fraction = 0.5;
    cfg.ring_fraction = 0.5;
    for (int cls = 0; cls < ZM_SIM_STAR; cls++) {
        zm_rng r1, r2;
        zm_rng_seed(&r1, 7, 99);
        zm_rng_seed(&r2, 7, 99);
        zm_sim_object o1, o2;
        memset(&o1, 0, sizeof o1);
        memset(&o2, 0, sizeof o2);
        zm_sim_draw_galaxy(&cfg, &r1, cls, 16.0, 6.0, 50, 60, &o1);
        zm_sim_draw_galaxy(&cfg, &r2, cls, 16.0, 6.0, 50, 60, &o2);
        ck_assert(memcmp(&o1.g, &o2.g, sizeof o1.g) == 0);
        /* components add up to the catalogue flux of the drawn magnitude */
        double want = pow(10.0, (22.5 - 16.0) / 2.5);
        ck_assert_msg(fabs(o1.flux[1] / want - 1.0) < 1e-4, "class %d: r flux %g want %g", cls,
                      o1.flux[1], want);
        ck_assert(o1.g.ncomp >= 1);
    }
    zm_sim_stamp_free(&a), zm_sim_stamp_free(&c);
    for (int b = 0; b < 3; b++) zm_sim_psf_free(&psf[b]);
}
END_TEST

START_TEST(separable_psf_matches_full_kernel)
{
    zm_sim_psf psf[3];
    const double fwhm[3] = {6.9, 5.3, 4.0};
    for (int b = 0; b < 3; b++) {
        zm_sim_psf_make(&psf[b], fwhm[b], b == 0 ? 2.5 : 3.5);
        printf("PSF fwhm %.1f px: %d separable terms, max kernel residual %.2e of the peak\n",
               fwhm[b], psf[b].nsep, psf[b].sep_err);
        ck_assert(psf[b].sep_err < 1e-3);
    }
    zm_sim_galaxy g = composite();
    zm_sim_stamp fast = {0}, ref = {0};
    int half = zm_sim_stamp_half(&g, 256);
    zm_sim_render_galaxy(&g, half, psf, 9, 0, &fast);
    zm_sim_render_galaxy(&g, half, psf, 9, 1, &ref);
    ck_assert_int_eq(fast.w, ref.w);
    size_t n = (size_t)3 * fast.w * fast.h;
    float peak = 0;
    for (size_t i = 0; i < n; i++) peak = ref.pix[i] > peak ? ref.pix[i] : peak;
    double worst = zt_max_rel_diff("separable vs full-kernel convolution", fast.pix, ref.pix, n, peak);
    ck_assert(worst < 2e-3);
    zm_sim_stamp_free(&fast), zm_sim_stamp_free(&ref);
    for (int b = 0; b < 3; b++) zm_sim_psf_free(&psf[b]);
}
END_TEST

START_TEST(brick_grid_matches_legacy_surveys)
{
    zm_sim_brick b;
    zm_sim_brick_at(123.85, 24.5, &b);
    ck_assert_str_eq(b.name, "1238p245");
    ck_assert(fabs(b.dec1 - 24.375) < 1e-12 && fabs(b.dec2 - 24.625) < 1e-12);
    /* survey-bricks.fits row: 0091p035 ra 9.13769124 ra1 9.01251739 ra2 9.26286509 */
    zm_sim_brick_at(9.1, 3.5, &b);
    ck_assert_str_eq(b.name, "0091p035");
    ck_assert(fabs(b.ra - 9.13769124) < 1e-7);
    ck_assert(fabs(b.ra1 - 9.01251739) < 1e-7 && fabs(b.ra2 - 9.26286509) < 1e-7);
    ck_assert_int_eq(b.row, 374);
    ck_assert_int_eq(b.col, 36);
    zm_sim_brick_at(10.0, -12.25, &b);
    ck_assert_int_eq(b.name[4], 'm');
    /* a list runs east along the row */
    zm_sim_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ra = 123.85, cfg.dec = 24.5, cfg.nbricks = 3;
    zm_sim_brick L[3];
    zm_sim_brick_list(&cfg, L);
    ck_assert_str_eq(L[0].name, "1238p245");
    ck_assert(L[1].ra > L[0].ra && L[2].ra > L[1].ra);
    ck_assert(fabs(L[1].ra1 - L[0].ra2) < 1e-9);
}
END_TEST


/* A merger (host bulge + disc, companion, two tails, a shell) and a dusty edge-on
 * disc: fluxes kept, fast path against the reference (pixel residual relative to the
 * peak, total flux, half-light radius), and the dust lane darkens the mid-plane. */
static zm_sim_galaxy merger_galaxy(void)
{
    zm_sim_galaxy g;
    memset(&g, 0, sizeof g);
    g.x = 120.4, g.y = 118.7;
    zm_sim_comp c[5] = {
        {ZM_COMP_BULGE, {3, 5, 7}, 3.0f, 3.0f, 0.8f, 20.0f, {0}},
        {ZM_COMP_DISC, {6, 8, 9}, 10.0f, 1.0f, 0.6f, 20.0f, {0}},
        {ZM_COMP_COMPANION, {3, 4, 5}, 5.0f, 2.0f, 0.7f, 70.0f, {14.0f, -9.0f}},
        {ZM_COMP_TAIL, {1, 1.5f, 1.5f}, 11.0f, 1.0f, 0.8f, 10.0f, {2, 50, 30, 8}},
        {ZM_COMP_SHELL, {0.5f, 0.7f, 0.8f}, 25.0f, 1.0f, 1.0f, 0.0f, {2.5f, 120.0f, 2.0f}},
    };
    g.ncomp = 5;
    memcpy(g.comp, c, sizeof c);
    return g;
}

START_TEST(new_components_fast_vs_reference)
{
    zm_sim_psf psf[3];
    const double fwhm[3] = {6.2, 5.5, 5.0};
    for (int b = 0; b < 3; b++) zm_sim_psf_make(&psf[b], fwhm[b], 3.5);
    for (int t = 0; t < 3; t++) {
        zm_sim_galaxy g = t == 0 ? merger_galaxy() : composite();
        if (t == 2) {
            /* a big dusty edge-on disc with a boxy bulge */
            g = one_component(ZM_COMP_DISC, 1.0, 30.0, 0.15, 30.0);
            g.comp[1] = (zm_sim_comp){ZM_COMP_BULGE, {2, 3, 4}, 6.0f, 2.0f, 0.6f, 30.0f, {3.5f}};
            g.comp[2] = (zm_sim_comp){ZM_COMP_DUST, {0.9f, 0.7f, 0.5f}, 30.0f, 1.0f, 0.15f, 30.0f, {1.5f}};
            g.ncomp = 3;
        }
        const char *name = t == 0 ? "merger" : t == 1 ? "composite" : "dusty edge-on";
        zm_sim_stamp fast = {0}, ref = {0};
        int half = zm_sim_stamp_half(&g, 256);
        zm_sim_render_galaxy(&g, half, psf, 9, 0, &fast);
        zm_sim_render_galaxy(&g, half, psf, 9, 1, &ref);
        ck_assert_int_eq(fast.w, ref.w);
        size_t n = (size_t)3 * fast.w * fast.h;
        float peak = 0;
        for (size_t i = 0; i < n; i++) peak = ref.pix[i] > peak ? ref.pix[i] : peak;
        double worst = 0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(fast.pix[i] - ref.pix[i]) / peak);
        double want = 0;
        for (int c = 0; c < g.ncomp; c++)
            if (g.comp[c].kind != ZM_COMP_DUST) want += g.comp[c].flux[1];
        double ff = band_sum(&fast, 1), fr = band_sum(&ref, 1);
        double rf = half_light_radius(&fast, 1, g.x, g.y), rr = half_light_radius(&ref, 1, g.x, g.y);
        printf("%s: fast vs reference: max |diff| %.2e of the peak; r flux %.5f / %.5f (want %.5f); "
               "half-light radius %.3f / %.3f px\n", name, worst, ff, fr, want, rf, rr);
        ck_assert(worst < 2e-3);
        ck_assert(fabs(ff / want - 1) < 1e-4 && fabs(fr / want - 1) < 1e-4);
        ck_assert(fabs(rf / rr - 1) < 0.01);
        zm_sim_stamp_free(&fast), zm_sim_stamp_free(&ref);
    }
    /* the lane: no PSF, mid-plane against the same disc without dust at 1 r50 */
    zm_sim_galaxy g = one_component(ZM_COMP_DISC, 1.0, 30.0, 0.15, 0.0);
    zm_sim_stamp a = {0}, d = {0};
    int half = zm_sim_stamp_half(&g, 256);
    zm_sim_render_galaxy(&g, half, NULL, 9, 0, &a);
    g.comp[1] = (zm_sim_comp){ZM_COMP_DUST, {0.9f, 0.7f, 0.5f}, 30.0f, 1.0f, 0.15f, 0.0f, {1.5f}};
    g.ncomp = 2;
    zm_sim_render_galaxy(&g, half, NULL, 9, 0, &d);
    /* PA 0: the major axis runs north (+y); pixel at (x, y + 30) */
    size_t at = (size_t)(lround(g.y) + 30 - a.y0) * a.w + (size_t)(lround(g.x) - a.x0);
    size_t off = at + 3; /* 3 px off the mid-plane */
    double dim_g = d.pix[at] / a.pix[at], dim_z = d.pix[(size_t)2 * a.w * a.h + at] / a.pix[(size_t)2 * a.w * a.h + at];
    printf("dust lane: mid-plane / no dust = %.3f (g), %.3f (z); 3 px off: %.3f (r)\n", dim_g, dim_z,
           d.pix[(size_t)a.w * a.h + off] / a.pix[(size_t)a.w * a.h + off]);
    ck_assert(dim_g < 0.3 && dim_z > dim_g);
    ck_assert(fabs(band_sum(&d, 0) / 10.0 - 1.0) < 1e-4);
    zm_sim_stamp_free(&a), zm_sim_stamp_free(&d);
    for (int b = 0; b < 3; b++) zm_sim_psf_free(&psf[b]);
}
END_TEST

/* Render speed of the fast path against the reference on galaxies drawn like the
 * survey's (default sizes and magnitudes): printed, and the fast path must be faster. */
START_TEST(render_speed)
{
    zm_sim_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pixscale = 0.262, cfg.bar_fraction = 0.3, cfg.ring_fraction = 0.08, cfg.dust_fraction = 0.8;
    cfg.outer_ring_fraction = 0.4, cfg.flocculent_fraction = 0.3, cfg.r50_max = 30.0;
    zm_sim_psf psf[3];
    const double fwhm[3] = {1.55 / 0.262, 1.35 / 0.262, 1.25 / 0.262};
    for (int b = 0; b < 3; b++) zm_sim_psf_make(&psf[b], fwhm[b], 3.5);
    zm_rng r;
    zm_rng_seed(&r, 5, 1);
    enum { N = 60 };
    zm_sim_object *o = calloc(N, sizeof *o);
    for (int i = 0; i < N; i++) {
        /* r: N(<m) ~ 10^(0.6 m) in [14, 17.77]; r50 log-normal around 6" at 16.5 */
        double u = zm_rng_uniform(&r), a = pow(10.0, 0.6 * 14.0), b = pow(10.0, 0.6 * 17.77);
        double mag = log10(a + u * (b - a)) / 0.6;
        double r50 = 6.0 * pow(10.0, -0.15 * (mag - 16.5) + 0.18 * zm_rng_normal(&r));
        r50 = fmin(fmax(r50, 1.5), 30.0);
        /* the default class mix of params_sim.c */
        static const double frac[ZM_SIM_STAR] = {0.11, 0.15, 0.45, 0.1, 0.06, 0.05, 0.01, 0.04, 0.03};
        double uc = zm_rng_uniform(&r);
        int cls = 0;
        while (cls < ZM_SIM_STAR - 1 && (uc -= frac[cls]) >= 0) cls++;
        zm_sim_draw_galaxy(&cfg, &r, cls, mag, r50, 400.3, 400.6, &o[i]);
    }
    zm_sim_stamp st = {0};
    double t[2];
    for (int exact = 0; exact < 2; exact++) {
        int n = exact ? N / 6 : N;
        /* CPU time of this thread: the machine is shared */
        struct timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (int i = 0; i < n; i++)
            zm_sim_render_galaxy(&o[i].g, zm_sim_stamp_half(&o[i].g, 256), psf, 9, exact, &st);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        t[exact] = ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    }
    printf("render speed (CPU time, survey-like galaxies): fast %.1f ms/galaxy = %.0f galaxies/s; "
           "reference %.1f ms/galaxy = %.1f galaxies/s (x%.1f)\n", 1e3 * t[0], 1.0 / t[0], 1e3 * t[1],
           1.0 / t[1], t[1] / t[0]);
    ck_assert(t[0] < t[1]);
    zm_sim_stamp_free(&st);
    free(o);
    for (int b = 0; b < 3; b++) zm_sim_psf_free(&psf[b]);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *s = suite_create("simrender");
    TCase *tc = tcase_create("simrender");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sersic_flux_and_half_light_radius);
    tcase_add_test(tc, psf_convolved_flux_and_centroid);
    tcase_add_test(tc, rendering_is_deterministic);
    tcase_add_test(tc, separable_psf_matches_full_kernel);
    tcase_add_test(tc, brick_grid_matches_legacy_surveys);
    tcase_add_test(tc, new_components_fast_vs_reference);
    tcase_add_test(tc, render_speed);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite(s);
    MPI_Finalize();
    return rc;
}
