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

/* A FITS header of n cards (80 chars each, padded to 2880 bytes), no data. */
static size_t header_only(char *buf, const char *const *cards, int n)
{
    memset(buf, ' ', 2880);
    for (int i = 0; i < n; i++) memcpy(buf + 80 * i, cards[i], strlen(cards[i]));
    memcpy(buf + 80 * n, "END", 3);
    return 2880;
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n);
    ck_assert_int_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* Hostile headers found by tests/fuzz/fuzz_fits_image: sizes the file cannot hold (an
 * allocation of many GB, or a size_t overflow) and tile descriptors pointing outside the
 * heap (cfitsio then reads out of bounds) are refused before anything is allocated or
 * decompressed, from disk and from memory alike. */
START_TEST(hostile_headers)
{
    const char *d = zt_tmpdir("inputs");
    char buf[2880], p[4200];
    zm_image img;
    zm_err err = {0};
    const char *huge[] = {"SIMPLE  =                    T", "BITPIX  =                  -32",
                          "NAXIS   =                    3", "NAXIS1  =                70000",
                          "NAXIS2  =                70000", "NAXIS3  =                    3"};
    size_t n = header_only(buf, huge, 6);
    ck_assert_int_eq(zm_image_read_mem("huge.fits", buf, n, 1, &img, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "huge.fits HDU 1: image of 70000 x 70000 x 3 pixels is larger than zoomorph reads"));
    const char *big[] = {"SIMPLE  =                    T", "BITPIX  =                  -32",
                         "NAXIS   =                    2", "NAXIS1  =                20000",
                         "NAXIS2  =                20000"};
    n = header_only(buf, big, 5);
    snprintf(p, sizeof p, "%s/big-header.fits", d);
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    ck_assert_int_eq(zm_image_read(p, 1, &img, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "big-header.fits HDU 1: cannot read the 20000 x 20000 x 1 pixels (truncated file?): they end at byte 1600002880, the file has 2880"));
    ck_assert_ptr_null(img.pix);
    /* a RICE-compressed image whose first tile points past the heap */
    snprintf(p, sizeof p, "%s/bad-tile.fits.fz", d);
    remove(p);
    fitsfile *ff;
    int st = 0;
    long ax[2] = {64, 64};
    float v[64 * 64];
    unsigned seed = 12345; /* noise, so cfitsio quantizes and Rice-codes every tile */
    for (int i = 0; i < 64 * 64; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = 100.0f + (float)(seed >> 16) / 655.36f;
    }
    fits_create_file(&ff, p, &st);
    fits_set_compression_type(ff, RICE_1, &st);
    fits_create_img(ff, FLOAT_IMG, 2, ax, &st);
    double crval1 = 150.0, crval2 = 2.0, crpix = 32.5, cd1 = -7.3e-5, cd2 = 7.3e-5;
    fits_update_key(ff, TSTRING, "CTYPE1", "RA---TAN", NULL, &st);
    fits_update_key(ff, TSTRING, "CTYPE2", "DEC--TAN", NULL, &st);
    fits_update_key(ff, TDOUBLE, "CRVAL1", &crval1, NULL, &st);
    fits_update_key(ff, TDOUBLE, "CRVAL2", &crval2, NULL, &st);
    fits_update_key(ff, TDOUBLE, "CRPIX1", &crpix, NULL, &st);
    fits_update_key(ff, TDOUBLE, "CRPIX2", &crpix, NULL, &st);
    fits_update_key(ff, TDOUBLE, "CD1_1", &cd1, NULL, &st);
    fits_update_key(ff, TDOUBLE, "CD2_2", &cd2, NULL, &st);
    fits_write_img(ff, TFLOAT, 1, 64 * 64, v, &st);
    LONGLONG hs = 0, ds = 0, de = 0;
    fits_get_hduaddrll(ff, &hs, &ds, &de, &st);
    fits_close_file(ff, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(zm_image_read(p, 1, &img, &err) == 0, "%s", err.msg); /* intact, it reads */
    /* the checks pass real RICE-compressed bricks (the tile walk agrees with cfitsio) */
    const char *real = zt_shared_data();
    if (real) {
        const char *bricks[] = {"1238p245/legacysurvey-1238p245-image-z.fits.fz",
                                "1238p245/legacysurvey-1238p245-invvar-z.fits.fz",
                                "1102p240/legacysurvey-1102p240-image-z.fits.fz",
                                "1102p240/legacysurvey-1102p240-nexp-z.fits.fz"};
        for (int i = 0; i < 4; i++) {
            char rp[4200];
            snprintf(rp, sizeof rp, "%s/legacysurvey-coadds/%s", real, bricks[i]);
            zm_image ri;
            ck_assert_msg(zm_image_read(rp, 1, &ri, &err) == 0, "%s", err.msg);
            ck_assert(ri.nx >= 100 && ri.pix != NULL);
            zm_image_free(&ri);
        }
    }
    zm_image_free(&img);
    /* a copy whose first tile is zeros after its first code: a Rice stream that runs
     * past its end (cfitsio reads on, out of bounds, looking for a non-zero byte) */
    char q[4200];
    snprintf(q, sizeof q, "%s/bad-rice.fits.fz", d);
    long long naxis1 = 0, naxis2 = 0;
    LONGLONG len1 = 0, off1 = 0;
    fits_open_file(&ff, p, READONLY, &st);
    fits_movabs_hdu(ff, 2, NULL, &st);
    fits_read_key(ff, TLONGLONG, "NAXIS1", &naxis1, NULL, &st);
    fits_read_key(ff, TLONGLONG, "NAXIS2", &naxis2, NULL, &st);
    fits_read_descriptll(ff, 1, 1, &len1, &off1, &st);
    fits_close_file(ff, &st);
    ck_assert_int_eq(st, 0);
    char *all = read_all(p, &n);
    size_t heap = (size_t)ds + (size_t)(naxis1 * naxis2) + (size_t)off1;
    ck_assert_msg(len1 > 8 && heap + (size_t)len1 <= n, "tile 1: %lld bytes at %zu", (long long)len1, heap);
    memset(all + heap + 5, 0, (size_t)len1 - 5);
    f = fopen(q, "wb");
    fwrite(all, 1, n, f);
    fclose(f);
    free(all);
    ck_assert_int_eq(zm_image_read(q, 1, &img, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad-rice.fits.fz HDU 2: compressed image: tile 1 is not a valid Rice stream of 64 pixels"));
    f = fopen(p, "r+b");
    fseek(f, (long)ds + 4, SEEK_SET); /* row 1: 4-byte length, then the 4-byte heap offset */
    fwrite("\x6d\x65\x6d\x6b", 1, 4, f);
    fclose(f);
    ck_assert_int_eq(zm_image_read(p, 1, &img, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad-tile.fits.fz HDU 2: compressed image: tile 1 (COMPRESSED_DATA) lies outside the heap"));
    char *mem = read_all(p, &n);
    ck_assert_int_eq(zm_image_read_mem("bad-tile", mem, n, 1, &img, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "lies outside the heap"));
    free(mem);
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
    ck_assert_int_eq(zm_selection_why(&sel, &s[0]), ZM_SEL_KEPT);  /* r = 17.5 */
    ck_assert_int_eq(zm_selection_why(&sel, &s[1]), ZM_SEL_PRIMARY);  /* PSF, not primary */
    sel.require_primary = 0;
    ck_assert_int_eq(zm_selection_why(&sel, &s[1]), ZM_SEL_TYPE);
    sel.mag_max = 17.0;
    ck_assert_int_eq(zm_selection_why(&sel, &s[0]), ZM_SEL_FAINT);
    char why[128];
    zm_selection_reason_text(&sel, ZM_SEL_FAINT, "r", why, sizeof why);
    ck_assert_str_eq(why, "fainter than r = 17 ([select] mag_max)");
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
    tcase_add_test(tc, hostile_headers);
    tcase_add_test(tc, tractor_schemas_and_missing_columns);
    tcase_add_test(tc, csv_bad_cells_have_line_numbers);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
