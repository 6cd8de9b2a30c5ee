/* trainer.c: see trainer.h. */
#include "zoomorph/trainer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/augment.h"
#include "zoomorph/log.h"
#include "zoomorph/nn_file.h"
#include "zoomorph/signals.h"

#define CKPT_MAGIC "ZMCKPT01"
#define CKPT_VERSION 1u

typedef struct {
    char magic[8];
    uint32_t version;
    char arch[32];
    uint64_t n_params, n_state;
    int32_t in_ch, in_size, n_out, epoch_done;
    int64_t step, adam_t, skipped;
    double best_val;
    int32_t best_epoch, bad_epochs, history_rows, history_stride;
} ckpt_header;

/* Work buffers for one micro-batch. */
typedef struct {
    float *raw, *img, *tgt, *dy;
    long long *rows;
    double *parts;
} buffers;

static uint64_t mix(uint64_t a, uint64_t b) { return a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL + (a << 6) + (a >> 2)); }

/* Loads, augments (or centre-crops) n rows into b->img. */
static int prepare(const zm_train_data *d, const zm_net *net, int augment, uint64_t seed, int epoch,
                   const long long *rows, int n, buffers *b, zm_err *err)
{
    int rc = d->load(d->user, rows, n, b->raw, b->tgt, err);
    if (rc) return rc;
    const int C = d->channels, S = d->size, K = net->cfg.in_size;
    for (int i = 0; i < n; i++) {
        zm_aug a;
        if (augment) {
            zm_rng r;
            zm_rng_seed(&r, mix(seed, (uint64_t)epoch), (uint64_t)rows[i]);
            zm_aug_draw(&r, S, K, &a);
        } else {
            zm_aug_center(S, K, &a);
        }
        zm_aug_apply(b->raw + (size_t)i * C * S * S, C, S, K, &a, b->img + (size_t)i * C * K * K);
    }
    return 0;
}

static void shuffle(long long *v, long n, uint64_t seed, int epoch)
{
    zm_rng r;
    zm_rng_seed(&r, mix(seed, 0x5eed), (uint64_t)epoch);
    for (long i = n - 1; i > 0; i--) {
        long j = (long)zm_rng_below(&r, (uint64_t)i + 1);
        long long t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

int zm_train_evaluate(const zm_ctx *ctx, zm_net *net, const zm_train_data *data,
                      const long long *rows, long n, const zm_train_loss *loss, int micro,
                      double *mean_loss, double *parts, zm_err *err)
{
    const int C = data->channels, S = data->size, K = net->cfg.in_size, nout = net->cfg.n_out;
    buffers b;
    b.raw = zm_malloc((size_t)micro * C * S * S * sizeof(float));
    b.img = zm_malloc((size_t)micro * C * K * K * sizeof(float));
    b.tgt = zm_malloc((size_t)micro * data->ntargets * sizeof(float) + 1);
    b.dy = zm_malloc((size_t)micro * nout * sizeof(float));
    double *acc = zm_calloc((size_t)loss->nparts + 2, sizeof *acc); /* parts, total, failures */
    long lo = n * ctx->rank / ctx->size, hi = n * (ctx->rank + 1) / ctx->size;
    int rc = 0;
    for (long i = lo; i < hi && !rc; i += micro) {
        int m = (int)(hi - i < micro ? hi - i : micro);
        rc = prepare(data, net, 0, 0, 0, rows + i, m, &b, err);
        if (!rc) rc = zm_net_forward(net, b.img, m, ZM_MODE_EVAL, err);
        if (!rc) acc[loss->nparts] += loss->fn(loss->user, zm_net_output(net), b.tgt, m, nout, b.dy, acc);
    }
    acc[loss->nparts + 1] = rc ? 1 : 0;
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, acc, loss->nparts + 2, MPI_DOUBLE, MPI_SUM, ctx->comm));
    if (acc[loss->nparts + 1] > 0 && !rc) rc = zm_err_set(err, ZM_EVALUE, "evaluation failed on another rank");
    *mean_loss = n ? acc[loss->nparts] / (double)n : 0;
    if (parts)
        for (int q = 0; q < loss->nparts; q++) parts[q] = n ? acc[q] / (double)n : 0;
    free(b.raw), free(b.img), free(b.tgt), free(b.dy), free(acc);
    return rc;
}

/* ---- checkpoints ---------------------------------------------------------------- */

static int write_all(FILE *f, const void *p, size_t n, uint32_t *crc)
{
    *crc = zm_crc32(*crc, p, n);
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int save_checkpoint(const char *path, const zm_net *net, const zm_adam *opt, const float *best,
                           const ckpt_header *h, const double *history, zm_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return zm_err_set(err, ZM_EIO, "checkpoint %s: cannot write", tmp);
    uint32_t crc = 0;
    int bad = write_all(f, h, sizeof *h, &crc);
    bad |= write_all(f, net->params, net->n_params * sizeof(float), &crc);
    bad |= write_all(f, net->state, net->n_state * sizeof(float), &crc);
    bad |= write_all(f, opt->m, opt->n * sizeof(float), &crc);
    bad |= write_all(f, opt->v, opt->n * sizeof(float), &crc);
    bad |= write_all(f, best, net->n_params * sizeof(float), &crc);
    bad |= write_all(f, history, (size_t)h->history_rows * h->history_stride * sizeof(double), &crc);
    bad |= fwrite(&crc, sizeof crc, 1, f) != 1;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return zm_err_set(err, ZM_EIO, "checkpoint %s: write failed (disk full?)", path);
    }
    return 0;
}

static int read_all(FILE *f, void *p, size_t n, uint32_t *crc)
{
    if (fread(p, 1, n, f) != n) return -1;
    *crc = zm_crc32(*crc, p, n);
    return 0;
}

/* 1 if a checkpoint was loaded, 0 if none exists, negative on a bad one. */
static int load_checkpoint(const char *path, zm_net *net, zm_adam *opt, float *best, ckpt_header *h,
                           double **history, zm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint32_t crc = 0, want = 0;
    int rc = 0;
    if (read_all(f, h, sizeof *h, &crc) || memcmp(h->magic, CKPT_MAGIC, 8) != 0) {
        rc = zm_err_set(err, ZM_EFORMAT, "checkpoint %s: not a zoomorph checkpoint", path);
    } else if (h->version != CKPT_VERSION) {
        rc = zm_err_set(err, ZM_EFORMAT, "checkpoint %s: format version %u; this zoomorph reads %u", path,
                        h->version, CKPT_VERSION);
    } else if (strncmp(h->arch, net->arch, sizeof h->arch) || h->n_params != net->n_params ||
               h->n_state != net->n_state || h->in_ch != net->cfg.in_ch || h->in_size != net->cfg.in_size ||
               h->n_out != net->cfg.n_out) {
        rc = zm_err_set(err, ZM_EFORMAT,
                        "checkpoint %s is of another network (%s, %d channels, %d px, %d outputs, %llu "
                        "parameters); this run trains %s, %d channels, %d px, %d outputs, %zu parameters",
                        path, h->arch, h->in_ch, h->in_size, h->n_out, (unsigned long long)h->n_params,
                        net->arch, net->cfg.in_ch, net->cfg.in_size, net->cfg.n_out, net->n_params);
    } else {
        size_t hn = (size_t)h->history_rows * h->history_stride;
        *history = zm_realloc(*history, (hn ? hn : 1) * sizeof **history);
        if (read_all(f, net->params, net->n_params * sizeof(float), &crc) ||
            read_all(f, net->state, net->n_state * sizeof(float), &crc) ||
            read_all(f, opt->m, opt->n * sizeof(float), &crc) ||
            read_all(f, opt->v, opt->n * sizeof(float), &crc) ||
            read_all(f, best, net->n_params * sizeof(float), &crc) ||
            read_all(f, *history, hn * sizeof(double), &crc) || fread(&want, sizeof want, 1, f) != 1)
            rc = zm_err_set(err, ZM_EFORMAT, "checkpoint %s is truncated", path);
        else if (want != crc)
            rc = zm_err_set(err, ZM_EFORMAT, "checkpoint %s: checksum mismatch (corrupted)", path);
        else
            opt->t = h->adam_t;
    }
    fclose(f);
    return rc ? rc : 1;
}

/* ---- training ------------------------------------------------------------------- */

void zm_train_result_free(zm_train_result *r)
{
    free(r->history);
    r->history = NULL;
}

int zm_train_run(const zm_ctx *ctx, zm_net *net, zm_adam *opt, const zm_train_data *data,
                 const long long *train, long ntrain, const long long *val, long nval,
                 const zm_train_loss *loss, const zm_train_cfg *cfg, zm_train_result *res,
                 zm_err *err)
{
    memset(res, 0, sizeof *res);
    const int C = data->channels, S = data->size, K = net->cfg.in_size, nout = net->cfg.n_out;
    const int micro = cfg->micro, np = loss->nparts;
    if (C != net->cfg.in_ch)
        return zm_err_set(err, ZM_ECONFIG, "the stamps have %d channels but the network takes %d", C, net->cfg.in_ch);
    if (K > S)
        return zm_err_set(err, ZM_ECONFIG, "the network's input (%d px) is larger than the stamps (%d px)", K, S);
    if (micro < 1 || micro > net->cfg.max_batch)
        return zm_err_set(err, ZM_ECONFIG, "micro-batch %d: expected 1 to the network's max_batch %d", micro,
                          net->cfg.max_batch);
    if (ntrain < 1) return zm_err_set(err, ZM_EVALUE, "no training rows");
    const long long B = cfg->batch < ntrain ? cfg->batch : ntrain;
    const long steps_per_epoch = (long)(ntrain / B);
    const int stride = 2 + 2 * np;
    res->history_stride = stride;
    res->history = zm_calloc((size_t)(cfg->epochs ? cfg->epochs : 1) * stride, sizeof(double));
    buffers b;
    b.raw = zm_malloc((size_t)micro * C * S * S * sizeof(float));
    b.img = zm_malloc((size_t)micro * C * K * K * sizeof(float));
    b.tgt = zm_malloc((size_t)micro * data->ntargets * sizeof(float) + 1);
    b.dy = zm_malloc((size_t)micro * nout * sizeof(float));
    b.parts = zm_calloc((size_t)np + 4, sizeof(double));
    float *best = zm_malloc(net->n_params * sizeof(float));
    memcpy(best, net->params, net->n_params * sizeof(float));
    long long *perm = zm_malloc((size_t)ntrain * sizeof *perm);
    double *vparts = zm_calloc((size_t)np + 1, sizeof *vparts);
    float *state0 = zm_malloc((net->n_state ? net->n_state : 1) * sizeof(float));

    ckpt_header h;
    memset(&h, 0, sizeof h);
    int start_epoch = 0, bad_epochs = 0, rc = 0;
    long step = 0;
    res->best_val = INFINITY;
    res->best_epoch = -1;
    if (cfg->checkpoint && cfg->resume) {
        int lr_ = load_checkpoint(cfg->checkpoint, net, opt, best, &h, &res->history, err);
        if (zm_any(ctx, lr_ < 0)) {
            if (lr_ >= 0) zm_err_set(err, ZM_EFORMAT, "reading the checkpoint failed on another rank");
            rc = ZM_EFORMAT;
            goto done;
        }
        if (lr_ == 1) {
            start_epoch = h.epoch_done + 1;
            step = (long)h.step;
            res->skipped_steps = (long)h.skipped;
            res->best_val = h.best_val;
            res->best_epoch = h.best_epoch;
            bad_epochs = h.bad_epochs;
            if (cfg->epochs > h.history_rows) {
                res->history = zm_realloc(res->history, (size_t)cfg->epochs * stride * sizeof(double));
                memset(res->history + (size_t)h.history_rows * stride, 0,
                       (size_t)(cfg->epochs - h.history_rows) * stride * sizeof(double));
            }
            zm_log0(ZM_LOG_INFO, "train: resuming from %s after epoch %d (step %ld)", cfg->checkpoint,
                    h.epoch_done + 1, step);
            if (h.history_rows != cfg->epochs)
                zm_log0(ZM_LOG_WARN, "train: the checkpoint %s was written by a run of %d epochs and this run has "
                        "%d: the schedule (learning rate, early stopping) follows %d epochs from epoch %d on%s",
                        cfg->checkpoint, h.history_rows, cfg->epochs, cfg->epochs, h.epoch_done + 2,
                        h.epoch_done + 1 >= cfg->epochs ? " (none left to run)" : "");
        }
    }
    double t_start = zm_now(), images = 0;
    long timed_steps = 0; /* steps this call made (not those before a resume) */
    for (int epoch = start_epoch; epoch < cfg->epochs && !rc; epoch++) {
        double t0 = zm_now();
        memcpy(perm, train, (size_t)ntrain * sizeof *perm);
        shuffle(perm, ntrain, cfg->seed, epoch);
        double ep_loss = 0;
        double *ep_parts = res->history + (size_t)epoch * stride + 2;
        for (long s = 0; s < steps_per_epoch && !rc; s++) {
            if (cfg->max_steps && step >= cfg->max_steps) break;
            const long long *rows = perm + s * B;
            const double t_step = zm_now();
            const int nmb = (int)((B + micro - 1) / micro);
            zm_net_zero_grad(net);
            memset(b.parts, 0, ((size_t)np + 4) * sizeof(double));
            if (net->n_state) memcpy(state0, net->state, net->n_state * sizeof(float));
            char badlayer[ZM_ERR_MSG_LEN] = "";
            for (int j = ctx->rank; j < nmb; j += ctx->size) {
                int m = (int)(B - (long long)j * micro < micro ? B - (long long)j * micro : micro);
                zm_err e = {0};
                if ((rc = prepare(data, net, cfg->augment, cfg->seed, epoch, rows + (size_t)j * micro, m, &b, err)))
                    break;
                zm_rng_seed(&net->rng, mix(cfg->seed, (uint64_t)step), (uint64_t)j);
                if (zm_net_forward(net, b.img, m, ZM_MODE_TRAIN, &e)) {
                    b.parts[np + 1] = 1;
                    snprintf(badlayer, sizeof badlayer, "%s", e.msg);
                    break;
                }
                double l = loss->fn(loss->user, zm_net_output(net), b.tgt, m, nout, b.dy, b.parts);
                if (!isfinite(l)) {
                    b.parts[np + 1] = 1;
                    snprintf(badlayer, sizeof badlayer, "the loss is not finite");
                    break;
                }
                b.parts[np] += l;
                for (size_t i = 0; i < (size_t)m * nout; i++) b.dy[i] /= (float)B;
                zm_net_backward(net, b.dy, m);
            }
            b.parts[np + 2] = rc ? 1 : 0;
            b.parts[np + 3] = zm_signal_pending() ? 1 : 0;
            ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, b.parts, np + 4, MPI_DOUBLE, MPI_SUM, ctx->comm));
            if (b.parts[np + 3] > 0) {
                /* stop without this step: the last epoch's checkpoint is the resume point */
                res->interrupted = 1;
                zm_log0(ZM_LOG_INFO, "train: stopped by a signal in epoch %d; rerun to resume from the last "
                        "checkpoint", epoch + 1);
                break;
            }
            if (b.parts[np + 2] > 0) {
                if (!rc) rc = zm_err_set(err, ZM_EIO, "loading a batch failed on another rank");
                break;
            }
            if (b.parts[np + 1] > 0) {
                if (cfg->nan_policy == ZM_NAN_SKIP) {
                    zm_warn("train: epoch %d step %ld skipped: %s", epoch + 1, step,
                            badlayer[0] ? badlayer : "NaN or inf on another rank");
                    res->skipped_steps++;
                    step++;
                    /* undo the running statistics the skipped forward passes updated */
                    if (net->n_state) memcpy(net->state, state0, net->n_state * sizeof(float));
                    continue;
                }
                rc = zm_err_set(err, ZM_EVALUE, "train: epoch %d step %ld: %s (set [train] on_nan = skip to "
                                "skip such steps)", epoch + 1, step, badlayer[0] ? badlayer : "NaN or inf on another rank");
                break;
            }
            const double t_ar = zm_now();
            ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, net->grads, (int)net->n_params, MPI_FLOAT, MPI_SUM, ctx->comm));
            res->allreduce_seconds += zm_now() - t_ar;
            if (cfg->l2 > 0)
                for (size_t i = 0; i < net->n_params; i++)
                    net->grads[i] += (float)(cfg->l2 * (cfg->l2_mask ? cfg->l2_mask[i] : 1.0f)) * net->params[i];
            if (cfg->clip > 0) zm_grad_clip(net->grads, net->n_params, cfg->clip);
            zm_adam_step(opt, net->params, net->grads, (float)zm_lr_at(&cfg->lr, step));
            /* the frozen blocks' running statistics do not move (zm_net_set_trainable_from):
             * averaged only above them, so they stay bit for bit the same on any rank count */
            const size_t fs = zm_net_frozen_state(net);
            if (ctx->size > 1 && net->n_state > fs) {
                ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, net->state + fs, (int)(net->n_state - fs), MPI_FLOAT, MPI_SUM,
                                           ctx->comm));
                for (size_t i = fs; i < net->n_state; i++) net->state[i] /= (float)ctx->size;
            }
            ep_loss += b.parts[np];
            for (int q = 0; q < np; q++) ep_parts[q] += b.parts[q];
            images += (double)B;
            step++;
            if (cfg->after_step) cfg->after_step(cfg->after_step_user, step);
            res->step_seconds += zm_now() - t_step;
            timed_steps++;
        }
        if (rc || res->interrupted) break;
        long done_steps = steps_per_epoch;
        double *row = res->history + (size_t)epoch * stride;
        row[0] = ep_loss / (double)(done_steps * B);
        for (int q = 0; q < np; q++) ep_parts[q] /= (double)(done_steps * B);
        double vl = 0;
        if (nval > 0) {
            rc = zm_train_evaluate(ctx, net, data, val, nval, loss, micro, &vl, vparts, err);
            if (rc) break;
        } else {
            vl = row[0];
        }
        row[1] = vl;
        for (int q = 0; q < np; q++) row[2 + np + q] = vparts[q];
        res->epochs_run = epoch + 1;
        if (vl < res->best_val) {
            res->best_val = vl;
            res->best_epoch = epoch;
            bad_epochs = 0;
            memcpy(best, net->params, net->n_params * sizeof(float));
        } else {
            bad_epochs++;
        }
        double dt = zm_now() - t0;
        if (cfg->verbose)
            zm_log0(ZM_LOG_INFO, "train: epoch %d/%d  loss %.4f  val %.4f  %.1f images/s  %.1fs%s", epoch + 1,
                    cfg->epochs, row[0], vl, (double)(done_steps * B) / dt, dt,
                    res->best_epoch == epoch ? "  (best)" : "");
        if (cfg->checkpoint) {
            memset(&h, 0, sizeof h);
            memcpy(h.magic, CKPT_MAGIC, 8);
            h.version = CKPT_VERSION;
            snprintf(h.arch, sizeof h.arch, "%s", net->arch);
            h.n_params = net->n_params;
            h.n_state = net->n_state;
            h.in_ch = net->cfg.in_ch;
            h.in_size = net->cfg.in_size;
            h.n_out = net->cfg.n_out;
            h.epoch_done = epoch;
            h.step = step;
            h.adam_t = opt->t;
            h.skipped = res->skipped_steps;
            h.best_val = res->best_val;
            h.best_epoch = res->best_epoch;
            h.bad_epochs = bad_epochs;
            h.history_rows = cfg->epochs;
            h.history_stride = stride;
            int wrc = ctx->rank == 0 ? save_checkpoint(cfg->checkpoint, net, opt, best, &h, res->history, err) : 0;
            ZM_CHECK_MPI(MPI_Bcast(&wrc, 1, MPI_INT, 0, ctx->comm));
            if (wrc) {
                if (ctx->rank) zm_err_set(err, ZM_EIO, "checkpoint %s: write failed on rank 0", cfg->checkpoint);
                rc = wrc;
                break;
            }
        }
        if (cfg->on_epoch) cfg->on_epoch(cfg->on_epoch_user, epoch);
        if (cfg->patience > 0 && bad_epochs >= cfg->patience) {
            res->stopped_early = 1;
            zm_log0(ZM_LOG_INFO, "train: early stop after epoch %d (no better validation loss for %d epochs)",
                    epoch + 1, bad_epochs);
            break;
        }
        if (cfg->max_steps && step >= cfg->max_steps) break;
    }
    res->steps = step;
    res->seconds = zm_now() - t_start;
    res->images_per_s = res->seconds > 0 ? images / res->seconds : 0;
    if (res->step_seconds > 0) {
        res->step_images_per_s = (double)timed_steps * (double)B / res->step_seconds;
        res->allreduce_share = res->allreduce_seconds / res->step_seconds;
    }
    if (!rc && res->best_epoch >= 0 && nval > 0 && cfg->patience > 0)
        memcpy(net->params, best, net->n_params * sizeof(float));
done:
    free(b.raw), free(b.img), free(b.tgt), free(b.dy), free(b.parts), free(best), free(perm), free(vparts);
    free(state0);
    return rc;
}
