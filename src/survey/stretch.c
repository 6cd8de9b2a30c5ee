/* stretch.c: see stretch.h. */
#include "zoomorph/stretch.h"

#include <math.h>

void zm_stretch_default(zm_stretch *s)
{
    s->scale[0] = 0.008f;  /* g */
    s->scale[1] = 0.014f;  /* r */
    s->scale[2] = 0.019f;  /* z */
    s->plane[0] = 2;
    s->plane[1] = 1;
    s->plane[2] = 0;
    s->lo = -0.5f;
    s->hi = 300.0f;
    s->desaturate = 0;
}

void zm_stretch_rgb(const zm_stretch *s, const float *const bands[3], size_t npix, float *rgb)
{
    const float mn = asinhf(s->lo), mx = asinhf(s->hi), inv = 1.0f / (mx - mn);
    for (int b = 0; b < 3; b++) {
        float *out = rgb + (size_t)s->plane[b] * npix;
        const float *in = bands[b];
        const float k = 1.0f / s->scale[b];
        for (size_t i = 0; i < npix; i++) {
            float v = in ? in[i] : 0.0f;
            if (v != v) v = 0.0f;
            out[i] = (asinhf(v * k) - mn) * inv;
        }
    }
    if (s->desaturate) {
        float *R = rgb, *G = rgb + npix, *B = rgb + 2 * npix;
        for (size_t i = 0; i < npix; i++) {
            float a = (R[i] + G[i] + B[i]) / 3.0f;
            if (a == 0.0f) a = 1.0f;
            float wt = fmaxf(fmaxf(R[i], G[i]), B[i]) / a / 2.5f;
            if (wt > 1.0f) wt = 1.0f;
            wt = sinf((1.0f - wt) * (float)M_PI / 2.0f);
            float c[3] = {R[i], G[i], B[i]};
            for (int k = 0; k < 3; k++)
                c[k] = c[k] * wt + a * (1 - wt) + a * (1 - wt) * (1 - wt) * c[k];
            R[i] = c[0];
            G[i] = c[1];
            B[i] = c[2];
        }
    }
    for (size_t i = 0; i < 3 * npix; i++) rgb[i] = rgb[i] < 0 ? 0 : rgb[i] > 1 ? 1 : rgb[i];
}

void zm_rgb_to_grey(const float *rgb, size_t npix, float *grey)
{
    for (size_t i = 0; i < npix; i++) grey[i] = (rgb[i] + rgb[npix + i] + rgb[2 * npix + i]) / 3.0f;
}
