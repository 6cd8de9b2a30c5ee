/* wcsmap.c: see wcsmap.h. One wcsprm per image; wcslib's own status messages are kept. */
#include "zoomorph/wcsmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wcslib/wcs.h>
#include <wcslib/wcsfix.h>
#include <wcslib/wcshdr.h>

struct zm_wcs {
    struct wcsprm *all;  /* as parsed (freed with wcsvfree) */
    int nwcs;
    struct wcsprm cel;   /* the celestial sub-WCS we use */
};

int zm_wcs_from_header(zm_wcs **out, const char *header, int nkeys, const char *what,
                       zm_err *err)
{
    *out = NULL;
    int nreject = 0, nwcs = 0;
    struct wcsprm *all = NULL;
    int st = wcspih((char *)header, nkeys, WCSHDR_all, 0, &nreject, &nwcs, &all);
    if (st || nwcs < 1) {
        if (all) wcsvfree(&nwcs, &all);
        return zm_err_set(err, ZM_EFORMAT, "%s: no usable WCS in the header (wcslib status %d)",
                          what, st);
    }
    zm_wcs *w = zm_calloc(1, sizeof *w);
    w->all = all;
    w->nwcs = nwcs;
    /* fix non-standard but common keywords (e.g. dates, units), ignoring its warnings */
    int stat[NWCSFIX];
    wcsfix(7, NULL, &all[0], stat);
    int nsub = 2, axes[2] = {WCSSUB_LONGITUDE, WCSSUB_LATITUDE};
    w->cel.flag = -1;
    st = wcssub(1, &all[0], &nsub, axes, &w->cel);
    if (st || nsub != 2) {
        zm_wcs_free(w);
        return zm_err_set(err, ZM_EFORMAT,
                          "%s: the WCS has no celestial longitude/latitude axes (CTYPE1/2 like "
                          "RA---TAN, DEC--TAN expected)",
                          what);
    }
    st = wcsset(&w->cel);
    if (st) {
        char m[160];
        snprintf(m, sizeof m, "%s", w->cel.err && w->cel.err->msg[0] ? w->cel.err->msg : wcs_errmsg[st]);
        zm_wcs_free(w);
        return zm_err_set(err, ZM_EFORMAT, "%s: invalid WCS: %s", what, m);
    }
    *out = w;
    return 0;
}

void zm_wcs_free(zm_wcs *w)
{
    if (!w) return;
    if (w->cel.flag != -1) wcsfree(&w->cel);
    if (w->all) wcsvfree(&w->nwcs, &w->all);
    free(w);
}

int zm_wcs_sky2pix(zm_wcs *w, double ra, double dec, double *x, double *y)
{
    double world[2], imgcrd[2], pixcrd[2], phi, theta;
    int stat = 0;
    world[w->cel.lng] = ra;
    world[w->cel.lat] = dec;
    if (wcss2p(&w->cel, 1, 2, world, &phi, &theta, imgcrd, pixcrd, &stat) || stat) return ZM_EVALUE;
    *x = pixcrd[0] - 1.0;
    *y = pixcrd[1] - 1.0;
    return 0;
}

int zm_wcs_pix2sky(zm_wcs *w, double x, double y, double *ra, double *dec)
{
    double world[2], imgcrd[2], pixcrd[2] = {x + 1.0, y + 1.0}, phi, theta;
    int stat = 0;
    if (wcsp2s(&w->cel, 1, 2, pixcrd, imgcrd, &phi, &theta, world, &stat) || stat) return ZM_EVALUE;
    *ra = world[w->cel.lng];
    *dec = world[w->cel.lat];
    return 0;
}

/* The sky position step arcsec away from (ra, dec) along position angle pa (0 = north,
 * 90 = east), on the sphere. */
static void offset_sky(double ra, double dec, double pa_deg, double arcsec, double *ra2,
                       double *dec2)
{
    const double d2r = M_PI / 180.0;
    double d = arcsec / 3600.0 * d2r, pa = pa_deg * d2r, dec1 = dec * d2r;
    double sd = sin(dec1) * cos(d) + cos(dec1) * sin(d) * cos(pa);
    double dec_new = asin(sd);
    double dra = atan2(sin(pa) * sin(d) * cos(dec1), cos(d) - sin(dec1) * sd);
    *ra2 = ra + dra / d2r;
    *dec2 = dec_new / d2r;
}

int zm_wcs_local(zm_wcs *w, double ra, double dec, double step, zm_local_wcs *o)
{
    if (zm_wcs_sky2pix(w, ra, dec, &o->x0, &o->y0)) return ZM_EVALUE;
    double r1, d1, r2, d2, xa, ya, xb, yb;
    offset_sky(ra, dec, 90.0, step, &r1, &d1);
    offset_sky(ra, dec, 270.0, step, &r2, &d2);
    if (zm_wcs_sky2pix(w, r1, d1, &xa, &ya) || zm_wcs_sky2pix(w, r2, d2, &xb, &yb)) return ZM_EVALUE;
    o->dx_de = (xa - xb) / (2 * step);
    o->dy_de = (ya - yb) / (2 * step);
    offset_sky(ra, dec, 0.0, step, &r1, &d1);
    offset_sky(ra, dec, 180.0, step, &r2, &d2);
    if (zm_wcs_sky2pix(w, r1, d1, &xa, &ya) || zm_wcs_sky2pix(w, r2, d2, &xb, &yb)) return ZM_EVALUE;
    o->dx_dn = (xa - xb) / (2 * step);
    o->dy_dn = (ya - yb) / (2 * step);
    return 0;
}

double zm_local_pixscale(const zm_local_wcs *l)
{
    double det = fabs(l->dx_de * l->dy_dn - l->dx_dn * l->dy_de);
    return det > 0 ? 1.0 / sqrt(det) : 0.0;
}
