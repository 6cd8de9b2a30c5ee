/* fitsimg.c: see fitsimg.h. Every cfitsio call's status is checked and reported. */
#include "zoomorph/fitsimg.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fits_fail(zm_err *err, int code, int status, const char *path, int hdu,
                     const char *doing)
{
    char m[600];
    zm_fits_error_string(status, m, sizeof m);
    if (hdu > 0)
        return zm_err_set(err, code, "%s HDU %d: %s: %s", path, hdu, doing, m);
    return zm_err_set(err, code, "%s: %s: %s", path, doing, m);
}

int zm_image_read(const char *path, int with_pixels, zm_image *img, zm_err *err)
{
    memset(img, 0, sizeof *img);
    fitsfile *f = NULL;
    int status = 0;
    if (fits_open_diskfile(&f, path, READONLY, &status))
        return fits_fail(err, ZM_EIO, status, path, 0, "cannot open");
    int nhdu = 0;
    if (fits_get_num_hdus(f, &nhdu, &status)) {
        int st2 = 0;
        fits_close_file(f, &st2);
        return fits_fail(err, ZM_EFORMAT, status, path, 0, "cannot count HDUs");
    }
    int rc = 0, hdu = 0, naxis = 0;
    long naxes[9] = {0};
    for (int h = 1; h <= nhdu && !hdu; h++) {
        int type = 0;
        if (fits_movabs_hdu(f, h, &type, &status)) {
            rc = fits_fail(err, ZM_EFORMAT, status, path, h, "cannot read the header");
            goto out;
        }
        if (type != IMAGE_HDU) continue;
        if (fits_get_img_dim(f, &naxis, &status)) {
            rc = fits_fail(err, ZM_EFORMAT, status, path, h, "cannot read NAXIS");
            goto out;
        }
        if (naxis == 0) continue;
        hdu = h;
    }
    if (!hdu) {
        rc = zm_err_set(err, ZM_EFORMAT, "%s: no HDU holds an image (NAXIS 2 or 3 expected)", path);
        goto out;
    }
    if (naxis != 2 && naxis != 3) {
        rc = zm_err_set(err, ZM_EFORMAT,
                        "%s HDU %d: NAXIS = %d; expected 2 (an image) or 3 (a cube of bands)",
                        path, hdu, naxis);
        goto out;
    }
    if (fits_get_img_size(f, 3, naxes, &status)) {
        rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read NAXISn");
        goto out;
    }
    img->nx = naxes[0];
    img->ny = naxes[1];
    img->nplanes = naxis == 3 ? naxes[2] : 1;
    img->hdu = hdu;
    if (img->nx < 1 || img->ny < 1 || img->nplanes < 1) {
        rc = zm_err_set(err, ZM_EFORMAT, "%s HDU %d: empty image (%ld x %ld x %ld)", path, hdu,
                        img->nx, img->ny, img->nplanes);
        goto out;
    }
    char bands[FLEN_VALUE] = "";
    int kst = 0;
    if (fits_read_key(f, TSTRING, "BANDS", bands, NULL, &kst) == 0)
        snprintf(img->bands, sizeof img->bands, "%s", bands);
    char *hdr = NULL;
    int nkeys = 0;
    if (fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &status)) {
        rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read the header");
        goto out;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s HDU %d", path, hdu);
    rc = zm_wcs_from_header(&img->wcs, hdr, nkeys, what, err);
    int fst = 0;
    fits_free_memory(hdr, &fst);
    if (rc) goto out;
    if (with_pixels) {
        size_t n = (size_t)img->nx * (size_t)img->ny * (size_t)img->nplanes;
        img->pix = zm_malloc(n * sizeof(float));
        float nulval = NAN;
        int anynul = 0;
        if (fits_read_img(f, TFLOAT, 1, (LONGLONG)n, &nulval, img->pix, &anynul, &status)) {
            char m[64];
            snprintf(m, sizeof m, "cannot read the %ld x %ld x %ld pixels (truncated file?)",
                     img->nx, img->ny, img->nplanes);
            rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, m);
            goto out;
        }
    }
out:
    if (f) {
        int st2 = 0;
        fits_close_file(f, &st2);
    }
    if (rc) zm_image_free(img);
    return rc;
}

void zm_image_free(zm_image *img)
{
    if (!img) return;
    free(img->pix);
    zm_wcs_free(img->wcs);
    memset(img, 0, sizeof *img);
}
