/* params_embed.c: [embed] (representations and vote predictions) and [pca]. */
#include "params_groups.h"

#define NOR 1, 0

static const zm_param_def defs[] = {
    {"embed.weights", ZM_PT_STR, "", NOR, NULL, "",
     "weight file of the encoder (empty: [model] output, the pretrained model)"},
    {"embed.batch", ZM_PT_INT, "32", 1, 4096, NULL, "images", "images per forward pass (and per collective write)"},
    {"embed.mc_passes", ZM_PT_INT, "0", 0, 1000, NULL, "",
     "Monte-Carlo dropout passes (Zoobot: 5); 0: one deterministic pass. With passes, the vote "
     "fractions are the mean over passes (and views) and their standard deviation is stored"},
    {"embed.views", ZM_PT_CHOICE, "1", NOR, "1|2|4|8", "",
     "test-time views of each stamp averaged into its representation and vote fractions: 1 the stamp alone; 2 it "
     "and its mirror; 4 its quarter turns; 8 those and their mirrors (time x views). Query images of similar and "
     "finetune's image-mode predictions use the store's views"},
    {"embed.view_angle", ZM_PT_CHOICE, "0", NOR, "0|45", "deg",
     "every view turned a further this many degrees: 0 keeps pixels on pixels; 45 interpolates each view "
     "bilinearly, as training's rotations do (the 8 views stay closed under quarter turns and mirrors). Recorded "
     "on the store and used by similar and finetune like views"},
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
    {"similar.eval_min_tagged", ZM_PT_INT, "10", 1, 1e9, NULL, "galaxies",
     "--evaluate-tags: a tag is scored when at least this many galaxies carry it"},
    {"similar.eval_split", ZM_PT_CHOICE, "all", NOR, "all|train|validation|test", "",
     "--evaluate-tags: queries and neighbours only among galaxies of this split (/labels/split of 'votes')"},
    {"similar.eval_output", ZM_PT_STR, "similar-eval", NOR, NULL, "",
     "--evaluate-tags: the table goes to <this>.csv and <this>.md"},
    {"similar.eval_baseline", ZM_PT_BOOL, "true", NOR, NULL, "",
     "--evaluate-tags: also score a no-learning baseline (PCA of the raw stamp pixels)"},
    {"similar.baseline_pixels", ZM_PT_INT, "24", 4, 4096, NULL, "pixels",
     "baseline: stamps are averaged in square blocks down to at most this many pixels a side before the PCA"},
    {"anomaly.space", ZM_PT_STR, "coords_40", NOR, NULL, "", "coordinates used: coords_<k> of [pca] sizes (the paper: 40)"},
    {"anomaly.trees", ZM_PT_INT, "100", 1, 100000, NULL, "", "isolation-forest trees"},
    {"anomaly.samples", ZM_PT_INT, "256", 2, 1e7, NULL, "", "subsample per tree"},
    {"anomaly.seed", ZM_PT_INT, "1", 0, 1e18, NULL, "", "seed of the forest and of the evaluation"},
    {"anomaly.top_n", ZM_PT_INT, "100", 1, 1e9, NULL, "", "rows of the ranked CSV"},
    {"anomaly.output", ZM_PT_STR, "anomalies.csv", NOR, NULL, "",
     "ranked CSV of the top galaxies: by the isolation forest, or with labels in the store by [anomaly] method"},
    {"anomaly.gallery", ZM_PT_STR, "anomalies.png", NOR, NULL, "", "PNG gallery of the top of the ranking (empty: none)"},
    {"anomaly.gallery_n", ZM_PT_INT, "50", 0, 10000, NULL, "", "galaxies in that gallery"},
    {"anomaly.method", ZM_PT_CHOICE, "gp", NOR, "gp|neighbour", "",
     "ranking with labels and choice of the next batch: gp (the paper: GP mean, expected improvement) or neighbour "
     "(Astronomaly: the isolation-forest score re-weighted by the GP-predicted interest; the next batch is its top)"},
    {"anomaly.next", ZM_PT_STR, "anomaly-next.csv", NOR, NULL, "",
     "--next / --labels: the next batch to label (id, ra, dec, empty score); its gallery beside it as .png"},
    {"anomaly.batch", ZM_PT_INT, "10", 1, 100000, NULL, "", "galaxies per batch to label (the paper: 10)"},
    {"anomaly.restarts", ZM_PT_INT, "0", 0, 50, NULL, "",
     "extra starting points of the GP hyperparameter search (the previous fit is always one) at each refit"},
    {"anomaly.trade_off", ZM_PT_REAL, "0.5", 0, 100, NULL, "", "expected improvement's exploration trade-off xi (the paper: 0.5)"},
    {"anomaly.match_arcsec", ZM_PT_REAL, "1", 0.001, 3600, NULL, "arcsec",
     "a label or oracle row given by ra, dec takes the nearest galaxy within this"},
    {"anomaly.evaluate", ZM_PT_STR, "", NOR, NULL, "",
     "interest file (ra, dec, score 0..5) replayed as the oracle of the active learning when no "
     "--evaluate flag is given (and by 'zoomorph run'); empty: no evaluation"},
    {"anomaly.budget", ZM_PT_INT, "200", 1, 1e7, NULL, "", "evaluation: labels the oracle gives (--budget)"},
    {"anomaly.interesting", ZM_PT_REAL, "4", 0, 5, NULL, "", "evaluation: a score at least this is interesting"},
    {"anomaly.eval_seeds", ZM_PT_INT, "3", 1, 1000, NULL, "",
     "evaluation: repeats with different forests and random first batches (mean and spread reported)"},
    {"anomaly.eval_plot", ZM_PT_STR, "anomaly-eval.png", NOR, NULL, "",
     "evaluation: PNG of the top-100 fraction against labels used (empty: none)"},
    {"anomaly.eval_output", ZM_PT_STR, "anomaly-eval", NOR, NULL, "",
     "evaluation: every seed's figures and final GP kernel to <this>.csv, the galaxies each seed labelled to "
     "<this>-labels.csv (tests/reference/anomaly_eval_ref.py replay checks them; empty: none)"},
    {"catalogue.path", ZM_PT_STR, "zoomorph-catalogue.fits", NOR, NULL, "", "the FITS catalogue to write"},
    {"catalogue.overwrite", ZM_PT_BOOL, "false", NOR, NULL, "", "replace an existing catalogue"},
};
const zm_param_table zm_params_embed = {defs, (int)(sizeof defs / sizeof defs[0])};
