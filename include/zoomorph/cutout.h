/*
 * cutout.h: one galaxy's stamp from survey images: the field sized by a rule (Galaxy
 * Zoo's by default), mapped from sky to pixels with the image's WCS (a local linear map
 * at the galaxy, exact to well under 0.01 pixel over a stamp), Lanczos-resampled to the
 * stamp size, stretched (Galaxy Zoo colour stretch), colour or greyscale.
 *
 * Orientation: stamps are stored as displayed, row 0 at the top (north), east to the
 * left: the orientation of the Galaxy Zoo PNGs (a FITS image flipped top-bottom).
 * Shapes: stamp is channels x size x size floats in [0, 1].
 */
#ifndef ZOOMORPH_CUTOUT_H
#define ZOOMORPH_CUTOUT_H

#include "zoomorph/error.h"
#include "zoomorph/fitsimg.h"
#include "zoomorph/stretch.h"
#include "zoomorph/tractor.h"

/* Flags per galaxy (bit mask, stored in /cutouts/flags). */
enum {
    ZM_CUT_EDGE = 1u << 0,          /* the field runs off the image; padded with zeros  */
    ZM_CUT_NAN = 1u << 1,           /* NaN pixels in the field (given zero weight)      */
    ZM_CUT_MISSING_BAND = 1u << 2,  /* a band had no image (allowed by the config)       */
    ZM_CUT_EMPTY = 1u << 3,         /* more empty pixels than allowed: rejected          */
    ZM_CUT_REJECTED = 1u << 4,      /* no stamp written (reason in /rejects)             */
    ZM_CUT_PRESTRETCHED = 1u << 5   /* input was already an 8-bit picture (PNG/JPEG)     */
};

typedef enum { ZM_FIELD_GZ = 0, ZM_FIELD_FIXED = 1, ZM_FIELD_NATIVE = 2 } zm_field_rule_kind;

/* How big a field (arcsec on a side) to cut around a galaxy. */
typedef struct {
    zm_field_rule_kind kind;
    double gz_pixels;      /* GZ: the field is gz_pixels * pixscale              (424) */
    double th50_factor;    /* GZ: pixscale = max(min(a*th50, b*th90), min_pixscale)   */
    double th90_factor;
    double min_pixscale;   /* arcsec/pixel (0.1)                                       */
    double r90_over_r50;   /* th90 from th50 when no Petrosian th90 is given (2.3)     */
    double fixed_arcsec;   /* FIXED: this field                                         */
} zm_field_rule;

/* th50, th90: Petrosian radii in arcsec (NaN if unknown: th50 then comes from r50, the
 * Tractor half-light radius). native_arcsec: the whole input's width (NATIVE rule). */
double zm_field_arcsec(const zm_field_rule *rule, double th50, double th90, double r50,
                       double native_arcsec);

typedef struct {
    int size;            /* stamp pixels on a side                         */
    int channels;        /* 3 (RGB) or 1 (grey = mean of RGB, as Zoobot)     */
    double max_empty;    /* reject when a band's empty fraction exceeds this */
    int edge_reject;     /* 1: reject fields running off the image; 0: pad  */
    zm_stretch stretch;
} zm_cutout_cfg;

/* The bands of one galaxy in g, r, z slots: image b (NULL if not used) and the plane
 * within it; absent[b] marks a band that was asked for but has no image (flagged). */
typedef struct {
    zm_image *img[ZM_MAX_BANDS];
    int plane[ZM_MAX_BANDS];
    unsigned char absent[ZM_MAX_BANDS];
} zm_band_set;

/* Scratch for zm_cutout_make: 6 * size * size floats. */
size_t zm_cutout_work_floats(const zm_cutout_cfg *cfg);

/* Makes the stamp. Returns 0 (flags may note EDGE/NAN/MISSING_BAND), ZM_EREJECT with the
 * reason in err (flags has EMPTY or EDGE), or ZM_EVALUE if the position is not on the
 * image's projection. */
int zm_cutout_make(const zm_cutout_cfg *cfg, const zm_band_set *bands, double ra, double dec,
                   double field_arcsec, float *work, float *stamp, unsigned *flags, zm_err *err);

/* The width of an image in arcsec, from its local pixel scale at (ra, dec); 0 if the
 * position has no projection. */
double zm_image_width_arcsec(zm_image *img, double ra, double dec);

/* Stamp floats in [0, 1] to storage: uint8 (round(v * 255)) or float16 bits. */
void zm_stamp_quantize(const float *v, size_t n, int to_f16, void *out);

/* A stamp from an 8-bit picture (PNG/JPEG: already stretched, rgb planar in [0, 1],
 * h x w): the central frac of its width and height resampled to the stamp size (frac 1:
 * the whole picture; above 1 the field runs off it: zero there and ZM_CUT_EDGE in *flags,
 * which also gets ZM_CUT_PRESTRETCHED). */
void zm_cutout_from_picture(const zm_cutout_cfg *cfg, const float *rgb, int w, int h, double frac,
                            float *work, float *stamp, unsigned *flags);

#endif
