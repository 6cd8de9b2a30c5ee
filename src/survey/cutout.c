/* cutout.c: see cutout.h. */
#include "zoomorph/cutout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <stdint.h>

#include "zoomorph/half.h"
#include "zoomorph/resample.h"
#include "zoomorph/wcsmap.h"

double zm_field_arcsec(const zm_field_rule *rule, double th50, double th90, double r50,
                       double native_arcsec)
{
    switch (rule->kind) {
    case ZM_FIELD_FIXED: return rule->fixed_arcsec;
    case ZM_FIELD_NATIVE: return native_arcsec;
    case ZM_FIELD_GZ:
    default: {
        if (!(th50 > 0)) th50 = r50 > 0 ? r50 : 0;
        if (!(th90 > 0)) th90 = rule->r90_over_r50 * th50;
        double ps = fmin(rule->th50_factor * th50, rule->th90_factor * th90);
        if (!(ps > rule->min_pixscale)) ps = rule->min_pixscale;
        return rule->gz_pixels * ps;
    }
    }
}

size_t zm_cutout_work_floats(const zm_cutout_cfg *cfg)
{
    return (size_t)6 * (size_t)cfg->size * (size_t)cfg->size;
}

static const char *band_name(int b)
{
    static const char *n[] = {"g", "r", "z"};
    return b >= 0 && b < 3 ? n[b] : "?";
}

int zm_cutout_make(const zm_cutout_cfg *cfg, const zm_band_set *bs, double ra, double dec,
                   double field_arcsec, float *work, float *stamp, unsigned *flags, zm_err *err)
{
    const int S = cfg->size;
    const size_t np = (size_t)S * S;
    float *planes[3] = {work, work + np, work + 2 * np};
    float *rgb = work + 3 * np;  /* needs 3 planes: reuses planes after the stretch below */
    const float *bands[3] = {NULL, NULL, NULL};
    *flags = 0;
    const double p = field_arcsec / S; /* arcsec per stamp pixel */
    for (int b = 0; b < ZM_MAX_BANDS; b++) {
        zm_image *im = bs->img[b];
        if (!im) {
            if (bs->absent[b]) *flags |= ZM_CUT_MISSING_BAND;
            continue;
        }
        zm_local_wcs L;
        if (zm_wcs_local(im->wcs, ra, dec, fmax(1.0, 0.25 * field_arcsec), &L))
            return zm_err_set(err, ZM_EVALUE, "(%.6f, %.6f) has no pixel position in band %s",
                              ra, dec, band_name(b));
        /* stamp pixel (c, r): east offset e = -(c + 0.5 - S/2) p, north n = (S/2 - r - 0.5) p */
        zm_affine m;
        double e0 = (S / 2.0 - 0.5) * p, n0 = (S / 2.0 - 0.5) * p;
        m.ox = L.x0 + L.dx_de * e0 + L.dx_dn * n0;
        m.oy = L.y0 + L.dy_de * e0 + L.dy_dn * n0;
        m.axc = -L.dx_de * p;
        m.ayc = -L.dy_de * p;
        m.axr = -L.dx_dn * p;
        m.ayr = -L.dy_dn * p;
        /* clean up round-off so north-up images take the separable path */
        double scale = fabs(m.axc) + fabs(m.ayr) + fabs(m.axr) + fabs(m.ayc);
        if (fabs(m.axr) < 1e-9 * scale) m.axr = 0;
        if (fabs(m.ayc) < 1e-9 * scale) m.ayc = 0;
        const float *in = im->pix + (size_t)bs->plane[b] * (size_t)im->nx * (size_t)im->ny;
        zm_resample_stats st;
        zm_resample_binned(in, im->nx, im->ny, &m, S, S, planes[b], &st);
        if (st.outside) {
            *flags |= ZM_CUT_EDGE;
            if (cfg->edge_reject)
                return zm_err_set(err, ZM_EREJECT,
                                  "field of %.1f arcsec runs off the image in band %s (%.1f%% "
                                  "outside) and [cutout] edge = reject",
                                  field_arcsec, band_name(b), 100.0 * st.outside / (double)np);
        }
        if (st.nan) *flags |= ZM_CUT_NAN;
        double empty = (double)(st.outside + st.nan + st.zero) / (double)np;
        if (empty > cfg->max_empty) {
            *flags |= ZM_CUT_EMPTY;
            return zm_err_set(err, ZM_EREJECT,
                              "%.1f%% of the pixels in band %s are empty (no data, NaN or off "
                              "the image); at most %.1f%% allowed by [cutout] max_empty_fraction",
                              100.0 * empty, band_name(b), 100.0 * cfg->max_empty);
        }
        bands[b] = planes[b];
    }
    zm_stretch_rgb(&cfg->stretch, bands, np, rgb);
    if (cfg->channels == 3) memcpy(stamp, rgb, 3 * np * sizeof *stamp);
    else zm_rgb_to_grey(rgb, np, stamp);
    return 0;
}

void zm_cutout_from_picture(const zm_cutout_cfg *cfg, const float *rgb, int w, int h, double frac,
                            float *work, float *stamp, unsigned *flags)
{
    const int S = cfg->size;
    const size_t np = (size_t)S * S;
    /* picture rows are already top = north; the stamp spans the central frac of the
     * picture's width and height (beyond its edges: zero, flagged) */
    zm_affine m = {0};
    m.axc = frac * w / S;
    m.ayr = frac * h / S;
    m.ox = 0.5 * (w - 1) - m.axc * 0.5 * (S - 1);
    m.oy = 0.5 * (h - 1) - m.ayr * 0.5 * (S - 1);
    for (int k = 0; k < 3; k++)
        zm_resample_binned(rgb + (size_t)k * w * h, w, h, &m, S, S, work + k * np, NULL);
    for (size_t i = 0; i < 3 * np; i++) work[i] = work[i] < 0 ? 0 : work[i] > 1 ? 1 : work[i];
    if (cfg->channels == 3) memcpy(stamp, work, 3 * np * sizeof *stamp);
    else zm_rgb_to_grey(work, np, stamp);
    *flags = ZM_CUT_PRESTRETCHED | (frac > 1.0 + 1e-9 ? ZM_CUT_EDGE : 0u);
}

double zm_image_width_arcsec(zm_image *img, double ra, double dec)
{
    zm_local_wcs L;
    if (zm_wcs_local(img->wcs, ra, dec, 1.0, &L)) return 0.0;
    return (double)img->nx * zm_local_pixscale(&L);
}

void zm_stamp_quantize(const float *v, size_t n, int to_f16, void *out)
{
    if (to_f16) {
        uint16_t *o = out;
        for (size_t i = 0; i < n; i++) o[i] = zm_f32_to_f16(v[i]);
    } else {
        uint8_t *o = out;
        for (size_t i = 0; i < n; i++) {
            float x = v[i] * 255.0f + 0.5f;
            o[i] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
        }
    }
}
