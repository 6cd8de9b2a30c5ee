/*
 * nn_optim.h: Adam / AdamW over one contiguous parameter buffer, gradient clipping by
 * global norm, learning-rate schedules, per-block learning-rate multipliers.
 *
 *   zm_adam opt;
 *   zm_adam_init(&opt, ZM_OPT_ADAMW, net->n_params, 0.9f, 0.999f, 1e-8f, 0.05f);
 *   zm_adam_set_blocks(&opt, net->n_blocks, net->block_off, NULL);   // optional
 *   zm_lr_schedule s = {ZM_LR_COSINE, 1e-3, .warmup = 100, .total = 10000};
 *   ... forward/backward, allreduce grads ...
 *   zm_grad_clip(net->grads, net->n_params, 1.0f);
 *   zm_adam_step(&opt, net->params, net->grads, (float)zm_lr_at(&s, step));
 *
 * The update is PyTorch's (torch.optim.Adam: L2 weight decay added to the gradient;
 * torch.optim.AdamW: decoupled decay p *= 1 - lr*wd), with lr scaled per block.
 * The two moment buffers are allocated once in zm_adam_init.
 */
#ifndef ZOOMORPH_NN_OPTIM_H
#define ZOOMORPH_NN_OPTIM_H

#include <stddef.h>

typedef enum { ZM_OPT_ADAM = 0, ZM_OPT_ADAMW = 1 } zm_opt_kind;

typedef struct {
    zm_opt_kind kind;
    float beta1, beta2, eps, weight_decay;
    float *m, *v; /* first and second moments, n each */
    size_t n;
    long t;       /* steps taken */
    int n_groups; /* per-block lr multipliers: group g = [off[g], off[g+1]) */
    size_t *group_off;
    float *group_mult;
} zm_adam;

void zm_adam_init(zm_adam *o, zm_opt_kind kind, size_t n, float beta1, float beta2, float eps,
                  float weight_decay);
void zm_adam_free(zm_adam *o);
/* Learning-rate multiplier per block (off: n_blocks+1 offsets as zm_net.block_off); mult
 * NULL = all 1. A multiplier of 0 freezes the block (no update, no decay). */
void zm_adam_set_blocks(zm_adam *o, int n_blocks, const size_t *off, const float *mult);
/* Multipliers for fine-tuning: the last `top` blocks train, each one deeper (towards the
 * input) gets `decay` times the one above it (Zoobot: 0.75); blocks below get 0. */
void zm_adam_layer_decay(zm_adam *o, int top, float decay);
void zm_adam_step(zm_adam *o, float *params, const float *grads, float lr);

/* Scales grads so their global L2 norm is at most max_norm (as torch clip_grad_norm_);
 * returns the norm before clipping. max_norm <= 0: only measures. */
float zm_grad_clip(float *grads, size_t n, float max_norm);

typedef enum { ZM_LR_CONSTANT = 0, ZM_LR_STEP = 1, ZM_LR_COSINE = 2 } zm_lr_kind;

typedef struct {
    zm_lr_kind kind;
    double base;    /* peak learning rate */
    long warmup;    /* linear warm-up steps from base/warmup to base (any kind) */
    long total;     /* cosine: steps to reach min_lr */
    long step_size; /* step: multiply by gamma every step_size steps */
    double gamma;
    double min_lr;
} zm_lr_schedule;

/* Learning rate for step (0-based). */
double zm_lr_at(const zm_lr_schedule *s, long step);

#endif
