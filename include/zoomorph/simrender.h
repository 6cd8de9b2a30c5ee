/*
 * simrender.h: the simulator's renderer. A galaxy is a list of physical components
 * (Sersic bulge, exponential disc, bar, logarithmic spiral arms, ring), each with its
 * own flux in every band (its own colour). zm_sim_render_galaxy evaluates the
 * components on a pixel stamp (supersampled near the centre), normalises each
 * component to its flux, convolves each band with that band's Moffat PSF and returns
 * the stamp; zm_sim_stamp_add adds a stamp into a brick image with clipping.
 *
 * Conventions: pixel coordinates are 0-based (pixel centre at integer values), x along
 * NAXIS1, y along NAXIS2; north is +y and east is -x (CD1_1 < 0). Position angles are
 * in degrees east of north. Radii are in pixels here (the survey layer converts from
 * arcsec). Fluxes are nanomaggies per band, bands in g, r, z order.
 *
 * New component kinds plug in by adding an enum value, a profile case in simrender.c
 * and (for the truth table) a slot name in zm_sim_comp_names.
 *
 * Not here: noise, catalogues, files (simsurvey.h).
 */
#ifndef ZOOMORPH_SIMRENDER_H
#define ZOOMORPH_SIMRENDER_H

#include <stddef.h>

#define ZM_SIM_NBANDS 3
#define ZM_SIM_PSF_MAXSEP 6
#define ZM_SIM_STAMP_MAXHALF 2048 /* largest model half-size, pixels */

typedef enum {
    ZM_COMP_BULGE = 0,  /* Sersic: r50, n, q, pa                                       */
    ZM_COMP_DISC,       /* exponential: r50, q (from inclination), pa                  */
    ZM_COMP_BAR,        /* boxy Ferrers bar: r50 = half length, q, pa, p[0] = boxiness */
    ZM_COMP_ARMS,       /* log spiral in the disc plane: r50 = disc r50, q/pa = disc's,
                           p[0] = arm count m, p[1] = pitch angle (deg), p[2] = phase
                           (deg), p[3] = arm sharpness (power, 1..10), n = flocculence
                           (0 grand design .. 1: arms broken into patches)           */
    ZM_COMP_RING,       /* Gaussian ring in the disc plane: r50 = ring radius, q/pa =
                           disc's, p[0] = ring width (pixels)                          */
    ZM_COMP_COMPANION,  /* a second Sersic galaxy (overlapping pair, merger): r50, n,
                           q, pa, p[0], p[1] = its offset (pixels, x and y) from the
                           host centre                                                 */
    ZM_COMP_TAIL,       /* tidal tails: log-spiral streams beyond the host, sky plane
                           (q/pa tilt them): r50 = host r50, p[0] = tail count (1-2),
                           p[1] = pitch (deg), p[2] = phase (deg), p[3] = sharpness    */
    ZM_COMP_SHELL,      /* a shell: Gaussian arc, r50 = radius, p[0] = width (pixels),
                           p[1] = direction (deg), p[2] = opening power (1 = half the
                           circle, larger = shorter arc)                               */
    ZM_COMP_DUST,       /* dust lane of an edge-on disc: r50/q/pa = the disc's, p[0] =
                           lane half-width (pixels), flux[b] = optical depth in band b
                           at the lane centre (0-1): the disc is multiplied by
                           1 - tau_b exp(-v^2 / 2 w^2) and renormalised to its flux    */
    ZM_COMP_ARC,        /* strongly lensed arcs around the host: r50 = Einstein radius,
                           p[0] = width (pixels), p[1] = direction (deg), p[2] = opening
                           power (larger = shorter arc), p[3] = counter-image share
                           (0: none; else a fainter arc opposite)                      */
    ZM_COMP_ORING,      /* outer ring: as ZM_COMP_RING, farther out                    */
    ZM_COMP_CLUMPS,     /* star-forming clumps: p[0] = count (<= 16), p[1] = clump
                           sigma (pixels), p[2] = layout seed; clump radii exponential
                           with scale r50 / 1.68 in the disc plane (q/pa)               */
    ZM_COMP_NKINDS
} zm_comp_kind;

/* Slot names used in truth.fits columns (bulge_r50, disc_q, ...). */
extern const char *const zm_sim_comp_names[ZM_COMP_NKINDS];

typedef struct {
    int kind;                     /* zm_comp_kind; -1 when the slot is unused        */
    float flux[ZM_SIM_NBANDS];    /* nanomaggies                                      */
    float r50;                    /* pixels (meaning per kind, see above)             */
    float n;                      /* Sersic index (bulge)                             */
    float q;                      /* axis ratio b/a in (0, 1]                         */
    float pa;                     /* degrees east of north                            */
    float p[4];                   /* kind-specific extras                             */
} zm_sim_comp;

typedef struct {
    double x, y;                        /* centre, pixels (0-based)                  */
    int ncomp;
    zm_sim_comp comp[ZM_COMP_NKINDS];   /* at most one of each kind for now           */
} zm_sim_galaxy;

/* A Moffat PSF for one band, pixelised (5x5 subsamples per pixel) and normalised. */
typedef struct {
    float fwhm;    /* pixels */
    float beta;
    int radius;    /* kernel is (2 radius + 1)^2 */
    float *k;      /* row-major, sum 1 */
    double nea;    /* noise-equivalent area 1 / sum(k^2), pixels */
    /* separable expansion k ~ sum_t lam[t] u_t u_t^T (eigenvectors of the symmetric
     * kernel matrix, largest |lam| first), normalised to sum 1 */
    int nsep;
    float lam[ZM_SIM_PSF_MAXSEP];
    float *u;      /* nsep x (2 radius + 1) */
    double sep_err; /* max |k - expansion| / max k */
} zm_sim_psf;

void zm_sim_psf_make(zm_sim_psf *psf, double fwhm_pix, double beta);
void zm_sim_psf_free(zm_sim_psf *psf);

/* A rendered, PSF-convolved stamp: band b pixel (i, j) is pix[(b * h + j) * w + i];
 * its lower-left pixel is at brick pixel (x0, y0). */
typedef struct {
    int x0, y0, w, h;
    float *pix;
    size_t cap;    /* allocated floats (reused between galaxies) */

} zm_sim_stamp;

/* Renders g into st (reallocated as needed; zero st before the first use). The
 * unconvolved model extends to half-size `half` pixels around the centre (the caller
 * picks it from the sizes, see zm_sim_stamp_half); the stamp is larger by the PSF
 * radius of the widest band. Each component's flux within the stamp equals its
 * catalogue flux exactly (normalised numerically). psf: ZM_SIM_NBANDS PSFs, or NULL
 * for no convolution. exact = 1 is the scalar reference: exact profiles at every
 * subsample, full 2-D kernel. exact = 0 is the fast path: profiles from radial tables
 * (exact within 2.5 px of the centre), the PSF's separable expansion on the core
 * (1.5 light-weighted r50, at least 3 FWHM) and its leading term alone outside;
 * tests compare the two. super: supersampling of the central pixels (odd, >= 1);
 * half is capped at ZM_SIM_STAMP_MAXHALF. */
void zm_sim_render_galaxy(const zm_sim_galaxy *g, int half, const zm_sim_psf *psf, int super,
                          int exact, zm_sim_stamp *st);
/* A point source (star) of flux[b] at (x, y): the analytic Moffat of each band,
 * supersampled and normalised. */
void zm_sim_render_star(double x, double y, const float flux[ZM_SIM_NBANDS],
                        const zm_sim_psf *psf, zm_sim_stamp *st);
void zm_sim_stamp_free(zm_sim_stamp *st);

/* A stamp half-size that holds a galaxy (5 half-light radii of its largest component,
 * 6 for Sersic n > 2.5, at least 8 pixels, at most max_half). */
int zm_sim_stamp_half(const zm_sim_galaxy *g, int max_half);

/* Adds band b of st into img (nx x ny, row-major), clipped at the edges. */
void zm_sim_stamp_add(const zm_sim_stamp *st, int b, float *img, int nx, int ny);

/* Unit-peak surface brightness of one component at offset (dx, dy) pixels from the
 * galaxy centre (exposed for tests). */
double zm_sim_comp_profile(const zm_sim_comp *c, double dx, double dy);

/* Sersic b_n (half-light normalisation), Ciotti & Bertin's expansion. */
double zm_sim_sersic_b(double n);

#endif
