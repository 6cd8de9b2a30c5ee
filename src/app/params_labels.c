/* params_labels.c: [labels]: volunteer vote tables and how they are matched to galaxies. */
#include "params_groups.h"

#define NOR 1, 0

static const zm_param_def defs[] = {
    {"labels.votes", ZM_PT_STR, NULL, NOR, NULL, "",
     "vote table (CSV or FITS): a count column <question>_<answer> per answer, and ra, dec "
     "(or an id column)"},
    {"labels.tree", ZM_PT_STR, "decals", NOR, NULL, "",
     "decision tree: 'decals' (Galaxy Zoo DECaLS, built in) or a tree file (docs/store-format.md)"},
    {"labels.match", ZM_PT_CHOICE, "sky", NOR, "sky|id", "",
     "sky: nearest galaxy within radius_arcsec; id: the id column holds /galaxies/id"},
    {"labels.radius_arcsec", ZM_PT_REAL, "1", 0.001, 3600, NULL, "arcsec", "sky matching radius"},
    {"labels.id_column", ZM_PT_STR, "id", NOR, NULL, "", "id matching: the column with store ids"},
};
const zm_param_table zm_params_labels = {defs, (int)(sizeof defs / sizeof defs[0])};
