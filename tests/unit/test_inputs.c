/* test_inputs.c: bad survey files at the reader level: each gives a clear error naming
 * the file, the HDU or column and what was expected (truncated download, NAXIS not 2 or 3,
 * a path that does not exist, not FITS at all, a Tractor catalogue missing a column) and
 * both Tractor schemas are read (the real DR5 catalogue of brick 1238p245). */
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/fitsimg.h"
#include "zoomorph/table.h"
#include "zoomorph/tractor.h"

static void write_image(const char *path, int naxis, long *naxes)
{
    fitsfile *f;
    int st = 0;
    remove(path);
    fits_create_file(&f, path, &st);
    fits_create_img(f, FLOAT_IMG, naxis, naxes, &st);
    long n = 1;
    for (int i = 0; i < naxis; i++) n *= naxes[i];
    float *v = calloc((size_t)n, sizeof *v);
    fits_write_img(f, TFLOAT, 1, n, v, &st);
    free(v);
    fits_close_file(f, &st);
    ck_assert_int_eq(st, 0);
}

START_TEST(naxis_not_2_or_3)
{
    const char *d = zt_tmpdir("inputs");
    char p[4200];
    long n4[4] = {4, 4, 2, 2}, n1[1] = {16};
    snprintf(p, sizeof p, "%s/four.fits", d);
    write_image(p, 4, n4);
    zm_image img;
    zm_err err = {0};
    ck_assert_int_eq(zm_image_read(p, 1, &img, &err), ZM_EFORMAT);
    fprintf(stderr, "%s\n", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "four.fits HDU 1: NAXIS = 4; expected 2 (an image) or 3 (a cube of bands)"));
    snprintf(p, sizeof p, "%s/one.fits", d);
    write_image(p, 1, n1);
    ck_assert_int_eq(zm_image_read(p, 1, &img, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "NAXIS = 1"));
}
END_TEST

START_TEST(missing_and_not_fits)
{
    zm_image img;
    zm_err err = {0};
    ck_assert_int_eq(zm_image_read("/nonexistent/brick-image-g.fits.fz", 1, &img, &err), ZM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/brick-image-g.fits.fz: cannot open"));
    char p[4200];
    snprintf(p, sizeof p, "%s/text.fits", zt_tmpdir("inputs"));
    FILE *f = fopen(p, "w");
    fputs("this is not FITS\n", f);
    fclose(f);
    ck_assert_int_ne(zm_image_read(p, 1, &img, &err), 0);
    fprintf(stderr, "%s\n", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "text.fits"));
}
END_TEST

START_TEST(truncated_download)
{
    const char *data = zt_shared_data();
    if (!data) {
        fprintf(stderr, "SKIP: ../shared/data/real is absent\n");
        return;
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/decals-cutouts/example_incomplete.fits", data);
    zm_image img;
    zm_err err = {0};
    /* the header reads fine: the error comes with the pixels */
    ck_assert_int_eq(zm_image_read(p, 0, &img, &err), 0);
    zm_image_free(&img);
    ck_assert_int_eq(zm_image_read(p, 1, &img, &err), ZM_EFORMAT);
    fprintf(stderr, "%s\n", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "example_incomplete.fits HDU 1: cannot read the 424 x 424 x 3 pixels (truncated file?)"));
}
END_TEST

START_TEST(tractor_schemas_and_missing_columns)
{
    const char *bands[] = {"g", "r", "z"};
    zm_source *s = NULL;
    long n = 0;
    zm_tractor_schema schema;
    zm_err err = {0};
    const char *data = zt_shared_data();
    if (data) {
        char p[4200];
        snprintf(p, sizeof p, "%s/legacysurvey-coadds/1238p245/tractor-1238p245.fits", data);
        ck_assert_msg(zm_tractor_read(p, bands, 3, 2, &s, &n, &schema, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(schema, ZM_SCHEMA_DR5);
        ck_assert_int_eq(n, 2);
        ck_assert_str_eq(s[0].type, "PSF");
        ck_assert_double_eq_tol(s[0].ra, 123.87324171, 1e-7);
        ck_assert_float_eq_tol(s[1].flux[2], 26.900024f, 1e-4);
        free(s);
    }
    /* CSV catalogues with the DR8 schema, and without a needed column */
    const char *d = zt_tmpdir("tractor");
    char p[4200];
    snprintf(p, sizeof p, "%s/tractor-ok.csv", d);
    FILE *f = fopen(p, "w");
    fputs("objid,ra,dec,type,brick_primary,flux_r,shape_r,sersic\n0,10.5,-2.25,SER,T,100.0,3.5,2.5\n"
          "1,10.6,-2.26,PSF,F,50.0,0,0\n", f);
    fclose(f);
    ck_assert_msg(zm_tractor_read(p, bands, 3, 1, &s, &n, &schema, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(schema, ZM_SCHEMA_DR8);
    ck_assert_int_eq(n, 2);
    ck_assert_float_eq(s[0].r50, 3.5f);
    ck_assert_float_eq(s[0].sersic, 2.5f);
    ck_assert_int_eq(s[1].brick_primary, 0);
    ck_assert(isnan(s[0].flux[0]));
    zm_selection sel = {.mag_band = 1, .mag_min = 0, .mag_max = 17.77, .require_primary = 1};
    ck_assert_int_eq(zm_selection_keep(&sel, &s[0]), 1);  /* r = 17.5 */
    ck_assert_int_eq(zm_selection_keep(&sel, &s[1]), 0);  /* PSF, not primary */
    sel.mag_max = 17.0;
    ck_assert_int_eq(zm_selection_keep(&sel, &s[0]), 0);
    free(s);
    snprintf(p, sizeof p, "%s/tractor-noshape.csv", d);
    f = fopen(p, "w");
    fputs("objid,ra,dec,type,flux_r\n0,10.5,-2.25,SER,100.0\n", f);
    fclose(f);
    ck_assert_int_eq(zm_tractor_read(p, bands, 3, 1, &s, &n, &schema, &err), ZM_EMISSING);
    fprintf(stderr, "%s\n", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "expected 'shape_r' (DR8+ schema) or 'shapeexp_r', 'shapedev_r' and 'fracdev' (DR5-7)"));
    snprintf(p, sizeof p, "%s/tractor-noflux.csv", d);
    f = fopen(p, "w");
    fputs("objid,ra,dec,type,shape_r\n0,10.5,-2.25,SER,3\n", f);
    fclose(f);
    ck_assert_int_eq(zm_tractor_read(p, bands, 3, 1, &s, &n, &schema, &err), ZM_EMISSING);
    ck_assert_ptr_nonnull(strstr(err.msg, "column 'flux_r' is missing"));
}
END_TEST

START_TEST(csv_bad_cells_have_line_numbers)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/t.csv", zt_tmpdir("csv"));
    FILE *f = fopen(p, "w");
    fputs("# a comment\nra,dec,file\n1.5,2.5,\"a,b.fits\"\n\nx,3,c.fits\n", f);
    fclose(f);
    zm_table *t = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_table_open(p, &t, &err), 0);
    ck_assert_int_eq(zm_table_nrows(t), 2);
    double v[2];
    unsigned char bad[2];
    ck_assert_int_eq(zm_table_read_double(t, zm_table_col(t, "RA"), v, bad, &err), 0);
    ck_assert_int_eq(bad[0], 0);
    ck_assert_int_eq(bad[1], 1);
    ck_assert_int_eq(zm_table_line(t, 1), 5);
    char s[2][32];
    ck_assert_int_eq(zm_table_read_str(t, 2, (char *)s, 32, &err), 0);
    ck_assert_str_eq(s[0], "a,b.fits");
    ck_assert_int_eq(zm_table_read_double(t, 0, v, NULL, &err), ZM_EVALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "t.csv line 5: column ra = 'x': expected a number"));
    zm_table_close(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("inputs");
    TCase *tc = tcase_create("inputs");
    tcase_add_test(tc, naxis_not_2_or_3);
    tcase_add_test(tc, missing_and_not_fits);
    tcase_add_test(tc, truncated_download);
    tcase_add_test(tc, tractor_schemas_and_missing_columns);
    tcase_add_test(tc, csv_bad_cells_have_line_numbers);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
