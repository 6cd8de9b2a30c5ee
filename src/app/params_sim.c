/* params_sim.c: parameters of `zoomorph simulate` ([simulate]). Ranges here give the
 * "impossible value" errors; cross-checks between keys live in stage_simulate.c. */
#include "params_groups.h"

#define NOR 1, 0 /* no range */

static const zm_param_def defs[] = {
    {"simulate.out", ZM_PT_STR, NULL, NOR, NULL, "",
     "output survey directory (Legacy Surveys layout); must be absent or empty unless "
     "overwrite = true"},
    {"simulate.overwrite", ZM_PT_BOOL, "false", NOR, NULL, "",
     "allow a non-empty output directory: its coadd/ and tractor/ trees, survey-bricks.fits, "
     "truth.fits, votes.csv and rings.csv are removed first"},
    {"simulate.seed", ZM_PT_INT, "42", 0, 1e18, NULL, "", "random seed: the survey is a function of it"},
    {"simulate.bricks", ZM_PT_INT, "2", 1, 100000, NULL, "", "number of bricks"},
    {"simulate.brick_size", ZM_PT_INT, "3600", 64, 3600, NULL, "pixels",
     "brick image size on a side (3600 in the Legacy Surveys; smaller for tests)"},
    {"simulate.pixscale", ZM_PT_REAL, "0.262", 0.01, 10, NULL, "arcsec/pixel", "pixel scale"},
    {"simulate.ra", ZM_PT_REAL, "123.8", 0, 360, NULL, "deg", "RA of the first brick"},
    {"simulate.dec", ZM_PT_REAL, "24.5", -89, 89, NULL, "deg",
     "Dec of the first brick; further bricks run east along the row"},
    {"simulate.galaxies_per_brick", ZM_PT_INT, "200", 0, 1e6, NULL, "", "galaxies per brick"},
    {"simulate.stars_per_brick", ZM_PT_INT, "20", 0, 1e6, NULL, "", "stars (Tractor type PSF) per brick"},
    {"simulate.mag_bright", ZM_PT_REAL, "14", 5, 30, NULL, "mag", "brightest galaxy r magnitude"},
    {"simulate.mag_faint", ZM_PT_REAL, "17.77", 5, 30, NULL, "mag",
     "faintest galaxy r magnitude (17.77: the GZ DECaLS limit)"},
    {"simulate.r50_median", ZM_PT_REAL, "6", 0.1, 200, NULL, "arcsec",
     "median half-light radius at r = 16.5 (brighter galaxies are larger)"},
    {"simulate.r50_sigma_dex", ZM_PT_REAL, "0.18", 0, 2, NULL, "dex", "log-normal scatter of the radius"},
    {"simulate.r50_min", ZM_PT_REAL, "1.5", 0.1, 200, NULL, "arcsec", "smallest half-light radius"},
    {"simulate.r50_max", ZM_PT_REAL, "30", 0.1, 500, NULL, "arcsec", "largest half-light radius"},
    {"simulate.star_mag_bright", ZM_PT_REAL, "15", 5, 30, NULL, "mag", "brightest star r magnitude"},
    {"simulate.star_mag_faint", ZM_PT_REAL, "21", 5, 30, NULL, "mag", "faintest star r magnitude"},
    {"simulate.frac_lenticular", ZM_PT_REAL, "0.15", 0, 1, NULL, "", "fraction of lenticulars (bulge + disc)"},
    {"simulate.frac_spiral", ZM_PT_REAL, "0.45", 0, 1, NULL, "", "fraction of spirals (arms, bars, rings)"},
    {"simulate.frac_edgeon", ZM_PT_REAL, "0.1", 0, 1, NULL, "",
     "fraction of edge-on discs; ellipticals make up the rest (the three must sum to <= 1)"},
    {"simulate.bar_fraction", ZM_PT_REAL, "0.3", 0, 1, NULL, "", "fraction of non-edge-on discs with a bar"},
    {"simulate.ring_fraction", ZM_PT_REAL, "0.08", 0, 1, NULL, "", "fraction of non-edge-on discs with a ring"},
    {"simulate.fwhm_g", ZM_PT_LIST, "1.3,1.8", NOR, NULL, "arcsec", "g seeing range (min,max), drawn per brick"},
    {"simulate.fwhm_r", ZM_PT_LIST, "1.1,1.6", NOR, NULL, "arcsec", "r seeing range (min,max)"},
    {"simulate.fwhm_z", ZM_PT_LIST, "1.0,1.5", NOR, NULL, "arcsec", "z seeing range (min,max)"},
    {"simulate.moffat_beta", ZM_PT_REAL, "3.5", 1.5, 20, NULL, "", "Moffat PSF beta"},
    {"simulate.depth_g", ZM_PT_REAL, "24.7", 15, 30, NULL, "mag", "5-sigma point-source depth, g (DECaLS DR9 median)"},
    {"simulate.depth_r", ZM_PT_REAL, "23.9", 15, 30, NULL, "mag", "5-sigma point-source depth, r"},
    {"simulate.depth_z", ZM_PT_REAL, "23.0", 15, 30, NULL, "mag", "5-sigma point-source depth, z"},
    {"simulate.val_fraction", ZM_PT_REAL, "0.1", 0, 1, NULL, "", "fraction of bricks in the validation split"},
    {"simulate.test_fraction", ZM_PT_REAL, "0.1", 0, 1, NULL, "", "fraction of bricks in the test split"},
    {"simulate.min_separation", ZM_PT_REAL, "30", 0, 3600, NULL, "arcsec", "smallest distance between galaxy centres"},
    {"simulate.edge_margin", ZM_PT_INT, "32", 0, 1800, NULL, "pixels", "brick border kept free of galaxy centres"},
    {"simulate.gz_field_on_brick", ZM_PT_BOOL, "true", NOR, NULL, "",
     "place each galaxy so that its Galaxy Zoo field (424 pixels at 0.04 r50 arcsec/pixel) "
     "lies on the brick, where the brick is large enough (the cutout stage reads one brick)"},
    {"simulate.min_volunteers", ZM_PT_INT, "5", 1, 10000, NULL, "",
     "fewest simulated volunteers per galaxy (votes.csv)"},
    {"simulate.max_volunteers", ZM_PT_INT, "40", 1, 10000, NULL, "", "most simulated volunteers per galaxy"},
    {"simulate.tree", ZM_PT_STR, "", NOR, NULL, "",
     "decision tree file for the votes (format in include/zoomorph/gzschema.h); empty: "
     "the built-in Galaxy Zoo DECaLS tree"},
    {"simulate.max_stamp", ZM_PT_INT, "256", 16, 2048, NULL, "pixels", "largest model half-size rendered per galaxy"},
    {"simulate.supersample", ZM_PT_INT, "9", 1, 31, NULL, "", "subsamples per side of the central pixels (odd)"},
};
const zm_param_table zm_params_sim = {defs, (int)(sizeof defs / sizeof defs[0])};
