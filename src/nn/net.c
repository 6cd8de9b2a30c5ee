/*
 * net.c: the network graph: builder (nn_build.h), buffer planning, parameter init,
 * forward, backward, NaN/inf detection, block ranges. The layer loop dispatches to the
 * kernels of nn_layers.h; architectures are in arch.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn_build.h"
#include "zoomorph/log.h"
#include "zoomorph/nn_layers.h"

/* The profiler's clock: wall time, or the process's CPU time (robust against other
 * processes sharing the cores when the engine runs one thread). */
static double prof_now(const zm_net *net)
{
    if (!net->prof_cpu) return zm_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- builder ----------------------------------------------------------------------- */

void zm_nb_init(zm_nb *b, zm_net *net)
{
    memset(b, 0, sizeof *b);
    b->net = net;
}

static size_t t_size(const zm_tensor *t) { return (size_t)t->c * t->h * t->w; }

static int new_tensor(zm_nb *b, int c, int h, int w)
{
    zm_net *net = b->net;
    if (net->n_tensors == b->cap_t) {
        b->cap_t = b->cap_t ? 2 * b->cap_t : 64;
        net->t = zm_realloc(net->t, sizeof(zm_tensor) * b->cap_t);
    }
    zm_tensor *t = &net->t[net->n_tensors];
    t->c = c;
    t->h = h;
    t->w = w;
    t->off = 0;
    t->block = b->block;
    return net->n_tensors++;
}

static zm_op *new_op(zm_nb *b, zm_op_kind kind, const char *name, int in0, int in1)
{
    zm_net *net = b->net;
    if (net->n_ops == b->cap_ops) {
        b->cap_ops = b->cap_ops ? 2 * b->cap_ops : 64;
        net->ops = zm_realloc(net->ops, sizeof(zm_op) * b->cap_ops);
    }
    zm_op *op = &net->ops[net->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    snprintf(op->name, sizeof op->name, "%s", name);
    op->block = b->block;
    op->in0 = in0;
    op->in1 = in1;
    op->out = -1;
    op->w = op->b = op->rm = op->rv = -1;
    op->k = op->s = op->g = 1;
    return op;
}

static long new_param(zm_nb *b, const char *name, const char *suffix, int is_state, int ndim,
                      int d0, int d1, int d2, int d3)
{
    zm_net *net = b->net;
    if (net->n_pinfo == b->cap_p) {
        b->cap_p = b->cap_p ? 2 * b->cap_p : 128;
        net->pinfo = zm_realloc(net->pinfo, sizeof(zm_param) * b->cap_p);
    }
    zm_param *p = &net->pinfo[net->n_pinfo++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s.%s", name, suffix);
    p->ndim = ndim;
    int dims[4] = {d0, d1, d2, d3};
    p->count = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = dims[i];
        p->count *= (size_t)dims[i];
    }
    p->block = b->block;
    p->is_state = is_state;
    size_t *n = is_state ? &net->n_state : &net->n_params;
    p->off = *n;
    *n += p->count;
    return (long)p->off;
}

int zm_nb_input(zm_nb *b, int c, int h, int w)
{
    int t = new_tensor(b, c, h, w);
    b->net->t[t].block = -1;
    return t;
}

int zm_nb_conv(zm_nb *b, const char *name, int in, int O, int K, int S, int D, int G, int bias)
{
    zm_tensor ti = b->net->t[in];
    zm_op *op = new_op(b, ZM_OP_CONV, name, in, -1);
    op->k = K;
    op->s = S;
    op->d = D;
    op->g = G;
    op->w = new_param(b, name, "weight", 0, 4, O, ti.c / G, K, K);
    if (bias) op->b = new_param(b, name, "bias", 0, 1, O, 0, 0, 0);
    int out = new_tensor(b, O, zm_conv_out(ti.h, K, S, D), zm_conv_out(ti.w, K, S, D));
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_bn(zm_nb *b, const char *name, int in)
{
    zm_tensor ti = b->net->t[in];
    zm_op *op = new_op(b, ZM_OP_BN, name, in, -1);
    op->eps = 1e-5f;
    op->momentum = 0.1f;
    op->w = new_param(b, name, "weight", 0, 1, ti.c, 0, 0, 0);
    op->b = new_param(b, name, "bias", 0, 1, ti.c, 0, 0, 0);
    op->rm = new_param(b, name, "running_mean", 1, 1, ti.c, 0, 0, 0);
    op->rv = new_param(b, name, "running_var", 1, 1, ti.c, 0, 0, 0);
    op->save = 2 * (size_t)ti.c; /* size for now; zm_nb_finish turns it into an offset */
    int out = new_tensor(b, ti.c, ti.h, ti.w);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_act(zm_nb *b, zm_op_kind kind, const char *name, int in)
{
    zm_tensor ti = b->net->t[in];
    new_op(b, kind, name, in, -1);
    int out = new_tensor(b, ti.c, ti.h, ti.w);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_gap(zm_nb *b, const char *name, int in)
{
    zm_tensor ti = b->net->t[in];
    new_op(b, ZM_OP_GAP, name, in, -1);
    int out = new_tensor(b, ti.c, 1, 1);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_maxpool(zm_nb *b, const char *name, int in, int K, int S, int D)
{
    zm_tensor ti = b->net->t[in];
    zm_op *op = new_op(b, ZM_OP_MAXPOOL, name, in, -1);
    op->k = K;
    op->s = S;
    op->d = D;
    int out = new_tensor(b, ti.c, zm_conv_out(ti.h, K, S, D), zm_conv_out(ti.w, K, S, D));
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_linear(zm_nb *b, const char *name, int in, int O, int conv4d)
{
    zm_tensor ti = b->net->t[in];
    int I = (int)t_size(&ti);
    zm_op *op = new_op(b, ZM_OP_LINEAR, name, in, -1);
    op->k = conv4d; /* 1: initialised as a 1x1 convolution */
    op->w = conv4d ? new_param(b, name, "weight", 0, 4, O, I, 1, 1)
                   : new_param(b, name, "weight", 0, 2, O, I, 0, 0);
    op->b = new_param(b, name, "bias", 0, 1, O, 0, 0, 0);
    int out = new_tensor(b, O, 1, 1);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_chscale(zm_nb *b, const char *name, int x, int s)
{
    zm_tensor ti = b->net->t[x];
    new_op(b, ZM_OP_CHSCALE, name, x, s);
    int out = new_tensor(b, ti.c, ti.h, ti.w);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_add(zm_nb *b, const char *name, int a, int c)
{
    zm_tensor ti = b->net->t[a];
    new_op(b, ZM_OP_ADD, name, a, c);
    int out = new_tensor(b, ti.c, ti.h, ti.w);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_dropout(zm_nb *b, const char *name, int in, float p)
{
    zm_tensor ti = b->net->t[in];
    zm_op *op = new_op(b, ZM_OP_DROPOUT, name, in, -1);
    op->p = p;
    op->save = t_size(&ti) * (size_t)b->net->cfg.max_batch;
    int out = new_tensor(b, ti.c, ti.h, ti.w);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

int zm_nb_droppath(zm_nb *b, const char *name, int in, float p)
{
    zm_tensor ti = b->net->t[in];
    zm_op *op = new_op(b, ZM_OP_DROPPATH, name, in, -1);
    op->p = p;
    op->save = (size_t)b->net->cfg.max_batch;
    int out = new_tensor(b, ti.c, ti.h, ti.w);
    b->net->ops[b->net->n_ops - 1].out = out;
    return out;
}

/* Inference fusion (EVAL and MC modes of inference_only networks): [CHSCALE ->] CONV ->
 * BN [-> ReLU/SiLU] run as one convolution with the batch normalisation folded in, when
 * each intermediate tensor has that single reader. Returns the last op of the group
 * starting at o, or o when there is none. */
static int fuse_end(const zm_net *net, int o)
{
    const zm_op *ops = net->ops;
    int c = o;
    if (ops[o].kind == ZM_OP_CHSCALE) {
        if (o + 1 >= net->n_ops || ops[o + 1].kind != ZM_OP_CONV || ops[o + 1].in0 != ops[o].out ||
            net->readers[ops[o].out] != 1 || ops[o + 1].k != 1 || ops[o + 1].s != 1 ||
            ops[o + 1].d != 0 || ops[o + 1].g != 1)
            return o;
        c = o + 1;
    }
    if (ops[c].kind != ZM_OP_CONV || c + 1 >= net->n_ops || ops[c + 1].kind != ZM_OP_BN ||
        ops[c + 1].in0 != ops[c].out || net->readers[ops[c].out] != 1)
        return o;
    int e = c + 1;
    if (e + 1 < net->n_ops && (ops[e + 1].kind == ZM_OP_SILU || ops[e + 1].kind == ZM_OP_RELU) &&
        ops[e + 1].in0 == ops[e].out && net->readers[ops[e].out] == 1)
        e++;
    return e;
}

static void run_fused(zm_net *net, int o, int e, int n)
{
    const zm_op *ops = net->ops;
    const float *inscale = NULL;
    int c = o, x;
    if (ops[o].kind == ZM_OP_CHSCALE) {
        inscale = zm_net_tensor(net, ops[o].in1);
        x = ops[o].in0;
        c = o + 1;
    } else {
        x = ops[c].in0;
    }
    const zm_op *cv = &ops[c], *bn = &ops[c + 1];
    const zm_tensor *ti = &net->t[x], *to = &net->t[cv->out];
    float *sc = net->fold, *sh = net->fold + to->c;
    for (int k = 0; k < to->c; k++) {
        sc[k] = net->params[bn->w + k] / sqrtf(net->state[bn->rv + k] + bn->eps);
        sh[k] = net->params[bn->b + k] - net->state[bn->rm + k] * sc[k];
        if (cv->b >= 0) sh[k] += net->params[cv->b + k] * sc[k];
    }
    int act = e > c + 1 ? (ops[e].kind == ZM_OP_SILU ? 2 : 1) : 0;
    zm_conv2d_forward_fused(zm_net_tensor(net, ops[e].out), zm_net_tensor(net, x),
                            net->params + cv->w, sc, sh, act, inscale, n, ti->c, ti->h, ti->w,
                            to->c, cv->k, cv->s, cv->d, cv->g, net->work, net->n_work);
}

/* Activation offsets. Training keeps every tensor. Inference gives each tensor a slot
 * that is reused once all its readers have run (best fit, growing the largest free). */
static void plan_activations(zm_net *net)
{
    size_t B = (size_t)net->cfg.max_batch;
    int nt = net->n_tensors;
    net->mc_first = net->n_ops;
    for (int o = 0; o < net->n_ops; o++)
        if (net->ops[o].kind == ZM_OP_DROPOUT && net->ops[o].p > 0) {
            net->mc_first = o;
            break;
        }
    if (!net->cfg.inference_only) {
        size_t off = 0;
        for (int i = 0; i < nt; i++) {
            net->t[i].off = off;
            off += t_size(&net->t[i]) * B;
        }
        net->n_act = off;
        return;
    }
    int *last = zm_malloc(sizeof(int) * nt), *slot = zm_malloc(sizeof(int) * nt);
    size_t *ssize = zm_calloc(nt, sizeof(size_t));
    int *sfree = zm_calloc(nt, sizeof(int));
    int nslot = 0;
    for (int i = 0; i < nt; i++) last[i] = -1;
    for (int o = 0; o < net->n_ops; o++) {
        last[net->ops[o].in0] = o;
        if (net->ops[o].in1 >= 0) last[net->ops[o].in1] = o;
    }
    last[net->repr] = last[net->output] = last[net->input] = net->n_ops;
    /* a Monte-Carlo rerun (zm_net_forward_mc_again) reads again what the ops from the
     * first dropout read: keep those tensors */
    for (int o = net->mc_first; o < net->n_ops; o++) {
        last[net->ops[o].in0] = net->n_ops;
        if (net->ops[o].in1 >= 0) last[net->ops[o].in1] = net->n_ops;
    }
    for (int o = 0; o < net->n_ops; o++) { /* a fused group reads its inputs until its end */
        int e = fuse_end(net, o);
        for (int k = o; k <= e && e > o; k++) {
            if (last[net->ops[k].in0] < e) last[net->ops[k].in0] = e;
            if (net->ops[k].in1 >= 0 && last[net->ops[k].in1] < e) last[net->ops[k].in1] = e;
        }
    }
    slot[net->input] = nslot;
    ssize[nslot++] = t_size(&net->t[net->input]) * B;
    for (int o = 0; o < net->n_ops; o++) {
        int t = net->ops[o].out;
        size_t need = t_size(&net->t[t]) * B;
        int best = -1, largest = -1;
        for (int s = 0; s < nslot; s++) {
            if (!sfree[s]) continue;
            if (ssize[s] >= need && (best < 0 || ssize[s] < ssize[best])) best = s;
            if (largest < 0 || ssize[s] > ssize[largest]) largest = s;
        }
        if (best < 0) best = largest;
        if (best < 0) best = nslot++;
        if (ssize[best] < need) ssize[best] = need;
        sfree[best] = 0;
        slot[t] = best;
        const zm_op *op = &net->ops[o];
        if (last[op->in0] == o) sfree[slot[op->in0]] = 1;
        if (op->in1 >= 0 && last[op->in1] == o) sfree[slot[op->in1]] = 1;
        if (last[t] < 0) sfree[best] = 1; /* never read */
    }
    size_t *soff = zm_malloc(sizeof(size_t) * (nslot + 1));
    soff[0] = 0;
    for (int s = 0; s < nslot; s++) soff[s + 1] = soff[s] + ssize[s];
    for (int i = 0; i < nt; i++) net->t[i].off = soff[slot[i]];
    net->n_act = soff[nslot];
    free(soff);
    free(last);
    free(slot);
    free(ssize);
    free(sfree);
}

static void init_params(zm_net *net)
{
    zm_rng r;
    zm_rng_seed(&r, net->cfg.seed, 0x6e6e);
    for (int o = 0; o < net->n_ops; o++) {
        const zm_op *op = &net->ops[o];
        const zm_tensor *to = &net->t[op->out];
        if (op->kind == ZM_OP_CONV || (op->kind == ZM_OP_LINEAR && op->k == 1)) {
            const zm_param *p = NULL;
            for (int i = 0; i < net->n_pinfo; i++)
                if (!net->pinfo[i].is_state && net->pinfo[i].off == (size_t)op->w) p = &net->pinfo[i];
            double fan_out = (double)to->c * op->k * op->k;
            double sd = sqrt(2.0 / fan_out);
            for (size_t i = 0; i < p->count; i++)
                net->params[op->w + i] = (float)(sd * zm_rng_normal(&r));
            if (op->b >= 0) memset(net->params + op->b, 0, sizeof(float) * to->c);
        } else if (op->kind == ZM_OP_LINEAR) {
            size_t I = t_size(&net->t[op->in0]);
            double range = 1.0 / sqrt((double)to->c);
            for (size_t i = 0; i < I * to->c; i++)
                net->params[op->w + i] = (float)(range * (2.0 * zm_rng_uniform(&r) - 1.0));
            memset(net->params + op->b, 0, sizeof(float) * to->c);
        } else if (op->kind == ZM_OP_BN) {
            for (int c = 0; c < to->c; c++) {
                net->params[op->w + c] = 1.0f;
                net->params[op->b + c] = 0.0f;
                net->state[op->rm + c] = 0.0f;
                net->state[op->rv + c] = 1.0f;
            }
        }
    }
}

void zm_nb_finish(zm_nb *b)
{
    zm_net *net = b->net;
    /* save arena offsets (sizes were stored in op->save) */
    size_t save = 0, work = 0;
    for (int o = 0; o < net->n_ops; o++) {
        zm_op *op = &net->ops[o];
        size_t sz = op->save;
        op->save = save;
        save += sz;
        if (op->kind == ZM_OP_CONV) {
            const zm_tensor *ti = &net->t[op->in0], *to = &net->t[op->out];
            size_t w = zm_conv2d_work(ti->c, to->c, op->k, to->h, to->w, op->g);
            if (w > work) work = w;
        }
    }
    net->n_save = save;
    int maxc = 1;
    net->readers = zm_calloc(net->n_tensors, sizeof(int));
    for (int o = 0; o < net->n_ops; o++) {
        zm_op *op = &net->ops[o];
        net->readers[op->in0]++;
        if (op->in1 >= 0) net->readers[op->in1]++;
        const zm_tensor *ti = &net->t[op->in0], *to = &net->t[op->out];
        if (to->c > maxc) maxc = to->c;
        if (op->kind == ZM_OP_CONV) { /* inference: folded convolutions */
            size_t w = zm_conv2d_fused_work(net->cfg.max_batch, ti->c, to->c, op->k, to->h,
                                            to->w, op->g);
            if (w > work) work = w;
        }
    }
    net->n_work = work;
    net->fold = zm_calloc(2 * (size_t)maxc, sizeof(float));
    plan_activations(net);
    /* blocks and their parameter ranges */
    net->n_blocks = b->block + 1;
    net->block_off = zm_malloc(sizeof(size_t) * (net->n_blocks + 1));
    for (int k = 0; k <= net->n_blocks; k++) net->block_off[k] = net->n_params;
    for (int i = net->n_pinfo - 1; i >= 0; i--)
        if (!net->pinfo[i].is_state) net->block_off[net->pinfo[i].block] = net->pinfo[i].off;
    for (int k = net->n_blocks - 1; k >= 0; k--)
        if (net->block_off[k] > net->block_off[k + 1]) net->block_off[k] = net->block_off[k + 1];
    net->params = zm_calloc(net->n_params, sizeof(float));
    net->grads = zm_calloc(net->n_params, sizeof(float));
    net->state = zm_calloc(net->n_state ? net->n_state : 1, sizeof(float));
    net->act = zm_calloc(net->n_act, sizeof(float));
    net->dact = net->cfg.inference_only ? NULL : zm_calloc(net->n_act, sizeof(float));
    net->save = zm_calloc(save ? save : 1, sizeof(float));
    net->work = zm_calloc(work ? work : 1, sizeof(float));
    init_params(net);
}

/* ---- public ------------------------------------------------------------------------ */

zm_net_config zm_net_config_default(const char *arch)
{
    zm_net_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.in_ch = 1;
    c.in_size = 224;
    c.n_out = 34;
    c.max_batch = 32;
    c.dropout = 0.2f;
    c.drop_path = (arch && strcmp(arch, "resnet18") == 0) ? 0.0f : 0.2f;
    c.seed = 1;
    return c;
}

int zm_net_create(zm_net **out, const zm_net_config *cfg, zm_err *err)
{
    *out = NULL;
    if (!cfg->arch) return zm_err_set(err, ZM_ECONFIG, "network: no architecture name");
    if (cfg->head_hidden < 0 || cfg->head_hidden > 65536)
        return zm_err_set(err, ZM_ECONFIG, "network %s: head width %d, expected 0..65536", cfg->arch ? cfg->arch : "?",
                          cfg->head_hidden);
    if (cfg->head_only && !zm_arch_repr_dim(cfg->arch))
        return zm_err_set(err, ZM_ECONFIG,
                          "network: unknown architecture '%s' (expected efficientnet_b0, resnet18 or zoonet)", cfg->arch);
    if (cfg->head_only) {
        /* the input is the representation: channel and size checks do not apply */
    } else if (cfg->in_ch != 1 && cfg->in_ch != 3)
        return zm_err_set(err, ZM_ECONFIG, "network %s: input channels %d, expected 1 or 3",
                          cfg->arch, cfg->in_ch);
    if (!cfg->head_only && (cfg->in_size < 32 || cfg->in_size > 4096))
        return zm_err_set(err, ZM_ECONFIG, "network %s: input size %d, expected 32..4096",
                          cfg->arch, cfg->in_size);
    if (cfg->n_out < 1 || cfg->max_batch < 1)
        return zm_err_set(err, ZM_ECONFIG, "network %s: n_out %d / max_batch %d must be >= 1",
                          cfg->arch, cfg->n_out, cfg->max_batch);
    if (!(cfg->dropout >= 0 && cfg->dropout < 1) || !(cfg->drop_path >= 0 && cfg->drop_path < 1))
        return zm_err_set(err, ZM_ECONFIG, "network %s: dropout rates must be in [0, 1)",
                          cfg->arch);
    zm_net *net = zm_calloc(1, sizeof *net);
    net->cfg = *cfg;
    snprintf(net->arch, sizeof net->arch, "%s", cfg->arch);
    net->cfg.arch = net->arch;
    if (cfg->head_only) { /* the input is the representation, (D, 1, 1) */
        net->cfg.in_ch = zm_arch_repr_dim(cfg->arch);
        net->cfg.in_size = 1;
    }
    net->check_finite = 1;
    zm_rng_seed(&net->rng, cfg->seed, 0xd70);
    zm_nb b;
    zm_nb_init(&b, net);
    int rc = zm_arch_build(&b, &net->cfg, err);
    if (rc < 0) {
        zm_net_free(net);
        return rc;
    }
    zm_nb_finish(&b);
    *out = net;
    return 0;
}

void zm_net_free(zm_net *net)
{
    if (!net) return;
    free(net->ops);
    free(net->t);
    free(net->pinfo);
    free(net->block_off);
    free(net->params);
    free(net->grads);
    free(net->state);
    free(net->act);
    free(net->dact);
    free(net->save);
    free(net->work);
    free(net->readers);
    free(net->fold);
    free(net);
}

float *zm_net_tensor(const zm_net *net, int t) { return net->act + net->t[t].off; }
const float *zm_net_output(const zm_net *net) { return zm_net_tensor(net, net->output); }
const float *zm_net_repr(const zm_net *net) { return zm_net_tensor(net, net->repr); }
int zm_net_repr_dim(const zm_net *net) { return (int)t_size(&net->t[net->repr]); }

static int all_finite(const float *x, size_t n) { return zm_all_finite(x, n); }

int zm_net_find_nonfinite(const zm_net *net, int n)
{
    for (int o = 0; o < net->n_ops; o++) {
        const zm_tensor *t = &net->t[net->ops[o].out];
        if (!all_finite(zm_net_tensor(net, net->ops[o].out), t_size(t) * n)) return o;
    }
    return -1;
}

/* Runs ops [from, n_ops) on the activations in place. */
static int run_ops(zm_net *net, int from, int n, zm_mode mode, zm_err *err)
{
    float *P = net->params;
    for (int o = from; o < net->n_ops; o++) {
        const zm_op *op = &net->ops[o];
        const zm_tensor *ti = &net->t[op->in0], *to = &net->t[op->out];
        float *in = zm_net_tensor(net, op->in0), *out = zm_net_tensor(net, op->out);
        double t0 = net->prof ? prof_now(net) : 0.0;
        size_t cnt = t_size(ti) * n;
        if (mode != ZM_MODE_TRAIN && net->cfg.inference_only) {
            int e = fuse_end(net, o); /* skips tensors a backward pass would need */
            if (e > o) {
                run_fused(net, o, e, n);
                if (net->prof) /* the group's time goes to its convolution */
                    net->prof[op->kind == ZM_OP_CHSCALE ? o + 1 : o] += prof_now(net) - t0;
                const zm_tensor *te = &net->t[net->ops[e].out];
                if (net->check_finite &&
                    !all_finite(zm_net_tensor(net, net->ops[e].out), t_size(te) * n))
                    return zm_err_set(err, ZM_EVALUE,
                                      "network %s: NaN or infinite value in the output of layer "
                                      "%s (op %d, block %d) in the forward pass",
                                      net->arch, net->ops[e].name, e, net->ops[e].block);
                o = e;
                continue;
            }
        }
        switch (op->kind) {
        case ZM_OP_CONV:
            zm_conv2d_forward(out, in, P + op->w, op->b >= 0 ? P + op->b : NULL, n, ti->c, ti->h,
                              ti->w, to->c, op->k, op->s, op->d, op->g, net->work);
            break;
        case ZM_OP_BN:
            /* frozen blocks (below train_from) run in inference mode, as Keras/Zoobot
             * freeze layers: running statistics used, not updated */
            if (mode == ZM_MODE_TRAIN && op->block >= net->train_from)
                zm_batchnorm_forward_train(out, net->save + op->save, net->state + op->rm,
                                           net->state + op->rv, in, P + op->w, P + op->b, n,
                                           ti->c, ti->h * ti->w, op->eps, op->momentum);
            else
                zm_batchnorm_forward_eval(out, in, P + op->w, P + op->b, net->state + op->rm,
                                          net->state + op->rv, n, ti->c, ti->h * ti->w, op->eps);
            break;
        case ZM_OP_RELU: zm_relu_forward(out, in, cnt); break;
        case ZM_OP_SILU: zm_silu_forward(out, in, cnt); break;
        case ZM_OP_SIGMOID: zm_sigmoid_forward(out, in, cnt); break;
        case ZM_OP_GAP: zm_avgpool_global_forward(out, in, n, ti->c, ti->h * ti->w); break;
        case ZM_OP_MAXPOOL:
            zm_maxpool_forward(out, in, n, ti->c, ti->h, ti->w, op->k, op->s, op->d);
            break;
        case ZM_OP_LINEAR:
            zm_linear_forward(out, in, P + op->w, P + op->b, n, (int)t_size(ti), to->c);
            break;
        case ZM_OP_CHSCALE:
            zm_chscale_forward(out, in, zm_net_tensor(net, op->in1), n, ti->c, ti->h * ti->w);
            break;
        case ZM_OP_ADD: zm_add_forward(out, in, zm_net_tensor(net, op->in1), cnt); break;
        case ZM_OP_DROPOUT:
            if (mode != ZM_MODE_EVAL && op->p > 0) {
                zm_dropout_mask(net->save + op->save, cnt, op->p, &net->rng);
                zm_mul_forward(out, in, net->save + op->save, cnt);
            } else {
                memcpy(out, in, sizeof(float) * cnt);
            }
            break;
        case ZM_OP_DROPPATH:
            if (mode == ZM_MODE_TRAIN && op->p > 0) {
                zm_dropout_mask(net->save + op->save, n, op->p, &net->rng);
                zm_rowscale_forward(out, in, net->save + op->save, n, t_size(ti));
            } else {
                memcpy(out, in, sizeof(float) * cnt);
            }
            break;
        }
        if (net->prof) net->prof[o] += prof_now(net) - t0;
        if (net->check_finite && !all_finite(out, t_size(to) * n))
            return zm_err_set(err, ZM_EVALUE,
                              "network %s: NaN or infinite value in the output of layer %s "
                              "(op %d, block %d) in the forward pass",
                              net->arch, op->name, o, op->block);
    }
    return 0;
}

int zm_net_forward(zm_net *net, const float *x, int n, zm_mode mode, zm_err *err)
{
    if (n < 1 || n > net->cfg.max_batch)
        ZM_ABORT("network %s: batch %d outside 1..%d", net->arch, n, net->cfg.max_batch);
    net->last_mode = mode;
    net->last_n = n;
    memcpy(zm_net_tensor(net, net->input), x, sizeof(float) * t_size(&net->t[net->input]) * n);
    return run_ops(net, 0, n, mode, err);
}

int zm_net_forward_mc_again(zm_net *net, zm_err *err)
{
    if (net->last_mode != ZM_MODE_MC || net->last_n < 1)
        ZM_ABORT("network %s: zm_net_forward_mc_again needs a forward pass in ZM_MODE_MC first", net->arch);
    return run_ops(net, net->mc_first, net->last_n, ZM_MODE_MC, err);
}

void zm_net_zero_grad(zm_net *net) { memset(net->grads, 0, sizeof(float) * net->n_params); }

void zm_net_backward(zm_net *net, const float *dout, int n)
{
    if (!net->dact) ZM_ABORT("network %s: built inference_only, no backward", net->arch);
    if (n != net->last_n) ZM_ABORT("network %s: backward batch %d != forward %d", net->arch, n,
                                   net->last_n);
    int mode = net->last_mode;
    float *P = net->params, *G = net->grads;
    memset(net->dact, 0, sizeof(float) * net->n_act);
    memcpy(net->dact + net->t[net->output].off, dout,
           sizeof(float) * t_size(&net->t[net->output]) * n);
    for (int o = net->n_ops - 1; o >= 0; o--) {
        const zm_op *op = &net->ops[o];
        if (op->block < net->train_from) break;
        const zm_tensor *ti = &net->t[op->in0], *to = &net->t[op->out];
        const float *in = zm_net_tensor(net, op->in0);
        const float *g = net->dact + to->off;
        float *din = ti->block >= net->train_from ? net->dact + ti->off : NULL;
        size_t cnt = t_size(ti) * n;
        int HW = ti->h * ti->w;
        double t0 = net->prof ? prof_now(net) : 0.0;
        switch (op->kind) {
        case ZM_OP_CONV:
            zm_conv2d_backward(din, G + op->w, op->b >= 0 ? G + op->b : NULL, g, in, P + op->w, n,
                               ti->c, ti->h, ti->w, to->c, op->k, op->s, op->d, op->g, net->work);
            break;
        case ZM_OP_BN:
            if (mode == ZM_MODE_TRAIN) {
                zm_batchnorm_backward(din, G + op->w, G + op->b, g, in, net->save + op->save,
                                      P + op->w, n, ti->c, HW);
            } else { /* frozen statistics: y = x * scale + shift */
                for (int c = 0; c < ti->c; c++) {
                    float rm = net->state[op->rm + c];
                    float inv = 1.0f / sqrtf(net->state[op->rv + c] + op->eps);
                    float sc = P[op->w + c] * inv;
                    double sg = 0, sgx = 0;
                    for (int i = 0; i < n; i++) {
                        const float *x = in + ((size_t)i * ti->c + c) * HW;
                        const float *gg = g + ((size_t)i * ti->c + c) * HW;
                        float *d = din ? din + ((size_t)i * ti->c + c) * HW : NULL;
                        for (int j = 0; j < HW; j++) {
                            sg += gg[j];
                            sgx += gg[j] * (x[j] - rm) * inv;
                            if (d) d[j] += gg[j] * sc;
                        }
                    }
                    G[op->w + c] += (float)sgx;
                    G[op->b + c] += (float)sg;
                }
            }
            break;
        case ZM_OP_RELU: if (din) zm_relu_backward(din, g, in, cnt); break;
        case ZM_OP_SILU: if (din) zm_silu_backward(din, g, in, cnt); break;
        case ZM_OP_SIGMOID: if (din) zm_sigmoid_backward(din, g, in, cnt); break;
        case ZM_OP_GAP: if (din) zm_avgpool_global_backward(din, g, n, ti->c, HW); break;
        case ZM_OP_MAXPOOL:
            if (din) zm_maxpool_backward(din, g, in, n, ti->c, ti->h, ti->w, op->k, op->s, op->d);
            break;
        case ZM_OP_LINEAR:
            zm_linear_backward(din, G + op->w, G + op->b, g, in, P + op->w, n, (int)t_size(ti),
                               to->c);
            break;
        case ZM_OP_CHSCALE: {
            const zm_tensor *ts = &net->t[op->in1];
            float *ds = ts->block >= net->train_from ? net->dact + ts->off : NULL;
            zm_chscale_backward(din, ds, g, in, zm_net_tensor(net, op->in1), n, ti->c, HW);
            break;
        }
        case ZM_OP_ADD: {
            const zm_tensor *tb = &net->t[op->in1];
            if (din)
                for (size_t i = 0; i < cnt; i++) din[i] += g[i];
            if (tb->block >= net->train_from) {
                float *db = net->dact + tb->off;
                for (size_t i = 0; i < cnt; i++) db[i] += g[i];
            }
            break;
        }
        case ZM_OP_DROPOUT:
            if (!din) break;
            if (mode != ZM_MODE_EVAL && op->p > 0)
                zm_mul_backward(din, g, net->save + op->save, cnt);
            else
                for (size_t i = 0; i < cnt; i++) din[i] += g[i];
            break;
        case ZM_OP_DROPPATH:
            if (!din) break;
            if (mode == ZM_MODE_TRAIN && op->p > 0)
                zm_rowscale_backward(din, g, net->save + op->save, n, t_size(ti));
            else
                for (size_t i = 0; i < cnt; i++) din[i] += g[i];
            break;
        }
        if (net->prof) net->prof[o] += prof_now(net) - t0;
    }
}

int zm_net_block_params(const zm_net *net, int b, size_t *off, size_t *count)
{
    if (b < 0 || b >= net->n_blocks) {
        *off = *count = 0;
        return net->n_blocks;
    }
    *off = net->block_off[b];
    *count = net->block_off[b + 1] - net->block_off[b];
    return net->n_blocks;
}

/* The floats of net->state that belong to blocks below train_from. */
static size_t frozen_state_of(const zm_net *net)
{
    size_t end = 0;
    for (int o = 0; o < net->n_ops; o++) {
        const zm_op *op = &net->ops[o];
        if (op->kind != ZM_OP_BN || op->block >= net->train_from) continue;
        size_t c = (size_t)net->t[op->in0].c, e = (size_t)(op->rm > op->rv ? op->rm : op->rv) + c;
        if (e > end) end = e;
    }
    /* state is laid out in op order and blocks in order, so the frozen part is a prefix */
    for (int o = 0; o < net->n_ops; o++) {
        const zm_op *op = &net->ops[o];
        if (op->kind == ZM_OP_BN && op->block >= net->train_from && ((size_t)op->rm < end || (size_t)op->rv < end))
            ZM_ABORT("network %s: running statistics of trainable layer %s lie among the frozen ones", net->arch,
                     op->name);
    }
    return end;
}

void zm_net_set_trainable_from(zm_net *net, int b)
{
    net->train_from = b < 0 ? 0 : b;
    net->frozen_state = frozen_state_of(net);
}

size_t zm_net_frozen_state(const zm_net *net) { return net->frozen_state; }

const zm_param *zm_net_param(const zm_net *net, const char *name)
{
    for (int i = 0; i < net->n_pinfo; i++)
        if (strcmp(net->pinfo[i].name, name) == 0) return &net->pinfo[i];
    return NULL;
}

float *zm_net_param_data(zm_net *net, const zm_param *p)
{
    return (p->is_state ? net->state : net->params) + p->off;
}

void zm_net_init_head(zm_net *net, uint64_t seed)
{
    const int head = net->n_blocks - 1;
    int last = -1;
    for (int o = 0; o < net->n_ops; o++)
        if (net->ops[o].kind == ZM_OP_LINEAR && net->ops[o].block == head) last = o;
    zm_rng r;
    zm_rng_seed(&r, seed, 0x4ead);
    for (int o = 0; o < net->n_ops; o++) {
        const zm_op *op = &net->ops[o];
        if (op->kind != ZM_OP_LINEAR || op->block != head) continue;
        const size_t I = t_size(&net->t[op->in0]), O = (size_t)net->t[op->out].c;
        const double bound = o == last ? 0.0 : 1.0 / sqrt((double)I);
        for (size_t i = 0; i < I * O; i++) net->params[op->w + i] = (float)(bound * (2.0 * zm_rng_uniform(&r) - 1.0));
        for (size_t i = 0; i < O && op->b >= 0; i++) net->params[op->b + i] = (float)(bound * (2.0 * zm_rng_uniform(&r) - 1.0));
    }
}

int zm_net_fold_input_standardisation(zm_net *net, const double *mean, const double *sd)
{
    for (int o = 0; o < net->n_ops; o++) {
        const zm_op *op = &net->ops[o];
        if (op->kind != ZM_OP_LINEAR) continue;
        const size_t I = t_size(&net->t[op->in0]), O = (size_t)net->t[op->out].c;
        if (I != t_size(&net->t[net->input])) return -1;
        float *W = net->params + op->w, *b = op->b >= 0 ? net->params + op->b : NULL;
        for (size_t k = 0; k < O; k++) {
            double shift = 0;
            for (size_t i = 0; i < I; i++) {
                const double w = (double)W[k * I + i] / sd[i];
                shift += w * mean[i];
                W[k * I + i] = (float)w;
            }
            if (b) b[k] = (float)((double)b[k] - shift);
        }
        return 0;
    }
    return -1;
}

int zm_net_copy_matching(zm_net *dst, const zm_net *src)
{
    int n = 0;
    for (int i = 0; i < src->n_pinfo; i++) {
        const zm_param *a = &src->pinfo[i], *b = zm_net_param(dst, a->name);
        if (!b || b->is_state != a->is_state || b->count != a->count || b->ndim != a->ndim) continue;
        memcpy((b->is_state ? dst->state : dst->params) + b->off, (a->is_state ? src->state : src->params) + a->off,
               a->count * sizeof(float));
        n++;
    }
    return n;
}

double zm_net_flops(const zm_net *net)
{
    double macs = 0;
    for (int o = 0; o < net->n_ops; o++) {
        const zm_op *op = &net->ops[o];
        const zm_tensor *ti = &net->t[op->in0], *to = &net->t[op->out];
        if (op->kind == ZM_OP_CONV)
            macs += (double)to->c * to->h * to->w * (ti->c / op->g) * op->k * op->k;
        else if (op->kind == ZM_OP_LINEAR)
            macs += (double)t_size(ti) * to->c;
    }
    return 2.0 * macs;
}
