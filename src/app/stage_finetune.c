/*
 * stage_finetune.c: `zoomorph finetune` teaches the pretrained encoder a new label (rings,
 * say) from a few labelled galaxies, as Zoobot's fine-tuning does, data-parallel over the
 * ranks with the shared trainer (src/train/trainer.c: gradients summed by one
 * MPI_Allreduce, checkpoints, exact resume, early stopping on a validation split).
 *
 * Labels ([finetune] labels: id or ra/dec, label, optional split) are matched to store
 * rows as votes are; bad labels (not a number, not a class) are rejected with their line,
 * unmatched ones listed, both in /rejects. Modes: frozen (a head on the stored
 * /representation/embedding: no image passes), top (the top N blocks unfrozen, the
 * learning rate x layer_decay per block deeper), all. Every galaxy of the store gets a
 * prediction in /finetune/<task>/prediction (written collectively); the fine-tuned model
 * goes to a weight file.
 *
 * `zoomorph finetune --learning-curve labels.csv` is the paper's evaluation: for training
 * sets of lc_sizes labels (balanced, lc_seeds draws each) it trains from the pretrained
 * encoder (frozen, top) and from random initialisation (scratch), and reports accuracy
 * and ROC AUC on the labels of the test split (balanced) as a table and a plot.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stage_common.h"
#include "zoomorph/augment.h"
#include "zoomorph/gzschema.h"
#include "zoomorph/log.h"
#include "zoomorph/logreg.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"
#include "zoomorph/nn_optim.h"
#include "zoomorph/plot.h"
#include "zoomorph/rng.h"
#include "zoomorph/signals.h"
#include "zoomorph/table.h"
#include "zoomorph/taskloss.h"
#include "zoomorph/trainer.h"
#include "zoomorph/votes.h"

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2, SPLIT_NONE = 3 };
enum { M_FROZEN = 0, M_TOP = 1, M_ALL = 2, M_SCRATCH = 3 };
static const char *const method_names[] = {"frozen", "top", "all", "scratch"};

/* ---- labels ------------------------------------------------------------------------ */

typedef struct {
    long n;
    int A;                /* values per label: the tree's answers (vote counts), else 1 */
    long long *row; /* sorted */
    float *label;         /* n x A */
    unsigned char *split; /* SPLIT_*: from the table's split column, else SPLIT_NONE */
    long nread, nbad, nunmatched, ndup;
} labelset;

static void labelset_free(labelset *L)
{
    free(L->row), free(L->label), free(L->split);
    memset(L, 0, sizeof *L);
}

static int parse_split(const char *v)
{
    if (!strcasecmp(v, "train") || !strcmp(v, "0")) return SPLIT_TRAIN;
    if (!strcasecmp(v, "validation") || !strcasecmp(v, "val") || !strcmp(v, "1")) return SPLIT_VAL;
    if (!strcasecmp(v, "test") || !strcmp(v, "2")) return SPLIT_TEST;
    return SPLIT_NONE;
}

typedef struct {
    long long row;
    long src; /* row of the table */
    unsigned char split;
    long line;
} lab_row;

static int by_row(const void *a, const void *b)
{
    const lab_row *x = a, *y = b;
    if (x->row != y->row) return (x->row > y->row) - (x->row < y->row);
    return (x->line > y->line) - (x->line < y->line);
}

/* One label column (binary, multiclass, regression) as a zm_votes of one value per row
 * (ok, why, id or ra/dec, split and file line as zm_votes_read gives them). Not collective. */
static int read_label_column(const zm_params *p, const char *path, zm_task_kind kind, int by_id, zm_votes *R,
                             zm_err *err)
{
    const char *idcol = zm_param_str(p, "finetune.id_column"), *labcol = zm_param_str(p, "finetune.label_column");
    zm_table *t = NULL;
    int rc = zm_table_open(path, &t, err);
    long n = rc ? 0 : zm_table_nrows(t);
    int cid = -1, cra = -1, cdec = -1, clab = -1, csplit = -1;
    if (!rc) {
        clab = zm_table_col(t, labcol);
        csplit = zm_table_col(t, "split");
        if (by_id) cid = zm_table_col(t, idcol);
        else cra = zm_table_col(t, "ra"), cdec = zm_table_col(t, "dec");
        if (clab < 0)
            rc = zm_err_set(err, ZM_EMISSING, "labels %s: no column '%s' (config key [finetune] label_column)", path,
                            labcol);
        else if (by_id && cid < 0)
            rc = zm_err_set(err, ZM_EMISSING, "labels %s: no column '%s' ([finetune] match = id, id_column)", path,
                            idcol);
        else if (!by_id && (cra < 0 || cdec < 0))
            rc = zm_err_set(err, ZM_EMISSING,
                            "labels %s: no columns 'ra' and 'dec' ([finetune] match = sky; set match = id to use "
                            "store ids)", path);
    }
    size_t nn = (size_t)(n ? n : 1);
    R->n = n;
    R->nanswers = 1;
    R->counts = zm_malloc(nn * sizeof *R->counts);
    R->ok = zm_malloc(nn);
    R->split = zm_malloc(nn);
    R->why = zm_calloc(nn, sizeof *R->why);
    R->id = zm_calloc(nn, sizeof *R->id);
    R->ra = zm_calloc(nn, sizeof *R->ra);
    R->dec = zm_calloc(nn, sizeof *R->dec);
    R->line = zm_calloc(nn, sizeof *R->line);
    double *lab = zm_malloc(nn * sizeof *lab);
    unsigned char *bad = zm_calloc(nn, 1), *bad2 = zm_calloc(nn, 1);
    char(*spl)[16] = zm_calloc(nn, sizeof *spl);
    if (!rc) rc = zm_table_read_double(t, clab, lab, bad, err);
    if (!rc && by_id) rc = zm_table_read_ll(t, cid, R->id, bad2, err);
    if (!rc && !by_id) rc = zm_table_read_double(t, cra, R->ra, bad2, err);
    if (!rc && !by_id) rc = zm_table_read_double(t, cdec, R->dec, bad2, err);
    if (!rc && csplit >= 0) rc = zm_table_read_str(t, csplit, (char *)spl, 16, err);
    for (long i = 0; !rc && i < n; i++) {
        double v = lab[i];
        const char *what = NULL;
        R->line[i] = zm_table_line(t, i);
        R->split[i] = (unsigned char)(csplit >= 0 ? parse_split(spl[i]) : SPLIT_NONE);
        R->counts[i] = (float)v;
        if (bad[i] || !isfinite(v)) what = "is not a number";
        else if (kind == ZM_TASK_BINARY && v != 0 && v != 1) what = "is not a class of a binary task (0 or 1)";
        else if (kind == ZM_TASK_MULTICLASS && (v < 0 || v != floor(v) || v > 255))
            what = "is not a class (0, 1, 2, ... up to 255)";
        if (!what && bad2[i]) what = by_id ? "has no valid id" : "has no valid ra/dec";
        R->ok[i] = what == NULL;
        if (what) snprintf(R->why[i], sizeof R->why[i], "%s line %ld: label %s", path, R->line[i], what);
    }
    if (t) zm_table_close(t);
    free(lab), free(bad), free(bad2), free(spl);
    return rc;
}

/* Collective. Reads path, rejects bad labels (with lines) and unmatched rows into rej
 * (rank 0 adds them), keeps the first row per galaxy. tree: kind tree's decision tree. */
static int read_labels(const zm_ctx *ctx, zm_store *s, const zm_params *p, const char *path, zm_task_kind kind,
                       const zm_gz_schema *tree, labelset *L, zm_reject_list *rej, zm_err *err)
{
    memset(L, 0, sizeof *L);
    const int by_id = !strcmp(zm_param_str(p, "finetune.match"), "id");
    zm_votes R;
    memset(&R, 0, sizeof R);
    int rc;
    if (kind == ZM_TASK_TREE) {
        /* vote counts, one column <question>_<answer> per answer, read as `zoomorph votes`
         * reads them: a missing column is an error naming it; a negative, NaN or
         * fractional count rejects its row with the reason */
        rc = zm_votes_read(path, tree, by_id ? zm_param_str(p, "finetune.id_column") : NULL, &R, err);
        if (rc) zm_err_prefix(err, "labels of [finetune] kind = tree");
    } else {
        rc = read_label_column(p, path, kind, by_id, &R, err);
    }
    long long *row = NULL;
    if (zm_any(ctx, rc)) {
        if (!rc) rc = zm_err_set(err, ZM_EIO, "reading %s failed on another rank", path);
        goto out;
    }
    const long n = R.n;
    const int A = R.nanswers;
    size_t nn = (size_t)(n ? n : 1);
    for (long i = 0; i < n; i++) {
        if (R.ok[i]) continue;
        L->nbad++;
        if (ctx->rank == 0) {
            zm_reject_add(rej, "finetune", -1, -1, path, R.why[i]);
            if (L->nbad <= 10) zm_warn("finetune: %s (skipped)", R.why[i]);
        }
    }
    row = zm_malloc(nn * sizeof *row);
    rc = zm_match_rows(ctx, s, by_id, R.id, R.ra, R.dec, R.ok, n, zm_param_real(p, "finetune.radius_arcsec"), row,
                       NULL, err);
    if (rc) goto out;
    char why[512];
    lab_row *lr = zm_malloc(nn * sizeof *lr);
    long m = 0;
    for (long i = 0; i < n; i++) {
        if (!R.ok[i]) continue;
        if (row[i] < 0) {
            L->nunmatched++;
            if (ctx->rank == 0) {
                if (by_id) snprintf(why, sizeof why, "%s line %ld: id %lld is not a galaxy of the store", path, R.line[i], R.id[i]);
                else snprintf(why, sizeof why, "%s line %ld: no galaxy within %g arcsec of (%.6f, %.6f)", path,
                              R.line[i], zm_param_real(p, "finetune.radius_arcsec"), R.ra[i], R.dec[i]);
                zm_reject_add(rej, "finetune", -1, -1, path, why);
                if (L->nunmatched <= 10) zm_warn("finetune: %s (skipped)", why);
            }
            continue;
        }
        lr[m++] = (lab_row){row[i], i, R.split[i], R.line[i]};
    }
    qsort(lr, (size_t)m, sizeof *lr, by_row);
    L->A = A;
    L->row = zm_malloc((size_t)(m ? m : 1) * sizeof *L->row);
    L->label = zm_malloc((size_t)(m ? m : 1) * A * sizeof *L->label);
    L->split = zm_malloc((size_t)(m ? m : 1));
    for (long i = 0; i < m; i++) {
        if (L->n && L->row[L->n - 1] == lr[i].row) {
            L->ndup++;
            if (ctx->rank == 0) {
                snprintf(why, sizeof why, "%s line %ld: galaxy %lld already labelled (first row kept)", path, lr[i].line,
                         lr[i].row);
                zm_reject_add(rej, "finetune", -1, lr[i].row, path, why);
            }
            continue;
        }
        L->row[L->n] = lr[i].row;
        memcpy(L->label + (size_t)L->n * A, R.counts + (size_t)lr[i].src * A, (size_t)A * sizeof *L->label);
        L->split[L->n] = lr[i].split;
        L->n++;
    }
    free(lr);
    L->nread = n;
    if (L->nbad > 10 || L->nunmatched > 10)
        zm_info0("finetune: %ld labels rejected, %ld without a galaxy: every one is listed in /rejects", L->nbad,
                 L->nunmatched);
out:
    zm_votes_free(&R);
    free(row);
    return rc;
}

/* ---- data: representations or stamps of the labelled rows ------------------------- */

/* Reads width floats per row of path for sorted rows (runs of consecutive rows at once). */
static int read_rows(zm_store *s, const char *path, const long long *rows, long n, int width, float *out, zm_err *err)
{
    for (long i = 0; i < n;) {
        long j = i + 1;
        while (j < n && rows[j] == rows[j - 1] + 1 && j - i < 4096) j++;
        zm_range r = {(unsigned long long)rows[i], (unsigned long long)(j - i)};
        int rc = zm_store_read(s, path, ZM_DT_F32, 0, &r, 1, out + (size_t)i * width, err);
        if (rc) return rc;
        i = j;
    }
    return 0;
}

/* The cache of the labelled rows: representations (C = D, S = 1) or stamps. */
static int fill_data(zm_store *s, int images, const labelset *L, zm_stamp_cache *c, zm_err *err)
{
    memset(c, 0, sizeof *c);
    c->n = L->n;
    c->A = L->A;
    c->rows = zm_malloc((size_t)(L->n ? L->n : 1) * sizeof *c->rows);
    memcpy(c->rows, L->row, (size_t)L->n * sizeof *c->rows);
    int rc;
    if (images) {
        rc = zm_stamp_cache_fill(s, c, NULL, err);
    } else {
        unsigned long long d[4] = {0};
        if (zm_store_shape(s, "/representation/embedding", d, err) != 2)
            return zm_err_set(err, ZM_ESTATE, "store %s has no /representation/embedding; run 'zoomorph embed' first "
                              "(or [finetune] mode = top / all)", zm_store_path(s));
        c->C = (int)d[1];
        c->S = 1;
        c->imgf = zm_malloc((size_t)(L->n ? L->n : 1) * c->C * sizeof(float));
        c->targets = zm_calloc((size_t)(L->n ? L->n : 1) * L->A, sizeof(float));
        rc = read_rows(s, "/representation/embedding", L->row, L->n, c->C, c->imgf, err);
    }
    if (!rc) memcpy(c->targets, L->label, (size_t)L->n * L->A * sizeof(float));
    return rc;
}

/* A number as a string attribute, as the other stages' summary attributes. */
static void set_attr_g(zm_store *s, const char *path, const char *name, double value)
{
    char v[32];
    snprintf(v, sizeof v, "%.6g", value);
    zm_store_set_attr(s, path, name, v);
}

/* 1 where the row can be used: stamp not rejected and, for frozen, a finite representation. */
static void usable_rows(zm_store *s, const labelset *L, const zm_stamp_cache *c, int images, unsigned char *use)
{
    unsigned *fl = zm_calloc((size_t)(L->n ? L->n : 1), sizeof *fl);
    zm_err e = {0};
    for (long i = 0; i < L->n; i++) {
        zm_range r = {(unsigned long long)L->row[i], 1};
        if (zm_store_read(s, ZM_F_CUT_FLAGS.path, ZM_DT_U32, 0, &r, 1, fl + i, &e)) fl[i] = 0;
        use[i] = !(fl[i] & ZM_CUT_REJECTED);
        if (!images)
            for (int k = 0; k < c->C && use[i]; k++) use[i] = isfinite(c->imgf[(size_t)i * c->C + k]);
    }
    free(fl);
}

/* ---- one training run --------------------------------------------------------------- */

typedef struct {
    int method;         /* M_* */
    zm_task task;
    char encoder[PATH_MAX];
    zm_nn_file_info info;
    int head_hidden, top, micro, epochs, patience, verbose;
    long long batch;
    long max_steps;
    double lr, wd, decay, dropout;
    double l2;          /* frozen: L2 penalty of the head's weights, l2 / n (n training labels) */
    unsigned long long seed;
    const char *checkpoint;
    int resume;
    void (*on_epoch)(void *, int);
    void *on_epoch_user;
} run_cfg;

static double task_loss_fn(void *user, const float *y, const float *t, int n, int nout, float *dy, double *parts)
{
    (void)nout, (void)parts;
    return zm_task_loss(user, y, t, n, dy);
}

/* Builds the network a method trains: the head alone (frozen) or the full network with
 * the encoder's weights (top, all) or random ones (scratch). */
static int build_net(const run_cfg *rc_, int max_batch, zm_net **net, zm_err *err)
{
    zm_net_config nc = zm_net_config_default(rc_->info.arch);
    nc.in_ch = rc_->info.in_ch;
    nc.in_size = rc_->info.in_size;
    nc.n_out = zm_task_outputs(&rc_->task);
    nc.max_batch = max_batch;
    nc.dropout = (float)rc_->dropout;
    nc.head_hidden = rc_->head_hidden;
    nc.head_only = rc_->method == M_FROZEN;
    nc.seed = rc_->seed;
    int rc = zm_net_create(net, &nc, err);
    if (!rc && (rc_->method == M_TOP || rc_->method == M_ALL)) rc = zm_net_load(*net, rc_->encoder, ZM_LOAD_SKIP_HEAD, err);
    if (!rc && rc_->method == M_TOP && rc_->top + 1 > (*net)->n_blocks)
        rc = zm_err_set(err, ZM_ECONFIG, "config key [finetune] top_blocks = %d: the %s network has only %d blocks below "
                        "its head", rc_->top, (*net)->arch, (*net)->n_blocks - 1);
    if (rc) {
        zm_net_free(*net);
        *net = NULL;
    }
    return rc;
}

/* The mean and standard deviation of each element of the representation over the
 * distinct training rows (an oversampled row counts once), in double and in row order,
 * so every rank and rank count gets the same. A constant element gets sd 1. */
static void repr_stats(const zm_stamp_cache *c, const long long *rows, long n, double *mean, double *sd)
{
    const int D = c->C;
    unsigned char *seen = zm_calloc((size_t)(c->n ? c->n : 1), 1);
    double *s2 = zm_calloc((size_t)D, sizeof *s2);
    long m = 0;
    memset(mean, 0, (size_t)D * sizeof *mean);
    for (long i = 0; i < n; i++) {
        long k = zm_stamp_cache_find(c, rows[i]);
        if (k < 0 || seen[k]) continue;
        seen[k] = 1, m++;
        for (int j = 0; j < D; j++) mean[j] += c->imgf[(size_t)k * D + j];
    }
    for (int j = 0; j < D; j++) mean[j] /= m ? (double)m : 1.0;
    for (long k = 0; k < c->n; k++)
        if (seen[k])
            for (int j = 0; j < D; j++) {
                double d = c->imgf[(size_t)k * D + j] - mean[j];
                s2[j] += d * d;
            }
    for (int j = 0; j < D; j++) {
        sd[j] = m ? sqrt(s2[j] / (double)m) : 0;
        if (!(sd[j] > 1e-6 * (fabs(mean[j]) + 1e-30)) || !(sd[j] > 1e-12)) sd[j] = 1;
    }
    free(seen), free(s2);
}

/* A copy of a representation cache standardised with mean and sd (rows and targets are
 * shared with c: free only imgf). */
static void standardised_cache(const zm_stamp_cache *c, const double *mean, const double *sd, zm_stamp_cache *z)
{
    const int D = c->C;
    *z = *c;
    z->imgf = zm_malloc((size_t)(c->n ? c->n : 1) * D * sizeof(float));
    for (long k = 0; k < c->n; k++)
        for (int j = 0; j < D; j++)
            z->imgf[(size_t)k * D + j] = (float)((c->imgf[(size_t)k * D + j] - mean[j]) / sd[j]);
}

static int train_one(const zm_ctx *ctx, const run_cfg *r, zm_stamp_cache *c, const long long *train, long ntr,
                     const long long *val, long nva, zm_net **out, zm_train_result *res, zm_err *err)
{
    zm_net *net = NULL;
    memset(res, 0, sizeof *res);
    int rc = build_net(r, r->micro, &net, err);
    if (rc) return rc;
    /* frozen: the stored representations are not standardised (elements of mean up to
     * about 0.5 and sd 0.06 to 0.5 for the shipped model), so the head trains on them
     * standardised with the training rows' mean and sd, from a fresh head init; the
     * standardisation is then folded into its first linear layer, so the head returned,
     * saved and used for every prediction takes the raw representation */
    const int frozen = r->method == M_FROZEN;
    double *mean = NULL, *sd = NULL;
    zm_stamp_cache z;
    if (frozen) {
        zm_net_init_head(net, r->seed);
        mean = zm_malloc((size_t)c->C * sizeof *mean), sd = zm_malloc((size_t)c->C * sizeof *sd);
        repr_stats(c, train, ntr, mean, sd);
        standardised_cache(c, mean, sd, &z);
        c = &z;
    }
    zm_adam opt;
    zm_adam_init(&opt, ZM_OPT_ADAMW, net->n_params, 0.9f, 0.999f, 1e-8f, (float)r->wd);
    if (r->method == M_TOP || r->method == M_ALL) {
        int top = r->method == M_TOP ? r->top + 1 : net->n_blocks;
        zm_adam_set_blocks(&opt, net->n_blocks, net->block_off, NULL);
        zm_adam_layer_decay(&opt, top, (float)r->decay);
        zm_net_set_trainable_from(net, net->n_blocks - top);
    }
    zm_train_cfg tc;
    memset(&tc, 0, sizeof tc);
    tc.epochs = r->epochs;
    tc.patience = r->patience;
    tc.batch = r->batch;
    tc.micro = r->micro;
    tc.augment = r->method != M_FROZEN;
    tc.lr = (zm_lr_schedule){ZM_LR_CONSTANT, r->lr, 0, 0, 1, 1.0, 0.0};
    tc.seed = r->seed;
    tc.checkpoint = r->checkpoint;
    tc.resume = r->resume;
    tc.nan_policy = ZM_NAN_STOP;
    tc.max_steps = r->max_steps;
    tc.verbose = r->verbose;
    tc.on_epoch = r->on_epoch;
    tc.on_epoch_user = r->on_epoch_user;
    float *mask = NULL;
    if (frozen && r->l2 > 0 && (r->task.kind == ZM_TASK_BINARY || r->task.kind == ZM_TASK_MULTICLASS)) {
        /* (l2 / 2n) |W|^2 on the head's weights, not its biases: logistic regression's
         * penalty 1 / (2 C n) per mean loss, C = 1 / l2, on the standardised representation.
         * The mlp head's three weight matrices get a tenth each: with a third each (or
         * more) the product of the three shrinks to zero unless early stopping stops it
         * first (docs/finetune.md) */
        mask = zm_calloc(net->n_params, sizeof *mask);
        for (int o = 0; o < net->n_ops; o++) {
            const zm_op *op = &net->ops[o];
            if (op->kind != ZM_OP_LINEAR) continue;
            for (int i = 0; i < net->n_pinfo; i++)
                if (!net->pinfo[i].is_state && net->pinfo[i].off == (size_t)op->w)
                    for (size_t k = 0; k < net->pinfo[i].count; k++) mask[op->w + k] = 1.0f;
        }
        tc.l2 = r->l2 / (double)ntr / (r->head_hidden > 0 ? 10.0 : 1.0);
        tc.l2_mask = mask;
    }
    zm_train_data d = {zm_stamp_cache_load, c, c->C, c->S, c->A};
    zm_train_loss lf = {task_loss_fn, (void *)&r->task, 0};
    rc = zm_train_run(ctx, net, &opt, &d, train, ntr, val, nva, &lf, &tc, res, err);
    zm_adam_free(&opt);
    free(mask);
    if (frozen) {
        if (!rc && zm_net_fold_input_standardisation(net, mean, sd))
            rc = zm_err_set(err, ZM_ESTATE, "finetune: the %s head has no linear layer on the representation", net->arch);
        free(z.imgf), free(mean), free(sd);
    }
    if (rc) zm_net_free(net), net = NULL;
    *out = net;
    return rc;
}

/* Predictions (zm_task_predict) of rows of the cache, EVAL mode, central crop, the mean
 * over the test-time views vs (zm_aug_view_apply; the store's embedding's, so that image
 * modes predict as frozen heads see the representation; no effect on a head alone);
 * every rank computes all of them (small sets: validation and test labels). out: n x width. */
static int predict_cache(zm_net *net, const zm_task *t, zm_stamp_cache *c, const long long *rows, long n,
                         zm_views vs, float *out, zm_err *err)
{
    const int C = c->C, S = c->S, K = net->cfg.head_only ? 1 : net->cfg.in_size, B = net->cfg.max_batch;
    if (net->cfg.head_only) vs = (zm_views){1, 0};
    const int w = zm_task_outputs(t), nv = vs.n;
    float *raw = zm_malloc((size_t)B * C * S * S * sizeof(float)), *x = zm_malloc((size_t)B * C * K * K * sizeof(float));
    float *tg = zm_malloc((size_t)B * (c->A ? c->A : 1) * sizeof(float)), *o = zm_malloc((size_t)B * w * sizeof(float));
    int rc = 0;
    for (long i = 0; i < n && !rc; i += B) {
        int m = (int)(n - i < B ? n - i : B);
        float *dst = out + (size_t)i * w;
        memset(dst, 0, (size_t)m * w * sizeof *dst);
        rc = zm_stamp_cache_load(c, rows + i, m, raw, tg, err);
        for (int v = 0; v < nv && !rc; v++) {
            zm_aug_view_apply(raw, m, C, S, K, vs, v, x);
            rc = zm_net_forward(net, x, m, ZM_MODE_EVAL, err);
            if (rc) break;
            zm_task_predict(t, zm_net_output(net), m, o);
            for (size_t j = 0; j < (size_t)m * w; j++) dst[j] += o[j] / nv;
        }
    }
    free(raw), free(x), free(tg), free(o);
    return rc;
}

typedef struct {
    double acc, auc, rmse, mae, mae_q0; /* mae: trees (vote fractions, every question; q0: the first) */
} metrics;

static metrics score(const zm_task *t, const float *pred, const float *label, long n)
{
    metrics m = {NAN, NAN, NAN, NAN, NAN};
    if (n == 0) return m;
    const int w = zm_task_outputs(t);
    if (t->kind == ZM_TASK_TREE) {
        m.mae = zm_task_tree_mae(t, pred, label, n, -1, NULL);
        m.mae_q0 = zm_task_tree_mae(t, pred, label, n, 0, NULL);
        return m;
    }
    if (t->kind == ZM_TASK_REGRESSION) {
        double se = 0;
        for (long i = 0; i < n; i++) se += (pred[i] - label[i]) * (double)(pred[i] - label[i]);
        m.rmse = sqrt(se / (double)n);
        return m;
    }
    long right = 0;
    for (long i = 0; i < n; i++) right += zm_task_class(t, pred + (size_t)i * w) == (int)lroundf(label[i]);
    m.acc = (double)right / (double)n;
    if (t->kind == ZM_TASK_BINARY) {
        unsigned char *y = zm_malloc((size_t)n);
        for (long i = 0; i < n; i++) y[i] = label[i] > 0.5f;
        m.auc = zm_roc_auc(pred, y, n);
        free(y);
    }
    return m;
}

/* ---- shared set-up ------------------------------------------------------------------- */

static int task_kind(const zm_params *p)
{
    const char *k = zm_param_str(p, "finetune.kind");
    return !strcmp(k, "multiclass")   ? ZM_TASK_MULTICLASS
           : !strcmp(k, "regression") ? ZM_TASK_REGRESSION
           : !strcmp(k, "tree")       ? ZM_TASK_TREE
                                      : ZM_TASK_BINARY;
}

/* kind = tree: the decision tree of [finetune] tree (a file, or "decals": the built-in
 * GZ DECaLS tree), loaded as pretraining loads [labels] tree. */
static int load_finetune_tree(const zm_params *p, zm_gz_schema *tree, zm_err *err)
{
    const char *t = zm_param_str(p, "finetune.tree");
    if (!t || !t[0])
        return zm_err_set(err, ZM_ECONFIG, "config key [finetune] tree is not set: kind = tree needs a decision tree "
                          "file (format of config/trees/gz2.tree) or decals");
    int rc = !strcmp(t, "decals") ? zm_gz_schema_decals(tree, err) : zm_gz_schema_load(tree, t, err);
    if (rc) zm_err_prefix(err, "config key [finetune] tree");
    return rc;
}

/* [finetune] head: auto is the linear head (a logistic regression) for a classifier on a
 * frozen encoder, whose mlp head scatters about that with few labels (docs/finetune.md),
 * and the mlp head for the other modes and kinds (a tree's vote fractions on the test
 * survey of e2e.finetune_tree: mlp 0.105 first-question error, linear 0.182). */
static void base_cfg(const zm_params *p, int method, run_cfg *r)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    zm_encoder_weights(p, "finetune.encoder", r->encoder, sizeof r->encoder);
    const char *head = zm_param_str(p, "finetune.head");
    const int k = task_kind(p), classifier = k == ZM_TASK_BINARY || k == ZM_TASK_MULTICLASS;
    const int mlp = !strcmp(head, "mlp") || (!strcmp(head, "auto") && !(method == M_FROZEN && classifier));
    r->head_hidden = mlp ? (int)zm_param_int(p, "finetune.head_hidden") : 0;
    r->top = (int)zm_param_int(p, "finetune.top_blocks");
    r->micro = (int)zm_param_int(p, "train.micro_batch");
    r->epochs = (int)zm_param_int(p, "finetune.epochs");
    r->patience = (int)zm_param_int(p, "finetune.patience");
    r->batch = zm_param_int(p, "finetune.batch");
    r->max_steps = (long)zm_param_int(p, "train.max_steps");
    r->lr = zm_param_real(p, "finetune.lr");
    r->wd = zm_param_real(p, "finetune.weight_decay");
    r->decay = zm_param_real(p, "finetune.layer_decay");
    r->dropout = zm_param_real(p, "finetune.dropout");
    r->seed = (unsigned long long)zm_param_int(p, "train.seed");
}

/* Classes present among n labels (counts[0..255]); the number of classes K = max + 1. */
static int class_counts(const float *label, const long long *idx, long n, long *counts)
{
    int K = 0;
    memset(counts, 0, 256 * sizeof *counts);
    for (long i = 0; i < n; i++) {
        int c = (int)lroundf(label[idx ? idx[i] : i]);
        counts[c]++;
        if (c + 1 > K) K = c + 1;
    }
    return K;
}

typedef struct {
    const zm_ctx *ctx;
} fault_ctx;

static void fault_hook(void *user, int epoch)
{
    const fault_ctx *f = user;
    zm_fault_point(f->ctx, "finetune", epoch);
}

static uint64_t hash_row(long long row, unsigned long long seed)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (int k = 0; k < 8; k++) h = (h ^ (uint64_t)((row >> (8 * k)) & 0xff)) * 1099511628211ULL;
    return h;
}

/* ---- the learning curve --------------------------------------------------------------- */

static int learning_curve(const zm_stage_args *a, zm_store *s, const char *path, zm_err *err);

/* ---- the stage ------------------------------------------------------------------------- */

static int run_finetune(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    const char *lc = NULL;
    for (int i = 0; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--learning-curve") && i + 1 < a->argc) lc = a->argv[++i];
        else {
            zm_err_set(err, ZM_EUSAGE, "finetune: unknown flag '%s' (expected --learning-curve labels.csv)", a->argv[i]);
            return ZM_EXIT_USAGE;
        }
    }
    if (!lc && zm_param_require(p, "finetune.labels", "finetune", err)) return ZM_EXIT_INPUT;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "cutout", &s, err)) return ZM_EXIT_INPUT;
    if (lc) {
        int rc = learning_curve(a, s, lc, err);
        zm_store_close(s);
        return rc ? ZM_EXIT_INPUT : 0;
    }
    const char *path = zm_param_str(p, "finetune.labels"), *task = zm_param_str(p, "finetune.task");
    const char *mname = zm_param_str(p, "finetune.mode");
    const int method = !strcmp(mname, "top") ? M_TOP : !strcmp(mname, "all") ? M_ALL : M_FROZEN;
    run_cfg r;
    base_cfg(p, method, &r);
    r.task.kind = (zm_task_kind)task_kind(p);
    r.verbose = 1;
    char output[4200], ckpt[4300];
    const char *o = zm_param_str(p, "finetune.output");
    if (o && o[0]) snprintf(output, sizeof output, "%s", o);
    else snprintf(output, sizeof output, "%s.h5", task);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", output);
    r.checkpoint = ckpt;
    r.resume = zm_param_bool(p, "train.resume");
    fault_ctx fc = {ctx};
    r.on_epoch = fault_hook;
    r.on_epoch_user = &fc;

    labelset L = {0};
    zm_reject_list rej = {0};
    zm_stamp_cache c = {0};
    zm_net *net = NULL, *full = NULL;
    zm_gz_schema tree;
    memset(&tree, 0, sizeof tree);
    const int is_tree = r.task.kind == ZM_TASK_TREE, classifier = r.task.kind == ZM_TASK_BINARY ||
                                                                  r.task.kind == ZM_TASK_MULTICLASS;
    zm_train_result res;
    memset(&res, 0, sizeof res);
    long long *train = NULL, *val = NULL, *test = NULL;
    long ntr = 0, nva = 0, nte = 0;
    float *weights = NULL;
    unsigned char *use = NULL, *split = NULL;
    int rc = zm_net_file_info(r.encoder, &r.info, err);
    if (rc) zm_err_prefix(err, "config key [finetune] encoder");
    char field[ZM_STAMP_FIELD_LEN];
    zm_store_stamp_field(s, p, field, sizeof field);
    if (!rc) rc = zm_stamp_field_check(p, r.encoder, r.info.stamp_field, field, zm_store_path(s), err);
    if (!rc && is_tree) rc = load_finetune_tree(p, &tree, err);
    r.task.tree = is_tree ? &tree : NULL;
    unsigned long long N = 0;
    if (!rc) rc = zm_store_nrows(s, ZM_F_GAL_ID.path, &N, err);
    /* every rank reaches read_labels (collective) or none: the checks above are the same everywhere */
    if (!rc) rc = read_labels(ctx, s, p, path, r.task.kind, r.task.tree, &L, &rej, err);
    if (!rc) rc = fill_data(s, method != M_FROZEN, &L, &c, err);
    if (zm_any(ctx, rc)) {
        if (!rc) rc = zm_err_set(err, ZM_EIO, "finetune: reading the labels failed on another rank");
        goto done;
    }
    use = zm_malloc((size_t)(L.n ? L.n : 1));
    usable_rows(s, &L, &c, method != M_FROZEN, use);
    /* splits: the table's, else validation by a hash of the row */
    const double vf = zm_param_real(p, "finetune.val_fraction");
    split = zm_malloc((size_t)(N ? N : 1));
    memset(split, SPLIT_NONE, (size_t)(N ? N : 1));
    train = zm_malloc((size_t)(L.n ? L.n : 1) * 2 * sizeof *train);
    val = zm_malloc((size_t)(L.n ? L.n : 1) * sizeof *val);
    test = zm_malloc((size_t)(L.n ? L.n : 1) * sizeof *test);
    long nunusable = 0;
    for (long i = 0; i < L.n; i++) {
        if (!use[i]) {
            nunusable++;
            continue;
        }
        int sp = L.split[i];
        if (sp == SPLIT_NONE) sp = (double)(hash_row(L.row[i], r.seed) >> 11) * 0x1.0p-53 < vf ? SPLIT_VAL : SPLIT_TRAIN;
        split[L.row[i]] = (unsigned char)sp;
        if (sp == SPLIT_TRAIN) train[ntr++] = L.row[i];
        else if (sp == SPLIT_VAL) val[nva++] = L.row[i];
        else test[nte++] = L.row[i];
    }
    if (nva == 0 && ntr > 0) {
        /* a split column with no validation rows (the simulator holds out none on a small
         * survey): validation by the hash of the row from the training labels instead */
        long keep = 0;
        for (long i = 0; i < ntr; i++) {
            if ((double)(hash_row(train[i], r.seed) >> 11) * 0x1.0p-53 < vf) {
                val[nva++] = train[i];
                split[train[i]] = SPLIT_VAL;
            } else {
                train[keep++] = train[i];
            }
        }
        ntr = keep;
        zm_warn0("finetune: labels %s name no validation galaxy; %ld of the training labels (val_fraction %.2g) are "
                 "held out for validation instead", path, nva, vf);
    }
    long counts[256];
    float *lab_of = zm_malloc((size_t)(ntr ? ntr : 1) * sizeof *lab_of);
    for (long i = 0; i < ntr && classifier; i++) lab_of[i] = c.targets[zm_stamp_cache_find(&c, train[i])];
    int K = classifier ? class_counts(lab_of, NULL, ntr, counts) : 0;
    free(lab_of);
    const long min_val = (long)zm_param_int(p, "finetune.min_val");
    if (L.n == 0)
        rc = zm_err_set(err, ZM_EMISSING, "labels %s: none of its %ld rows is a usable label of a galaxy in %s", path,
                        L.nread, zm_store_path(s));
    else if (classifier) {
        int present = 0, only = -1;
        for (int k = 0; k < K; k++)
            if (counts[k]) present++, only = k;
        if (present < 2)
            rc = zm_err_set(err, ZM_EVALUE,
                            "labels %s: every one of the %ld training labels is class %d; a classifier needs at least "
                            "two classes", path, ntr, only);
    }
    if (!rc && nva < min_val)
        rc = zm_err_set(err, ZM_EVALUE,
                        "labels %s: %ld usable labels leave %ld for validation, but early stopping needs at least %ld "
                        "([finetune] min_val): give at least %ld labels (val_fraction %.2g) or a split column",
                        path, L.n - nunusable, nva, min_val, (long)ceil((double)min_val / vf), vf);
    if (!rc && ntr < 1) rc = zm_err_set(err, ZM_EVALUE, "labels %s: no training labels left after the split", path);
    if (rc) goto done;
    r.task.nclass = r.task.kind == ZM_TASK_BINARY ? 2 : K;
    const char *bal = classifier ? zm_param_str(p, "finetune.balance") : "none";
    if (classifier && !strcmp(bal, "weights")) {
        weights = zm_malloc((size_t)K * sizeof *weights);
        zm_task_balance_weights(counts, K, weights);
        r.task.weights = weights;
    } else if (classifier && !strcmp(bal, "oversample")) {
        /* repeat the rows of the rarer classes (in order) until each class has as many as the largest */
        long cmax = 0, n0 = ntr;
        for (int k = 0; k < K; k++) cmax = counts[k] > cmax ? counts[k] : cmax;
        train = zm_realloc(train, (size_t)(cmax * K + 1) * sizeof *train);
        for (int k = 0; k < K; k++) {
            long have = counts[k];
            for (long i = 0; have && have < cmax; i = (i + 1) % n0)
                if ((int)lroundf(c.targets[zm_stamp_cache_find(&c, train[i])]) == k) train[ntr++] = train[i], have++;
        }
    }
    if (method == M_FROZEN) {
        /* a head on fixed features: its own learning rate, an L2 penalty, and enough steps
         * (with fewer labels than a batch an epoch is one step) */
        r.lr = zm_param_real(p, "finetune.frozen_lr");
        r.l2 = zm_param_real(p, "finetune.head_l2");
        const long long B = r.batch < ntr ? r.batch : ntr;
        const long spe = (long)(ntr / B), want = (long)zm_param_int(p, "finetune.frozen_min_steps");
        if ((long long)r.epochs * spe < want) {
            /* patience grows with the epochs: it counts the same steps of the run */
            const int e0 = r.epochs;
            r.epochs = (int)((want + spe - 1) / spe);
            r.patience = (int)(((long long)r.patience * r.epochs + e0 - 1) / e0);
            zm_info0("finetune: %d epochs of %ld step(s) (patience %d), to make at least [finetune] frozen_min_steps "
                     "= %ld steps", r.epochs, spe, r.patience, want);
        }
    }
    if (classifier && r.patience > 0) {
        /* early stopping on a validation loss of a handful of labels of one class follows
         * their noise: off below stop_min_class labels of every class */
        long vc[256] = {0}, need = (long)zm_param_int(p, "finetune.stop_min_class");
        for (long i = 0; i < nva; i++) {
            int k = (int)lroundf(c.targets[zm_stamp_cache_find(&c, val[i])]);
            if (k >= 0 && k < 256) vc[k]++;
        }
        int worst = -1;
        for (int k = 0; k < K; k++)
            if (counts[k] && (worst < 0 || vc[k] < vc[worst])) worst = k;
        if (worst >= 0 && vc[worst] < need) {
            zm_warn0("finetune: the validation labels hold %ld of class %d, fewer than [finetune] stop_min_class = %ld: "
                     "early stopping is off; the head trains all %d epochs and keeps its last weights", vc[worst],
                     worst, need, r.epochs);
            r.patience = 0;
        }
    }
    zm_info0("finetune: %ld label rows: %ld matched galaxies (%ld rejected, %ld without a galaxy, %ld repeated), %ld "
             "unusable stamps; %ld train%s, %ld validation, %ld test; %s on %s, %d rank(s)",
             L.nread, L.n, L.nbad, L.nunmatched, L.ndup, nunusable, ntr, !strcmp(bal, "oversample") ? " (oversampled)" : "",
             nva, nte, mname, r.encoder, ctx->size);
    char *dump = zm_params_dump(p);
    zm_store_stage_begin(s, "finetune", dump);
    free(dump);
    rc = train_one(ctx, &r, &c, train, ntr, val, nva, &net, &res, err);
    if (rc) goto done;
    if (res.interrupted) goto done;
    /* the fine-tuned model as a full network */
    if (method == M_FROZEN) {
        run_cfg fr = r;
        fr.method = M_ALL;
        rc = build_net(&fr, 1, &full, err);
        if (!rc) zm_net_copy_matching(full, net);
    }
    if (!rc) {
        zm_net *out = full ? full : net;
        memcpy(out->stamp_field, field, sizeof field); /* the stamps it was tuned on */
        int wrc = ctx->rank == 0 ? zm_net_save(out, output, err) : 0;
        ZM_CHECK_MPI(MPI_Bcast(&wrc, 1, MPI_INT, 0, ctx->comm));
        if (wrc && ctx->rank) zm_err_set(err, ZM_EIO, "writing %s failed on rank 0", output);
        rc = wrc;
    }
    if (rc) goto done;
    /* metrics on validation and test labels */
    const int w = zm_task_outputs(&r.task), lw = L.A;
    const zm_views views = zm_embed_views(s);
    metrics mv = {NAN, NAN, NAN, NAN, NAN}, mt = {NAN, NAN, NAN, NAN, NAN};
    for (int pass = 0; pass < 2 && !rc; pass++) {
        const long long *rows = pass ? test : val;
        long n = pass ? nte : nva;
        float *pr = zm_malloc((size_t)(n ? n : 1) * w * sizeof *pr), *lb = zm_malloc((size_t)(n ? n : 1) * lw * sizeof *lb);
        for (long i = 0; i < n; i++)
            memcpy(lb + (size_t)i * lw, c.targets + (size_t)zm_stamp_cache_find(&c, rows[i]) * lw, (size_t)lw * sizeof *lb);
        rc = predict_cache(net, &r.task, &c, rows, n, views, pr, err);
        if (!rc) *(pass ? &mt : &mv) = score(&r.task, pr, lb, n);
        free(pr), free(lb);
    }
    /* predictions for every galaxy: each rank its slice of rows */
    {
        const unsigned long long r0 = N * (unsigned long long)ctx->rank / (unsigned long long)ctx->size;
        const unsigned long long r1 = N * (unsigned long long)(ctx->rank + 1) / (unsigned long long)ctx->size;
        const long nloc = (long)(r1 - r0);
        float *pred = zm_malloc((size_t)(nloc ? nloc : 1) * w * sizeof *pred);
        float *lab = zm_malloc((size_t)(nloc ? nloc : 1) * lw * sizeof *lab);
        const int B = r.micro, C = c.C, S = c.S;
        zm_stamp_cache chunk = {0};
        chunk.A = 1;
        chunk.C = C;
        chunk.S = S;
        chunk.rows = zm_malloc((size_t)B * sizeof *chunk.rows);
        chunk.targets = zm_calloc((size_t)B, sizeof(float)); /* chunk.A = 1: no labels needed */
        const size_t per = (size_t)C * S * S;
        chunk.imgf = zm_malloc((size_t)B * per * sizeof(float));
        unsigned *fl = zm_malloc((size_t)B * sizeof *fl);
        for (long i = 0; i < nloc && !rc; i += B) {
            int m = (int)(nloc - i < B ? nloc - i : B);
            zm_range rr = {r0 + (unsigned long long)i, (unsigned long long)m};
            chunk.n = m;
            for (int j = 0; j < m; j++) chunk.rows[j] = (long long)(r0 + (unsigned long long)i) + j;
            rc = zm_store_read(s, method == M_FROZEN ? "/representation/embedding" : "/cutouts/images", ZM_DT_F32, 0, &rr, 1,
                               chunk.imgf, err);
            if (!rc) rc = zm_store_read(s, ZM_F_CUT_FLAGS.path, ZM_DT_U32, 0, &rr, 1, fl, err);
            if (!rc && c.img8)
                for (size_t k = 0; k < (size_t)m * per; k++) chunk.imgf[k] *= 1.0f / 255.0f;
            /* rejected stamps (NaN representations) go through as zeros and come out as NaN */
            for (int j = 0; j < m && !rc; j++) {
                int bad = (fl[j] & ZM_CUT_REJECTED) != 0;
                for (size_t k = 0; k < per && !bad; k++) bad = !isfinite(chunk.imgf[(size_t)j * per + k]);
                fl[j] = (unsigned)bad;
                if (bad) memset(chunk.imgf + (size_t)j * per, 0, per * sizeof(float));
            }
            if (!rc) rc = predict_cache(net, &r.task, &chunk, chunk.rows, m, views, pred + (size_t)i * w, err);
            for (int j = 0; j < m && !rc; j++)
                if (fl[j])
                    for (int k = 0; k < w; k++) pred[(size_t)(i + j) * w + k] = NAN;
        }
        for (long i = 0; i < nloc; i++) {
            long k = zm_stamp_cache_find(&c, (long long)r0 + i);
            for (int j = 0; j < lw; j++) lab[(size_t)i * lw + j] = k >= 0 ? c.targets[(size_t)k * lw + j] : NAN;
        }
        free(fl);
        zm_stamp_cache_free(&chunk);
        if (zm_any(ctx, rc)) {
            if (!rc) rc = zm_err_set(err, ZM_EVALUE, "finetune: predicting failed on another rank");
        } else {
            char fp[256], fl_[256], fs[256], fh[256], grp[200];
            snprintf(grp, sizeof grp, "/finetune/%s", task);
            snprintf(fp, sizeof fp, "%s/prediction", grp);
            snprintf(fl_, sizeof fl_, "%s/label", grp);
            snprintf(fs, sizeof fs, "%s/split", grp);
            snprintf(fh, sizeof fh, "%s/history", grp);
            zm_field f_pred = {fp, ZM_DT_F32, w > 1, {(unsigned long long)w}, 0, "",
                               r.task.kind == ZM_TASK_BINARY       ? "probability of class 1 (NaN: rejected stamp)"
                               : r.task.kind == ZM_TASK_MULTICLASS ? "probability of each class (NaN: rejected stamp)"
                               : is_tree ? "expected vote fraction of each answer, a/sum(a) per question (attribute "
                                           "'columns' names them; NaN: rejected stamp)"
                                         : "predicted value (NaN: rejected stamp)"};
            zm_field f_lab = {fl_, ZM_DT_F32, lw > 1, {(unsigned long long)lw}, 0, is_tree ? "votes" : "",
                              is_tree ? "the given vote counts per answer (NaN: none)" : "the given label (NaN: none)"};
            zm_field f_spl = {fs, ZM_DT_U8, 0, {0}, 0, "", "0 train, 1 validation, 2 test, 3 unlabelled or unused"};
            zm_field f_his = {fh, ZM_DT_F64, 1, {(unsigned long long)res.history_stride}, 0, "per galaxy",
                              "per epoch: train loss, validation loss"};
            zm_range mine = {r0, (unsigned long long)nloc}, all0 = {0, ctx->rank == 0 ? N : 0};
            zm_range hr = {0, ctx->rank == 0 ? (unsigned long long)res.epochs_run : 0};
            rc = zm_store_define(s, &f_pred, N, 1, err);
            if (!rc) rc = zm_store_define(s, &f_lab, N, 1, err);
            if (!rc) rc = zm_store_define(s, &f_spl, N, 1, err);
            if (!rc) rc = zm_store_define(s, &f_his, (unsigned long long)res.epochs_run, 1, err);
            if (!rc) rc = zm_store_write(s, &f_pred, &mine, 1, pred, err);
            if (!rc) rc = zm_store_write(s, &f_lab, &mine, 1, lab, err);
            if (!rc) rc = zm_store_write(s, &f_spl, &all0, 1, split, err);
            if (!rc) rc = zm_store_write(s, &f_his, &hr, 1, res.history, err);
            char v[256];
            if (!rc) {
                zm_store_set_attr(s, fp, "kind", zm_param_str(p, "finetune.kind"));
                zm_store_set_attr(s, fp, "mode", mname);
                zm_store_set_attr(s, fp, "model", output);
                zm_store_set_attr(s, fp, "encoder", r.encoder);
                snprintf(v, sizeof v, "%d", r.task.nclass);
                zm_store_set_attr(s, fp, "classes", v);
                if (is_tree) {
                    char cols[8192];
                    zm_tree_columns(&tree, cols, sizeof cols);
                    zm_store_set_attr(s, fp, "columns", cols);
                    zm_store_set_attr(s, fl_, "columns", cols);
                    zm_store_set_attr(s, fp, "tree", zm_param_str(p, "finetune.tree"));
                    set_attr_g(s, fp, "val_fraction_mae", mv.mae);
                    set_attr_g(s, fp, "test_fraction_mae", mt.mae);
                    set_attr_g(s, fp, "test_fraction_mae_first_question", mt.mae_q0);
                    /* one catalogue column per answer: <task>_<question>_<answer>_fraction */
                    for (int k = 0; k < tree.nanswers && !rc; k++) {
                        char col[ZM_GZ_COL_LEN], name[256], ds[300];
                        zm_gz_answer_column(&tree, k, col);
                        snprintf(name, sizeof name, "%s_%s_fraction", task, col);
                        snprintf(ds, sizeof ds, "%s#%d", fp, k);
                        rc = zm_catalogue_register(s, name, ds, err);
                    }
                } else {
                    set_attr_g(s, fp, "val_accuracy", mv.acc);
                    set_attr_g(s, fp, "test_accuracy", mt.acc);
                    set_attr_g(s, fp, "test_roc_auc", mt.auc);
                    snprintf(v, sizeof v, "finetune_%.60s", task);
                    rc = zm_catalogue_register(s, v, fp, err);
                }
            }
        }
        free(pred), free(lab);
    }
    unsigned long long rej_from = zm_reject_count(s);
    if (!rc) rc = zm_reject_write(s, &rej, err);
    if (!rc) rc = zm_reject_canonicalise(s, rej_from, ctx, err);
    if (!rc) {
        char summary[768];
        if (is_tree)
            snprintf(summary, sizeof summary, "%s (tree, %d questions, %d answers, %s) on %ld labels: %d epochs (best %d), "
                     "validation loss %.4g per galaxy; vote fractions: validation mean absolute error %.4f, test %.4f (first "
                     "question %.4f; %ld test labels); %.1f samples/s on %d rank(s); model %s; predictions in "
                     "/finetune/%s/prediction", task, tree.nquestions, tree.nanswers, mname, ntr, res.epochs_run,
                     res.best_epoch + 1, res.best_val, mv.mae, mt.mae, mt.mae_q0, nte, res.images_per_s, ctx->size, output,
                     task);
        else if (r.task.kind == ZM_TASK_REGRESSION)
            snprintf(summary, sizeof summary, "%s (%s, %s) on %ld labels: %d epochs (best %d), validation RMSE %.4g, test RMSE "
                     "%.4g (%ld); %.1f samples/s on %d rank(s); model %s; predictions in /finetune/%s/prediction",
                     task, "regression", mname, ntr, res.epochs_run, res.best_epoch + 1, mv.rmse, mt.rmse, nte,
                     res.images_per_s, ctx->size, output, task);
        else
            snprintf(summary, sizeof summary, "%s (%s, %d classes, %s) on %ld labels: %d epochs (best %d), validation accuracy "
                     "%.3f, test accuracy %.3f, ROC AUC %.3f (%ld test labels); %.1f samples/s in %ld steps of %lld on %d "
                     "rank(s), gradient allreduce %.1f%% of the step; model %s; predictions in /finetune/%s/prediction",
                     task, zm_param_str(p, "finetune.kind"), r.task.nclass, mname, ntr, res.epochs_run, res.best_epoch + 1,
                     mv.acc, mt.acc, mt.auc, nte,
                     res.step_images_per_s,
                     res.steps, r.batch < ntr ? r.batch : (long long)ntr, ctx->size,
                     100 * res.allreduce_share, output, task);
        zm_store_stage_end(s, "finetune", summary);
        /* done: a rerun starts afresh instead of resuming a finished run */
        if (ctx->rank == 0) remove(ckpt);
        zm_info0("finetune: %s", summary);
    }
done:;
    int interrupted = !rc && res.interrupted;
    zm_train_result_free(&res);
    zm_net_free(net);
    zm_net_free(full);
    zm_stamp_cache_free(&c);
    labelset_free(&L);
    zm_reject_free(&rej);
    zm_gz_schema_free(&tree);
    free(train), free(val), free(test), free(weights), free(use), free(split);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : interrupted ? ZM_EXIT_INTERRUPTED : 0;
}

/* ---- learning curve ------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Draws k of the n values of v (partial Fisher-Yates on a copy) into out. */
static void draw(const long long *v, long n, long k, zm_rng *rng, long long *out)
{
    long long *t = zm_malloc((size_t)(n ? n : 1) * sizeof *t);
    memcpy(t, v, (size_t)n * sizeof *t);
    for (long i = 0; i < k && i < n; i++) {
        long j = i + (long)zm_rng_below(rng, (uint64_t)(n - i));
        long long x = t[i];
        t[i] = t[j], t[j] = x;
        out[i] = t[i];
    }
    free(t);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int learning_curve(const zm_stage_args *a, zm_store *s, const char *path, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    char buf[1024], *sz[32], buf2[512], *mt[8];
    int nsizes = zm_param_list(p, "finetune.lc_sizes", sz, 32, buf, sizeof buf);
    int nmeth = zm_param_list(p, "finetune.lc_methods", mt, 8, buf2, sizeof buf2);
    if (nsizes < 0) return zm_param_list_error("finetune.lc_sizes", 32, err);
    if (nmeth < 0) return zm_param_list_error("finetune.lc_methods", 8, err);
    const int nseeds = (int)zm_param_int(p, "finetune.lc_seeds");
    const zm_views views = zm_embed_views(s);
    long sizes[32];
    int meth[8];
    for (int i = 0; i < nsizes; i++) {
        char *e;
        sizes[i] = strtol(sz[i], &e, 10);
        if (*e || sizes[i] < 2)
            return zm_err_set(err, ZM_ECONFIG, "config key [finetune] lc_sizes: '%s' is not a size of at least 2", sz[i]);
    }
    for (int i = 0; i < nmeth; i++) {
        meth[i] = -1;
        for (int k = 0; k < 4; k++)
            if (!strcmp(mt[i], method_names[k])) meth[i] = k;
        if (meth[i] < 0)
            return zm_err_set(err, ZM_ECONFIG, "config key [finetune] lc_methods: unknown '%s' (expected frozen, top, all, "
                              "scratch)", mt[i]);
    }
    zm_nn_file_info info;
    char enc[PATH_MAX];
    zm_encoder_weights(p, "finetune.encoder", enc, sizeof enc);
    if (zm_net_file_info(enc, &info, err)) {
        zm_err_prefix(err, "config key [finetune] encoder");
        return ZM_ECONFIG;
    }
    char field[ZM_STAMP_FIELD_LEN];
    zm_store_stamp_field(s, p, field, sizeof field);
    if (zm_stamp_field_check(p, enc, info.stamp_field, field, zm_store_path(s), err)) return ZM_ECONFIG;
    /* kind = tree: the curve is the test vote fractions' error; otherwise a binary label's
     * accuracy and ROC AUC */
    const int is_tree = task_kind(p) == ZM_TASK_TREE;
    zm_gz_schema T;
    memset(&T, 0, sizeof T);
    if (is_tree && load_finetune_tree(p, &T, err)) return ZM_ECONFIG;
    const zm_task task = is_tree ? (zm_task){ZM_TASK_TREE, 0, NULL, &T} : (zm_task){ZM_TASK_BINARY, 2, NULL, NULL};
    labelset L = {0};
    zm_reject_list rej = {0};
    int rc = read_labels(ctx, s, p, path, task.kind, task.tree, &L, &rej, err);
    zm_reject_free(&rej);
    if (rc) {
        zm_gz_schema_free(&T);
        return rc;
    }
    int need_img = 0, need_emb = 0;
    for (int i = 0; i < nmeth; i++) need_img |= meth[i] != M_FROZEN, need_emb |= meth[i] == M_FROZEN;
    zm_stamp_cache ci = {0}, ce = {0};
    if (need_img) rc = fill_data(s, 1, &L, &ci, err);
    if (!rc && need_emb) rc = fill_data(s, 0, &L, &ce, err);
    if (zm_any(ctx, rc)) {
        if (!rc) rc = zm_err_set(err, ZM_EIO, "reading the data failed on another rank");
        labelset_free(&L), zm_stamp_cache_free(&ci), zm_stamp_cache_free(&ce), zm_gz_schema_free(&T);
        return rc;
    }
    unsigned char *use = zm_malloc((size_t)(L.n ? L.n : 1)), *use2 = zm_malloc((size_t)(L.n ? L.n : 1));
    usable_rows(s, &L, need_emb ? &ce : &ci, !need_emb, use);
    if (need_emb && need_img) {
        usable_rows(s, &L, &ci, 1, use2);
        for (long i = 0; i < L.n; i++) use[i] &= use2[i];
    }
    /* test: the split column's test rows (the pretraining's held-out bricks); a binary
     * label's are balanced by keeping as many negatives (lowest hash first) as positives.
     * A tree's labels are all "positives": training sets are drawn from them alone. */
    size_t nn = (size_t)(L.n ? L.n : 1);
    long long *pos = zm_malloc(nn * sizeof *pos), *neg = zm_malloc(nn * sizeof *neg), *tpos = zm_malloc(nn * sizeof *pos),
              *tneg = zm_malloc(nn * sizeof *neg);
    long npos = 0, nneg = 0, ntp = 0, ntn = 0, nsplit = 0;
    for (long i = 0; i < L.n; i++) {
        if (!use[i]) continue;
        nsplit += L.split[i] != SPLIT_NONE;
        int y = is_tree || L.label[i] > 0.5f;
        if (L.split[i] == SPLIT_TEST) {
            if (y) tpos[ntp++] = L.row[i];
            else tneg[ntn++] = L.row[i];
        } else {
            if (y) pos[npos++] = L.row[i];
            else neg[nneg++] = L.row[i];
        }
    }
    if (is_tree && (nsplit == 0 || ntp == 0 || npos < 2))
        rc = zm_err_set(err, ZM_EMISSING, "labels %s: --learning-curve needs a split column with test rows and at least "
                        "2 other rows (found %ld test and %ld other labelled galaxies)", path, ntp, npos);
    else if (!is_tree && (nsplit == 0 || ntp == 0 || ntn == 0))
        rc = zm_err_set(err, ZM_EMISSING, "labels %s: --learning-curve needs a split column with test rows of both classes "
                        "(found %ld positive, %ld negative test labels)", path, ntp, ntn);
    long long *test = zm_malloc(nn * sizeof *test);
    long nte = 0;
    if (!rc) {
        /* negatives ordered by a hash of the row: a fixed, seed-free choice */
        for (long i = 0; i < ntn; i++)
            for (long j = i + 1; j < ntn; j++)
                if (hash_row(tneg[j], 0) < hash_row(tneg[i], 0)) {
                    long long t = tneg[i];
                    tneg[i] = tneg[j], tneg[j] = t;
                }
        long k = ntp < ntn ? ntp : ntn;
        for (long i = 0; i < ntp; i++) test[nte++] = tpos[i];
        for (long i = 0; i < k; i++) test[nte++] = tneg[i];
        qsort(test, (size_t)nte, sizeof *test, cmp_ll);
    }
    const long steps = (long)zm_param_int(p, "finetune.lc_steps");
    const long isteps = zm_param_int(p, "finetune.lc_image_steps") ? (long)zm_param_int(p, "finetune.lc_image_steps") : steps;
    const double lr_img = zm_param_real(p, "finetune.lc_lr_images");
    /* two figures per run: accuracy and ROC AUC, or (trees) the vote fractions' mean
     * absolute error over every question and over the first */
    double *acc = zm_calloc((size_t)nsizes * nmeth * nseeds, sizeof *acc), *auc = zm_calloc((size_t)nsizes * nmeth * nseeds, sizeof *auc);
    const int A = L.A, W = zm_task_outputs(&task);
    const zm_stamp_cache *lc_ = need_img ? &ci : &ce;
    float *tl = zm_calloc((size_t)(nte ? nte : 1) * A, sizeof *tl), *pr = zm_malloc((size_t)(nte ? nte : 1) * W * sizeof *pr);
    for (long i = 0; i < nte; i++) {
        long k = zm_stamp_cache_find(lc_, test[i]);
        if (k < 0) continue;
        if (is_tree) memcpy(tl + (size_t)i * A, lc_->targets + (size_t)k * A, (size_t)A * sizeof *tl);
        else tl[i] = (float)(lc_->targets[k] > 0.5f);
    }
    long long *tr = zm_malloc((size_t)(npos + nneg + 1) * sizeof *tr);
    /* trees: the error of always predicting the mean vote fractions of every label the
     * training sets are drawn from, beside the curve */
    double base = NAN, base0 = NAN;
    if (!rc && is_tree) {
        float *mean = zm_calloc((size_t)A, sizeof *mean);
        long *cnt = zm_calloc((size_t)T.nquestions, sizeof *cnt);
        for (long i = 0; i < npos; i++) {
            long k = zm_stamp_cache_find(lc_, pos[i]);
            const float *c = lc_->targets + (size_t)k * A;
            for (int q = 0; q < T.nquestions; q++) {
                double nq = 0;
                for (int j = 0; j < T.q[q].nanswers; j++) nq += c[T.q[q].first + j];
                if (!(nq > 0)) continue;
                cnt[q]++;
                for (int j = 0; j < T.q[q].nanswers; j++) mean[T.q[q].first + j] += (float)(c[T.q[q].first + j] / nq);
            }
        }
        for (int q = 0; q < T.nquestions; q++)
            for (int j = 0; j < T.q[q].nanswers; j++) mean[T.q[q].first + j] /= cnt[q] ? (float)cnt[q] : 1.0f;
        for (long i = 0; i < nte; i++) memcpy(pr + (size_t)i * W, mean, (size_t)A * sizeof *pr);
        metrics m = score(&task, pr, tl, nte);
        base = m.mae, base0 = m.mae_q0;
        free(mean), free(cnt);
    }
    if (!rc && is_tree)
        zm_info0("finetune --learning-curve: %ld labels to draw from, test %ld (every labelled test galaxy); %d sizes x "
                 "%d seeds x %d methods; %ld steps (image runs %ld) of batch %lld; predicting the mean vote fractions: "
                 "MAE %.4f (%s %.4f)", npos, nte, nsizes, nseeds, nmeth, steps, isteps, zm_param_int(p, "finetune.batch"),
                 base, T.q[0].name, base0);
    else if (!rc)
        zm_info0("finetune --learning-curve: %ld + %ld labels to draw from, test %ld (%ld positive, balanced); %d sizes x "
                 "%d seeds x %d methods; %ld steps (image runs %ld) of batch %lld", npos, nneg, nte, ntp, nsizes, nseeds,
                 nmeth, steps, isteps, zm_param_int(p, "finetune.batch"));
    /* binary labels with the representation loaded: scikit-learn's default logistic
     * regression (L2, C = 1, on the stored representation as it is) on each training
     * set, rank 0 alone, as a baseline beside the frozen heads (tests/reference/
     * finetune_logistic.py checks it against scikit-learn) */
    const int lr_base = !is_tree && need_emb;
    double *lacc = zm_calloc((size_t)nsizes * nseeds, sizeof *lacc), *lauc = zm_calloc((size_t)nsizes * nseeds, sizeof *lauc);
    double t0 = zm_now();
    for (int si = 0; si < nsizes && !rc; si++)
        for (int sd = 0; sd < nseeds && !rc; sd++) {
            /* binary: half positives where there are enough; trees: every draw from one pool */
            long want = sizes[si], kp = is_tree ? want : want / 2, kn = want - kp;
            if (kp > npos) kp = npos, kn = want - kp;
            if (kn > nneg) kn = nneg;
            zm_rng rng;
            zm_rng_seed(&rng, 0x1c0 + (uint64_t)sd, (uint64_t)want);
            draw(pos, npos, kp, &rng, tr);
            draw(neg, nneg, kn, &rng, tr + kp);
            long ntr = kp + kn;
            if (lr_base && ctx->rank == 0) {
                const int D = ce.C;
                float *X = zm_malloc((size_t)ntr * D * sizeof *X), *y = zm_malloc((size_t)ntr * sizeof *y);
                float *zt = zm_malloc((size_t)(nte ? nte : 1) * sizeof *zt), *Xt = zm_malloc((size_t)(nte ? nte : 1) * D * sizeof *Xt);
                double *w = zm_malloc((size_t)(D + 1) * sizeof *w);
                for (long i = 0; i < ntr; i++) {
                    long k = zm_stamp_cache_find(&ce, tr[i]);
                    memcpy(X + (size_t)i * D, ce.imgf + (size_t)k * D, (size_t)D * sizeof *X);
                    y[i] = ce.targets[k];
                }
                for (long i = 0; i < nte; i++)
                    memcpy(Xt + (size_t)i * D, ce.imgf + (size_t)zm_stamp_cache_find(&ce, test[i]) * D, (size_t)D * sizeof *Xt);
                zm_err le = {0};
                int it = zm_logreg_fit(X, y, ntr, D, 1.0, w, &le);
                size_t k = (size_t)si * nseeds + sd;
                if (it < 0) {
                    zm_warn("finetune --learning-curve: %s", le.msg);
                    lacc[k] = lauc[k] = NAN;
                } else {
                    zm_logreg_decision(w, Xt, nte, D, zt);
                    unsigned char *yt = zm_malloc((size_t)(nte ? nte : 1));
                    long right = 0;
                    for (long i = 0; i < nte; i++) yt[i] = tl[i] > 0.5f, right += (zt[i] >= 0) == yt[i];
                    lacc[k] = nte ? (double)right / (double)nte : NAN;
                    lauc[k] = zm_roc_auc(zt, yt, nte);
                    free(yt);
                    zm_info0("finetune --learning-curve: %ld labels, seed %d, logistic regression: test accuracy %.3f, "
                             "ROC AUC %.3f (%d Newton steps, %.0f s so far)", ntr, sd, lacc[k], lauc[k], it, zm_now() - t0);
                }
                free(X), free(y), free(zt), free(Xt), free(w);
            }
            for (int mi = 0; mi < nmeth && !rc; mi++) {
                run_cfg r;
                base_cfg(p, meth[mi], &r);
                r.info = info;
                r.task = task;
                r.seed = (unsigned long long)(1000 + sd);
                r.patience = 0;
                if (r.method == M_FROZEN) r.lr = zm_param_real(p, "finetune.frozen_lr"), r.l2 = zm_param_real(p, "finetune.head_l2");
                else r.lr = lr_img;
                long bsz = r.batch < ntr ? r.batch : ntr;
                long st = r.method == M_FROZEN ? steps : isteps;
                r.max_steps = st;
                r.epochs = (int)((st + ntr / bsz - 1) / (ntr / bsz));
                if (r.method == M_FROZEN) r.micro = (int)(bsz < 256 ? bsz : 256);
                zm_net *net = NULL;
                zm_train_result res;
                zm_stamp_cache *c = r.method == M_FROZEN ? &ce : &ci;
                rc = train_one(ctx, &r, c, tr, ntr, NULL, 0, &net, &res, err);
                if (!rc) rc = predict_cache(net, &r.task, c, test, nte, views, pr, err);
                if (!rc) {
                    metrics m = score(&r.task, pr, tl, nte);
                    size_t k = ((size_t)si * nmeth + mi) * nseeds + sd;
                    acc[k] = is_tree ? m.mae : m.acc, auc[k] = is_tree ? m.mae_q0 : m.auc;
                    if (is_tree)
                        zm_info0("finetune --learning-curve: %ld labels, seed %d, %s: test vote-fraction MAE %.4f, %s "
                                 "%.4f (%d steps, %.0f s so far)", ntr, sd, method_names[r.method], m.mae, T.q[0].name,
                                 m.mae_q0, (int)res.steps, zm_now() - t0);
                    else
                        zm_info0("finetune --learning-curve: %ld labels, seed %d, %s: test accuracy %.3f, ROC AUC %.3f "
                                 "(%d steps, %.0f s so far)", ntr, sd, method_names[r.method], m.acc, m.auc,
                                 (int)res.steps, zm_now() - t0);
                }
                zm_train_result_free(&res);
                zm_net_free(net);
            }
        }
    if (!rc && ctx->rank == 0) {
        /* table: mean, standard deviation, min and max over seeds */
        const char *out = zm_param_str(p, "finetune.lc_out");
        char fmd[4200], fcsv[4200], fpng[4200];
        snprintf(fmd, sizeof fmd, "%s.md", out);
        snprintf(fcsv, sizeof fcsv, "%s.csv", out);
        snprintf(fpng, sizeof fpng, "%s.png", out);
        FILE *md = fopen(fmd, "w"), *csv = fopen(fcsv, "w");
        if (!md || !csv) {
            rc = zm_err_set(err, ZM_EIO, "cannot write %s / %s ([finetune] lc_out)", fmd, fcsv);
        } else {
            if (is_tree) {
                fprintf(md, "| labels | method | vote-fraction MAE, every question (mean ± sd) | min-max | MAE, %s "
                            "(mean ± sd) | min-max |\n", T.q[0].name);
                fprintf(csv, "labels,method,seed,fraction_mae,fraction_mae_%s\n", T.q[0].name);
            } else {
                fprintf(md, "| labels | method | accuracy (mean ± sd) | accuracy min-max | ROC AUC (mean ± sd) | AUC min-max |\n");
                fprintf(csv, "labels,method,seed,accuracy,roc_auc\n");
            }
            fprintf(md, "|---:|---|---|---|---|---|\n");
            const char *f3 = is_tree ? "%.4f" : "%.3f";
            double *ex = zm_malloc((size_t)nsizes * sizeof *ex), *ey = zm_malloc((size_t)nsizes * nmeth * sizeof *ey);
            double *tmp = zm_malloc((size_t)nseeds * sizeof *tmp);
            for (int si = 0; si < nsizes; si++) {
                ex[si] = (double)sizes[si];
                for (int mi = 0; mi < nmeth; mi++) {
                    double st[2][4];
                    for (int q = 0; q < 2; q++) {
                        const double *v = (q ? auc : acc) + ((size_t)si * nmeth + mi) * nseeds;
                        double mean = 0, var = 0;
                        for (int sd = 0; sd < nseeds; sd++) mean += v[sd] / nseeds, tmp[sd] = v[sd];
                        for (int sd = 0; sd < nseeds; sd++) var += (v[sd] - mean) * (v[sd] - mean);
                        qsort(tmp, (size_t)nseeds, sizeof *tmp, cmp_double);
                        st[q][0] = mean, st[q][1] = nseeds > 1 ? sqrt(var / (nseeds - 1)) : 0, st[q][2] = tmp[0],
                        st[q][3] = tmp[nseeds - 1];
                    }
                    ey[(size_t)mi * nsizes + si] = st[0][0];
                    fprintf(md, "| %ld | %s |", sizes[si], method_names[meth[mi]]);
                    for (int q = 0; q < 2; q++) {
                        fputc(' ', md), fprintf(md, f3, st[q][0]), fputs(" ± ", md), fprintf(md, f3, st[q][1]);
                        fputs(" | ", md), fprintf(md, f3, st[q][2]), fputc('-', md), fprintf(md, f3, st[q][3]);
                        fputs(" |", md);
                    }
                    fputc('\n', md);
                    for (int sd = 0; sd < nseeds; sd++) {
                        size_t k = ((size_t)si * nmeth + mi) * nseeds + sd;
                        fprintf(csv, "%ld,%s,%d,%.6f,%.6f\n", sizes[si], method_names[meth[mi]], sd, acc[k], auc[k]);
                    }
                }
                if (lr_base) {
                    /* the baseline's row: the same statistics of its seeds */
                    fprintf(md, "| %ld | logistic regression |", sizes[si]);
                    for (int q = 0; q < 2; q++) {
                        const double *v = (q ? lauc : lacc) + (size_t)si * nseeds;
                        double mean = 0, var = 0;
                        for (int sd = 0; sd < nseeds; sd++) mean += v[sd] / nseeds, tmp[sd] = v[sd];
                        for (int sd = 0; sd < nseeds; sd++) var += (v[sd] - mean) * (v[sd] - mean);
                        qsort(tmp, (size_t)nseeds, sizeof *tmp, cmp_double);
                        fprintf(md, " %.3f ± %.3f | %.3f-%.3f |", mean, nseeds > 1 ? sqrt(var / (nseeds - 1)) : 0, tmp[0],
                                tmp[nseeds - 1]);
                    }
                    fputc('\n', md);
                    for (int sd = 0; sd < nseeds; sd++)
                        fprintf(csv, "%ld,logistic,%d,%.6f,%.6f\n", sizes[si], sd, lacc[(size_t)si * nseeds + sd],
                                lauc[(size_t)si * nseeds + sd]);
                }
            }
            if (is_tree)
                fprintf(md, "\nTest: the %ld labelled galaxies of the held-out split; predicting the mean vote fractions "
                            "of the %ld labels the training sets are drawn from: MAE %.4f, %s %.4f; %d seeds; colours in "
                            "the plot: ", nte, npos, base, T.q[0].name, base0, nseeds);
            else
                fprintf(md, "\nTest: %ld galaxies of the held-out split (%ld with the label, as many without); %d seeds; "
                            "colours in the plot: ", nte, ntp, nseeds);
            static const char *const colour[] = {"blue", "orange", "green", "red", "purple", "brown", "pink", "grey"};
            for (int mi = 0; mi < nmeth; mi++) fprintf(md, "%s%s %s", mi ? ", " : "", method_names[meth[mi]], colour[mi % 8]);
            fprintf(md, ".");
            if (lr_base)
                fprintf(md, " Logistic regression: scikit-learn's default (L2, C = 1, no class weights) on the stored "
                            "representation, fitted exactly (Newton) to each training set: a baseline for the frozen "
                            "heads, not in the plot.");
            if (views.n > 1 || views.angle)
                fprintf(md, " Every prediction is %s %d test-time view%s of each stamp%s (the store's "
                            "representation was embedded with %s; image runs %s).",
                        views.n > 1 ? "the mean over" : "made on", views.n, views.n > 1 ? "s" : "",
                        views.angle ? ", turned 45 degrees" : "", views.n > 1 ? "them" : "it",
                        views.n > 1 ? "average their outputs over them" : "predict on it too");
            fprintf(md, "\n");
            zm_series ser[8];
            for (int mi = 0; mi < nmeth; mi++) ser[mi] = (zm_series){ex, ey + (size_t)mi * nsizes, nsizes, mi};
            zm_err pe = {0};
            if (zm_plot_lines(fpng, 640, 400, ser, nmeth, 1, &pe)) zm_warn("finetune: %s", pe.msg);
            free(ex), free(ey), free(tmp);
            zm_info("finetune --learning-curve: table %s and %s, plot %s (test %s against labels, log x)", fmd, fcsv,
                    fpng, is_tree ? "vote-fraction MAE" : "accuracy");
        }
        if (md) fclose(md);
        if (csv) fclose(csv);
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc && ctx->rank) zm_err_set(err, ZM_EIO, "finetune --learning-curve: writing the table failed on rank 0");
    free(acc), free(auc), free(lacc), free(lauc), free(tl), free(pr), free(tr), free(test);
    free(pos), free(neg), free(tpos), free(tneg), free(use), free(use2);
    labelset_free(&L);
    zm_stamp_cache_free(&ci), zm_stamp_cache_free(&ce);
    zm_gz_schema_free(&T);
    return rc;
}

const zm_stage zm_stage_finetune = {
    "finetune", "teach the pretrained encoder a new label from a few labels: /finetune/<task>, a weight file",
    "--learning-curve labels.csv  (accuracy and ROC AUC, or a tree's vote-fraction error, against training size, "
    "pretrained vs scratch)", run_finetune};
