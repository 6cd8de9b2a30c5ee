/*
 * stage_pretrain.c: `zoomorph pretrain` trains a network on every Galaxy Zoo question at
 * once from the volunteers' vote counts (/labels/votes, written by `zoomorph votes`), with
 * the Dirichlet-multinomial loss, data-parallel over the ranks (src/train/trainer.c).
 * Galaxies are split into train / validation / test as the vote table's split column
 * says (/labels/split), or else by brick (a hash of the brick name, so the split depends
 * on nothing else); test galaxies are never seen here.
 * Writes the weights ([model] output), /pretrain/history (per epoch: train and validation
 * loss, then per question), and the split of every galaxy in /pretrain/split.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/gzloss.h"
#include "zoomorph/log.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"
#include "zoomorph/nn_optim.h"
#include "zoomorph/plot.h"
#include "zoomorph/signals.h"
#include "zoomorph/trainer.h"

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2, SPLIT_NONE = 3 };

/* Which split a brick (or, without one, a galaxy id) belongs to: FNV-1a hash. */
static int split_of(const char *brick, long long id, double val_frac, double test_frac)
{
    uint64_t h = 1469598103934665603ULL;
    if (brick[0])
        for (const char *c = brick; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    else
        for (int k = 0; k < 8; k++) h = (h ^ (uint64_t)((id >> (8 * k)) & 0xff)) * 1099511628211ULL;
    double u = (double)(h >> 11) * 0x1.0p-53;
    return u < test_frac ? SPLIT_TEST : u < test_frac + val_frac ? SPLIT_VAL : SPLIT_TRAIN;
}

typedef struct {
    const zm_gz_schema *tree;
} loss_ctx;

static double dirichlet(void *user, const float *y, const float *t, int n, int nout, float *dy, double *parts)
{
    const loss_ctx *L = user;
    double total = 0, pq[64];
    for (int i = 0; i < n; i++) {
        total += zm_gz_dirichlet_loss(L->tree, y + (size_t)i * nout, t + (size_t)i * nout, dy + (size_t)i * nout, pq);
        for (int q = 0; q < L->tree->nquestions; q++) parts[q] += pq[q];
    }
    return total;
}

/* Fault injection for the kill tests: ZM_FAULT_KILL=pretrain:<step>[:<rank>]. */
static void fault_after_step(void *user, long step)
{
    zm_fault_point((const zm_ctx *)user, "pretrain", step);
}

static int run_pretrain(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "cutout", &s, err)) return ZM_EXIT_INPUT;
    if (!zm_store_stage_complete(s, "votes")) {
        zm_err_set(err, ZM_ESTATE, "store %s has no volunteer votes; run 'zoomorph votes' first (config key [labels] votes)",
                   zm_store_path(s));
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    zm_gz_schema tree;
    const char *treename = zm_param_str(p, "labels.tree");
    int rc = !strcmp(treename, "decals") ? zm_gz_schema_decals(&tree, err) : zm_gz_schema_load(&tree, treename, err);
    if (rc) {
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    unsigned long long N = 0;
    zm_store_nrows(s, ZM_F_GAL_ID.path, &N, err);
    unsigned long long vd[4] = {0};
    zm_store_shape(s, "/labels/votes", vd, err);
    if ((int)vd[1] != tree.nanswers) {
        zm_err_set(err, ZM_ECONFIG, "/labels/votes has %llu answers but the tree [labels] tree = %s has %d", vd[1],
                   treename, tree.nanswers);
        zm_gz_schema_free(&tree);
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    /* every rank reads the small per-galaxy columns and decides the split */
    size_t n = (size_t)(N ? N : 1);
    char(*brick)[ZM_NAME_LEN] = zm_calloc(n, sizeof *brick);
    unsigned *flags = zm_calloc(n, sizeof *flags);
    uint8_t *has = zm_calloc(n, 1), *split = zm_calloc(n, 1);
    zm_range all = {0, N};
    rc = zm_store_read(s, ZM_F_GAL_BRICK.path, ZM_DT_STR, ZM_NAME_LEN, &all, 1, brick, err);
    if (!rc) rc = zm_store_read(s, ZM_F_CUT_FLAGS.path, ZM_DT_U32, 0, &all, 1, flags, err);
    if (!rc) rc = zm_store_read(s, "/labels/has_votes", ZM_DT_U8, 0, &all, 1, has, err);
    uint8_t *given = NULL;
    if (!rc && zm_store_exists(s, "/labels/split")) {
        given = zm_malloc(n);
        rc = zm_store_read(s, "/labels/split", ZM_DT_U8, 0, &all, 1, given, err);
    }
    const double vf = zm_param_real(p, "train.val_fraction"), tf = zm_param_real(p, "train.test_fraction");
    long long *train = zm_malloc(n * sizeof *train), *val = zm_malloc(n * sizeof *val);
    long ntr = 0, nva = 0, nte = 0;
    zm_stamp_cache c = {0};
    c.rows = zm_malloc(n * sizeof *c.rows);
    for (unsigned long long i = 0; !rc && i < N; i++) {
        split[i] = given && given[i] < 3 ? given[i] : (uint8_t)split_of(brick[i], (long long)i, vf, tf);
        if (!has[i] || (flags[i] & ZM_CUT_REJECTED)) {
            if (split[i] == SPLIT_TEST) nte += has[i] != 0;
            split[i] = split[i] == SPLIT_TEST ? SPLIT_TEST : SPLIT_NONE;
            continue;
        }
        if (split[i] == SPLIT_TRAIN) train[ntr++] = (long long)i;
        else if (split[i] == SPLIT_VAL) val[nva++] = (long long)i;
        else {
            nte++;
            continue;
        }
        c.rows[c.n++] = (long long)i;
    }
    c.A = tree.nanswers;
    zm_info0("pretrain: %lld galaxies: %ld train, %ld validation, %ld test (held out), split %s", N, ntr, nva, nte,
             given ? "as the vote table's split column says" : "by brick");
    free(given);
    if (!rc && ntr == 0) rc = zm_err_set(err, ZM_EMISSING, "pretrain: no training galaxy has both a stamp and votes");
    if (!rc) rc = zm_stamp_cache_fill(s, &c, "/labels/votes", err);

    zm_net *net = NULL;
    zm_adam opt;
    memset(&opt, 0, sizeof opt);
    zm_train_result res;
    memset(&res, 0, sizeof res);
    if (!rc) {
        zm_net_config nc = zm_net_config_default(zm_param_str(p, "model.arch"));
        nc.in_ch = c.C;
        nc.in_size = (int)zm_param_int(p, "model.input_size");
        nc.n_out = tree.nanswers;
        nc.max_batch = (int)zm_param_int(p, "train.micro_batch");
        nc.dropout = (float)zm_param_real(p, "model.dropout");
        nc.seed = (uint64_t)zm_param_int(p, "train.seed");
        if (nc.in_size > c.S)
            rc = zm_err_set(err, ZM_ECONFIG, "config key [model] input_size = %d is larger than the stamps (%d px, "
                            "[cutout] size)", nc.in_size, c.S);
        if (!rc) rc = zm_net_create(&net, &nc, err);
        const char *w = zm_param_str(p, "model.weights");
        if (!rc && w && w[0]) rc = zm_net_load(net, w, ZM_LOAD_SKIP_HEAD, err);
    }
    if (!rc) {
        char *dump = zm_params_dump(p);
        zm_store_stage_begin(s, "pretrain", dump);
        free(dump);
        zm_adam_init(&opt, strcmp(zm_param_str(p, "train.optimizer"), "adamw") ? ZM_OPT_ADAM : ZM_OPT_ADAMW,
                     net->n_params, 0.9f, 0.999f, 1e-7f, (float)zm_param_real(p, "train.weight_decay"));
        zm_train_cfg tc;
        memset(&tc, 0, sizeof tc);
        tc.epochs = (int)zm_param_int(p, "train.epochs");
        tc.patience = (int)zm_param_int(p, "train.patience");
        tc.batch = zm_param_int(p, "train.batch");
        tc.micro = (int)zm_param_int(p, "train.micro_batch");
        tc.augment = zm_param_bool(p, "train.augment");
        const char *sch = zm_param_str(p, "train.schedule");
        long steps_total = (long)(tc.epochs * (ntr / (tc.batch < ntr ? tc.batch : ntr)));
        tc.lr = (zm_lr_schedule){!strcmp(sch, "cosine") ? ZM_LR_COSINE : !strcmp(sch, "step") ? ZM_LR_STEP : ZM_LR_CONSTANT,
                                 zm_param_real(p, "train.lr"), (long)zm_param_int(p, "train.warmup_steps"),
                                 steps_total, steps_total / 3 + 1, 0.1, 0.0};
        tc.clip = (float)zm_param_real(p, "train.clip");
        tc.seed = (unsigned long long)zm_param_int(p, "train.seed");
        char ckpt[4200];
        const char *ck = zm_param_str(p, "train.checkpoint");
        if (ck && ck[0]) snprintf(ckpt, sizeof ckpt, "%s", ck);
        else snprintf(ckpt, sizeof ckpt, "%s.ckpt", zm_param_str(p, "model.output"));
        tc.checkpoint = ckpt;
        tc.resume = zm_param_bool(p, "train.resume");
        tc.nan_policy = strcmp(zm_param_str(p, "train.on_nan"), "skip") ? ZM_NAN_STOP : ZM_NAN_SKIP;
        tc.max_steps = (long)zm_param_int(p, "train.max_steps");
        tc.verbose = 1;
        tc.after_step = fault_after_step;
        tc.after_step_user = (void *)ctx;
        loss_ctx L = {&tree};
        zm_train_data d = {zm_stamp_cache_load, &c, c.C, c.S, tree.nanswers};
        zm_train_loss lf = {dirichlet, &L, tree.nquestions};
        rc = zm_train_run(ctx, net, &opt, &d, train, ntr, val, nva, &lf, &tc, &res, err);
    }
    int interrupted = !rc && res.interrupted;
    if (!rc && !interrupted) {
        zm_store_stamp_field(s, p, net->stamp_field, sizeof net->stamp_field); /* what the model was trained on */
        int wrc = ctx->rank == 0 ? zm_net_save(net, zm_param_str(p, "model.output"), err) : 0;
        ZM_CHECK_MPI(MPI_Bcast(&wrc, 1, MPI_INT, 0, ctx->comm));
        if (wrc && ctx->rank) zm_err_set(err, ZM_EIO, "writing %s failed on rank 0", zm_param_str(p, "model.output"));
        rc = wrc;
    }
    if (!rc && !interrupted) {
        int stride = res.history_stride;
        zm_field fh = {"/pretrain/history", ZM_DT_F64, 1, {(unsigned long long)stride}, 0, "nats per galaxy",
                       "per epoch: train loss, validation loss, train loss per question, validation loss per question"};
        zm_field fs = {"/pretrain/split", ZM_DT_U8, 0, {0}, 0, "", "0 train, 1 validation, 2 test (held out), 3 unused"};
        zm_range hr = {0, ctx->rank == 0 ? (unsigned long long)res.epochs_run : 0};
        rc = zm_store_define(s, &fh, (unsigned long long)res.epochs_run, 1, err);
        if (!rc) rc = zm_store_write(s, &fh, &hr, 1, res.history, err);
        zm_range sr = {0, ctx->rank == 0 ? N : 0};
        if (!rc) rc = zm_store_define(s, &fs, N, 1, err);
        if (!rc) rc = zm_store_write(s, &fs, &sr, 1, split, err);
        char summary[640];
        snprintf(summary, sizeof summary,
                 "%s on %ld train / %ld validation galaxies: %d epochs, best validation loss %.4f at epoch %d, %.1f "
                 "images/s on %d ranks (%.1f in the training steps alone, %.1f%% of their time in the gradient "
                 "allreduce); weights in %s",
                 net->arch, ntr, nva, res.epochs_run, res.best_val, res.best_epoch + 1, res.images_per_s, ctx->size,
                 res.step_images_per_s, 100 * res.allreduce_share,
                 zm_param_str(p, "model.output"));
        if (!rc) {
            char qs[2048] = "";
            for (int q = 0; q < tree.nquestions; q++) {
                strncat(qs, q ? "," : "", sizeof qs - strlen(qs) - 1);
                strncat(qs, tree.q[q].name, sizeof qs - strlen(qs) - 1);
            }
            zm_store_set_attr(s, fh.path, "questions", qs);
            zm_store_stage_end(s, "pretrain", summary);
            zm_info0("pretrain: %s", summary);
            if (ctx->rank == 0) {
                /* loss curves: train (blue) and validation (orange) per epoch */
                int ne = res.epochs_run;
                double *ep = zm_malloc((size_t)ne * sizeof *ep), *tr = zm_malloc((size_t)ne * sizeof *tr),
                       *va = zm_malloc((size_t)ne * sizeof *va);
                for (int e = 0; e < ne; e++) ep[e] = e + 1, tr[e] = res.history[e * stride], va[e] = res.history[e * stride + 1];
                zm_series ser[2] = {{ep, tr, ne, 0}, {ep, va, ne, 1}};
                char png[4200];
                snprintf(png, sizeof png, "%s.loss.png", zm_param_str(p, "model.output"));
                zm_err pe = {0};
                if (zm_plot_lines(png, 640, 400, ser, 2, 0, &pe)) zm_warn("pretrain: %s", pe.msg);
                else zm_info("pretrain: loss curves (train blue, validation orange) in %s", png);
                free(ep), free(tr), free(va);
            }
        }
    }
    zm_train_result_free(&res);
    zm_adam_free(&opt);
    zm_net_free(net);
    free(brick), free(flags), free(has), free(split), free(train), free(val);
    zm_stamp_cache_free(&c);
    zm_gz_schema_free(&tree);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : interrupted ? ZM_EXIT_INTERRUPTED : 0;
}

const zm_stage zm_stage_pretrain = {
    "pretrain", "train the network on every Galaxy Zoo question from the vote counts (Dirichlet loss)", "",
    run_pretrain};
