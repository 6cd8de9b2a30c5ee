/* simrender.c: see simrender.h. Profiles are evaluated in double precision; stamps
 * are float. A scalar reference path only (no vectorised variant yet). */
#include "zoomorph/simrender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/error.h"

const char *const zm_sim_comp_names[ZM_COMP_NKINDS] = {"bulge", "disc", "bar", "arms", "ring"};

#define DEG (M_PI / 180.0)

double zm_sim_sersic_b(double n)
{
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n) +
           131.0 / (1148175.0 * n * n * n);
}

/* Per-component constants hoisted out of the pixel loop. */
typedef struct {
    double s, c;     /* sin, cos of the position angle */
    double cot_pitch;
} comp_pre;

static void comp_prepare(const zm_sim_comp *k, comp_pre *p)
{
    p->s = sin(k->pa * DEG);
    p->c = cos(k->pa * DEG);
    double pitch = k->p[1] > 1.0f ? k->p[1] : 15.0;
    p->cot_pitch = 1.0 / tan(pitch * DEG);
}

static double profile(const zm_sim_comp *c, const comp_pre *pre, double dx, double dy);

double zm_sim_comp_profile(const zm_sim_comp *c, double dx, double dy)
{
    comp_pre pre;
    comp_prepare(c, &pre);
    return profile(c, &pre, dx, dy);
}

static double profile(const zm_sim_comp *c, const comp_pre *pre, double dx, double dy)
{
    double u = -dx * pre->s + dy * pre->c, v = dx * pre->c + dy * pre->s;
    double q = c->q > 0.01f ? c->q : 0.01;
    double re = c->r50 > 0.05f ? c->r50 : 0.05;
    switch (c->kind) {
    case ZM_COMP_BULGE: {
        double r = sqrt(u * u + (v / q) * (v / q));
        double n = c->n;
        return exp(-zm_sim_sersic_b(n) * (pow(r / re, 1.0 / n) - 1.0));
    }
    case ZM_COMP_DISC: {
        double r = sqrt(u * u + (v / q) * (v / q));
        return exp(-1.678347 * r / re);
    }
    case ZM_COMP_BAR: {
        /* generalised ellipse |u/a|^c + |v/b|^c, Ferrers profile (1 - m^2)^2 */
        double a = re, b = re * q, cc = c->p[0] > 1.0f ? c->p[0] : 2.0;
        double m = pow(fabs(u) / a, cc) + pow(fabs(v) / b, cc);
        m = pow(m, 1.0 / cc);
        if (m >= 1.0) return 0.0;
        double t = 1.0 - m * m;
        return t * t;
    }
    case ZM_COMP_ARMS: {
        double y = v / q;  /* deprojected disc-plane coordinates (u, y) */
        double R = sqrt(u * u + y * y);
        double h = re / 1.678347;
        double base = exp(-R / h);
        if (R < 1e-6) return 0.0;
        double theta = atan2(y, u);
        double m = c->p[0] >= 1.0f ? c->p[0] : 2.0;
        double phase = c->p[2] * DEG;
        double sharp = c->p[3] >= 1.0f ? c->p[3] : 4.0;
        double Rin = 0.5 * re;
        double arg = m * (theta - phase) - m * log(R / Rin) * pre->cot_pitch;
        double mod = pow(0.5 * (1.0 + cos(arg)), sharp);
        double taper = 1.0 - exp(-(R / Rin) * (R / Rin));
        return base * mod * taper;
    }
    case ZM_COMP_RING: {
        double y = v / q;
        double R = sqrt(u * u + y * y);
        double w = c->p[0] > 0.3f ? c->p[0] : 0.3;
        double d = (R - re) / w;
        return exp(-0.5 * d * d);
    }
    default:
        return 0.0;
    }
}

/* ---- PSF ------------------------------------------------------------------- */

/* Eigen-expansion of the symmetric kernel matrix by power iteration with deflation;
 * terms are added until the expansion matches the kernel to 1e-4 of its peak. */
static void psf_separate(zm_sim_psf *psf)
{
    int w = 2 * psf->radius + 1;
    double *A = zm_malloc((size_t)w * w * sizeof *A), *v = zm_malloc((size_t)w * sizeof *v);
    double *Av = zm_malloc((size_t)w * sizeof *Av), kmax = 0.0;
    for (int i = 0; i < w * w; i++) {
        A[i] = psf->k[i];
        if (A[i] > kmax) kmax = A[i];
    }
    psf->u = zm_malloc((size_t)ZM_SIM_PSF_MAXSEP * w * sizeof *psf->u);
    psf->nsep = 0;
    double resid = 1.0;
    while (psf->nsep < ZM_SIM_PSF_MAXSEP) {
        for (int i = 0; i < w; i++) v[i] = 1.0 + 0.01 * i; /* deterministic start */
        double lam = 0.0;
        for (int it = 0; it < 1000; it++) {
            double nrm = 0.0, dot = 0.0, vv = 0.0;
            for (int i = 0; i < w; i++) {
                double s = 0.0;
                for (int j = 0; j < w; j++) s += A[i * w + j] * v[j];
                Av[i] = s;
                nrm += s * s;
                dot += v[i] * s;
                vv += v[i] * v[i];
            }
            nrm = sqrt(nrm);
            if (nrm == 0.0) break;
            double nl = dot / vv;
            for (int i = 0; i < w; i++) v[i] = Av[i] / nrm;
            if (it > 2 && fabs(nl - lam) <= 1e-13 * fabs(nl)) break;
            lam = nl;
        }
        /* the Rayleigh quotient of the final unit vector */
        double rq = 0.0;
        for (int i = 0; i < w; i++) {
            double s = 0.0;
            for (int j = 0; j < w; j++) s += A[i * w + j] * v[j];
            rq += v[i] * s;
        }
        lam = rq;
        int t = psf->nsep++;
        psf->lam[t] = (float)lam;
        for (int i = 0; i < w; i++) psf->u[t * w + i] = (float)v[i];
        resid = 0.0;
        for (int i = 0; i < w; i++)
            for (int j = 0; j < w; j++) {
                A[i * w + j] -= lam * v[i] * v[j];
                resid = fmax(resid, fabs(A[i * w + j]));
            }
        resid /= kmax;
        if (resid < 1e-4) break;
    }
    psf->sep_err = resid;
    /* normalise the expansion to sum 1 */
    double tot = 0.0;
    for (int t = 0; t < psf->nsep; t++) {
        double s = 0.0;
        for (int i = 0; i < w; i++) s += psf->u[t * w + i];
        tot += psf->lam[t] * s * s;
    }
    for (int t = 0; t < psf->nsep; t++) psf->lam[t] = (float)(psf->lam[t] / tot);
    free(A), free(v), free(Av);
}

static double moffat(double r2, double alpha, double beta)
{
    return pow(1.0 + r2 / (alpha * alpha), -beta);
}

static double moffat_alpha(double fwhm, double beta)
{
    return fwhm / (2.0 * sqrt(pow(2.0, 1.0 / beta) - 1.0));
}

void zm_sim_psf_make(zm_sim_psf *psf, double fwhm_pix, double beta)
{
    psf->fwhm = (float)fwhm_pix;
    psf->beta = (float)beta;
    psf->radius = (int)ceil(2.5 * fwhm_pix);
    if (psf->radius < 3) psf->radius = 3;
    int R = psf->radius, w = 2 * R + 1, s = 5;
    psf->k = zm_malloc((size_t)w * w * sizeof *psf->k);
    double alpha = moffat_alpha(fwhm_pix, beta), sum = 0.0;
    for (int j = 0; j < w; j++)
        for (int i = 0; i < w; i++) {
            double acc = 0.0;
            for (int b = 0; b < s; b++)
                for (int a = 0; a < s; a++) {
                    double dx = i - R + (a + 0.5) / s - 0.5, dy = j - R + (b + 0.5) / s - 0.5;
                    acc += moffat(dx * dx + dy * dy, alpha, beta);
                }
            psf->k[j * w + i] = (float)acc;
            sum += acc;
        }
    double s2 = 0.0;
    for (int i = 0; i < w * w; i++) {
        psf->k[i] = (float)(psf->k[i] / sum);
        s2 += (double)psf->k[i] * psf->k[i];
    }
    psf->nea = 1.0 / s2;
    psf_separate(psf);
}

void zm_sim_psf_free(zm_sim_psf *psf)
{
    free(psf->k);
    psf->k = NULL;
    free(psf->u);
    psf->u = NULL;
}

/* y[0..n) += a x[0..n): the convolution's inner loop, vectorised even at -O2. */
__attribute__((optimize("O3"))) static void axpy(float *restrict y, const float *restrict x,
                                                  float a, int n)
{
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* ---- stamps ---------------------------------------------------------------- */

static void stamp_reserve(zm_sim_stamp *st, size_t n)
{
    if (st->cap < n) {
        free(st->pix);
        st->pix = zm_malloc(n * sizeof *st->pix);
        st->cap = n;
    }
}

void zm_sim_stamp_free(zm_sim_stamp *st)
{
    free(st->pix);
    memset(st, 0, sizeof *st);
}

int zm_sim_stamp_half(const zm_sim_galaxy *g, int max_half)
{
    double r = 0.0;
    for (int c = 0; c < g->ncomp; c++) {
        const zm_sim_comp *k = &g->comp[c];
        /* enclosed light at these radii: exponential 5 r50 99.6%, Sersic n = 4 at
         * 6 r50 ~96% (each component is renormalised to its flux on the stamp) */
        double f = k->kind == ZM_COMP_BULGE ? (k->n > 2.5f ? 6.0 : 5.0)
                   : k->kind == ZM_COMP_RING ? 1.0
                   : k->kind == ZM_COMP_BAR  ? 1.0
                                             : 5.0;
        double e = f * k->r50 + (k->kind == ZM_COMP_RING ? 4.0 * k->p[0] : 0.0);
        if (e > r) r = e;
    }
    int h = (int)ceil(r);
    if (h < 8) h = 8;
    if (h > max_half) h = max_half;
    return h;
}

/* Subsamples per side for a pixel at distance d (pixels) from the centre. */
static int subsamples(double d, int super)
{
    if (d < 2.5) return super;
    if (d < 6.0) return super > 5 ? 5 : super;
    if (d < 15.0) return super > 3 ? 3 : super;
    return 1;
}

void zm_sim_render_galaxy(const zm_sim_galaxy *g, int half, const zm_sim_psf *psf, int super,
                          int exact, zm_sim_stamp *st)
{
    int R = 0;
    if (psf)
        for (int b = 0; b < ZM_SIM_NBANDS; b++)
            if (psf[b].radius > R) R = psf[b].radius;
    int cx = (int)lround(g->x), cy = (int)lround(g->y);
    int m = 2 * half + 1, W = m + 2 * R;
    st->x0 = cx - half - R;
    st->y0 = cy - half - R;
    st->w = st->h = W;
    size_t area = (size_t)W * W, marea = (size_t)m * m;
    /* layout: [ZM_SIM_NBANDS bands out][ncomp model planes][one band model plane] */
    stamp_reserve(st, area * ZM_SIM_NBANDS + marea * (size_t)g->ncomp + 2 * area);
    float *out = st->pix, *planes = out + area * ZM_SIM_NBANDS, *tmp = planes + marea * g->ncomp, *tmp2 = tmp + area;
    double sums[ZM_COMP_NKINDS] = {0};
    comp_pre pre[ZM_COMP_NKINDS];
    for (int c = 0; c < g->ncomp; c++) comp_prepare(&g->comp[c], &pre[c]);
    if (super < 1) super = 1;
    if (super % 2 == 0) super++;
    for (int j = 0; j < m; j++) {
        double py = cy - half + j - g->y;
        for (int i = 0; i < m; i++) {
            double px = cx - half + i - g->x;
            int s = subsamples(sqrt(px * px + py * py), super);
            double acc[ZM_COMP_NKINDS] = {0};
            for (int b = 0; b < s; b++)
                for (int a = 0; a < s; a++) {
                    double dx = px + (a + 0.5) / s - 0.5, dy = py + (b + 0.5) / s - 0.5;
                    for (int c = 0; c < g->ncomp; c++) acc[c] += profile(&g->comp[c], &pre[c], dx, dy);
                }
            for (int c = 0; c < g->ncomp; c++) {
                double v = acc[c] / (s * s);
                planes[(size_t)c * marea + (size_t)j * m + i] = (float)v;
                sums[c] += v;
            }
        }
    }
    for (int b = 0; b < ZM_SIM_NBANDS; b++) {
        /* the unconvolved band model, centred in a W x W plane with an R-pixel border */
        memset(tmp, 0, area * sizeof *tmp);
        for (int c = 0; c < g->ncomp; c++) {
            if (sums[c] <= 0.0 || g->comp[c].flux[b] == 0.0f) continue;
            float sc = (float)(g->comp[c].flux[b] / sums[c]);
            const float *pl = planes + (size_t)c * marea;
            for (int j = 0; j < m; j++)
                for (int i = 0; i < m; i++) tmp[(size_t)(j + R) * W + i + R] += sc * pl[(size_t)j * m + i];
        }
        float *o = out + area * b;
        if (!psf) {
            memcpy(o, tmp, area * sizeof *o);
            continue;
        }
        int r = psf[b].radius, kw = 2 * r + 1;
        if (exact) {
            /* reference: scatter each model pixel through the full kernel */
            memset(o, 0, area * sizeof *o);
            const float *k = psf[b].k;
            for (int j = R; j < R + m; j++)
                for (int i = R; i < R + m; i++) {
                    float v = tmp[(size_t)j * W + i];
                    if (v == 0.0f) continue;
                    for (int kj = 0; kj < kw; kj++) {
                        float *orow = o + (size_t)(j + kj - r) * W + (i - r);
                        const float *krow = k + (size_t)kj * kw;
                        for (int ki = 0; ki < kw; ki++) orow[ki] += v * krow[ki];
                    }
                }
            continue;
        }
        /* fast: sum over separable terms of a row pass then a column pass (axpy form) */
        memset(o, 0, area * sizeof *o);
        for (int t = 0; t < psf[b].nsep; t++) {
            const float *u = psf[b].u + (size_t)t * kw;
            memset(tmp2, 0, area * sizeof *tmp2);
            for (int j = R; j < R + m; j++) {
                const float *in = tmp + (size_t)j * W;
                float *rowo = tmp2 + (size_t)j * W;
                for (int ti = 0; ti < kw; ti++) {
                    float c = u[ti];
                    /* rowo[x] += c * in[x + r - ti] for x + r - ti in [R, R + m) */
                    int lo = R - r + ti, hi = R + m - r + ti;
                    const float *src = in + (r - ti);
                    axpy(rowo + lo, src + lo, c, hi - lo);
                }
            }
            float lam = psf[b].lam[t];
            for (int tj = 0; tj < kw; tj++) {
                float c = lam * u[tj];
                /* o[y] += c * tmp2[y + r - tj] for source rows in [R, R + m) */
                for (int ys = R; ys < R + m; ys++) {
                    int y = ys - r + tj;
                    const float *src = tmp2 + (size_t)ys * W;
                    float *dst = o + (size_t)y * W;
                    axpy(dst, src, c, W);
                }
            }
        }
    }
}

void zm_sim_render_star(double x, double y, const float flux[ZM_SIM_NBANDS], const zm_sim_psf *psf,
                        zm_sim_stamp *st)
{
    int R = 0;
    for (int b = 0; b < ZM_SIM_NBANDS; b++)
        if (psf[b].radius > R) R = psf[b].radius;
    int cx = (int)lround(x), cy = (int)lround(y), W = 2 * R + 1;
    st->x0 = cx - R;
    st->y0 = cy - R;
    st->w = st->h = W;
    size_t area = (size_t)W * W;
    stamp_reserve(st, area * ZM_SIM_NBANDS);
    for (int b = 0; b < ZM_SIM_NBANDS; b++) {
        float *o = st->pix + area * b;
        double alpha = moffat_alpha(psf[b].fwhm, psf[b].beta), sum = 0.0;
        for (int j = 0; j < W; j++)
            for (int i = 0; i < W; i++) {
                double px = st->x0 + i - x, py = st->y0 + j - y;
                int s = subsamples(sqrt(px * px + py * py), 7);
                double acc = 0.0;
                for (int bb = 0; bb < s; bb++)
                    for (int a = 0; a < s; a++) {
                        double dx = px + (a + 0.5) / s - 0.5, dy = py + (bb + 0.5) / s - 0.5;
                        acc += moffat(dx * dx + dy * dy, alpha, psf[b].beta);
                    }
                o[(size_t)j * W + i] = (float)(acc / (s * s));
                sum += acc / (s * s);
            }
        float sc = (float)(flux[b] / sum);
        for (size_t p = 0; p < area; p++) o[p] *= sc;
    }
}

void zm_sim_stamp_add(const zm_sim_stamp *st, int b, float *img, int nx, int ny)
{
    const float *src = st->pix + (size_t)st->w * st->h * b;
    for (int j = 0; j < st->h; j++) {
        int y = st->y0 + j;
        if (y < 0 || y >= ny) continue;
        for (int i = 0; i < st->w; i++) {
            int x = st->x0 + i;
            if (x < 0 || x >= nx) continue;
            img[(size_t)y * nx + x] += src[(size_t)j * st->w + i];
        }
    }
}
