/*
 * stretch.h: the Galaxy Zoo DECaLS colour stretch (dr2_style_rgb as used for the GZ
 * DECaLS subjects): per band divide flux (nanomaggies) by a scale (g 0.008, r 0.014,
 * z 0.019), put z, r, g into the R, G, B planes, apply arcsinh, rescale so that
 * arcsinh(lo) -> 0 and arcsinh(hi) -> 1 (lo -0.5, hi 300), optionally desaturate
 * pixels dominated by one colour, clip to [0, 1].
 *
 * Greyscale (Zoobot's default input) is the mean of the three stretched planes.
 * Shapes: bands[b] holds npix floats; rgb is planar, 3 x npix.
 */
#ifndef ZOOMORPH_STRETCH_H
#define ZOOMORPH_STRETCH_H

#include <stddef.h>

typedef struct {
    float scale[3];  /* divisor per input band (g, r, z order)   */
    int plane[3];    /* output plane per input band (z->0 R, r->1 G, g->2 B) */
    float lo, hi;    /* values mapped to 0 and 1 before arcsinh   */
    int desaturate;  /* damp single-colour pixels (off for GZ DECaLS) */
} zm_stretch;

void zm_stretch_default(zm_stretch *s);
/* bands[b] may be NULL for a missing band (treated as zero flux); NaN pixels count as 0. */
void zm_stretch_rgb(const zm_stretch *s, const float *const bands[3], size_t npix, float *rgb);
/* Mean of the three planes into grey (npix). */
void zm_rgb_to_grey(const float *rgb, size_t npix, float *grey);

#endif
