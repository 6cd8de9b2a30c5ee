/* augment.c: see augment.h. Output pixel (c, r) of the crop is pixel (x0 + c, y0 + r) of
 * the flipped, rotated stamp; we map it back to the input and sample bilinearly, with
 * coordinates outside the stamp reflected (half-sample symmetric). */
#include "zoomorph/augment.h"

#include <math.h>
#include <stddef.h>

void zm_aug_draw(zm_rng *r, int size, int crop, zm_aug *a)
{
    a->angle = 2.0 * M_PI * zm_rng_uniform(r);
    a->flip_x = zm_rng_uniform(r) < 0.5;
    a->flip_y = zm_rng_uniform(r) < 0.5;
    int slack = size - crop;
    a->x0 = slack > 0 ? (int)zm_rng_below(r, (uint64_t)slack + 1) : 0;
    a->y0 = slack > 0 ? (int)zm_rng_below(r, (uint64_t)slack + 1) : 0;
}

void zm_aug_center(int size, int crop, zm_aug *a)
{
    a->angle = 0;
    a->flip_x = a->flip_y = 0;
    a->x0 = a->y0 = (size - crop) / 2;
}

/* Reflect coordinate v (pixel centres at integers 0..n-1) into [-0.5, n - 0.5]. */
static double reflect(double v, int n)
{
    double period = 2.0 * n;
    double u = fmod(v + 0.5, period);
    if (u < 0) u += period;
    if (u >= n) u = period - u;
    return u - 0.5;
}

static int clampi(int v, int n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

void zm_aug_apply(const float *in, int channels, int size, int crop, const zm_aug *a, float *out)
{
    const double c0 = (size - 1) / 2.0, ca = cos(a->angle), sa = sin(a->angle);
    const size_t np = (size_t)size * size, nc = (size_t)crop * crop;
    for (int r = 0; r < crop; r++)
        for (int c = 0; c < crop; c++) {
            /* position in the rotated, flipped stamp, relative to the centre */
            double x = a->x0 + c - c0, y = a->y0 + r - c0;
            if (a->flip_x) x = -x;
            if (a->flip_y) y = -y;
            /* inverse rotation: displayed rows grow downwards, so counter-clockwise on
             * the display is clockwise in (x, y) */
            double xs = ca * x - sa * y + c0, ys = sa * x + ca * y + c0;
            xs = reflect(xs, size);
            ys = reflect(ys, size);
            int ix = (int)floor(xs), iy = (int)floor(ys);
            double fx = xs - ix, fy = ys - iy;
            int xa = clampi(ix, size), xb = clampi(ix + 1, size), ya = clampi(iy, size), yb = clampi(iy + 1, size);
            for (int k = 0; k < channels; k++) {
                const float *p = in + (size_t)k * np;
                double v = (1 - fy) * ((1 - fx) * p[(size_t)ya * size + xa] + fx * p[(size_t)ya * size + xb]) +
                           fy * ((1 - fx) * p[(size_t)yb * size + xa] + fx * p[(size_t)yb * size + xb]);
                out[(size_t)k * nc + (size_t)r * crop + c] = (float)v;
            }
        }
}

void zm_aug_view_apply(const float *in, int m, int channels, int size, int crop, zm_views vs, int k, float *out)
{
    const int v = vs.n == 2 ? 4 * k : k;
    zm_aug a;
    zm_aug_center(size, crop, &a);
    a.angle = (v & 3) * (M_PI / 2) + vs.angle * (M_PI / 180);
    a.flip_x = v >= 4;
    const size_t pin = (size_t)channels * size * size, pout = (size_t)channels * crop * crop;
    for (int i = 0; i < m; i++) zm_aug_apply(in + (size_t)i * pin, channels, size, crop, &a, out + (size_t)i * pout);
}
