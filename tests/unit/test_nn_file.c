/*
 * test_nn_file.c: weight files (round trip; wrong architecture, channels, size, head;
 * truncated, corrupted and unknown-version files), NaN/inf detection with the layer
 * name, Monte-Carlo dropout, blocks and freezing, and the optimisers and schedules.
 * No PyTorch needed.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"
#include "zoomorph/nn_optim.h"

static zm_net *make(const char *arch, int in_ch, int size, int n_out, uint64_t seed)
{
    zm_net_config c = zm_net_config_default(arch);
    c.in_ch = in_ch;
    c.in_size = size;
    c.n_out = n_out;
    c.max_batch = 2;
    c.seed = seed;
    zm_net *net;
    zm_err err = {0};
    if (zm_net_create(&net, &c, &err) < 0) ZM_ABORT("%s", err.msg);
    return net;
}

static void fill(float *x, size_t n, uint64_t seed)
{
    zm_rng r;
    zm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)zm_rng_normal(&r);
}

static char saved[4400];

static const char *saved_file(void)
{
    if (!saved[0]) {
        snprintf(saved, sizeof saved, "%s/zoonet.h5", zt_tmpdir("nn_file"));
        zm_net *a = make("zoonet", 1, 64, 5, 1);
        zm_err err = {0};
        ck_assert_msg(zm_net_save(a, saved, &err) == 0, "%s", err.msg);
        zm_net_free(a);
    }
    return saved;
}

START_TEST(round_trip)
{
    zm_net *a = make("zoonet", 1, 64, 5, 1), *b = make("zoonet", 1, 64, 5, 2);
    zm_err err = {0};
    ck_assert(memcmp(a->params, b->params, 4 * a->n_params) != 0);
    ck_assert_msg(zm_net_load(b, saved_file(), 0, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(a->params, b->params, 4 * a->n_params) == 0);
    ck_assert(memcmp(a->state, b->state, 4 * a->n_state) == 0);
    zm_nn_file_info info;
    ck_assert(zm_net_file_info(saved_file(), &info, &err) == 0);
    ck_assert_str_eq(info.arch, "zoonet");
    ck_assert_int_eq(info.in_ch, 1);
    ck_assert_int_eq(info.in_size, 64);
    ck_assert_int_eq(info.n_out, 5);
    ck_assert_int_eq(info.version, ZM_NN_FORMAT_VERSION);
    float x[2 * 64 * 64];
    fill(x, 2 * 64 * 64, 5);
    ck_assert(zm_net_forward(a, x, 2, ZM_MODE_EVAL, &err) == 0);
    ck_assert(zm_net_forward(b, x, 2, ZM_MODE_EVAL, &err) == 0);
    ck_assert(memcmp(zm_net_output(a), zm_net_output(b), 4 * 10) == 0);
    zm_net_free(a);
    zm_net_free(b);
}
END_TEST

static void expect_error(zm_net *net, const char *path, int flags, const char *needle)
{
    zm_err err = {0};
    float *before = zm_malloc(4 * net->n_params);
    memcpy(before, net->params, 4 * net->n_params);
    int rc = zm_net_load(net, path, flags, &err);
    fprintf(stderr, "expected error: %s\n", err.msg);
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' lacks '%s'", err.msg, needle);
    ck_assert_msg(memcmp(before, net->params, 4 * net->n_params) == 0, "network changed");
    free(before);
}

START_TEST(wrong_network)
{
    zm_net *n = make("resnet18", 1, 64, 5, 1);
    expect_error(n, saved_file(), 0, "architecture zoonet");
    zm_net_free(n);
    n = make("zoonet", 3, 64, 5, 1);
    expect_error(n, saved_file(), 0, "input channel");
    zm_net_free(n);
    n = make("zoonet", 1, 96, 5, 1);
    expect_error(n, saved_file(), 0, "64x64 input");
    zm_err err = {0};
    ck_assert_msg(zm_net_load(n, saved_file(), ZM_LOAD_ANY_SIZE, &err) == 0, "%s", err.msg);
    zm_net_free(n);
    n = make("zoonet", 1, 64, 34, 1);
    expect_error(n, saved_file(), 0, "head has 5 outputs");
    size_t off, cnt;
    zm_net_block_params(n, n->n_blocks - 1, &off, &cnt);
    float head0 = n->params[off];
    ck_assert_msg(zm_net_load(n, saved_file(), ZM_LOAD_SKIP_HEAD, &err) == 0, "%s", err.msg);
    ck_assert(n->params[off] == head0);
    zm_net_free(n);
    n = make("zoonet", 1, 64, 5, 1);
    expect_error(n, "/nonexistent/w.h5", 0, "cannot open");
    /* an encoder-only file (as convert_torch.py writes for a checkpoint without a head) */
    char enc[4500];
    snprintf(enc, sizeof enc, "%s.encoder", saved_file());
    ck_assert(zt_run("cp '%s' '%s'", saved_file(), enc) == 0);
    hid_t f = H5Fopen(enc, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(H5Ldelete(f, "tensors/classifier.1.weight", H5P_DEFAULT) >= 0);
    ck_assert(H5Ldelete(f, "tensors/classifier.1.bias", H5P_DEFAULT) >= 0);
    hid_t a = H5Aopen(f, "n_out", H5P_DEFAULT);
    int zero = 0;
    H5Awrite(a, H5T_NATIVE_INT, &zero);
    H5Aclose(a);
    H5Fclose(f);
    expect_error(n, enc, 0, "head has 0 outputs");
    ck_assert_msg(zm_net_load(n, enc, ZM_LOAD_SKIP_HEAD, &err) == 0, "%s", err.msg);
    zm_net_free(n);
}
END_TEST

/* Saving on a full disk (a file-size limit, as ulimit -f): an error, no partial file, and
 * the weights already there unchanged (it used to abort and leave a truncated file). */
START_TEST(save_on_full_disk)
{
    const char *d = zt_tmpdir("nn_full");
    char path[4200];
    snprintf(path, sizeof path, "%s/w.h5", d);
    zm_net *a = make("zoonet", 1, 64, 5, 1), *b = make("zoonet", 1, 64, 5, 2);
    zm_err err = {0};
    ck_assert_msg(zm_net_save(a, path, &err) == 0, "%s", err.msg);
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl0, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl0), 0);
    rl = rl0;
    rl.rlim_cur = 256 * 1024; /* the file is 3.4 MB */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    int rc = zm_net_save(b, path, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl0), 0);
    signal(SIGXFSZ, old);
    ck_assert_int_eq(rc, ZM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "(disk full or file-size limit?); nothing written"));
    ck_assert_int_eq(zt_run("ls '%s' | grep -q part", d) == 0, 0); /* no partial file */
    zm_net *c = make("zoonet", 1, 64, 5, 3);
    ck_assert_msg(zm_net_load(c, path, 0, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(c->params, a->params, 4 * a->n_params) == 0); /* still a's weights */
    zm_net_free(a);
    zm_net_free(b);
    zm_net_free(c);
}
END_TEST

START_TEST(bad_files)
{
    const char *src = saved_file();
    char path[4500];
    zm_net *n = make("zoonet", 1, 64, 5, 3);
    /* truncated */
    snprintf(path, sizeof path, "%s.trunc", src);
    ck_assert(zt_run("head -c 200000 '%s' > '%s'", src, path) == 0);
    expect_error(n, path, 0, "truncated");
    /* corrupted tensor data: flip bytes inside one dataset */
    snprintf(path, sizeof path, "%s.corrupt", src);
    ck_assert(zt_run("cp '%s' '%s'", src, path) == 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "tensors/features.3.0.block.0.0.weight", H5P_DEFAULT);
    haddr_t at = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    ck_assert(at != HADDR_UNDEF);
    FILE *fp = fopen(path, "r+b");
    fseek(fp, (long)at + 40, SEEK_SET);
    unsigned char junk[4] = {0x12, 0x34, 0x56, 0x78};
    fwrite(junk, 1, 4, fp);
    fclose(fp);
    expect_error(n, path, 0, "checksum mismatch in tensor features.3.0.block.0.0.weight");
    /* unknown format version */
    snprintf(path, sizeof path, "%s.v99", src);
    ck_assert(zt_run("cp '%s' '%s'", src, path) == 0);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int v = 99;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Fclose(f);
    expect_error(n, path, 0, "unknown format version 99");
    /* not a weight file at all */
    snprintf(path, sizeof path, "%s.text", src);
    ck_assert(zt_run("echo hello > '%s'", path) == 0);
    expect_error(n, path, 0, "not a readable HDF5 file");
    zm_net_free(n);
}
END_TEST

START_TEST(nonfinite_detection)
{
    zm_net *n = make("zoonet", 1, 64, 5, 1);
    const zm_param *p = zm_net_param(n, "features.3.1.block.1.0.weight");
    ck_assert_ptr_nonnull(p);
    float x[2 * 64 * 64];
    fill(x, 2 * 64 * 64, 5);
    zm_err err = {0};
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    ck_assert_int_eq(zm_net_find_nonfinite(n, 2), -1);
    zm_net_param_data(n, p)[3] = NAN;
    int rc = zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err);
    fprintf(stderr, "expected error: %s\n", err.msg);
    ck_assert_int_eq(rc, ZM_EVALUE);
    ck_assert(strstr(err.msg, "layer features.3.1.block.1.0") != NULL);
    n->check_finite = 0;
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    int o = zm_net_find_nonfinite(n, 2);
    ck_assert_int_ge(o, 0);
    ck_assert_str_eq(n->ops[o].name, "features.3.1.block.1.0");
    zm_net_param_data(n, p)[3] = INFINITY;
    n->check_finite = 1;
    ck_assert_int_eq(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err), ZM_EVALUE);
    zm_net_free(n);
    zm_net_config c = zm_net_config_default("vgg16");
    ck_assert_int_eq(zm_net_create(&n, &c, &err), ZM_ECONFIG);
    fprintf(stderr, "expected error: %s\n", err.msg);
    c = zm_net_config_default("zoonet");
    c.in_ch = 2;
    ck_assert_int_eq(zm_net_create(&n, &c, &err), ZM_ECONFIG);
}
END_TEST

START_TEST(dropout_modes)
{
    zm_net_config c = zm_net_config_default("zoonet");
    c.in_size = 64;
    c.max_batch = 2;
    c.n_out = 5;
    c.dropout = 0.5f;
    zm_net *n;
    zm_err err = {0};
    ck_assert(zm_net_create(&n, &c, &err) == 0);
    float x[2 * 64 * 64], y1[10], y2[10];
    fill(x, 2 * 64 * 64, 9);
    /* realistic head weights so dropout matters */
    zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err);
    memcpy(y1, zm_net_output(n), sizeof y1);
    zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err);
    ck_assert(memcmp(y1, zm_net_output(n), sizeof y1) == 0);
    zm_net_forward(n, x, 2, ZM_MODE_MC, &err);
    memcpy(y2, zm_net_output(n), sizeof y2);
    ck_assert(memcmp(y1, y2, sizeof y1) != 0);
    zm_net_forward(n, x, 2, ZM_MODE_MC, &err);
    ck_assert(memcmp(y2, zm_net_output(n), sizeof y2) != 0);
    /* MC keeps running statistics (representation equal to EVAL's) */
    float r[2 * 512];
    zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err);
    memcpy(r, zm_net_repr(n), sizeof r);
    zm_net_forward(n, x, 2, ZM_MODE_MC, &err);
    ck_assert(memcmp(r, zm_net_repr(n), sizeof r) == 0);
    zm_net_free(n);
}
END_TEST

START_TEST(blocks_and_freezing)
{
    zm_net *n = make("efficientnet_b0", 1, 64, 5, 1);
    ck_assert_int_eq(n->n_blocks, 19);
    size_t total = 0, off, cnt;
    for (int b = 0; b < n->n_blocks; b++) {
        zm_net_block_params(n, b, &off, &cnt);
        ck_assert_uint_eq(off, total);
        total += cnt;
    }
    ck_assert_uint_eq(total, n->n_params);
    ck_assert_int_eq(zm_net_repr_dim(n), 1280);
    float x[2 * 64 * 64], dy[10];
    fill(x, 2 * 64 * 64, 1);
    fill(dy, 10, 2);
    zm_err err = {0};
    zm_net_set_trainable_from(n, n->n_blocks - 3);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    zm_net_zero_grad(n);
    zm_net_backward(n, dy, 2);
    zm_net_block_params(n, n->n_blocks - 3, &off, &cnt);
    for (size_t i = 0; i < off; i++) ck_assert(n->grads[i] == 0.0f);
    double s = 0;
    for (size_t i = off; i < n->n_params; i++) s += fabs(n->grads[i]);
    ck_assert(s > 0);
    /* per-block learning rates: frozen blocks do not move */
    zm_adam o;
    zm_adam_init(&o, ZM_OPT_ADAMW, n->n_params, 0.9f, 0.999f, 1e-8f, 0.05f);
    zm_adam_set_blocks(&o, n->n_blocks, n->block_off, NULL);
    zm_adam_layer_decay(&o, 3, 0.75f);
    ck_assert(o.group_mult[n->n_blocks - 1] == 1.0f && o.group_mult[n->n_blocks - 3] == 0.5625f);
    ck_assert(o.group_mult[n->n_blocks - 4] == 0.0f);
    float *before = zm_malloc(4 * n->n_params);
    memcpy(before, n->params, 4 * n->n_params);
    zm_adam_step(&o, n->params, n->grads, 1e-3f);
    ck_assert(memcmp(before, n->params, 4 * off) == 0);
    ck_assert(memcmp(before + off, n->params + off, 4 * (n->n_params - off)) != 0);
    free(before);
    zm_adam_free(&o);
    zm_net_free(n);
}
END_TEST

/* Backward after an EVAL forward (fine-tuning with frozen batch statistics) against a
 * central finite difference of L = sum(y * dy) along a random direction of all
 * parameters (the EVAL network is smooth: SiLU, no batch statistics). */
START_TEST(frozen_bn_backward)
{
    zm_net *n = make("zoonet", 1, 32, 3, 4);
    zm_rng r;
    zm_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < n->n_state; i++) /* non-trivial running statistics */
        n->state[i] = 0.5f + 0.5f * (float)zm_rng_uniform(&r);
    float x[2 * 32 * 32], dy[6];
    fill(x, 2 * 32 * 32, 21);
    fill(dy, 6, 22);
    zm_err err = {0};
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err) == 0);
    zm_net_zero_grad(n);
    zm_net_backward(n, dy, 2);
    float *v = zm_malloc(4 * n->n_params), *p0 = zm_malloc(4 * n->n_params);
    memcpy(p0, n->params, 4 * n->n_params);
    double gv = 0, vv = 0;
    for (size_t i = 0; i < n->n_params; i++) {
        v[i] = (float)zm_rng_normal(&r) * (fabsf(p0[i]) + 1e-2f);
        gv += (double)n->grads[i] * v[i];
        vv += (double)v[i] * v[i];
    }
    double h = 1e-3, L[2];
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < n->n_params; i++) n->params[i] = p0[i] + (k ? -h : h) * v[i];
        ck_assert(zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err) == 0);
        L[k] = 0;
        for (int j = 0; j < 6; j++) L[k] += (double)zm_net_output(n)[j] * dy[j];
    }
    double fd = (L[0] - L[1]) / (2 * h);
    fprintf(stderr, "frozen-BN backward: grad.v %.6g, finite difference %.6g, relative %.2g\n", gv,
            fd, fabs(gv - fd) / fabs(fd));
    ck_assert(fabs(gv - fd) <= 1e-2 * fabs(fd));
    free(v), free(p0);
    zm_net_free(n);
}
END_TEST

/* mode = top: the frozen blocks run in inference mode, as Keras/Zoobot freeze them. A
 * TRAIN forward with the lower blocks frozen leaves their batch-norm running statistics
 * unchanged and normalises with them (not with the batch's), so their outputs are those
 * of an EVAL pass; the trainable blocks still use batch statistics and update theirs. */
START_TEST(frozen_bn_running_stats)
{
    /* no stochastic depth: a frozen block's residual branches would be dropped at random
     * in TRAIN mode (it is noise, not state; Keras freezes only batch norm's mode) */
    zm_net_config c = zm_net_config_default("zoonet");
    c.in_size = 32;
    c.n_out = 3;
    c.max_batch = 2;
    c.seed = 4;
    c.drop_path = 0;
    zm_net *n = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_net_create(&n, &c, &err), 0);
    zm_rng r;
    zm_rng_seed(&r, 12, 0);
    for (size_t i = 0; i < n->n_state; i++) n->state[i] = 0.5f + 0.5f * (float)zm_rng_uniform(&r);
    const int from = n->n_blocks - 2;
    zm_net_set_trainable_from(n, from);
    size_t fs = zm_net_frozen_state(n);
    ck_assert(fs > 0 && fs < n->n_state);
    /* the last op of the frozen blocks */
    int last = -1;
    for (int o = 0; o < n->n_ops; o++)
        if (n->ops[o].block < from) last = o;
    ck_assert(last >= 0);
    const zm_tensor *t = &n->t[n->ops[last].out];
    const size_t cnt = (size_t)t->c * t->h * t->w * 2;
    float x[2 * 32 * 32];
    fill(x, 2 * 32 * 32, 31);
    float *state0 = zm_malloc(4 * n->n_state), *ev = zm_malloc(4 * cnt);
    memcpy(state0, n->state, 4 * n->n_state);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err) == 0);
    memcpy(ev, zm_net_tensor(n, n->ops[last].out), 4 * cnt);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    ck_assert_msg(memcmp(state0, n->state, 4 * fs) == 0, "running statistics of frozen blocks changed in TRAIN mode");
    ck_assert_msg(memcmp(state0 + fs, n->state + fs, 4 * (n->n_state - fs)) != 0,
                  "running statistics of trainable blocks not updated");
    ck_assert_msg(memcmp(ev, zm_net_tensor(n, n->ops[last].out), 4 * cnt) == 0,
                  "frozen blocks normalised with batch statistics in TRAIN mode");
    /* every block trainable: batch statistics again, running statistics move */
    zm_net_set_trainable_from(n, 0);
    ck_assert_uint_eq(zm_net_frozen_state(n), 0);
    memcpy(n->state, state0, 4 * n->n_state);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    ck_assert(memcmp(state0, n->state, 4 * fs) != 0);
    free(state0), free(ev);
    zm_net_free(n);
}
END_TEST

START_TEST(optimiser)
{
    /* one AdamW and one Adam(L2) step by hand */
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f}, q[2] = {1.0f, -2.0f};
    zm_adam o;
    zm_adam_init(&o, ZM_OPT_ADAMW, 2, 0.9f, 0.999f, 1e-8f, 0.1f);
    zm_adam_step(&o, p, g, 0.01f);
    for (int i = 0; i < 2; i++) {
        double m = 0.1 * g[i] / 0.1, v = 0.001 * g[i] * g[i] / 0.001;
        double want = q[i] * (1 - 0.01 * 0.1) - 0.01 * m / (sqrt(v) + 1e-8);
        ck_assert(fabs(p[i] - want) < 1e-6);
    }
    zm_adam_free(&o);
    float p2[2] = {1.0f, -2.0f};
    zm_adam_init(&o, ZM_OPT_ADAM, 2, 0.9f, 0.999f, 1e-8f, 0.1f);
    zm_adam_step(&o, p2, g, 0.01f);
    for (int i = 0; i < 2; i++) {
        double gg = g[i] + 0.1 * q[i];
        double want = q[i] - 0.01 * gg / (fabs(gg) + 1e-8);
        ck_assert(fabs(p2[i] - want) < 1e-6);
    }
    zm_adam_free(&o);
    /* clipping */
    float gr[2] = {3.0f, 4.0f};
    ck_assert(fabsf(zm_grad_clip(gr, 2, 1.0f) - 5.0f) < 1e-6f);
    ck_assert(fabsf(gr[0] - 0.6f) < 1e-5f && fabsf(gr[1] - 0.8f) < 1e-5f);
    /* schedules */
    zm_lr_schedule s = {ZM_LR_COSINE, 1e-3, 10, 110, 0, 0, 0};
    ck_assert(fabs(zm_lr_at(&s, 0) - 1e-4) < 1e-12);
    ck_assert(fabs(zm_lr_at(&s, 9) - 1e-3) < 1e-12);
    ck_assert(fabs(zm_lr_at(&s, 10) - 1e-3) < 1e-12);
    ck_assert(fabs(zm_lr_at(&s, 60) - 5e-4) < 1e-12);
    ck_assert(zm_lr_at(&s, 110) == 0.0);
    zm_lr_schedule st = {ZM_LR_STEP, 1e-2, 0, 0, 5, 0.5, 0};
    ck_assert(fabs(zm_lr_at(&st, 4) - 1e-2) < 1e-12 && fabs(zm_lr_at(&st, 12) - 2.5e-3) < 1e-12);
    zm_lr_schedule k = {ZM_LR_CONSTANT, 3e-4, 0, 0, 0, 0, 0};
    ck_assert(zm_lr_at(&k, 1000) == 3e-4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_file");
    TCase *tc = tcase_create("file");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, wrong_network);
    tcase_add_test(tc, save_on_full_disk);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, nonfinite_detection);
    tcase_add_test(tc, dropout_modes);
    tcase_add_test(tc, blocks_and_freezing);
    tcase_add_test(tc, frozen_bn_backward);
    tcase_add_test(tc, frozen_bn_running_stats);
    tcase_add_test(tc, optimiser);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
