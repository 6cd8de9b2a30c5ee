/* params_finetune.c: [finetune]: teaching the pretrained encoder a new label from a few
 * labelled galaxies (`zoomorph finetune`, `zoomorph finetune --learning-curve`). The
 * shared trainer's [train] micro_batch, seed, clip, on_nan, resume and max_steps apply. */
#include "params_groups.h"

#define NOR 1, 0

static const zm_param_def defs[] = {
    {"finetune.labels", ZM_PT_STR, NULL, NOR, NULL, "",
     "label table (CSV or FITS): an id or ra/dec column and a label column (optional split column: "
     "train/validation/test)"},
    {"finetune.match", ZM_PT_CHOICE, "sky", NOR, "sky|id", "", "match labels to galaxies by ra/dec or by store id"},
    {"finetune.id_column", ZM_PT_STR, "id", NOR, NULL, "", "id matching: the column with store ids"},
    {"finetune.label_column", ZM_PT_STR, "label", NOR, NULL, "", "the column with the labels"},
    {"finetune.radius_arcsec", ZM_PT_REAL, "1", 0.001, 3600, NULL, "arcsec", "sky matching radius"},
    {"finetune.task", ZM_PT_STR, "task", NOR, NULL, "", "name of the task: results go to /finetune/<task>"},
    {"finetune.kind", ZM_PT_CHOICE, "binary", NOR, "binary|multiclass|regression|tree", "",
     "binary (labels 0/1), multiclass (labels 0..K-1), regression (any number) or tree (Galaxy Zoo-style vote "
     "counts, one column <question>_<answer> per answer of [finetune] tree; Dirichlet-multinomial loss)"},
    {"finetune.tree", ZM_PT_STR, "", NOR, NULL, "",
     "kind = tree: the decision tree (a file in the format of config/trees/gz2.tree, or decals for the built-in "
     "GZ DECaLS tree)"},
    {"finetune.mode", ZM_PT_CHOICE, "frozen", NOR, "frozen|top|all", "",
     "frozen: a head on the stored representations (no image passes); top: the top blocks unfrozen; all: "
     "every block"},
    {"finetune.top_blocks", ZM_PT_INT, "2", 1, 1000, NULL, "blocks", "mode top: blocks unfrozen below the head"},
    {"finetune.layer_decay", ZM_PT_REAL, "0.75", 0, 1, NULL, "", "learning rate factor per block deeper (Zoobot: 0.75)"},
    {"finetune.head", ZM_PT_CHOICE, "auto", NOR, "auto|mlp|linear", "",
     "mlp: Dense(h)-ReLU-Dropout-Dense(h)-ReLU-Dropout-Dense (DESIGN.md); linear: Dropout-Dense; auto: linear for "
     "a classifier (binary, multiclass) in frozen mode (and the learning curve's frozen runs), mlp otherwise"},
    {"finetune.head_hidden", ZM_PT_INT, "64", 1, 65536, NULL, "", "width of the mlp head's hidden layers"},
    {"finetune.dropout", ZM_PT_REAL, "0.2", 0, 0.95, NULL, "", "dropout in the head"},
    {"finetune.encoder", ZM_PT_STR, "", NOR, NULL, "",
     "pretrained weights (empty: [embed] weights, else [model] output); frozen mode uses the store's "
     "/representation/embedding, which embed made with them"},
    {"finetune.output", ZM_PT_STR, "", NOR, NULL, "", "fine-tuned weight file (empty: <task>.h5)"},
    {"finetune.balance", ZM_PT_CHOICE, "weights", NOR, "weights|oversample|none", "",
     "class balancing: loss weights n/(K n_k), oversampling the rarer classes, or none"},
    {"finetune.val_fraction", ZM_PT_REAL, "0.2", 0.01, 0.9, NULL, "",
     "labelled galaxies for validation (early stopping) when the table has no split column"},
    {"finetune.min_val", ZM_PT_INT, "4", 1, 1e9, NULL, "labels", "fewest validation labels accepted"},
    {"finetune.epochs", ZM_PT_INT, "50", 1, 100000, NULL, "", "most epochs"},
    {"finetune.patience", ZM_PT_INT, "10", 0, 100000, NULL, "epochs", "early stopping on the validation loss (0: off)"},
    {"finetune.batch", ZM_PT_INT, "32", 1, 1e7, NULL, "galaxies", "global batch"},
    {"finetune.lr", ZM_PT_REAL, "1e-4", 0, 10, NULL, "",
     "AdamW learning rate of modes top and all (Zoobot: 1e-4; frozen heads: frozen_lr)"},
    {"finetune.weight_decay", ZM_PT_REAL, "0.05", 0, 10, NULL, "", "AdamW decoupled weight decay (Zoobot: 0.05)"},
    {"finetune.frozen_lr", ZM_PT_REAL, "1e-3", 0, 10, NULL, "",
     "frozen mode (and the learning curve's frozen runs): AdamW learning rate of the head on the standardised "
     "representation (lr is for the modes that pass images)"},
    {"finetune.frozen_min_steps", ZM_PT_INT, "500", 0, 1e9, NULL, "steps",
     "frozen mode: at least this many optimiser steps (epochs are raised to reach them: an epoch of fewer labels "
     "than batch is one step)"},
    {"finetune.head_l2", ZM_PT_REAL, "100", 0, 1e9, NULL, "",
     "frozen classifiers (binary, multiclass): L2 penalty of the linear head's weights, (head_l2 / 2n) |W|^2 added to the mean loss of n "
     "training labels (logistic regression's 1/C on the standardised representation; 0: none); each of the mlp "
     "head's three weight matrices gets a tenth of it"},
    {"finetune.stop_min_class", ZM_PT_INT, "10", 0, 1e9, NULL, "labels",
     "early stopping only when the validation labels hold at least this many of every class (classifiers); "
     "with fewer it is off (warned) and the last weights are kept"},
    {"finetune.lc_sizes", ZM_PT_LIST, "10,30,100,300,1000", NOR, NULL, "labels",
     "--learning-curve: training set sizes"},
    {"finetune.lc_seeds", ZM_PT_INT, "3", 1, 1000, NULL, "", "--learning-curve: seeds per size"},
    {"finetune.lc_methods", ZM_PT_LIST, "frozen,top,scratch", NOR, NULL, "",
     "--learning-curve: frozen (pretrained, head only), top (pretrained, top blocks), all (pretrained, every "
     "block), scratch (random initialisation)"},
    {"finetune.lc_steps", ZM_PT_INT, "200", 1, 1e9, NULL, "steps", "--learning-curve: optimiser steps per run"},
    {"finetune.lc_image_steps", ZM_PT_INT, "0", 0, 1e9, NULL, "steps",
     "--learning-curve: steps of runs that pass images (top, all, scratch; 0: lc_steps)"},
    {"finetune.lc_lr_images", ZM_PT_REAL, "1e-3", 0, 10, NULL, "",
     "--learning-curve: learning rate of runs that pass images (head; lower blocks decay)"},
    {"finetune.lc_out", ZM_PT_STR, "learning-curve", NOR, NULL, "",
     "--learning-curve: output prefix (<prefix>.md, .csv, .png)"},
};
const zm_param_table zm_params_finetune = {defs, (int)(sizeof defs / sizeof defs[0])};
