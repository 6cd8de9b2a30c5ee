/*
 * fitsimg.h: reading survey images and cubes with cfitsio (plain and tile-compressed
 * .fits.fz alike), with their WCS.
 *
 * zm_image_read takes the first HDU that holds image data (NAXIS 2: one plane; NAXIS 3:
 * a cube of planes, e.g. the g, r, z cutouts of the Legacy Survey cutout service).
 * Undefined (BLANK/ZBLANK) and NaN pixels come back as NaN. Bad files give ZM_EIO or
 * ZM_EFORMAT with a message naming the file, the HDU and what was expected.
 */
#ifndef ZOOMORPH_FITSIMG_H
#define ZOOMORPH_FITSIMG_H

#include "zoomorph/error.h"
#include "zoomorph/wcsmap.h"

typedef struct {
    long nx, ny, nplanes;  /* NAXIS1, NAXIS2, NAXIS3 (1 for 2-D images) */
    float *pix;            /* nplanes x ny x nx; y = 0 is FITS row 1 (south on the sky) */
    zm_wcs *wcs;
    int hdu;               /* 1-based HDU number the data came from */
    char bands[16];        /* BANDS keyword of cubes ("grz"), "" if absent */
} zm_image;

/* Largest image read: sides and float bytes (a DECaLS brick is 3600 x 3600, 52 MB). A
 * header asking for more, or for more data than the file can hold, is ZM_EFORMAT before
 * anything is allocated. */
#define ZM_IMAGE_MAX_SIDE 65536
#define ZM_IMAGE_MAX_BYTES ((size_t)4 << 30)

/* Reads the pixels and WCS. with_pixels = 0 reads only the header and WCS. */
int zm_image_read(const char *path, int with_pixels, zm_image *img, zm_err *err);
/* The same from n bytes in memory (a FITS file image, opened with cfitsio's
 * fits_open_memfile, never written); name is used in messages. */
int zm_image_read_mem(const char *name, const void *data, size_t n, int with_pixels,
                      zm_image *img, zm_err *err);
void zm_image_free(zm_image *img);

#endif
