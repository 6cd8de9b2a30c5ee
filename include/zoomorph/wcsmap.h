/*
 * wcsmap.h: sky <-> pixel mapping of one image with wcslib (TAN, TPV and every other
 * projection wcslib reads from a FITS header). Pixel coordinates here are 0-based:
 * the centre of the first pixel is (0, 0), x along NAXIS1, y along NAXIS2 (FITS
 * convention minus one). Only the two celestial axes are kept for cubes.
 */
#ifndef ZOOMORPH_WCSMAP_H
#define ZOOMORPH_WCSMAP_H

#include "zoomorph/error.h"

typedef struct zm_wcs zm_wcs;

/* header: nkeys 80-character cards (as fits_hdr2str gives). what names the file and
 * HDU for messages. ZM_EFORMAT if no celestial WCS is found. */
int zm_wcs_from_header(zm_wcs **out, const char *header, int nkeys, const char *what,
                       zm_err *err);
void zm_wcs_free(zm_wcs *w);

/* 0 on success; ZM_EVALUE if the point has no valid projection. */
int zm_wcs_sky2pix(zm_wcs *w, double ra, double dec, double *x, double *y);
int zm_wcs_pix2sky(zm_wcs *w, double x, double y, double *ra, double *dec);

/* The local linear map at (ra, dec): pixel offsets per arcsec east (dx_de, dy_de) and
 * north (dx_dn, dy_dn), from centred finite differences over +-step arcsec. */
typedef struct {
    double x0, y0;           /* pixel position of (ra, dec) */
    double dx_de, dy_de;     /* pixels per arcsec towards east  */
    double dx_dn, dy_dn;     /* pixels per arcsec towards north */
} zm_local_wcs;
int zm_wcs_local(zm_wcs *w, double ra, double dec, double step_arcsec, zm_local_wcs *out);
/* Mean pixel scale at (ra, dec) in arcsec per pixel. */
double zm_local_pixscale(const zm_local_wcs *l);

#endif
