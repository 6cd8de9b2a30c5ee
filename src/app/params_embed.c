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
    {"similar.space", ZM_PT_STR, "coords_10", NOR, NULL, "",
     "vectors searched: coords_<k> (a PCA size of [pca] sizes) or embedding (the full representation)"},
    {"similar.metric", ZM_PT_CHOICE, "euclidean", NOR, "euclidean|cosine", "", "distance (the paper: Euclidean)"},
    {"similar.method", ZM_PT_CHOICE, "exact", NOR, "exact|ivf", "",
     "exact: blocked sgemm over every row; ivf: the stored index of 'zoomorph index'"},
    {"similar.nprobe", ZM_PT_INT, "8", 1, 1e6, NULL, "", "ivf: lists probed per query (clamped to the number of lists)"},
    {"index.nlist", ZM_PT_INT, "1024", 1, 1e8, NULL, "", "inverted lists of the index (at most one per 8 vectors)"},
    {"index.iterations", ZM_PT_INT, "10", 1, 1000, NULL, "", "k-means iterations"},
    {"index.seed", ZM_PT_INT, "1", 0, 1e18, NULL, "", "k-means seeding"},
    {"similar.k", ZM_PT_INT, "10", 1, 10000, NULL, "", "neighbours per query"},
    {"similar.radius_arcsec", ZM_PT_REAL, "3", 0.001, 3600, NULL, "arcsec", "a position query takes the nearest galaxy within this"},
    {"similar.queries", ZM_PT_LIST, "", NOR, NULL, "",
     "queries when no --id/--ra/--queries flag is given (and for 'zoomorph run'): row ids, or one CSV file "
     "with columns id, or ra and dec; empty: run skips similar"},
    {"similar.output", ZM_PT_STR, "similar.csv", NOR, NULL, "", "CSV of neighbours"},
    {"similar.gallery_dir", ZM_PT_STR, ".", NOR, NULL, "", "directory for the PNG galleries (empty: none)"},
    {"anomaly.space", ZM_PT_STR, "coords_40", NOR, NULL, "", "coordinates used: coords_<k> of [pca] sizes (the paper: 40)"},
    {"anomaly.trees", ZM_PT_INT, "100", 1, 100000, NULL, "", "isolation-forest trees"},
    {"anomaly.samples", ZM_PT_INT, "256", 2, 1e7, NULL, "", "subsample per tree"},
    {"anomaly.seed", ZM_PT_INT, "1", 0, 1e18, NULL, "", "seed of the forest and of the evaluation"},
    {"anomaly.top_n", ZM_PT_INT, "100", 1, 1e9, NULL, "", "rows of the ranked CSV"},
    {"anomaly.output", ZM_PT_STR, "anomalies.csv", NOR, NULL, "", "ranked CSV of the most anomalous galaxies"},
    {"anomaly.evaluate", ZM_PT_STR, "", NOR, NULL, "",
     "interest file (ra, dec, score 0..5) replayed as the oracle of the active learning when no "
     "--evaluate flag is given (and by 'zoomorph run'); empty: no evaluation"},
    {"anomaly.budget", ZM_PT_INT, "200", 1, 1e7, NULL, "", "evaluation: labels the oracle gives (--budget)"},
    {"anomaly.interesting", ZM_PT_REAL, "4", 0, 5, NULL, "", "evaluation: a score at least this is interesting"},
    {"anomaly.eval_seeds", ZM_PT_INT, "3", 1, 1000, NULL, "", "evaluation: repeats with different random first batches"},
    {"catalogue.path", ZM_PT_STR, "zoomorph-catalogue.fits", NOR, NULL, "", "the FITS catalogue to write"},
    {"catalogue.overwrite", ZM_PT_BOOL, "false", NOR, NULL, "", "replace an existing catalogue"},
};
const zm_param_table zm_params_embed = {defs, (int)(sizeof defs / sizeof defs[0])};
