/*
 * nn.h: CNN networks built by name, forward and backward over one contiguous parameter
 * buffer.
 *
 *   zm_net_config cfg = zm_net_config_default("efficientnet_b0");
 *   cfg.in_ch = 1; cfg.in_size = 224; cfg.n_out = 34; cfg.max_batch = 32;
 *   zm_net *net;
 *   if (zm_net_create(&net, &cfg, &err) < 0) ...          // unknown name, bad sizes
 *   zm_net_forward(net, x, n, ZM_MODE_TRAIN, &err);        // x: n*in_ch*in_size^2 floats
 *   const float *y = zm_net_output(net);                   // n * n_out
 *   const float *r = zm_net_repr(net);                     // n * repr_dim (pooled features)
 *   zm_net_zero_grad(net);
 *   zm_net_backward(net, dloss_dy, n);                     // grads accumulate in net->grads
 *   ... optimiser step (nn_optim.h) on net->params / net->grads ...
 *
 * Architectures: "efficientnet_b0" (torchvision's EfficientNet-B0 layer for layer, 1280-d
 * representation), "resnet18" (torchvision's, 512-d), "zoonet" (a small EfficientNet-style
 * net for 2-core demos, ~1 M parameters, 512-d). Tensor and layer names are the PyTorch
 * state-dict / module names of the torchvision models, so weights convert one to one.
 *
 * Memory: params, grads, Adam moments (in zm_adam) and BN running statistics are each one
 * allocation; activations of every layer for max_batch images are one arena (training
 * needs all of them). cfg.inference_only shares activation buffers between layers whose
 * lifetimes do not overlap (no backward then) and, in EVAL/MC mode, folds each batch
 * normalisation (and the activation after it, and a squeeze-excitation scale before a
 * 1x1 convolution) into the convolution. Nothing allocates after zm_net_create.
 *
 * Blocks: every op and parameter belongs to a block, numbered from the input: 0 = stem,
 * then one per residual/MBConv block, then the final conv (EfficientNet), the last block
 * is the head (dropout + linear). Blocks own contiguous parameter ranges
 * (zm_net_block_params), so freezing the lower blocks is a learning-rate multiplier of 0
 * and zm_net_set_trainable_from() stops backward early.
 *
 * Not here: losses (the caller supplies dL/dy), data, MPI (the caller allreduces grads).
 */
#ifndef ZOOMORPH_NN_H
#define ZOOMORPH_NN_H

#include <stddef.h>
#include <stdint.h>

#include "zoomorph/error.h"
#include "zoomorph/rng.h"

typedef enum {
    ZM_OP_CONV,     /* 2-D convolution, weight (O, C/G, K, K), optional bias */
    ZM_OP_BN,       /* batch normalisation, gamma/beta + running mean/var     */
    ZM_OP_RELU,
    ZM_OP_SILU,
    ZM_OP_SIGMOID,
    ZM_OP_GAP,      /* global average pool -> (C,1,1)                         */
    ZM_OP_MAXPOOL,
    ZM_OP_LINEAR,   /* on (I,1,1) -> (O,1,1); weight (O,I) or (O,I,1,1)      */
    ZM_OP_CHSCALE,  /* x (C,H,W) * s (C,1,1): squeeze-excitation's scaling    */
    ZM_OP_ADD,      /* residual add                                           */
    ZM_OP_DROPOUT,  /* element-wise dropout (on in TRAIN and MC modes)        */
    ZM_OP_DROPPATH  /* stochastic depth, one draw per sample (TRAIN only)     */
} zm_op_kind;

typedef enum {
    ZM_MODE_TRAIN = 0, /* batch statistics, dropout and stochastic depth on       */
    ZM_MODE_EVAL = 1,  /* running statistics, no dropout                          */
    ZM_MODE_MC = 2     /* running statistics, dropout kept on (Monte-Carlo dropout) */
} zm_mode;

/* An activation tensor: per-image shape (c, h, w); max_batch images at act + off. */
typedef struct {
    int c, h, w;
    size_t off;
    int block; /* block of the op that writes it; -1 for the input */
} zm_tensor;

typedef struct {
    zm_op_kind kind;
    char name[80]; /* PyTorch module path, e.g. "features.2.1.block.1.0" */
    int block;
    int in0, in1, out; /* tensor ids (in1 only for ADD / CHSCALE) */
    int k, s, d, g;    /* kernel, stride, padding, groups */
    float p;           /* dropout / drop-path probability */
    float eps, momentum;
    long w, b;         /* offsets into params (weight/gamma, bias/beta) or -1 */
    long rm, rv;       /* offsets into state (running mean/var) or -1 */
    size_t save;       /* offset into the save arena (BN stats, dropout masks) */
} zm_op;

/* A named parameter or state tensor (PyTorch state-dict name and shape). */
typedef struct {
    char name[96];
    int ndim;
    int shape[4];
    size_t off, count;
    int block;
    int is_state; /* 1: lives in net->state (running statistics), not trained */
} zm_param;

#define ZM_STAMP_FIELD_LEN 160

typedef struct {
    const char *arch;   /* "efficientnet_b0", "resnet18", "zoonet" */
    int in_ch;          /* 1 or 3 */
    int in_size;        /* square input, >= 32 */
    int n_out;          /* head outputs (34 for the GZ DECaLS tree) */
    int max_batch;
    float dropout;      /* before the head linear (0.2 in Zoobot) */
    float drop_path;    /* stochastic depth rate of the last block (0.2 torchvision) */
    int inference_only; /* share activation memory; zm_net_backward aborts */
    int head_hidden;    /* 0: the head is dropout + linear; > 0: DESIGN.md's fine-tuning head
                         * Linear(h)-ReLU-Dropout-Linear(h)-ReLU-Dropout-Linear(n_out)
                         * (modules head.0 .. head.6) */
    int head_only;      /* 1: only the head block, on the representation as a (D, 1, 1)
                         * input (zm_net_create sets in_ch = D, in_size = 1): trains a head on
                         * stored representations; parameter names are the full net's */
    uint64_t seed;      /* parameter init and dropout masks */
} zm_net_config;

typedef struct {
    zm_net_config cfg;
    char arch[32];
    zm_op *ops;
    int n_ops;
    zm_tensor *t;
    int n_tensors;
    zm_param *pinfo; /* every parameter then state tensor, in state-dict order */
    int n_pinfo;
    int n_blocks;
    size_t *block_off; /* n_blocks + 1: params of block b are [block_off[b], block_off[b+1]) */
    int input, repr, output; /* tensor ids */
    float *params, *grads;
    size_t n_params;
    float *state;
    size_t n_state;
    float *act, *dact; /* activations and their gradients (dact NULL if inference_only) */
    size_t n_act;
    float *save;
    size_t n_save;
    float *work;
    size_t n_work;
    int train_from;   /* backward skips blocks below this (0 = all) */
    size_t frozen_state; /* floats of state below train_from (zm_net_frozen_state) */
    int check_finite; /* forward checks every layer's output (default 1) */
    int last_mode;    /* mode of the last forward (backward follows it) */
    int last_n;       /* batch of the last forward */
    int mc_first;     /* first op that is random in ZM_MODE_MC (a dropout); n_ops if none */
    double *prof;     /* NULL, or n_ops seconds that forward/backward add each op's time to */
    int prof_cpu;     /* prof counts the process's CPU time (all threads), not wall time */
    int *readers;     /* per tensor: how many ops read it */
    float *fold;      /* inference: folded BN scale and shift of one layer */
    zm_rng rng;
    char stamp_field[ZM_STAMP_FIELD_LEN]; /* the field rule of the stamps it was trained on
                                           * (zm_stamp_field_text; "" unknown): saved as the
                                           * weight file's attribute stamp_field */
} zm_net;

/* Defaults for an architecture name (in_ch 1, in_size 224, n_out 34, max_batch 32,
 * dropout 0.2, drop_path 0.2 for EfficientNets / 0 for resnet18, seed 1). */
zm_net_config zm_net_config_default(const char *arch);
/* Builds and initialises (kaiming normal, as torchvision). ZM_ECONFIG for an unknown
 * name or bad sizes, with the message in err. */
int zm_net_create(zm_net **out, const zm_net_config *cfg, zm_err *err);
void zm_net_free(zm_net *net);

/* x: n * in_ch * in_size * in_size floats (NCHW), n <= max_batch. Returns 0, or
 * ZM_EVALUE when check_finite is on and a layer produced NaN/inf: err names the first
 * such layer and the rest of the forward pass is not run (skip the step or stop). */
int zm_net_forward(zm_net *net, const float *x, int n, zm_mode mode, zm_err *err);
/* Another Monte-Carlo dropout pass over the same input, after a zm_net_forward in
 * ZM_MODE_MC: only the ops from the first dropout (mc_first) run again; the ones before
 * it are deterministic in that mode and their outputs are kept (the activation plan of
 * inference_only networks keeps what the rerun reads). In EfficientNets the dropout is
 * before the head, so a pass costs a head, not a network. Same return as forward. */
int zm_net_forward_mc_again(zm_net *net, zm_err *err);
const float *zm_net_output(const zm_net *net); /* n * n_out, after forward */
const float *zm_net_repr(const zm_net *net);   /* n * repr_dim, after forward */
int zm_net_repr_dim(const zm_net *net);
/* Accumulates into net->grads; dout: n * n_out = dL/d(output). After a forward of the
 * same n (TRAIN, or EVAL/MC for fine-tuning with frozen batch statistics). */
void zm_net_backward(zm_net *net, const float *dout, int n);
void zm_net_zero_grad(zm_net *net);
/* First op (in order) whose output over n images holds a NaN/inf; -1 if none. */
int zm_net_find_nonfinite(const zm_net *net, int n);

/* Blocks: count, and the parameter range [*off, *off + *count) of block b. */
int zm_net_block_params(const zm_net *net, int b, size_t *off, size_t *count);
/* Backward stops below block b (lower blocks frozen; their grads stay zero). Frozen
 * blocks also run in inference mode in ZM_MODE_TRAIN, as Keras/Zoobot freeze layers:
 * their batch norms normalise with the running statistics and do not update them. */
void zm_net_set_trainable_from(zm_net *net, int b);
/* Floats at the start of net->state that belong to the frozen blocks (below
 * train_from): the running statistics a training step leaves alone. 0 when none. */
size_t zm_net_frozen_state(const zm_net *net);
/* A parameter/state tensor by state-dict name, or NULL. */
const zm_param *zm_net_param(const zm_net *net, const char *name);
float *zm_net_param_data(zm_net *net, const zm_param *p);
/* Copies every parameter and state tensor of src that dst has under the same name and
 * shape (a head trained with head_only into the full network); returns how many. */
int zm_net_copy_matching(zm_net *dst, const zm_net *src);
/* Re-initialises the head (the last block) for fine-tuning a new task: each hidden linear
 * layer as PyTorch's nn.Linear (weight and bias uniform in +-1/sqrt(fan_in)), the output
 * layer zero, so that the head starts from constant predictions and its scores take
 * their orientation from the labels alone. (The torchvision init of zm_net_create, uniform
 * in +-1/sqrt(fan_out), gives a one-output layer weights of order 1: a random direction
 * that a head on fixed features barely moves from.) */
void zm_net_init_head(zm_net *net, uint64_t seed);
/* Folds a standardisation of the input into the first linear layer, for a head trained on
 * (x - mean) / sd of a head_only network's input (D values): afterwards it takes x.
 * Exact up to rounding when only element-wise identities at inference (dropout) come
 * before that layer. Returns 0, or -1 if the network has no linear layer on its input. */
int zm_net_fold_input_standardisation(zm_net *net, const double *mean, const double *sd);
/* Multiply-adds of one forward pass of one image (for GFLOP/s). */
double zm_net_flops(const zm_net *net);
/* Op output tensor data (for tests and debugging). */
float *zm_net_tensor(const zm_net *net, int t);

#endif
