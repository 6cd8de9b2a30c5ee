/* test_crossmatch.c: sky matching against brute force (random positions including the RA
 * wrap and near the pole), and the distance against astropy's separation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/crossmatch.h"
#include "zoomorph/rng.h"

START_TEST(matches_brute_force)
{
    zm_rng r;
    zm_rng_seed(&r, 11, 0);
    const long n = 20000, m = 3000;
    double *ra = malloc(n * sizeof *ra), *dec = malloc(n * sizeof *dec);
    for (long i = 0; i < n; i++) {
        /* clusters at the RA wrap, near the pole, and elsewhere */
        int which = (int)(i % 3);
        double c_ra = which == 0 ? 0.0 : which == 1 ? 120.0 : 200.0;
        double c_dec = which == 0 ? 10.0 : which == 1 ? 88.5 : -30.0;
        ra[i] = fmod(c_ra + 360.0 + zm_rng_normal(&r) * 0.05 / cos(c_dec * M_PI / 180), 360.0);
        dec[i] = c_dec + zm_rng_normal(&r) * 0.05;
    }
    zm_skyindex *ix = zm_skyindex_build(ra, dec, n, 1.0);
    long found = 0;
    for (long q = 0; q < m; q++) {
        long j = (long)zm_rng_below(&r, (uint64_t)n);
        double qra = ra[j] + zm_rng_normal(&r) * 2.0 / 3600 / cos(dec[j] * M_PI / 180), qdec = dec[j] + zm_rng_normal(&r) * 2.0 / 3600;
        double radius = q % 2 ? 3.0 : 30.0, d;
        long got = zm_skyindex_nearest(ix, qra, qdec, radius, &d);
        long want = -1;
        double wd = INFINITY;
        for (long i = 0; i < n; i++) {
            double di = zm_sky_distance(qra, qdec, ra[i], dec[i]);
            if (di <= radius && di < wd) wd = di, want = i;
        }
        ck_assert_int_eq(got, want);
        if (got >= 0) found++;
    }
    fprintf(stderr, "crossmatch: %ld of %ld queries matched, all as brute force\n", found, m);
    ck_assert_int_gt(found, m / 2);
    zm_skyindex_free(ix);
    free(ra), free(dec);
}
END_TEST

START_TEST(distance)
{
    /* astropy: SkyCoord(10, 20, unit='deg').separation(SkyCoord(10.01, 20.02, unit='deg')).arcsec */
    ck_assert_double_eq_tol(zm_sky_distance(10, 20, 10.01, 20.02), 79.55030708419814, 1e-8);
    ck_assert_double_eq_tol(zm_sky_distance(359.999, 0, 0.001, 0), 7.2, 1e-6);
    ck_assert_double_eq_tol(zm_sky_distance(0, 90, 180, 89), 3600.0, 1e-6);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crossmatch");
    TCase *tc = tcase_create("crossmatch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, matches_brute_force);
    tcase_add_test(tc, distance);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
