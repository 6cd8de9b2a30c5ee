/*
 * resample.h: Lanczos-3 resampling of one image plane onto an output grid related to
 * it by an affine map, with antialiasing when shrinking (the kernel is widened by the
 * number of input pixels per output pixel, as PIL's resize does).
 *
 * Output pixel (c, r) (column, row; centres at integers) samples the input at
 *   x = ox + axc*c + axr*r,  y = oy + ayc*c + ayr*r      (0-based input pixel coords).
 * Input pixels outside the image or NaN get weight zero and the remaining weights are
 * renormalised; an output pixel with no valid input is 0.
 * zm_resample_ref is the scalar 2-D reference (exact kernel). zm_resample uses a
 * tabulated kernel: separable passes for axis-aligned maps (axr = ayc = 0) without NaN in
 * the footprint, per-pixel 1-D weights and a 2-D sum otherwise (rotated maps, NaN).
 * Tests compare both paths with the reference.
 */
#ifndef ZOOMORPH_RESAMPLE_H
#define ZOOMORPH_RESAMPLE_H

typedef struct {
    double ox, oy, axc, axr, ayc, ayr;
} zm_affine;

typedef struct {
    long outside;  /* output pixels whose nearest input pixel is outside the image */
    long nan;      /* ... is NaN */
    long zero;     /* ... is exactly 0 (no coverage in Legacy Surveys images) */
} zm_resample_stats;

/* in: ny x nx. out: oh x ow. stats may be NULL. */
void zm_resample_ref(const float *in, long nx, long ny, const zm_affine *m, int ow, int oh,
                     float *out, zm_resample_stats *stats);
void zm_resample(const float *in, long nx, long ny, const zm_affine *m, int ow, int oh,
                 float *out, zm_resample_stats *stats);
/* For large shrink factors (stamps of big galaxies): when the map shrinks by 2 or more,
 * first average b x b blocks of the footprint (b = the integer part of the shrink; NaN
 * pixels left out) and resample the binned image, as PIL does when reducing. The cost no
 * longer grows with the square of the shrink; the statistics are those of the unbinned
 * input. Below a shrink of 2 it is zm_resample. */
void zm_resample_binned(const float *in, long nx, long ny, const zm_affine *m, int ow, int oh,
                        float *out, zm_resample_stats *stats);
/* The Lanczos-3 kernel value at x (sinc(x) sinc(x/3) for |x| < 3). */
double zm_lanczos3(double x);

#endif
