/*
 * trainer.h: data-parallel training of a zm_net over MPI ranks, shared by pretraining
 * on Galaxy Zoo votes and by fine-tuning.
 *
 * Each step takes a global batch of rows from the epoch's permutation (seeded by seed and
 * epoch) and cuts it into micro-batches of cfg.micro images; micro-batch j runs on rank
 * j % size. Batch-norm statistics are those of a micro-batch, so the result does not
 * depend on the number of ranks: the same global batch on 1 rank and on 2 ranks gives
 * the same weights up to float summation order. Gradients (mean over the global batch)
 * are summed with one MPI_Allreduce over the contiguous gradient buffer; every rank then
 * takes the same optimiser step. Running BN statistics are averaged over ranks after
 * each step (those of frozen blocks, below zm_net_set_trainable_from, do not change). Augmentation and dropout draw from RNG streams keyed by (seed, epoch, row)
 * and (seed, step, micro-batch), never by rank.
 *
 * A checkpoint (parameters, BN statistics, optimiser moments, counters, best weights) is
 * written at the end of every epoch (rank 0, atomically: write then rename); a run
 * started with resume continues from it and ends with the same weights as an
 * uninterrupted run. Early stopping on the validation loss (patience in epochs) restores
 * the best weights at the end.
 * The trainer knows no files of data: rows are read through the caller's load function.
 */
#ifndef ZOOMORPH_TRAINER_H
#define ZOOMORPH_TRAINER_H

#include "zoomorph/context.h"
#include "zoomorph/error.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_optim.h"

typedef struct {
    /* Fills n images (channels x size x size floats in [0, 1]) and targets (ntargets
     * floats each) for the given rows. Independent (no collective calls). */
    int (*load)(void *user, const long long *rows, int n, float *images, float *targets, zm_err *err);
    void *user;
    int channels, size, ntargets;
} zm_train_data;

typedef struct {
    /* Loss of n samples: returns their summed loss, writes dy = d(summed loss)/dy
     * (n x nout) and adds the per-part sums (e.g. per question) to parts[nparts]. */
    double (*fn)(void *user, const float *y, const float *t, int n, int nout, float *dy, double *parts);
    void *user;
    int nparts;
} zm_train_loss;

enum { ZM_NAN_STOP = 0, ZM_NAN_SKIP = 1 };

typedef struct {
    int epochs;            /* at most this many epochs */
    int patience;          /* early stopping: epochs without a better validation loss (0: off) */
    long long batch;       /* global batch size */
    int micro;             /* micro-batch (batch-norm group), <= the network's max_batch */
    int augment;           /* 1: random rotation, flips, crop; 0: central crop */
    zm_lr_schedule lr;
    float clip;            /* gradient clipping by global norm (0: off) */
    unsigned long long seed;
    const char *checkpoint;/* path or NULL */
    int resume;            /* continue from the checkpoint if it exists */
    int nan_policy;        /* ZM_NAN_STOP or ZM_NAN_SKIP */
    long max_steps;        /* stop after this many steps in all (0: no limit; for tests) */
    int verbose;           /* log every epoch on rank 0 */
    /* L2 penalty (l2 / 2) sum_i l2_mask[i] params[i]^2 added to each step's mean loss (its
     * gradient after the allreduce, so every rank adds the same); 0: none. l2_mask: 1 for
     * the penalised parameters (weights), 0 for the others (biases); NULL: all */
    double l2;
    const float *l2_mask;
    /* called by every rank after each optimiser step (steps counted from 1 over the whole
     * run); NULL: none. The pretrain stage injects faults there (ZM_FAULT_KILL). */
    void (*after_step)(void *user, long step);
    void *after_step_user;
    /* called by every rank after each epoch's checkpoint (NULL: none); the stages use it
     * for fault injection (zm_fault_point) */
    void (*on_epoch)(void *user, int epoch);
    void *on_epoch_user;
} zm_train_cfg;

typedef struct {
    int epochs_run, best_epoch, stopped_early;
    int interrupted;       /* stopped by SIGTERM/SIGUSR1: resume from the checkpoint */
    long steps, skipped_steps;
    double best_val;
    /* per epoch: train loss, val loss (per image), then nparts train, nparts val */
    double *history;
    int history_stride;
    double images_per_s;   /* training images per second (all ranks) */
    double step_seconds;   /* time in the training steps this call made (rank 0), ... */
    double allreduce_seconds; /* ... of it in the gradient MPI_Allreduce (waiting included) */
    double step_images_per_s; /* images/s of those steps alone (all ranks) */
    double allreduce_share;   /* allreduce_seconds / step_seconds */
    double seconds;
} zm_train_result;

/* Collective. train/val: global row ids (the same arrays on every rank). */
int zm_train_run(const zm_ctx *ctx, zm_net *net, zm_adam *opt, const zm_train_data *data,
                 const long long *train, long ntrain, const long long *val, long nval,
                 const zm_train_loss *loss, const zm_train_cfg *cfg, zm_train_result *res,
                 zm_err *err);
void zm_train_result_free(zm_train_result *r);

/* Collective. Mean loss per image (and per part, into parts if not NULL) over rows in
 * EVAL mode with the central crop. */
int zm_train_evaluate(const zm_ctx *ctx, zm_net *net, const zm_train_data *data,
                      const long long *rows, long n, const zm_train_loss *loss, int micro,
                      double *mean_loss, double *parts, zm_err *err);

#endif
