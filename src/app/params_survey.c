/* params_survey.c: parameters of the store, survey input, selection and cutouts
 * ([store], [survey], [select], [cutout]). docs/config.md is generated from these. */
#include "params_groups.h"

#define NOR 1, 0 /* no range */

static const zm_param_def defs[] = {
    {"store.path", ZM_PT_STR, "zoomorph.h5", NOR, NULL, "",
     "the run's parallel-HDF5 store; every stage reads and adds to it"},
    {"store.overwrite", ZM_PT_BOOL, "false", NOR, NULL, "",
     "let 'plan' replace an existing store (otherwise it refuses)"},
    {"store.max_write_mb", ZM_PT_INT, "256", 1, 1900, NULL, "MiB",
     "largest single collective write; bigger writes are split (all ranks make the same "
     "number of calls)"},

    {"survey.mode", ZM_PT_CHOICE, "bricks", NOR, "bricks|cutouts", "",
     "bricks: Legacy Surveys coadd bricks and Tractor catalogues under [survey] root; "
     "cutouts: a table of ra, dec, file (FITS cubes or PNG/JPEG pictures)"},
    {"survey.root", ZM_PT_STR, NULL, NOR, NULL, "",
     "survey directory in the Legacy Surveys layout (coadd/AAA/<brick>/, tractor/AAA/)"},
    {"survey.bricks", ZM_PT_LIST, "", NOR, NULL, "",
     "bricks to process: comma-separated names, or a text file with one name per line (first word; # "
     "comments); empty: every brick under root/coadd"},
    {"survey.bands", ZM_PT_LIST, "g,r,z", NOR, NULL, "",
     "band letters in g, r, z order as the stretch expects"},
    {"survey.allow_missing_bands", ZM_PT_BOOL, "false", NOR, NULL, "",
     "accept bricks or cubes lacking a band (the band is zero and the galaxy flagged); "
     "otherwise such a brick is rejected"},
    {"survey.cutout_table", ZM_PT_STR, NULL, NOR, NULL, "",
     "cutouts mode: CSV or FITS table with columns ra, dec, file (relative to the "
     "table's directory), optional id, petro_th50, petro_th90"},
    {"survey.input_field", ZM_PT_CHOICE, "auto", NOR, "auto|gz|pixscale", "",
     "cutouts mode: the sky field of each cutout file, so that its stamp is cut at [cutout] field_rule as bricks "
     "are. gz: the file spans input_gz_pixels pixels of the Galaxy Zoo rule's scale (Galaxy Zoo's own pictures and "
     "cutouts); pixscale: a picture has input_pixscale arcsec per pixel; auto: a FITS file's WCS gives its scale, "
     "and a PNG/JPEG picture's field is unknown (its galaxies are rejected with the reason)"},
    {"survey.input_gz_pixels", ZM_PT_REAL, "424", 1, 1e5, NULL, "pixels",
     "input_field = gz: the pixels of each file at the Galaxy Zoo rule's scale (424: Galaxy Zoo DECaLS)"},
    {"survey.input_pixscale", ZM_PT_REAL, "0.262", 1e-3, 1e3, NULL, "arcsec/pixel",
     "input_field = pixscale: the pictures' pixel scale (0.262: the Legacy Surveys' native scale)"},

    {"select.types", ZM_PT_LIST, "", NOR, NULL, "",
     "Tractor types kept (e.g. EXP,DEV,REX,SER,COMP); empty: all but PSF and DUP"},
    {"select.brick_primary", ZM_PT_BOOL, "true", NOR, NULL, "", "keep only brick_primary sources"},
    {"select.mag_band", ZM_PT_CHOICE, "r", NOR, "g|r|z|none", "",
     "band of the magnitude cut (none: no cut)"},
    {"select.mag_min", ZM_PT_REAL, "0", -100, 100, NULL, "mag", "brightest AB magnitude kept"},
    {"select.mag_max", ZM_PT_REAL, "17.77", -100, 100, NULL, "mag",
     "faintest AB magnitude kept (17.77: the Galaxy Zoo DECaLS limit)"},
    {"select.r50_min", ZM_PT_REAL, "0", 0, 1e6, NULL, "arcsec", "smallest half-light radius kept"},
    {"select.r50_max", ZM_PT_REAL, "0", 0, 1e6, NULL, "arcsec",
     "largest half-light radius kept (0: no limit)"},
    {"select.max_per_brick", ZM_PT_INT, "0", 0, 1e12, NULL, "",
     "keep at most this many galaxies per brick, the first in catalogue order (0: all)"},

    {"cutout.size", ZM_PT_INT, "300", 8, 4096, NULL, "pixels",
     "stamp size on a side (Zoobot: 300, cropped to 224 in training)"},
    {"cutout.channels", ZM_PT_CHOICE, "grey", NOR, "grey|colour", "",
     "grey: mean of the stretched RGB planes (Zoobot's default); colour: 3 planes"},
    {"cutout.dtype", ZM_PT_CHOICE, "uint8", NOR, "uint8|float16", "",
     "stamp storage type in /cutouts/images"},
    {"cutout.field_rule", ZM_PT_CHOICE, "auto", NOR, "auto|gz|fixed|native", "",
     "field size: gz (Galaxy Zoo's pixscale rule on th50/th90, the Tractor radius when they are not given; for "
     "cutout files see [survey] input_field), fixed (fixed_arcsec), native (a cutout file's whole extent, "
     "whatever its scale), auto (gz)"},
    {"cutout.gz_pixels", ZM_PT_REAL, "212", 1, 1e5, NULL, "pixels",
     "gz rule: the field is gz_pixels times the rule's pixscale (212: half Galaxy Zoo's 424, as the shipped model "
     "was trained: a 72-pixel stamp of the whole Galaxy Zoo field puts the median galaxy's half-light radius at 4 "
     "pixels; set 424 for models trained on Galaxy Zoo's images, such as Zoobot's)"},
    {"cutout.th50_factor", ZM_PT_REAL, "0.04", 0, 10, NULL, "", "gz rule: a in min(a*th50, b*th90)"},
    {"cutout.th90_factor", ZM_PT_REAL, "0.02", 0, 10, NULL, "", "gz rule: b in min(a*th50, b*th90)"},
    {"cutout.min_pixscale", ZM_PT_REAL, "0.1", 0, 100, NULL, "arcsec/pixel",
     "gz rule: smallest pixscale"},
    {"cutout.r90_over_r50", ZM_PT_REAL, "2.3", 1, 20, NULL, "",
     "gz rule: th90 = this x th50 when there is no Petrosian th90 (2.3: exponential disc)"},
    {"cutout.fixed_arcsec", ZM_PT_REAL, "60", 0.1, 1e5, NULL, "arcsec", "fixed rule: field size"},
    {"cutout.max_empty_fraction", ZM_PT_REAL, "0.2", 0, 1, NULL, "",
     "reject a galaxy when more than this fraction of a band's stamp is empty (zero, NaN "
     "or off the image); Galaxy Zoo DECaLS used 0.2"},
    {"cutout.edge", ZM_PT_CHOICE, "pad", NOR, "pad|reject", "",
     "a field running off the image: pad with zeros and flag, or reject"},
    {"cutout.scale_g", ZM_PT_REAL, "0.008", 1e-9, 1e9, NULL, "nanomaggies", "stretch divisor, g"},
    {"cutout.scale_r", ZM_PT_REAL, "0.014", 1e-9, 1e9, NULL, "nanomaggies", "stretch divisor, r"},
    {"cutout.scale_z", ZM_PT_REAL, "0.019", 1e-9, 1e9, NULL, "nanomaggies", "stretch divisor, z"},
    {"cutout.stretch_min", ZM_PT_REAL, "-0.5", -1e6, 1e6, NULL, "", "value mapped to black before arcsinh"},
    {"cutout.stretch_max", ZM_PT_REAL, "300", -1e6, 1e6, NULL, "", "value mapped to white before arcsinh"},
    {"cutout.batch", ZM_PT_INT, "256", 1, 1e6, NULL, "galaxies",
     "galaxies per collective write (memory per rank: batch x stamp bytes)"},
    {"cutout.desaturate", ZM_PT_BOOL, "false", NOR, NULL, "",
     "damp pixels dominated by one colour (off for Galaxy Zoo DECaLS)"},
};
const zm_param_table zm_params_survey = {defs, (int)(sizeof defs / sizeof defs[0])};
