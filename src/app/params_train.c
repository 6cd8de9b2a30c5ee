/* params_train.c: [model] (the network) and [train] (pretraining and the shared trainer). */
#include "params_groups.h"

#define NOR 1, 0

static const zm_param_def defs[] = {
    {"model.arch", ZM_PT_CHOICE, "zoonet", NOR, "zoonet|efficientnet_b0|resnet18", "",
     "network: zoonet (small, for 2-core runs), efficientnet_b0 (Zoobot's), resnet18"},
    {"model.input_size", ZM_PT_INT, "64", 32, 1024, NULL, "pixels",
     "network input (a crop of the stamps; Zoobot: 224 from 300)"},
    {"model.weights", ZM_PT_STR, "", NOR, NULL, "",
     "initial weights (a zoomorph weight file); empty: random initialisation"},
    {"model.dropout", ZM_PT_REAL, "0.2", 0, 0.95, NULL, "", "dropout before the head (Zoobot: 0.2)"},
    {"model.output", ZM_PT_STR, "pretrained.h5", NOR, NULL, "", "where pretrain writes the trained weights"},
    {"model.check_field", ZM_PT_BOOL, "true", NOR, NULL, "",
     "refuse to run a model on stamps cut with another field rule than its training stamps' (weight attribute "
     "stamp_field; false: a warning)"},

    {"train.epochs", ZM_PT_INT, "20", 1, 100000, NULL, "", "most epochs"},
    {"train.patience", ZM_PT_INT, "10", 0, 100000, NULL, "epochs",
     "early stopping: epochs without a better validation loss (0: off)"},
    {"train.batch", ZM_PT_INT, "128", 1, 1e7, NULL, "images", "global batch (over all ranks)"},
    {"train.micro_batch", ZM_PT_INT, "16", 1, 4096, NULL, "images",
     "micro-batch: the batch-norm group, the same on any number of ranks"},
    {"train.optimizer", ZM_PT_CHOICE, "adam", NOR, "adam|adamw", "", "Adam (Zoobot's pretraining) or AdamW"},
    {"train.lr", ZM_PT_REAL, "1e-3", 0, 10, NULL, "", "peak learning rate"},
    {"train.schedule", ZM_PT_CHOICE, "constant", NOR, "constant|cosine|step", "", "learning-rate schedule"},
    {"train.warmup_steps", ZM_PT_INT, "0", 0, 1e9, NULL, "steps", "linear warm-up"},
    {"train.weight_decay", ZM_PT_REAL, "0", 0, 10, NULL, "", "L2 (adam) or decoupled (adamw) weight decay"},
    {"train.clip", ZM_PT_REAL, "0", 0, 1e6, NULL, "", "gradient clipping by global norm (0: off)"},
    {"train.augment", ZM_PT_BOOL, "true", NOR, NULL, "", "random rotation, flips and crop (validation: central crop)"},
    {"train.val_fraction", ZM_PT_REAL, "0.1", 0, 0.9, NULL, "", "fraction of bricks for validation"},
    {"train.test_fraction", ZM_PT_REAL, "0.1", 0, 0.9, NULL, "", "fraction of bricks held out for testing"},
    {"train.seed", ZM_PT_INT, "1", 0, 1e18, NULL, "", "seed of shuffling, augmentation, dropout and initialisation"},
    {"train.checkpoint", ZM_PT_STR, "", NOR, NULL, "",
     "checkpoint file written every epoch (empty: <model.output>.ckpt)"},
    {"train.resume", ZM_PT_BOOL, "true", NOR, NULL, "", "continue from the checkpoint when it exists"},
    {"train.on_nan", ZM_PT_CHOICE, "stop", NOR, "stop|skip", "",
     "a NaN or inf in the forward pass: stop with the layer's name, or skip the step"},
    {"train.max_steps", ZM_PT_INT, "0", 0, 1e12, NULL, "steps", "stop after this many steps (0: no limit)"},
};
const zm_param_table zm_params_train = {defs, (int)(sizeof defs / sizeof defs[0])};
