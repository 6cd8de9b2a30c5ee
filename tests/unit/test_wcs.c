/* test_wcs.c: pixel positions from our wcslib mapping against astropy.wcs on the real
 * survey files (TAN bricks, tile-compressed; TAN cutout cubes; TPV DECam CCDs): both
 * directions within 0.01 pixel. Prints the worst difference per file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/fitsimg.h"
#include "zoomorph/wcsmap.h"

static const char *files[] = {
    "legacysurvey-coadds/1238p245/legacysurvey-1238p245-image-z.fits.fz",
    "legacysurvey-coadds/1102p240/legacysurvey-1102p240-image-z.fits.fz",
    "decals-cutouts/example_a.fits",
    "decals-cutouts/temp_extended.fits",
    "decals-cutouts/temp_small.fits",
    "decam-ccds/c4d_141029_043225_ooi_g_ls9.N26.fits",
    "decam-ccds/c4d_131122_030338_ooi_z_ls9.S21.fits",
};
#define NFILES (int)(sizeof files / sizeof files[0])

START_TEST(against_astropy)
{
    const char *data = zt_shared_data();
    if (!data) {
        fprintf(stderr, "SKIP: ../shared/data/real is absent\n");
        return;
    }
    char csv[4200], cmd[16384];
    snprintf(csv, sizeof csv, "%s/points.csv", zt_tmpdir("wcs"));
    int len = snprintf(cmd, sizeof cmd, "%s %s/tests/reference/wcs_points.py '%s'",
                       zt_env("ZM_PYTHON", "/usr/bin/python3"), zt_env("ZM_SOURCE_DIR", "."), csv);
    for (int i = 0; i < NFILES; i++) len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s/%s'", data, files[i]);
    ck_assert_int_eq(zt_run("%s", cmd), 0);
    FILE *f = fopen(csv, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192], cur[4096] = "";
    zm_image img;
    memset(&img, 0, sizeof img);
    double worst_pix = 0, worst_sky = 0, overall = 0;
    int nfiles = 0, npoints = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    for (;;) {
        char *ok = fgets(line, sizeof line, f);
        char path[4096] = "";
        double x = 0, y = 0, ra = 0, dec = 0;
        if (ok) {
            char *c = strrchr(line, ',');
            for (int k = 0; k < 3 && c; k++) {
                *c = '\0';
                c = strrchr(line, ',');
            }
            ck_assert_ptr_nonnull(c);
            *c = '\0';
            snprintf(path, sizeof path, "%s", line);
            char *rest = c + 1;
            ck_assert_int_eq(sscanf(rest, "%lf", &x), 1);
            rest += strlen(rest) + 1;
            ck_assert_int_eq(sscanf(rest, "%lf", &y), 1);
            rest += strlen(rest) + 1;
            ck_assert_int_eq(sscanf(rest, "%lf", &ra), 1);
            rest += strlen(rest) + 1;
            ck_assert_int_eq(sscanf(rest, "%lf", &dec), 1);
        }
        if (!ok || strcmp(path, cur) != 0) {
            if (cur[0]) {
                fprintf(stderr, "%s: worst |pixel difference| %.2e px (sky->pixel), %.2e px (pixel->sky)\n",
                        cur, worst_pix, worst_sky);
                overall = fmax(overall, fmax(worst_pix, worst_sky));
                zm_image_free(&img);
            }
            if (!ok) break;
            zm_err err = {0};
            ck_assert_msg(zm_image_read(path, 0, &img, &err) == 0, "%s", err.msg);
            snprintf(cur, sizeof cur, "%s", path);
            worst_pix = worst_sky = 0;
            nfiles++;
        }
        double px, py, r2, d2;
        ck_assert_int_eq(zm_wcs_sky2pix(img.wcs, ra, dec, &px, &py), 0);
        worst_pix = fmax(worst_pix, hypot(px - x, py - y));
        ck_assert_int_eq(zm_wcs_pix2sky(img.wcs, x, y, &r2, &d2), 0);
        /* sky difference in pixels of the local scale */
        zm_local_wcs L;
        ck_assert_int_eq(zm_wcs_local(img.wcs, ra, dec, 1.0, &L), 0);
        double dra = (r2 - ra) * cos(dec * M_PI / 180.0) * 3600.0, ddec = (d2 - dec) * 3600.0;
        worst_sky = fmax(worst_sky, hypot(dra, ddec) / zm_local_pixscale(&L));
        npoints++;
    }
    fclose(f);
    fprintf(stderr, "%d files, %d points: worst difference from astropy %.2e pixels\n", nfiles, npoints, overall);
    ck_assert_int_eq(nfiles, NFILES);
    ck_assert_msg(overall < 0.01, "worst difference %.3g pixels >= 0.01", overall);
}
END_TEST

START_TEST(local_scale_of_a_brick)
{
    const char *data = zt_shared_data();
    if (!data) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data, files[0]);
    zm_image img;
    zm_err err = {0};
    ck_assert_int_eq(zm_image_read(path, 0, &img, &err), 0);
    double ra, dec;
    ck_assert_int_eq(zm_wcs_pix2sky(img.wcs, 1799.5, 1799.5, &ra, &dec), 0);
    zm_local_wcs L;
    ck_assert_int_eq(zm_wcs_local(img.wcs, ra, dec, 5.0, &L), 0);
    /* north up, east left, 0.262 arcsec/pixel */
    ck_assert_double_eq_tol(zm_local_pixscale(&L), 0.262, 1e-4);
    ck_assert(L.dx_de < 0 && L.dy_dn > 0);
    ck_assert_double_eq_tol(L.dy_de, 0, 1e-6);
    zm_image_free(&img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wcs");
    TCase *tc = tcase_create("wcs");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, against_astropy);
    tcase_add_test(tc, local_scale_of_a_brick);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
