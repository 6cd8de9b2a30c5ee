/* params_embed.c: [embed] (representations and vote predictions) and [pca]. */
#include "params_groups.h"

#define NOR 1, 0

static const zm_param_def defs[] = {
    {"embed.weights", ZM_PT_STR, "", NOR, NULL, "",
     "weight file of the encoder (empty: [model] output, the pretrained model)"},
    {"embed.batch", ZM_PT_INT, "32", 1, 4096, NULL, "images", "images per forward pass (and per collective write)"},
    {"embed.mc_passes", ZM_PT_INT, "0", 0, 1000, NULL, "",
     "Monte-Carlo dropout passes (Zoobot: 5); 0: one deterministic pass. With passes, the vote "
     "fractions are the mean over passes and their standard deviation is stored"},
    {"pca.sizes", ZM_PT_LIST, "10,40", NOR, NULL, "",
     "numbers of components to store coordinates for (the paper: 10 for similarity, 40 for anomalies)"},
    {"catalogue.path", ZM_PT_STR, "zoomorph-catalogue.fits", NOR, NULL, "", "the FITS catalogue to write"},
    {"catalogue.overwrite", ZM_PT_BOOL, "false", NOR, NULL, "", "replace an existing catalogue"},
};
const zm_param_table zm_params_embed = {defs, (int)(sizeof defs / sizeof defs[0])};
