/* simrender.c: see simrender.h. Two paths: the reference (exact = 1) evaluates every
 * profile in double precision at every subsample and convolves with the full 2-D
 * kernel; the fast path (exact = 0) reads radial tables (exact profiles only inside
 * 2.5 px of the centre), and convolves with the separable expansion on the galaxy's
 * core and its leading term alone on the faint outskirts. Stamps are float. */
#include "zoomorph/simrender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/error.h"

const char *const zm_sim_comp_names[ZM_COMP_NKINDS] = {"bulge", "disc", "bar",  "arms",
                                                        "ring",  "companion", "tail", "shell",
                                                        "dust",  "arc",  "oring", "clumps"};

#define DEG (M_PI / 180.0)

double zm_sim_sersic_b(double n)
{
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n) +
           131.0 / (1148175.0 * n * n * n);
}

/* Per-component constants hoisted out of the pixel loop. */
#define CLUMPS_MAX 16
typedef struct {
    double s, c;     /* sin, cos of the position angle */
    double cot_pitch;
    int nclump;      /* clumps: disc-plane positions (u, y) */
    double cu[CLUMPS_MAX], cy[CLUMPS_MAX];
} comp_pre;

static void comp_prepare(const zm_sim_comp *k, comp_pre *p)
{
    p->s = sin(k->pa * DEG);
    p->c = cos(k->pa * DEG);
    double pitch = k->p[1] > 1.0f ? k->p[1] : 15.0;
    p->cot_pitch = 1.0 / tan(pitch * DEG);
    p->nclump = 0;
    if (k->kind == ZM_COMP_CLUMPS) {
        /* positions from a small hash of the layout seed: exponential radii (scale
         * r50 / 1.68, capped at 2.5 r50), uniform angles */
        int nc = (int)k->p[0];
        nc = nc < 1 ? 1 : nc > CLUMPS_MAX ? CLUMPS_MAX : nc;
        unsigned long long h = (unsigned long long)(k->p[2] * 1000.0f) * 0x9E3779B97F4A7C15ULL + 12345;
        for (int i = 0; i < nc; i++) {
            h ^= h >> 33, h *= 0xff51afd7ed558ccdULL, h ^= h >> 33, h *= 0xc4ceb9fe1a85ec53ULL, h ^= h >> 33;
            double u1 = ((h >> 11) & 0xFFFFF) / 1048576.0, u2 = ((h >> 31) & 0xFFFFF) / 1048576.0;
            double R = fmin(-log(1.0 - 0.95 * u1) * k->r50 / 1.678347, 2.5 * k->r50), th = 2.0 * M_PI * u2;
            p->cu[i] = R * cos(th), p->cy[i] = R * sin(th);
        }
        p->nclump = nc;
    }
}

static double profile(const zm_sim_comp *c, const comp_pre *pre, double dx, double dy);

/* Flocculent arms: the arm light broken into patches, a positive factor of mean
 * about 1; f = 0 leaves grand-design arms untouched. */
static inline double flocc(double f, double theta, double R, double re)
{
    if (!(f > 0.0)) return 1.0;
    double lr = log(R / re + 0.05);
    double a = 0.5 * (1.0 + cos(7.0 * theta + 9.0 * lr + 0.7));
    double b = 0.5 * (1.0 + cos(11.0 * theta - 13.0 * lr + 2.1));
    return (1.0 - f) + f * 2.8 * a * b;
}

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
        /* p[0] > 2: boxy isophotes |u|^c + |v/q|^c (edge-on boxy or peanut bulges) */
        double r = c->p[0] > 2.05f ? pow(pow(fabs(u), c->p[0]) + pow(fabs(v / q), c->p[0]), 1.0 / c->p[0])
                                   : sqrt(u * u + (v / q) * (v / q));
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
        return base * mod * taper * flocc(c->n, theta, R, re);
    }
    case ZM_COMP_RING:
    case ZM_COMP_ORING: {
        double y = v / q;
        double R = sqrt(u * u + y * y);
        double w = c->p[0] > 0.3f ? c->p[0] : 0.3;
        double d = (R - re) / w;
        return exp(-0.5 * d * d);
    }
    case ZM_COMP_COMPANION: {
        double ex = dx - c->p[0], ey = dy - c->p[1];
        double uu = -ex * pre->s + ey * pre->c, vv = ex * pre->c + ey * pre->s;
        double r = sqrt(uu * uu + (vv / q) * (vv / q)), n = c->n > 0.3f ? c->n : 1.0;
        return exp(-zm_sim_sersic_b(n) * (pow(r / re, 1.0 / n) - 1.0));
    }
    case ZM_COMP_TAIL: {
        /* streams that start beyond the host's body and fade slowly */
        double y = v / q, R = sqrt(u * u + y * y);
        if (R < 1e-6) return 0.0;
        double Rin = 1.2 * re, m = c->p[0] >= 1.0f ? c->p[0] : 1.0;
        double arg = m * (atan2(y, u) - c->p[2] * DEG) - m * log(R / Rin) * pre->cot_pitch;
        double sharp = c->p[3] >= 1.0f ? c->p[3] : 8.0;
        return exp(-R / (1.2 * re)) * (1.0 - exp(-pow(R / Rin, 4.0))) * pow(0.5 * (1.0 + cos(arg)), sharp);
    }
    case ZM_COMP_SHELL: {
        double R = sqrt(dx * dx + dy * dy), w = c->p[0] > 0.3f ? c->p[0] : 0.3, d = (R - re) / w;
        /* direction east of north: north is +y, east is -x */
        double th = atan2(-dx, dy), op = c->p[2] >= 0.5f ? c->p[2] : 1.0;
        return exp(-0.5 * d * d) * pow(0.5 * (1.0 + cos(th - c->p[1] * DEG)), op);
    }
    case ZM_COMP_CLUMPS: {
        double y = v / q, w = c->p[1] > 0.3f ? c->p[1] : 0.3, acc = 0.0;
        for (int i = 0; i < pre->nclump; i++) {
            double du = u - pre->cu[i], dv = y - pre->cy[i], d2 = (du * du + dv * dv) / (w * w);
            if (d2 < 36.0) acc += exp(-0.5 * d2);
        }
        return acc;
    }
    case ZM_COMP_ARC: {
        double R = sqrt(dx * dx + dy * dy), w = c->p[0] > 0.3f ? c->p[0] : 0.3, d = (R - re) / w;
        double th = atan2(-dx, dy), op = c->p[2] >= 0.5f ? c->p[2] : 4.0, dir = c->p[1] * DEG;
        double a = pow(0.5 * (1.0 + cos(th - dir)), op);
        if (c->p[3] > 0.0f) a += c->p[3] * pow(0.5 * (1.0 - cos(th - dir)), 2.0 * op);
        return exp(-0.5 * d * d) * a;
    }
    case ZM_COMP_DUST: {
        /* the lane's weight on the disc: disc profile x Gaussian across the mid-plane */
        double r = sqrt(u * u + (v / q) * (v / q)), w = c->p[0] > 0.2f ? c->p[0] : 0.2;
        return exp(-1.678347 * r / re) * exp(-0.5 * (v / w) * (v / w));
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
__attribute__((optimize("O3"), target_clones("arch=x86-64-v3", "default"))) static void axpy(float *restrict y, const float *restrict x,
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
        double e = f * k->r50 + (k->kind == ZM_COMP_RING || k->kind == ZM_COMP_ORING ? 4.0 * k->p[0] : 0.0);
        if (k->kind == ZM_COMP_ORING) e = k->r50 + 4.0 * k->p[0];
        if (k->kind == ZM_COMP_CLUMPS) e = 2.5 * k->r50 + 6.0 * k->p[1];
        if (k->kind == ZM_COMP_COMPANION) e = 6.0 * k->r50 + hypot(k->p[0], k->p[1]);
        if (k->kind == ZM_COMP_TAIL) e = 7.0 * k->r50;
        if (k->kind == ZM_COMP_SHELL || k->kind == ZM_COMP_ARC) e = k->r50 + 4.0 * k->p[0];
        if (k->kind == ZM_COMP_DUST) e = 0.0;
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

/* ---- fast path ------------------------------------------------------------- */

/* Radial tables: a component's unit-peak profile as a function of its elliptical (or
 * disc-plane) radius, sampled every dr pixels and interpolated linearly; the arms add
 * a table of m cot(pitch) log(R / Rin) and one period of the arm modulation. Tables
 * cost ZM_FAST_NT transcendental calls per component instead of several per pixel. */
#define FAST_NT_MAX 4096
#define FAST_NP 2048

typedef struct {
    int kind;
    float s, c, iq;     /* sin, cos of the PA; 1 / axis ratio */
    float idr;          /* 1 / table step */
    int nt;
    const float *tab;   /* nt + 1 entries: the radial profile (arms: base x taper) */
    const float *ltab;  /* arms: m cot(pitch) log(R / Rin) */
    const float *ptab;  /* arms: (0.5 (1 + cos x))^sharp over one period, FAST_NP + 1 */
    float m, phase;     /* arms */
} fast_pre;

/* Size of the tables of one component, floats. */
static size_t fast_tab_floats(void) { return 2 * (FAST_NT_MAX + 2) + FAST_NP + 2; }

/* atan2 from a degree-11 odd polynomial of atan on [-1, 1] (|error| < 2e-5 rad). */
static inline float fast_atan2(float y, float x)
{
    float ax = fabsf(x), ay = fabsf(y);
    float mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    if (mx == 0.0f) return 0.0f;
    float a = mn / mx, s = a * a;
    float r = a * (0.99997726f +
                   s * (-0.33262347f + s * (0.19354346f + s * (-0.11643287f + s * (0.05265332f + s * -0.01172120f)))));
    if (ay > ax) r = 1.57079633f - r;
    if (x < 0.0f) r = 3.14159265f - r;
    return y < 0.0f ? -r : r;
}

static inline float lerp_tab(const float *t, int nt, float x)
{
    if (!(x < (float)(nt - 1))) return t[nt - 1];
    int k = (int)x;
    float f = x - (float)k;
    return t[k] + f * (t[k + 1] - t[k]);
}

/* Fills the tables of component k (rmax: largest radius needed, pixels) into buf. */
static void fast_prepare(const zm_sim_comp *k, const comp_pre *pre, double rmax, float *buf,
                         fast_pre *f)
{
    memset(f, 0, sizeof *f);
    f->kind = k->kind;
    f->s = (float)pre->s, f->c = (float)pre->c;
    f->iq = (float)(1.0 / (k->q > 0.01f ? k->q : 0.01));
    int nt = (int)ceil(rmax / 0.05);
    if (nt < 1024) nt = 1024;
    if (nt > FAST_NT_MAX) nt = FAST_NT_MAX;
    double dr = rmax / (nt - 2);
    f->nt = nt;
    f->idr = (float)(1.0 / dr);
    float *tab = buf, *ltab = buf + FAST_NT_MAX + 2, *ptab = ltab + FAST_NT_MAX + 2;
    f->tab = tab, f->ltab = ltab, f->ptab = ptab;
    double re = k->r50 > 0.05f ? k->r50 : 0.05;
    for (int i = 0; i < nt; i++) {
        double r = i * dr;
        double v = 0.0;
        switch (k->kind) {
        case ZM_COMP_BULGE:
        case ZM_COMP_COMPANION: {
            double n = k->n > 0.3f ? k->n : 1.0;
            v = exp(-zm_sim_sersic_b(n) * (pow(r / re, 1.0 / n) - 1.0));
            break;
        }
        case ZM_COMP_TAIL: {
            double Rin = 1.2 * re, rr = r > 1e-6 ? r : 1e-6;
            v = exp(-r / (1.2 * re)) * (1.0 - exp(-pow(r / Rin, 4.0)));
            double m = k->p[0] >= 1.0f ? k->p[0] : 1.0;
            ltab[i] = (float)(m * log(rr / Rin) * pre->cot_pitch);
            break;
        }
        case ZM_COMP_DISC: v = exp(-1.678347 * r / re); break;
        case ZM_COMP_RING:
        case ZM_COMP_ORING: {
            double w = k->p[0] > 0.3f ? k->p[0] : 0.3, d = (r - re) / w;
            v = exp(-0.5 * d * d);
            break;
        }
        case ZM_COMP_ARMS: {
            double h = re / 1.678347, Rin = 0.5 * re, rr = r > 1e-6 ? r : 1e-6;
            v = exp(-r / h) * (1.0 - exp(-(r / Rin) * (r / Rin)));
            double m = k->p[0] >= 1.0f ? k->p[0] : 2.0;
            ltab[i] = (float)(m * log(rr / Rin) * pre->cot_pitch);
            break;
        }
        default: break;
        }
        tab[i] = (float)v;
    }
    tab[nt - 1] = 0.0f; /* beyond the table: nothing */
    if (k->kind == ZM_COMP_ARMS || k->kind == ZM_COMP_TAIL) {
        int tail = k->kind == ZM_COMP_TAIL;
        double sharp = k->p[3] >= 1.0f ? k->p[3] : tail ? 8.0 : 4.0;
        for (int i = 0; i <= FAST_NP; i++) ptab[i] = (float)pow(0.5 * (1.0 + cos(2.0 * M_PI * i / FAST_NP)), sharp);
        f->m = k->p[0] >= 1.0f ? k->p[0] : tail ? 1.0f : 2.0f;
        f->phase = (float)(k->p[2] * DEG);
    }
}

/* Half-size of the box holding component k (at most half): bars and rings have an
 * edge, so they skip most of the stamp; profiles with wings (Sersic bulges, discs,
 * arms) fill the whole stamp, as their half-light radii need. */
static int comp_extent(const zm_sim_comp *k, int half)
{
    double e;
    switch (k->kind) {
    case ZM_COMP_BAR: e = k->r50 + 2.0; break;
    case ZM_COMP_CLUMPS: e = 2.5 * k->r50 / (k->q > 0.05f ? k->q : 0.05) + 6.0 * k->p[1] + 2.0; break;
    case ZM_COMP_RING: e = k->r50 + 5.0 * (k->p[0] > 0.3f ? k->p[0] : 0.3) + 2.0; break;
    case ZM_COMP_ORING:
    case ZM_COMP_SHELL:
    case ZM_COMP_ARC: e = k->r50 + 5.0 * (k->p[0] > 0.3f ? k->p[0] : 0.3) + 2.0; break;
    default: return half;
    }
    int h = (int)ceil(e);
    return h < half ? h : half;
}

static inline float fast_profile(const zm_sim_comp *k, const comp_pre *pre, const fast_pre *f,
                                 float dx, float dy)
{
    float u = -dx * f->s + dy * f->c, v = dx * f->c + dy * f->s;
    switch (f->kind) {
    case ZM_COMP_BULGE:
        if (k->p[0] > 2.05f) {
            float y = fabsf(v * f->iq), cc = k->p[0];
            return lerp_tab(f->tab, f->nt, powf(powf(fabsf(u), cc) + powf(y, cc), 1.0f / cc) * f->idr);
        }
        /* fall through */
    case ZM_COMP_DISC: {
        float y = v * f->iq;
        return lerp_tab(f->tab, f->nt, sqrtf(u * u + y * y) * f->idr);
    }
    case ZM_COMP_RING:
    case ZM_COMP_ORING: {
        float y = v * f->iq;
        return lerp_tab(f->tab, f->nt, sqrtf(u * u + y * y) * f->idr);
    }
    case ZM_COMP_COMPANION: {
        float ex = dx - k->p[0], ey = dy - k->p[1];
        float uu = -ex * f->s + ey * f->c, vv = (ex * f->c + ey * f->s) * f->iq;
        return lerp_tab(f->tab, f->nt, sqrtf(uu * uu + vv * vv) * f->idr);
    }
    case ZM_COMP_ARMS:
    case ZM_COMP_TAIL: {
        float y = v * f->iq, R = sqrtf(u * u + y * y);
        if (R < 1e-6f) return 0.0f;
        float x = R * f->idr;
        float base = lerp_tab(f->tab, f->nt, x);
        if (base == 0.0f) return 0.0f;
        float th = fast_atan2(y, u);
        float arg = f->m * (th - f->phase) - lerp_tab(f->ltab, f->nt, x);
        float t = arg * (float)(FAST_NP / (2.0 * M_PI));
        t -= (float)FAST_NP * floorf(t * (1.0f / FAST_NP));
        float val = base * lerp_tab(f->ptab, FAST_NP + 1, t);
        if (f->kind == ZM_COMP_ARMS && k->n > 0.0f && val > 0.0f) val *= (float)flocc(k->n, th, R, k->r50);
        return val;
    }
    case ZM_COMP_DUST: {
        float w = k->p[0] > 0.2f ? k->p[0] : 0.2f;
        if (fabsf(v) > 6.0f * w) return 0.0f;
        return (float)profile(k, pre, dx, dy);
    }
    case ZM_COMP_BAR: {
        double a = k->r50 > 0.05f ? k->r50 : 0.05, b = a * (k->q > 0.01f ? k->q : 0.01);
        if (fabsf(u) >= a || fabsf(v) >= b) return 0.0f;
        return (float)profile(k, pre, dx, dy);
    }
    default:
        return (float)profile(k, pre, dx, dy);
    }
}

/* One separable term lam u (x) u of a kernel of radius r applied to in (W x W, zero
 * outside the square [lo, hi)^2), added into out; rows [lo, hi) of tmp are scratch. */
static void conv_term(const float *in, float *out, float *tmp, int W, int lo, int hi,
                      const float *u, int r, float lam)
{
    int kw = 2 * r + 1, olo = lo - r, ohi = hi + r;
    for (int j = lo; j < hi; j++) {
        const float *src = in + (size_t)j * W;
        float *rowo = tmp + (size_t)j * W;
        memset(rowo + olo, 0, (size_t)(ohi - olo) * sizeof *rowo);
        for (int ti = 0; ti < kw; ti++) {
            /* rowo[x] += u[ti] in[x + r - ti] for x + r - ti in [lo, hi) */
            int a = lo - r + ti;
            axpy(rowo + a, src + lo, u[ti], hi - lo);
        }
    }
    for (int tj = 0; tj < kw; tj++) {
        float c = lam * u[tj];
        for (int ys = lo; ys < hi; ys++)
            axpy(out + (size_t)(ys - r + tj) * W + olo, tmp + (size_t)ys * W + olo, c, ohi - olo);
    }
}

/* Fast convolution of the band model in (W x W, support [R, R + m)^2, galaxy centre at
 * pixel (c, c)) with the PSF's separable expansion: the full expansion on the core
 * (|x - c|, |y - c| <= core, tapered to zero over `taper` pixels), the leading term
 * alone (renormalised to sum 1) on the rest, where the model is smooth and faint. Both
 * parts keep their flux, so the sum keeps the model's. */
static void conv_hybrid(float *in, float *out, float *tmp, float *core_img, int W, int R, int m,
                        const zm_sim_psf *p, int core, int taper)
{
    int r = p->radius, kw = 2 * r + 1, c = R + (m - 1) / 2;
    size_t area = (size_t)W * W;
    memset(out, 0, area * sizeof *out);
    if (p->nsep == 1 || core + taper >= (m - 1) / 2) {
        for (int t = 0; t < p->nsep; t++) conv_term(in, out, tmp, W, R, R + m, p->u + (size_t)t * kw, r, p->lam[t]);
        return;
    }
    double s1 = 0.0;
    for (int i = 0; i < kw; i++) s1 += p->u[i];
    float lam1 = p->lam[0], lam1n = (float)(1.0 / (s1 * s1));
    int lo = c - core - taper, hi = c + core + taper + 1;
    /* window w(x) w(y): 1 on the core, linear to 0 across the taper */
    float wv[2 * ZM_SIM_STAMP_MAXHALF + 1];
    for (int i = lo; i < hi; i++) {
        int d = abs(i - c);
        wv[i - lo] = d <= core ? 1.0f : (float)(core + taper - d) / (float)taper;
    }
    memset(core_img, 0, area * sizeof *core_img);
    for (int j = lo; j < hi; j++)
        for (int i = lo; i < hi; i++) {
            float w = wv[j - lo] * wv[i - lo];
            core_img[(size_t)j * W + i] = w * in[(size_t)j * W + i];
            /* leading term: lam1 on the core share, lam1n on the rest */
            in[(size_t)j * W + i] *= lam1n + (lam1 - lam1n) * w;
        }
    for (int j = R; j < R + m; j++)
        for (int i = R; i < R + m; i++)
            if (j < lo || j >= hi || i < lo || i >= hi) in[(size_t)j * W + i] *= lam1n;
    conv_term(in, out, tmp, W, R, R + m, p->u, r, 1.0f);
    for (int t = 1; t < p->nsep; t++) conv_term(core_img, out, tmp, W, lo, hi, p->u + (size_t)t * kw, r, p->lam[t]);
}

void zm_sim_render_galaxy(const zm_sim_galaxy *g, int half, const zm_sim_psf *psf, int super,
                          int exact, zm_sim_stamp *st)
{
    if (half > ZM_SIM_STAMP_MAXHALF) half = ZM_SIM_STAMP_MAXHALF;
    int R = 0;
    double fwhm_max = 0.0;
    if (psf)
        for (int b = 0; b < ZM_SIM_NBANDS; b++) {
            if (psf[b].radius > R) R = psf[b].radius;
            if (psf[b].fwhm > fwhm_max) fwhm_max = psf[b].fwhm;
        }
    int cx = (int)lround(g->x), cy = (int)lround(g->y);
    int m = 2 * half + 1, W = m + 2 * R;
    st->x0 = cx - half - R;
    st->y0 = cy - half - R;
    st->w = st->h = W;
    size_t area = (size_t)W * W, marea = (size_t)m * m, ntab = fast_tab_floats();
    /* layout: [bands out][ncomp model planes][band model][scratch][core][tables] */
    stamp_reserve(st, area * ZM_SIM_NBANDS + marea * (size_t)g->ncomp + 3 * area + ntab * (size_t)g->ncomp);
    float *out = st->pix, *planes = out + area * ZM_SIM_NBANDS, *tmp = planes + marea * g->ncomp;
    float *tmp2 = tmp + area, *core_img = tmp2 + area, *tabs = core_img + area;
    double sums[ZM_COMP_NKINDS] = {0};
    comp_pre pre[ZM_COMP_NKINDS];
    fast_pre fp[ZM_COMP_NKINDS];
    for (int c = 0; c < g->ncomp; c++) {
        comp_prepare(&g->comp[c], &pre[c]);
        if (!exact) fast_prepare(&g->comp[c], &pre[c], 1.5 * half + 2.0, tabs + ntab * c, &fp[c]);
    }
    if (super < 1) super = 1;
    if (super % 2 == 0) super++;
    int comp_at = -1, disc_at = -1, dust_at = -1;
    for (int c = 0; c < g->ncomp; c++) {
        if (g->comp[c].kind == ZM_COMP_COMPANION) comp_at = c;
        if (g->comp[c].kind == ZM_COMP_DISC) disc_at = c;
        if (g->comp[c].kind == ZM_COMP_DUST) dust_at = c;
    }
    if (disc_at < 0) dust_at = -1;
    if (exact) {
        /* every component is truncated to its own box (comp_extent), in both paths */
        int ext[ZM_COMP_NKINDS];
        for (int c = 0; c < g->ncomp; c++) ext[c] = comp_extent(&g->comp[c], half);
        for (int j = 0; j < m; j++) {
            double py = cy - half + j - g->y;
            for (int i = 0; i < m; i++) {
                double px = cx - half + i - g->x;
                int s = subsamples(sqrt(px * px + py * py), super);
                if (comp_at >= 0) {
                    /* a companion's own centre is supersampled too */
                    double ex = px - g->comp[comp_at].p[0], ey = py - g->comp[comp_at].p[1];
                    int s2 = subsamples(sqrt(ex * ex + ey * ey), super);
                    if (s2 > s) s = s2;
                }
                double acc[ZM_COMP_NKINDS] = {0};
                for (int b = 0; b < s; b++)
                    for (int a = 0; a < s; a++) {
                        double dx = px + (a + 0.5) / s - 0.5, dy = py + (b + 0.5) / s - 0.5;
                        for (int c = 0; c < g->ncomp; c++) acc[c] += profile(&g->comp[c], &pre[c], dx, dy);
                    }
                for (int c = 0; c < g->ncomp; c++) {
                    int inside = abs(i - half) <= ext[c] && abs(j - half) <= ext[c];
                    double v = inside ? acc[c] / (s * s) : 0.0;
                    planes[(size_t)c * marea + (size_t)j * m + i] = (float)v;
                    sums[c] += v;
                }
            }
        }
    } else {
        /* one component at a time, each within its own extent (compact bulges, bars
         * and rings skip most of the stamp) */
        for (int c = 0; c < g->ncomp; c++) {
            const zm_sim_comp *k = &g->comp[c];
            float *pl = planes + (size_t)c * marea;
            memset(pl, 0, marea * sizeof *pl);
            int e = comp_extent(k, half);
            double sum = 0.0;
            for (int j = half - e; j <= half + e; j++) {
                double py = cy - half + j - g->y;
                for (int i = half - e; i <= half + e; i++) {
                    double px = cx - half + i - g->x, d2 = px * px + py * py;
                    if (k->kind == ZM_COMP_COMPANION) {
                        double ex = px - k->p[0], ey = py - k->p[1];
                        d2 = ex * ex + ey * ey;
                    }
                    double v = 0.0;
                    if (d2 >= 225.0) {
                        v = fast_profile(k, &pre[c], &fp[c], (float)px, (float)py);
                    } else {
                        double d = sqrt(d2);
                        int s = subsamples(d, super);
                        for (int b = 0; b < s; b++)
                            for (int a = 0; a < s; a++) {
                                double dx = px + (a + 0.5) / s - 0.5, dy = py + (b + 0.5) / s - 0.5;
                                v += d < 2.5 ? profile(k, &pre[c], dx, dy)
                                             : fast_profile(k, &pre[c], &fp[c], (float)dx, (float)dy);
                            }
                        v /= s * s;
                    }
                    pl[(size_t)j * m + i] = (float)v;
                    sum += v;
                }
            }
            sums[c] = sum;
        }
    }
    /* the fast convolution's core: the light-weighted size of the components, at
     * least 3 FWHM; tapered over 2 FWHM */
    double fr = 0.0, frr = 0.0;
    for (int c = 0; c < g->ncomp; c++) {
        double f = fabs(g->comp[c].flux[1]);
        fr += f, frr += f * g->comp[c].r50;
    }
    int core = (int)ceil(fmax(3.0 * fwhm_max, fr > 0.0 ? 1.5 * frr / fr : 0.0));
    int taper = (int)ceil(2.0 * fwhm_max) + 1;
    for (int b = 0; b < ZM_SIM_NBANDS; b++) {
        /* the unconvolved band model, centred in a W x W plane with an R-pixel border */
        memset(tmp, 0, area * sizeof *tmp);
        for (int c = 0; c < g->ncomp; c++) {
            if (c == dust_at) continue;
            if (sums[c] <= 0.0 || g->comp[c].flux[b] == 0.0f) continue;
            const float *pl = planes + (size_t)c * marea;
            if (c == disc_at && dust_at >= 0 && sums[dust_at] > 0.0) {
                /* disc x (1 - tau lane), renormalised to the disc's flux */
                double tau = fmin(fmax(g->comp[dust_at].flux[b], 0.0f), 0.99f);
                double sc = g->comp[c].flux[b] / (sums[c] - tau * sums[dust_at]);
                const float *dl = planes + (size_t)dust_at * marea;
                for (int j = 0; j < m; j++) {
                    axpy(tmp + (size_t)(j + R) * W + R, pl + (size_t)j * m, (float)sc, m);
                    axpy(tmp + (size_t)(j + R) * W + R, dl + (size_t)j * m, (float)(-sc * tau), m);
                }
                continue;
            }
            float sc = (float)(g->comp[c].flux[b] / sums[c]);
            for (int j = 0; j < m; j++) axpy(tmp + (size_t)(j + R) * W + R, pl + (size_t)j * m, sc, m);
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
        conv_hybrid(tmp, o, tmp2, core_img, W, R, m, &psf[b], core, taper);
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
