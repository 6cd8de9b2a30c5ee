/*
 * test_nn_layers.c: every layer kernel alone against PyTorch (float64 references made by
 * tests/reference/nn_reference.py layers), both the fast and the scalar reference
 * convolution; plus dropout / stochastic-depth statistics (no PyTorch counterpart for
 * the random masks). Convolutions and linear layers (sums of products, where the BLAS
 * kernels differ from CPU to CPU) are held to their float32 rounding-error bound
 * (nt_bound in test_nn_util.h); the other layers' outputs within 1e-4 relative, gradients
 * within 1e-3. conv_bound_catches checks that the bound fails on a dropped tap or a weight
 * off by 10%.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "test_nn_util.h"
#include "zoomorph/nn_layers.h"

static hid_t fx = -1;

#define TOL_OUT 1e-4
#define TOL_GRAD 1e-3

static hid_t fixture(void)
{
    if (fx >= 0) return fx;
    const char *dir = zt_tmpdir("nn_layers");
    char path[4300];
    snprintf(path, sizeof path, "%s/layers.h5", dir);
    int rc = zt_run("%s %s/tests/reference/nn_reference.py layers %s",
                    zt_env("ZM_PYTHON", "/usr/bin/python3"), zt_env("ZM_SOURCE_DIR", "."), path);
    if (rc == 77) {
        fprintf(stderr, "SKIP: PyTorch reference unavailable\n");
        exit(77);
    }
    if (rc != 0) ZM_ABORT("nn_reference.py layers failed (%d)", rc);
    fx = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ZM_CHECK_H5(fx);
    return fx;
}

static float *rd(const char *grp, const char *name, size_t *n)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", grp, name);
    return nt_read(fixture(), p, n);
}

static const char *conv_cases[] = {"conv3x3", "conv3x3s2", "conv7x7s2", "conv1x1", "conv1x1s2",
                                   "grouped", "dw3",     "dw5s2",     "dw3s2",   "dwmult2"};

START_TEST(conv)
{
    const char *c = conv_cases[_i];
    hid_t f = fixture();
    int N = nt_attr_int(f, c, "N"), C = nt_attr_int(f, c, "C"), H = nt_attr_int(f, c, "H");
    int W = nt_attr_int(f, c, "W"), O = nt_attr_int(f, c, "O"), K = nt_attr_int(f, c, "K");
    int S = nt_attr_int(f, c, "S"), D = nt_attr_int(f, c, "D"), G = nt_attr_int(f, c, "G");
    int bias = nt_attr_int(f, c, "bias");
    size_t ny, nx, nw;
    float *x = rd(c, "x", &nx), *w = rd(c, "w", &nw), *y = rd(c, "y", &ny);
    float *dy = rd(c, "dy", NULL), *dx = rd(c, "dx", NULL), *dw = rd(c, "dw", NULL);
    float *b = bias ? rd(c, "b", NULL) : NULL, *db = bias ? rd(c, "db", NULL) : NULL;
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    float *work = zm_calloc(zm_conv2d_work(C, O, K, P, Q, G) + 1, sizeof(float));
    float *out = zm_calloc(ny, sizeof(float)), *gx = zm_calloc(nx, sizeof(float));
    float *gw = zm_calloc(nw, sizeof(float)), *gb = zm_calloc(O, sizeof(float));
    /* magnitudes: the same sums on absolute values, and the terms per sum */
    float *ax = nt_abs(x, nx), *aw = nt_abs(w, nw), *ab = bias ? nt_abs(b, O) : NULL;
    float *ady = nt_abs(dy, ny), *my = zm_calloc(ny, sizeof(float));
    float *mdx = zm_calloc(nx, sizeof(float)), *mdw = zm_calloc(nw, sizeof(float));
    float *mdb = zm_calloc(O, sizeof(float));
    zm_conv2d_forward_ref(my, ax, aw, ab, N, C, H, W, O, K, S, D, G);
    zm_conv2d_backward_ref(mdx, mdw, mdb, ady, ax, aw, N, C, H, W, O, K, S, D, G);
    double n_y = (double)(C / G) * K * K + bias, n_dx = (double)(O / G) * K * K;
    double n_dw = (double)N * P * Q;
    char name[96];
    for (int ref = 0; ref < 2; ref++) {
        const char *tag = ref ? "ref" : "fast";
        memset(gx, 0, sizeof(float) * nx);
        memset(gw, 0, sizeof(float) * nw);
        memset(gb, 0, sizeof(float) * O);
        if (ref) {
            zm_conv2d_forward_ref(out, x, w, b, N, C, H, W, O, K, S, D, G);
            zm_conv2d_backward_ref(gx, gw, bias ? gb : NULL, dy, x, w, N, C, H, W, O, K, S, D, G);
        } else {
            zm_conv2d_forward(out, x, w, b, N, C, H, W, O, K, S, D, G, work);
            zm_conv2d_backward(gx, gw, bias ? gb : NULL, dy, x, w, N, C, H, W, O, K, S, D, G,
                               work);
        }
        snprintf(name, sizeof name, "%s %s y", c, tag);
        ck_assert(nt_bound(name, out, y, my, ny, n_y) <= 1);
        snprintf(name, sizeof name, "%s %s dx", c, tag);
        ck_assert(nt_bound(name, gx, dx, mdx, nx, n_dx) <= 1);
        snprintf(name, sizeof name, "%s %s dw", c, tag);
        ck_assert(nt_bound(name, gw, dw, mdw, nw, n_dw) <= 1);
        if (bias) {
            snprintf(name, sizeof name, "%s %s db", c, tag);
            ck_assert(nt_bound(name, gb, db, mdb, O, n_dw) <= 1);
        }
    }
    /* accumulation: a second backward adds the same again (two sums and one addition) */
    zm_conv2d_backward(gx, gw, NULL, dy, x, w, N, C, H, W, O, K, S, D, G, work);
    for (size_t i = 0; i < nx; i++) dx[i] *= 2, mdx[i] *= 2;
    snprintf(name, sizeof name, "%s accumulated dx", c);
    ck_assert(nt_bound(name, gx, dx, mdx, nx, n_dx + 1) <= 1);
    free(ax), free(aw), free(ab), free(ady), free(my), free(mdx), free(mdw), free(mdb);
    free(x), free(w), free(y), free(dy), free(dx), free(dw), free(b), free(db);
    free(work), free(out), free(gx), free(gw), free(gb);
}
END_TEST

START_TEST(batchnorm)
{
    size_t n, nc;
    int N = 3, C = 4, HW = 25;
    float *x = rd("bn_train", "x", &n), *gam = rd("bn_train", "gamma", &nc);
    float *bet = rd("bn_train", "beta", NULL), *y = rd("bn_train", "y", NULL);
    float *dy = rd("bn_train", "dy", NULL), *dx = rd("bn_train", "dx", NULL);
    float *dg = rd("bn_train", "dgamma", NULL), *dbt = rd("bn_train", "dbeta", NULL);
    float *rm = rd("bn_train", "rm0", NULL), *rv = rd("bn_train", "rv0", NULL);
    float *rm1 = rd("bn_train", "rm1", NULL), *rv1 = rd("bn_train", "rv1", NULL);
    float *out = zm_calloc(n, 4), *gx = zm_calloc(n, 4), *gg = zm_calloc(C, 4);
    float *gb = zm_calloc(C, 4), saved[8];
    zm_batchnorm_forward_train(out, saved, rm, rv, x, gam, bet, N, C, HW, 1e-5f, 0.1f);
    ck_assert(nt_diff("bn_train y", out, y, n) < TOL_OUT);
    ck_assert(nt_diff("bn_train running_mean", rm, rm1, C) < TOL_OUT);
    ck_assert(nt_diff("bn_train running_var", rv, rv1, C) < TOL_OUT);
    zm_batchnorm_backward(gx, gg, gb, dy, x, saved, gam, N, C, HW);
    ck_assert(nt_diff("bn_train dx", gx, dx, n) < TOL_GRAD);
    ck_assert(nt_diff("bn_train dgamma", gg, dg, C) < TOL_GRAD);
    ck_assert(nt_diff("bn_train dbeta", gb, dbt, C) < TOL_GRAD);
    free(x), free(gam), free(bet), free(y), free(dy), free(dx), free(dg), free(dbt);
    free(rm), free(rv), free(rm1), free(rv1), free(gx), free(gg), free(gb);
    x = rd("bn_eval", "x", &n), gam = rd("bn_eval", "gamma", NULL);
    bet = rd("bn_eval", "beta", NULL), y = rd("bn_eval", "y", NULL);
    rm = rd("bn_eval", "rm", NULL), rv = rd("bn_eval", "rv", NULL);
    zm_batchnorm_forward_eval(out, x, gam, bet, rm, rv, N, C, HW, 1e-5f);
    ck_assert(nt_diff("bn_eval y", out, y, n) < TOL_OUT);
    free(x), free(gam), free(bet), free(y), free(rm), free(rv), free(out);
}
END_TEST

START_TEST(activations)
{
    const char *names[3] = {"relu", "silu", "sigmoid"};
    for (int k = 0; k < 3; k++) {
        size_t n;
        float *x = rd(names[k], "x", &n), *y = rd(names[k], "y", NULL);
        float *dy = rd(names[k], "dy", NULL), *dx = rd(names[k], "dx", NULL);
        float *out = zm_calloc(n, 4), *gx = zm_calloc(n, 4);
        char name[64];
        if (k == 0) zm_relu_forward(out, x, n), zm_relu_backward(gx, dy, x, n);
        if (k == 1) zm_silu_forward(out, x, n), zm_silu_backward(gx, dy, x, n);
        if (k == 2) zm_sigmoid_forward(out, x, n), zm_sigmoid_backward(gx, dy, x, n);
        snprintf(name, sizeof name, "%s y", names[k]);
        ck_assert(nt_diff(name, out, y, n) < TOL_OUT);
        snprintf(name, sizeof name, "%s dx", names[k]);
        ck_assert(nt_diff(name, gx, dx, n) < TOL_GRAD);
        free(x), free(y), free(dy), free(dx), free(out), free(gx);
    }
}
END_TEST

START_TEST(pooling)
{
    const char *names[2] = {"maxpool9", "maxpool8"};
    for (int k = 0; k < 2; k++) {
        int H = nt_attr_int(fixture(), names[k], "H");
        size_t n, ny;
        float *x = rd(names[k], "x", &n), *y = rd(names[k], "y", &ny);
        float *dy = rd(names[k], "dy", NULL), *dx = rd(names[k], "dx", NULL);
        float *out = zm_calloc(ny, 4), *gx = zm_calloc(n, 4);
        zm_maxpool_forward(out, x, 2, 3, H, H, 3, 2, 1);
        zm_maxpool_backward(gx, dy, x, 2, 3, H, H, 3, 2, 1);
        char name[64];
        snprintf(name, sizeof name, "%s y", names[k]);
        ck_assert(nt_diff(name, out, y, ny) < TOL_OUT);
        snprintf(name, sizeof name, "%s dx", names[k]);
        ck_assert(nt_diff(name, gx, dx, n) < TOL_GRAD);
        free(x), free(y), free(dy), free(dx), free(out), free(gx);
    }
    /* fast path vs the scalar reference: odd and even sizes, strides 1 and 2, K 2 and 3 */
    static const int mp[][5] = {{9, 7, 3, 2, 1}, {8, 13, 3, 2, 1}, {6, 6, 2, 2, 0},
                                {7, 5, 3, 1, 1}, {1, 9, 3, 2, 1}, {12, 12, 3, 1, 0}};
    zm_rng r;
    zm_rng_seed(&r, 9, 0);
    for (size_t k = 0; k < sizeof mp / sizeof mp[0]; k++) {
        int H = mp[k][0], W = mp[k][1], K = mp[k][2], S = mp[k][3], D = mp[k][4];
        size_t nx = (size_t)2 * 3 * H * W;
        size_t ny = (size_t)2 * 3 * zm_conv_out(H, K, S, D) * zm_conv_out(W, K, S, D);
        float *x = zm_malloc(4 * nx), *y1 = zm_malloc(4 * ny), *y2 = zm_malloc(4 * ny);
        for (size_t i = 0; i < nx; i++) x[i] = (float)zm_rng_normal(&r);
        zm_maxpool_forward(y1, x, 2, 3, H, W, K, S, D);
        zm_maxpool_forward_ref(y2, x, 2, 3, H, W, K, S, D);
        char name[64];
        snprintf(name, sizeof name, "maxpool fast-vs-ref case %zu", k);
        ck_assert(nt_diff(name, y1, y2, ny) == 0.0);
        free(x), free(y1), free(y2);
    }
    size_t n, ny;
    float *x = rd("gap", "x", &n), *y = rd("gap", "y", &ny), *dy = rd("gap", "dy", NULL);
    float *dx = rd("gap", "dx", NULL), *out = zm_calloc(ny, 4), *gx = zm_calloc(n, 4);
    zm_avgpool_global_forward(out, x, 2, 5, 16);
    zm_avgpool_global_backward(gx, dy, 2, 5, 16);
    ck_assert(nt_diff("gap y", out, y, ny) < TOL_OUT);
    ck_assert(nt_diff("gap dx", gx, dx, n) < TOL_GRAD);
    free(x), free(y), free(dy), free(dx), free(out), free(gx);
}
END_TEST

START_TEST(linear)
{
    size_t n, nw, ny;
    float *x = rd("linear", "x", &n), *w = rd("linear", "w", &nw), *b = rd("linear", "b", NULL);
    float *y = rd("linear", "y", &ny), *dy = rd("linear", "dy", NULL);
    float *dx = rd("linear", "dx", NULL), *dw = rd("linear", "dw", NULL);
    float *db = rd("linear", "db", NULL);
    float *out = zm_calloc(ny, 4), *gx = zm_calloc(n, 4), *gw = zm_calloc(nw, 4);
    float *gb = zm_calloc(5, 4);
    zm_linear_forward(out, x, w, b, 3, 7, 5);
    zm_linear_backward(gx, gw, gb, dy, x, w, 3, 7, 5);
    float *ax = nt_abs(x, n), *aw = nt_abs(w, nw), *ab = nt_abs(b, 5), *ady = nt_abs(dy, ny);
    float *my = zm_calloc(ny, 4), *mdx = zm_calloc(n, 4), *mdw = zm_calloc(nw, 4);
    float *mdb = zm_calloc(5, 4);
    /* a linear layer is a 1x1 convolution of 7 channels on a 1x1 plane */
    zm_conv2d_forward_ref(my, ax, aw, ab, 3, 7, 1, 1, 5, 1, 1, 0, 1);
    zm_conv2d_backward_ref(mdx, mdw, mdb, ady, ax, aw, 3, 7, 1, 1, 5, 1, 1, 0, 1);
    ck_assert(nt_bound("linear y", out, y, my, ny, 7 + 1) <= 1);
    ck_assert(nt_bound("linear dx", gx, dx, mdx, n, 5) <= 1);
    ck_assert(nt_bound("linear dw", gw, dw, mdw, nw, 3) <= 1);
    ck_assert(nt_bound("linear db", gb, db, mdb, 5, 3) <= 1);
    free(ax), free(aw), free(ab), free(ady), free(my), free(mdx), free(mdw), free(mdb);
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
    free(out), free(gx), free(gw), free(gb);
}
END_TEST

/* Squeeze-excitation composed from the kernels as the network does. */
START_TEST(squeeze_excitation)
{
    int N = 2, C = 8, HW = 25, R = 2;
    size_t n;
    float *x = rd("se", "x", &n), *w1 = rd("se", "w1", NULL), *b1 = rd("se", "b1", NULL);
    float *w2 = rd("se", "w2", NULL), *b2 = rd("se", "b2", NULL), *y = rd("se", "y", NULL);
    float *dy = rd("se", "dy", NULL), *dx = rd("se", "dx", NULL);
    float *dw1 = rd("se", "dw1", NULL), *db1 = rd("se", "db1", NULL);
    float *dw2 = rd("se", "dw2", NULL), *db2 = rd("se", "db2", NULL);
    float s0[16], s1[4], s2[4], s3[16], s4[16], out[400];
    float g0[16] = {0}, g1[4] = {0}, g2[4] = {0}, g3[16] = {0}, g4[16] = {0}, gx[400] = {0};
    float gw1[16] = {0}, gb1[2] = {0}, gw2[16] = {0}, gb2[8] = {0};
    zm_avgpool_global_forward(s0, x, N, C, HW);
    zm_linear_forward(s1, s0, w1, b1, N, C, R);
    zm_silu_forward(s2, s1, N * R);
    zm_linear_forward(s3, s2, w2, b2, N, R, C);
    zm_sigmoid_forward(s4, s3, N * C);
    zm_chscale_forward(out, x, s4, N, C, HW);
    ck_assert(nt_diff("se y", out, y, n) < TOL_OUT);
    zm_chscale_backward(gx, g4, dy, x, s4, N, C, HW);
    zm_sigmoid_backward(g3, g4, s3, N * C);
    zm_linear_backward(g2, gw2, gb2, g3, s2, w2, N, R, C);
    zm_silu_backward(g1, g2, s1, N * R);
    zm_linear_backward(g0, gw1, gb1, g1, s0, w1, N, C, R);
    zm_avgpool_global_backward(gx, g0, N, C, HW);
    ck_assert(nt_diff("se dx", gx, dx, n) < TOL_GRAD);
    ck_assert(nt_diff("se dfc1.weight", gw1, dw1, 16) < TOL_GRAD);
    ck_assert(nt_diff("se dfc1.bias", gb1, db1, 2) < TOL_GRAD);
    ck_assert(nt_diff("se dfc2.weight", gw2, dw2, 16) < TOL_GRAD);
    ck_assert(nt_diff("se dfc2.bias", gb2, db2, 8) < TOL_GRAD);
    free(x), free(w1), free(b1), free(w2), free(b2), free(y), free(dy), free(dx);
    free(dw1), free(db1), free(dw2), free(db2);
    size_t na;
    float *a = rd("add", "a", &na), *c = rd("add", "c", NULL), *ya = rd("add", "y", NULL);
    float *o = zm_calloc(na, 4), *ga = zm_calloc(na, 4), *gc = zm_calloc(na, 4);
    zm_add_forward(o, a, c, na);
    ck_assert(nt_diff("add y", o, ya, na) < TOL_OUT);
    zm_add_backward(ga, gc, a, na);
    ck_assert(nt_diff("add da", ga, a, na) < TOL_GRAD);
    ck_assert(nt_diff("add db", gc, a, na) < TOL_GRAD);
    free(a), free(c), free(ya), free(o), free(ga), free(gc);
}
END_TEST

START_TEST(dropout_statistics)
{
    zm_rng r;
    zm_rng_seed(&r, 7, 0);
    size_t n = 100000;
    float *m = zm_malloc(sizeof(float) * n), *x = zm_malloc(sizeof(float) * n);
    float *y = zm_malloc(sizeof(float) * n), *g = zm_calloc(n, sizeof(float));
    zm_dropout_mask(m, n, 0.2f, &r);
    size_t zeros = 0;
    double mean = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = 1.0f;
        zeros += m[i] == 0.0f;
        mean += m[i];
        ck_assert(m[i] == 0.0f || fabsf(m[i] - 1.25f) < 1e-6f);
    }
    fprintf(stderr, "dropout p=0.2: %.4f zeros, mask mean %.4f\n", (double)zeros / n, mean / n);
    ck_assert(fabs((double)zeros / n - 0.2) < 0.01);
    ck_assert(fabs(mean / n - 1.0) < 0.015);
    zm_mul_forward(y, x, m, n);
    zm_mul_backward(g, x, m, n);
    for (size_t i = 0; i < n; i++) ck_assert(y[i] == m[i] && g[i] == m[i]);
    /* stochastic depth: whole samples dropped */
    float rowm[64];
    zm_dropout_mask(rowm, 64, 0.5f, &r);
    zm_rowscale_forward(y, x, rowm, 64, 100);
    int dropped = 0;
    for (int s = 0; s < 64; s++) {
        dropped += rowm[s] == 0.0f;
        for (int i = 0; i < 100; i++) ck_assert(y[s * 100 + i] == rowm[s]);
    }
    ck_assert(dropped > 10 && dropped < 54);
    zm_dropout_mask(m, 10, 0.0f, &r);
    for (int i = 0; i < 10; i++) ck_assert(m[i] == 1.0f);
    free(m), free(x), free(y), free(g);
}
END_TEST

/* The bound is tight enough to fail on real mistakes: the 7x7 stride-2 case with one tap
 * dropped, or one weight off by 10%, is outside it. */
START_TEST(conv_bound_catches)
{
    const char *c = "conv7x7s2";
    hid_t f = fixture();
    int N = nt_attr_int(f, c, "N"), C = nt_attr_int(f, c, "C"), H = nt_attr_int(f, c, "H");
    int O = nt_attr_int(f, c, "O"), K = nt_attr_int(f, c, "K"), S = nt_attr_int(f, c, "S");
    int D = nt_attr_int(f, c, "D");
    size_t ny, nx, nw;
    float *x = rd(c, "x", &nx), *w = rd(c, "w", &nw), *y = rd(c, "y", &ny);
    int P = zm_conv_out(H, K, S, D);
    float *work = zm_calloc(zm_conv2d_work(C, O, K, P, P, 1) + 1, sizeof(float));
    float *out = zm_calloc(ny, sizeof(float)), *my = zm_calloc(ny, sizeof(float));
    float *ax = nt_abs(x, nx), *aw = nt_abs(w, nw);
    zm_conv2d_forward_ref(my, ax, aw, NULL, N, C, H, H, O, K, S, D, 1);
    double n_y = (double)C * K * K;
    zm_conv2d_forward(out, x, w, NULL, N, C, H, H, O, K, S, D, 1, work);
    ck_assert(nt_bound("conv7x7s2 as it is", out, y, my, ny, n_y) <= 1);
    size_t tap = (size_t)(C * K * K) / 2 + 3; /* a tap of output channel 0 away from the edge */
    float keep = w[tap];
    w[tap] = 0;
    zm_conv2d_forward(out, x, w, NULL, N, C, H, H, O, K, S, D, 1, work);
    ck_assert(nt_bound("conv7x7s2 one tap dropped", out, y, my, ny, n_y) > 1);
    w[tap] = keep * 1.1f;
    zm_conv2d_forward(out, x, w, NULL, N, C, H, H, O, K, S, D, 1, work);
    ck_assert(nt_bound("conv7x7s2 one weight off by 10%", out, y, my, ny, n_y) > 1);
    free(x), free(w), free(y), free(work), free(out), free(my), free(ax), free(aw);
}
END_TEST

/* Fast convolution vs scalar reference on shapes the networks use. */
START_TEST(conv_fast_vs_ref)
{
    static const int cases[][9] = {
        /* N C H O K S D G */
        {2, 16, 13, 16, 3, 1, 1, 16}, {1, 24, 15, 24, 5, 2, 2, 24}, {2, 3, 17, 8, 3, 2, 1, 1},
        {1, 32, 7, 40, 1, 1, 0, 1},   {1, 12, 11, 12, 3, 2, 1, 12},  {1, 8, 6, 4, 3, 1, 1, 4},
        {1, 2, 64, 2, 5, 2, 2, 2},    {1, 2, 58, 2, 3, 1, 1, 2}, /* several row chunks */
        {4, 16, 3, 16, 3, 1, 1, 1},   {4, 8, 6, 16, 3, 2, 1, 1}, /* tiny planes (resnet18 at 96 px) */
    };
    zm_rng r;
    zm_rng_seed(&r, 3, 0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int N = cases[k][0], C = cases[k][1], H = cases[k][2], O = cases[k][3], K = cases[k][4];
        int S = cases[k][5], D = cases[k][6], G = cases[k][7];
        int P = zm_conv_out(H, K, S, D);
        size_t nx = (size_t)N * C * H * H, nw = (size_t)O * (C / G) * K * K;
        size_t ny = (size_t)N * O * P * P;
        float *x = zm_malloc(4 * nx), *w = zm_malloc(4 * nw), *b = zm_malloc(4 * O);
        float *dy = zm_malloc(4 * ny), *y1 = zm_malloc(4 * ny), *y2 = zm_malloc(4 * ny);
        float *gx1 = zm_calloc(nx, 4), *gx2 = zm_calloc(nx, 4), *gw1 = zm_calloc(nw, 4);
        float *gw2 = zm_calloc(nw, 4), *gb1 = zm_calloc(O, 4), *gb2 = zm_calloc(O, 4);
        float *work = zm_calloc(zm_conv2d_work(C, O, K, P, P, G) + 1, 4);
        for (size_t i = 0; i < nx; i++) x[i] = (float)zm_rng_normal(&r);
        for (size_t i = 0; i < nw; i++) w[i] = (float)zm_rng_normal(&r);
        for (int i = 0; i < O; i++) b[i] = (float)zm_rng_normal(&r);
        for (size_t i = 0; i < ny; i++) dy[i] = (float)zm_rng_normal(&r);
        zm_conv2d_forward(y1, x, w, b, N, C, H, H, O, K, S, D, G, work);
        zm_conv2d_forward_ref(y2, x, w, b, N, C, H, H, O, K, S, D, G);
        zm_conv2d_backward(gx1, gw1, gb1, dy, x, w, N, C, H, H, O, K, S, D, G, work);
        zm_conv2d_backward_ref(gx2, gw2, gb2, dy, x, w, N, C, H, H, O, K, S, D, G);
        /* both sides are float32 sums of the same products: each within gamma_n M of the
         * exact sum, so within 2 gamma_n M of each other (nt_bound's +2 covers the 2) */
        float *ax = nt_abs(x, nx), *aw = nt_abs(w, nw), *ab = nt_abs(b, O), *ady = nt_abs(dy, ny);
        float *my = zm_calloc(ny, 4), *mdx = zm_calloc(nx, 4), *mdw = zm_calloc(nw, 4);
        float *mdb = zm_calloc(O, 4);
        zm_conv2d_forward_ref(my, ax, aw, ab, N, C, H, H, O, K, S, D, G);
        zm_conv2d_backward_ref(mdx, mdw, mdb, ady, ax, aw, N, C, H, H, O, K, S, D, G);
        for (size_t i = 0; i < ny; i++) my[i] *= 2;
        for (size_t i = 0; i < nx; i++) mdx[i] *= 2;
        for (size_t i = 0; i < nw; i++) mdw[i] *= 2;
        for (int i = 0; i < O; i++) mdb[i] *= 2;
        double n_y = (double)(C / G) * K * K + 1, n_dx = (double)(O / G) * K * K;
        double n_dw = (double)N * P * P;
        char name[64];
        snprintf(name, sizeof name, "fast-vs-ref case %zu y", k);
        ck_assert(nt_bound(name, y1, y2, my, ny, n_y) <= 1);
        snprintf(name, sizeof name, "fast-vs-ref case %zu dx", k);
        ck_assert(nt_bound(name, gx1, gx2, mdx, nx, n_dx) <= 1);
        snprintf(name, sizeof name, "fast-vs-ref case %zu dw", k);
        ck_assert(nt_bound(name, gw1, gw2, mdw, nw, n_dw) <= 1);
        snprintf(name, sizeof name, "fast-vs-ref case %zu db", k);
        ck_assert(nt_bound(name, gb1, gb2, mdb, O, n_dw) <= 1);
        free(ax), free(aw), free(ab), free(ady), free(my), free(mdx), free(mdw), free(mdb);
        free(x), free(w), free(b), free(dy), free(y1), free(y2), free(gx1), free(gx2);
        free(gw1), free(gw2), free(gb1), free(gb2), free(work);
    }
}
END_TEST

/* Folded inference convolution vs convolution, batch norm (eval) and activation run
 * one after the other, on every path of zm_conv2d_forward_fused: depthwise K3/K5 S1/S2,
 * 1x1 on large planes (column blocks), 1x1 on small planes (batched over images, with
 * and without a squeeze-excitation scale), dense 3x3 on small planes (batched), dense
 * 3x3 and grouped per image, depthwise on small planes (one chunk, rows rounded to whole
 * vectors), dense 3x3 stride 1 by Winograd F(2x2, 3x3) in one or several tile blocks. */
START_TEST(fused_inference)
{
    static const int cases[][9] = {
        /* N C H O K S D G inscale */
        {3, 8, 23, 8, 3, 1, 1, 8, 0},  {3, 8, 24, 8, 5, 2, 2, 8, 0}, {2, 6, 15, 6, 3, 2, 1, 6, 0},
        {2, 12, 25, 20, 1, 1, 0, 1, 1}, {5, 12, 9, 20, 1, 1, 0, 1, 1}, {5, 12, 9, 20, 1, 1, 0, 1, 0},
        {7, 5, 6, 9, 3, 1, 1, 1, 0},    {2, 5, 30, 9, 3, 2, 1, 1, 0},  {2, 8, 11, 6, 3, 1, 1, 2, 0},
        {3, 16, 6, 16, 3, 1, 1, 16, 0}, {2, 24, 7, 24, 5, 2, 2, 24, 0}, {2, 16, 3, 16, 5, 1, 2, 16, 0},
        {1, 3, 61, 3, 3, 2, 1, 3, 0},   {1, 2, 60, 2, 5, 1, 2, 2, 0}, /* several row chunks */
        {3, 64, 20, 200, 1, 1, 0, 1, 1}, /* 1x1 small planes, one image per chunk */
        {2, 16, 60, 8, 3, 1, 1, 1, 0},   /* dense 3x3, several im2col row blocks */
        {2, 16, 9, 24, 3, 1, 1, 1, 0},   /* Winograd F(2x2,3x3): odd plane, one block */
        {3, 20, 8, 16, 3, 1, 1, 1, 0},   /* Winograd: even plane */
        {3, 96, 27, 128, 3, 1, 1, 1, 0}, /* Winograd: two blocks, one across images */
        {2, 64, 56, 64, 3, 1, 1, 1, 0},  /* Winograd: three blocks (ResNet-18 layer1) */
    };
    zm_rng r;
    zm_rng_seed(&r, 5, 0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int N = cases[k][0], C = cases[k][1], H = cases[k][2], O = cases[k][3], K = cases[k][4];
        int S = cases[k][5], D = cases[k][6], G = cases[k][7], use_s = cases[k][8];
        int P = zm_conv_out(H, K, S, D);
        size_t nx = (size_t)N * C * H * H, nw = (size_t)O * (C / G) * K * K;
        size_t ny = (size_t)N * O * P * P;
        size_t nwork = zm_conv2d_fused_work(N, C, O, K, P, P, G);
        float *x = zm_malloc(4 * nx), *xs = zm_malloc(4 * nx), *w = zm_malloc(4 * nw);
        float *sc = zm_malloc(4 * O), *sh = zm_malloc(4 * O), *s = zm_malloc(4 * N * C);
        float *y1 = zm_malloc(4 * ny), *y2 = zm_malloc(4 * ny), *y3 = zm_malloc(4 * ny);
        float *work = zm_calloc(nwork + zm_conv2d_work(C, O, K, P, P, G) + 1, 4);
        for (size_t i = 0; i < nx; i++) x[i] = (float)zm_rng_normal(&r);
        for (size_t i = 0; i < nw; i++) w[i] = (float)zm_rng_normal(&r);
        for (int i = 0; i < O; i++) sc[i] = 0.5f + (float)zm_rng_uniform(&r), sh[i] = (float)zm_rng_normal(&r);
        for (int i = 0; i < N * C; i++) s[i] = (float)zm_rng_uniform(&r);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < H * H; i++)
                    xs[((size_t)n * C + c) * H * H + i] =
                        x[((size_t)n * C + c) * H * H + i] * (use_s ? s[n * C + c] : 1.0f);
        for (int act = 0; act < 3; act++) {
            zm_conv2d_forward(y1, xs, w, NULL, N, C, H, H, O, K, S, D, G, work);
            for (int n = 0; n < N; n++)
                for (int o = 0; o < O; o++)
                    for (int i = 0; i < P * P; i++) {
                        float *v = &y1[((size_t)n * O + o) * P * P + i];
                        *v = *v * sc[o] + sh[o];
                    }
            if (act == 1) zm_relu_forward(y2, y1, ny);
            if (act == 2) zm_silu_forward(y2, y1, ny);
            if (act == 0) memcpy(y2, y1, 4 * ny);
            zm_conv2d_forward_fused(y3, x, w, sc, sh, act, use_s ? s : NULL, N, C, H, H, O, K, S,
                                    D, G, work, nwork);
            char name[80];
            snprintf(name, sizeof name, "fused case %zu act %d", k, act);
            /* Winograd's rounding error is absolute, about 1e-7 of the largest output
             * (its transforms add and subtract before the products): values below 1% of
             * the largest are held to 1e-6 of it, not to 1e-4 of themselves */
            int wino = K == 3 && S == 1 && D == 1 && G == 1 && C >= 16 && O >= 16;
            ck_assert(nt_diff_floor(name, y3, y2, ny, wino ? 1e-2 : 1e-3) < TOL_OUT);
        }
        free(x), free(xs), free(w), free(sc), free(sh), free(s), free(y1), free(y2), free(y3);
        free(work);
    }
}
END_TEST

/* zm_all_finite: a NaN or an infinity anywhere (vector body or tail) is found. */
START_TEST(finite_scan)
{
    float *x = zm_calloc(1000, sizeof(float));
    for (int i = 0; i < 1000; i++) x[i] = (float)(i % 17) - 8.0f;
    ck_assert(zm_all_finite(x, 1000));
    ck_assert(zm_all_finite(x, 0));
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const size_t at[6] = {0, 5, 16, 511, 998, 999};
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < 6; k++) {
            float keep = x[at[k]];
            x[at[k]] = bad[b];
            ck_assert(!zm_all_finite(x, 1000));
            ck_assert(zm_all_finite(x, at[k])); /* the values before it are finite */
            x[at[k]] = keep;
        }
    x[3] = FLT_MAX, x[4] = -FLT_MAX, x[6] = 1e-45f;
    ck_assert(zm_all_finite(x, 1000));
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, conv, 0, (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_test(tc, batchnorm);
    tcase_add_test(tc, activations);
    tcase_add_test(tc, pooling);
    tcase_add_test(tc, linear);
    tcase_add_test(tc, squeeze_excitation);
    tcase_add_test(tc, dropout_statistics);
    tcase_add_test(tc, conv_bound_catches);
    tcase_add_test(tc, conv_fast_vs_ref);
    tcase_add_test(tc, fused_inference);
    tcase_add_test(tc, finite_scan);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite(s);
    if (fx >= 0) H5Fclose(fx);
    return rc;
}
