/*
 * simsurvey.h: the simulated survey: bricks on the Legacy Surveys grid, galaxies and
 * stars drawn from a seed, and the files the pipeline reads exactly like DECaLS ones:
 *   <out>/coadd/<AAA>/<brick>/legacysurvey-<brick>-image-<g|r|z>.fits.fz
 *   <out>/coadd/<AAA>/<brick>/legacysurvey-<brick>-invvar-<g|r|z>.fits.fz
 *   <out>/tractor/<AAA>/tractor-<brick>.fits   (DR9 schema subset, stars included)
 *   <out>/survey-bricks.fits                   (brickname, brickid, ra, dec, ra1..dec2)
 *   <out>/truth.fits                           (every component of every galaxy)
 *
 * Determinism: every random number comes from a stream keyed by (seed, brickid, what,
 * index), so a brick's files depend only on the seed and the configuration, never on
 * the rank that writes them or on how many ranks there are.
 *
 * Not here: volunteer votes and ring labels (simvotes.h, written by the stage from the
 * gathered objects), tags and interest scores (phase 2), and MPI (the stage splits
 * bricks over ranks and gathers the objects).
 */
#ifndef ZOOMORPH_SIMSURVEY_H
#define ZOOMORPH_SIMSURVEY_H

#include <stdint.h>

#include "zoomorph/error.h"
#include "zoomorph/gzschema.h"
#include "zoomorph/rng.h"
#include "zoomorph/simrender.h"

#define ZM_SIM_FORMAT_VERSION 1

/* Simulated classes (the truth table's `class` column). Phase 2 adds more. */
typedef enum {
    ZM_SIM_ELLIPTICAL = 0,
    ZM_SIM_LENTICULAR,
    ZM_SIM_SPIRAL,
    ZM_SIM_EDGEON,
    ZM_SIM_MERGER,      /* a host with an overlapping companion, usually tidal tails    */
    ZM_SIM_DISTURBED,   /* a host with tidal tails and/or a shell, no companion         */
    ZM_SIM_LENS,        /* an elliptical with strongly lensed blue arcs                 */
    ZM_SIM_IRREGULAR,   /* a clumpy irregular: blue disc, bright clumps, no bulge       */
    ZM_SIM_DIFFUSE,     /* a diffuse low-surface-brightness disc (2-3x larger)           */
    ZM_SIM_STAR,
    ZM_SIM_NCLASSES
} zm_sim_class;
extern const char *const zm_sim_class_names[ZM_SIM_NCLASSES];

enum { ZM_SPLIT_TRAIN = 0, ZM_SPLIT_VALIDATION = 1, ZM_SPLIT_TEST = 2 };
extern const char *const zm_sim_split_names[3];

typedef struct {
    uint64_t seed;
    int nbricks;
    int brick_size;            /* pixels on a side (3600 in the survey)                */
    double pixscale;           /* arcsec per pixel (0.262)                             */
    double ra, dec;            /* the first brick is the one holding (ra, dec)         */
    int galaxies_per_brick, stars_per_brick;
    double mag_bright, mag_faint;          /* galaxy r magnitudes, N(<m) ~ 10^(0.6 m) */
    double r50_median, r50_sigma_dex;      /* arcsec, at r = 16.5                     */
    double r50_min, r50_max;               /* arcsec                                  */
    double star_mag_bright, star_mag_faint;
    double frac_lenticular, frac_spiral, frac_edgeon;  /* ellipticals: the rest      */
    double frac_merger, frac_disturbed, frac_lens, frac_irregular, frac_diffuse;
    double outer_ring_fraction;            /* among ringed discs: also an outer ring  */
    double flocculent_fraction;            /* among spirals                           */
    double dust_fraction;                  /* edge-on discs with a dust lane          */
    double artefacts_per_brick;            /* mean number (satellite trails, bad
                                              columns, missing coverage, bright stars
                                              with spikes), scaled by brick area     */
    double bar_fraction, ring_fraction;    /* among discs seen face-on               */
    double fwhm_min[ZM_SIM_NBANDS], fwhm_max[ZM_SIM_NBANDS];  /* arcsec, per brick   */
    double moffat_beta;
    double depth[ZM_SIM_NBANDS];           /* 5-sigma point-source depth, AB mag     */
    double val_fraction, test_fraction;    /* of bricks                              */
    double min_separation;                 /* arcsec between galaxy centres          */
    int edge_margin;                       /* pixels kept free of galaxy centres     */
    int gz_field_on_brick;                 /* keep each galaxy's GZ field on the brick */
    int max_half;                          /* largest model stamp half-size, pixels  */
    int supersample;                       /* subsamples per side at the centre      */
} zm_sim_cfg;

/* A brick of the Legacy Surveys grid: 0.25 deg rows in Dec, columns of about 0.25 deg
 * in RA (the count per row set by the row edge nearest the equator). */
typedef struct {
    char name[16];
    long brickid;        /* 1-based running index on our grid                           */
    int row, col;
    double ra, dec, ra1, ra2, dec1, dec2;
} zm_sim_brick;

void zm_sim_brick_from_rowcol(int row, int col, zm_sim_brick *b);
/* The brick holding (ra, dec). */
void zm_sim_brick_at(double ra, double dec, zm_sim_brick *b);
/* cfg->nbricks bricks: the one at (ra, dec), then its eastward neighbours in the row,
 * continuing in the next row north. out holds cfg->nbricks. */
void zm_sim_brick_list(const zm_sim_cfg *cfg, zm_sim_brick *out);

/* Galaxies that fit on one brick with cfg's margin and separation. */
long zm_sim_brick_capacity(const zm_sim_cfg *cfg);

/* One simulated object (galaxy or star). Model radii are in pixels. */
typedef struct {
    char brickname[16];
    int brick_index;       /* position in the brick list (for ordering)               */
    long objid;
    double ra, dec;
    float x, y;            /* 0-based brick pixel                                     */
    int cls, split;
    float mag_r;
    float flux[ZM_SIM_NBANDS];   /* total, nanomaggies                                */
    float r50;                   /* arcsec, flux-weighted over components             */
    float bulge_frac;            /* bulge + bar share of the r flux                    */
    float incl;                  /* disc inclination, deg (0 face-on); NaN if no disc */
    char tractor_type[4];
    float sersic, q, pa;         /* the catalogue's single-profile summary             */
    float psf_fwhm[ZM_SIM_NBANDS];  /* arcsec                                         */
    float artefact;              /* 0: none near; else the strongest artefact crossing
                                    the galaxy's field (0..1, drives the artifact vote) */
    zm_sim_galaxy g;
} zm_sim_object;

/* Artefacts of a brick (not objects): drawn from (seed, brickid) alone, so that any
 * rank can list them again (artefacts.csv). Pixel coordinates, 0-based. */
enum { ZM_ART_TRAIL = 0, ZM_ART_BADCOL, ZM_ART_MISSING, ZM_ART_STAR, ZM_ART_NKINDS };
extern const char *const zm_sim_artefact_names[ZM_ART_NKINDS];
#define ZM_SIM_MAX_ARTEFACTS 64
typedef struct {
    int kind;
    float x0, y0, x1, y1;  /* trail/column: end points; missing: the box; star: centre  */
    float width;           /* trail: Gaussian sigma (px); star: spike length (px)      */
    float level;           /* trail/column: peak in noise sigmas; star: r magnitude     */
} zm_sim_artefact;
/* a: ZM_SIM_MAX_ARTEFACTS entries; *na gets the count. */
void zm_sim_draw_artefacts(const zm_sim_cfg *cfg, long brickid, zm_sim_artefact *a, int *na);
/* artefacts.csv: brickname, kind, x0, y0, x1, y1, width, level for every brick. */
int zm_sim_write_artefacts(const char *path, const zm_sim_cfg *cfg, const zm_sim_brick *b, int nb,
                           zm_err *err);

/* Simulates brick (index bi of the list) and writes its images, inverse variances
 * and Tractor catalogue under outdir. *objs (malloc'ed, *nobj entries) gets its
 * objects in objid order. */
int zm_sim_brick_run(const zm_sim_cfg *cfg, const zm_sim_brick *brick, int bi,
                     const char *outdir, zm_sim_object **objs, long *nobj, zm_err *err);

/* The survey's brick table, survey-bricks.fits schema. */
int zm_sim_write_bricks(const char *path, const zm_sim_brick *b, int n, zm_err *err);
/* truth.fits: one row per object, every component's parameters (arcsec, deg), and
 * with a tree (NULL: none) the noise-free vote fraction of every answer,
 * `<question>_<answer>_true_fraction` (given that the question is asked), plus
 * `rare-features_ring_true_fraction`. */
int zm_sim_write_truth(const char *path, const zm_sim_object *o, long n, double pixscale,
                       const zm_gz_schema *tree, zm_err *err);

/* Sample one galaxy of class cls with r magnitude mag and half-light radius r50
 * (arcsec) at (x, y) from rng (exposed for tests and for phase-2 components). */
void zm_sim_draw_galaxy(const zm_sim_cfg *cfg, zm_rng *rng, int cls, double mag, double r50,
                        double x, double y, zm_sim_object *o);

#endif
