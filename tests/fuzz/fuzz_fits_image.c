/*
 * fuzz_fits_image: FITS images and cubes (plain or tile-compressed) opened from memory
 * with cfitsio (zm_image_read_mem) and, when they read, cut into a stamp at a position
 * on the image (zm_cutout_make: WCS, resampling, stretch) as the cutout stage does. The
 * first input byte picks the position, colour/grey and the edge rule.
 */
#include <math.h>

#include "fuzz_common.h"
#include "zoomorph/cutout.h"
#include "zoomorph/fitsimg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    uint8_t mode = data[0];
    zm_image img;
    zm_err err = {0};
    if (zm_image_read_mem("fuzz.fits", data + 1, n - 1, 1, &img, &err)) {
        if (!err.msg[0]) abort(); /* every error names what went wrong */
        return 0;
    }
    /* A position on the image: the centre, a corner or off the edge. */
    double fx = (mode & 3) == 0 ? 0.5 : (mode & 3) == 1 ? 0.0 : (mode & 3) == 2 ? 1.0 : 1.7;
    double ra = 0, dec = 0;
    if (zm_wcs_pix2sky(img.wcs, fx * (double)img.nx, 0.5 * (double)img.ny, &ra, &dec) == 0 &&
        isfinite(ra) && isfinite(dec)) {
        zm_cutout_cfg cfg = {0};
        cfg.size = 24;
        cfg.channels = (mode & 4) ? 1 : 3;
        cfg.max_empty = 0.2;
        cfg.edge_reject = (mode & 8) != 0;
        zm_stretch_default(&cfg.stretch);
        zm_band_set bs = {0};
        for (int b = 0; b < ZM_MAX_BANDS; b++) {
            bs.img[b] = &img;
            bs.plane[b] = (int)(b % img.nplanes);
        }
        double width = zm_image_width_arcsec(&img, ra, dec);
        double field = (mode & 16) ? width : 20.0;
        if (isfinite(field) && field > 0) {
            float *work = malloc(zm_cutout_work_floats(&cfg) * sizeof(float));
            float *stamp = malloc((size_t)cfg.channels * cfg.size * cfg.size * sizeof(float));
            unsigned flags = 0;
            zm_err e2 = {0};
            int rc = zm_cutout_make(&cfg, &bs, ra, dec, field, work, stamp, &flags, &e2);
            if (rc == 0) {
                for (int i = 0; i < cfg.channels * cfg.size * cfg.size; i++)
                    if (!(stamp[i] >= 0.0f && stamp[i] <= 1.0f)) abort(); /* stamps are in [0, 1] */
            }
            free(work);
            free(stamp);
        }
    }
    zm_image_free(&img);
    return 0;
}
