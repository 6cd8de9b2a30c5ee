/*
 * layers.c: every kernel of nn_layers.h except the convolution: batch normalisation,
 * activations, pooling, fully connected, channel scale, residual add, dropout and
 * stochastic depth. Loops are written so the compiler vectorises them; statistics are
 * accumulated in double. These simple kernels are their own scalar reference.
 */
#include "nn_simd.h" /* first: -O3 for the whole file */
/* No FMA contraction here: with it, batch norm's rounding moved resnet18's 10-step Adam
 * trajectory (test_nn_nets) from 0.0137 to 0.0204 relative of PyTorch's float64 losses,
 * against a limit of 3x PyTorch float32's own 0.0048. */
#pragma GCC optimize("fp-contract=off")
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "zoomorph/nn_layers.h"

/* ---- batch normalisation ----------------------------------------------------------- */

ZM_VEC void zm_batchnorm_forward_train(float *out, float *saved, float *running_mean,
                                float *running_var, const float *in, const float *gamma,
                                const float *beta, int N, int C, int HW, float eps,
                                float momentum)
{
    double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double s = 0.0; /* double accumulation, as PyTorch's CPU kernels */
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) s += x[i];
        }
        double mean = s / M, ss = 0.0;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) ss += (x[i] - mean) * (x[i] - mean);
        }
        double var = ss / M;
        float invstd = (float)(1.0 / sqrt(var + eps));
        saved[c] = (float)mean;
        saved[C + c] = invstd;
        if (running_mean) {
            double unbiased = M > 1 ? ss / (M - 1) : var;
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
        float sc = gamma[c] * invstd, sh = beta[c] - (float)mean * sc;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            float *y = out + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) y[i] = x[i] * sc + sh;
        }
    }
}

ZM_VEC void zm_batchnorm_forward_eval(float *out, const float *in, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, int N, int C, int HW, float eps)
{
    for (int c = 0; c < C; c++) {
        float sc = gamma[c] / sqrtf(running_var[c] + eps);
        float sh = beta[c] - running_mean[c] * sc;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            float *y = out + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) y[i] = x[i] * sc + sh;
        }
    }
}

ZM_VEC void zm_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *saved, const float *gamma, int N,
                           int C, int HW)
{
    double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        float mean = saved[c], invstd = saved[C + c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            const float *g = dout + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sdy += g[i];
                sdyx += g[i] * (double)(x[i] - mean);
            }
        }
        /* xhat = (x - mean) * invstd; dgamma = sum dy*xhat; dbeta = sum dy */
        dgamma[c] += (float)(sdyx * invstd);
        dbeta[c] += (float)sdy;
        if (!din) continue;
        /* dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
        float k = gamma[c] * invstd;
        float mdy = (float)(sdy / M);
        float mdyx = (float)(sdyx * invstd * invstd / M); /* mean(dy*xhat)*invstd */
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            const float *g = dout + ((size_t)n * C + c) * HW;
            float *d = din + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) d[i] += k * (g[i] - mdy - (x[i] - mean) * mdyx);
        }
    }
}

/* ---- activations ------------------------------------------------------------------- */

ZM_VEC void zm_relu_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

ZM_VEC void zm_relu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

ZM_VEC void zm_silu_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + zm_expf(-x[i]));
}

ZM_VEC void zm_silu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + zm_expf(-x[i]));
        dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

ZM_VEC void zm_sigmoid_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + zm_expf(-x[i]));
}

ZM_VEC void zm_sigmoid_backward(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + zm_expf(-x[i]));
        dx[i] += dy[i] * s * (1.0f - s);
    }
}

/* ---- pooling ----------------------------------------------------------------------- */

ZM_VEC void zm_avgpool_global_forward(float *out, const float *in, int N, int C, int HW)
{
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * HW;
        float a = 0.0f;
        for (int i = 0; i < HW; i++) a += x[i];
        out[nc] = a / (float)HW;
    }
}

ZM_VEC void zm_avgpool_global_backward(float *din, const float *dout, int N, int C, int HW)
{
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float g = dout[nc] / (float)HW;
        float *d = din + nc * HW;
        for (int i = 0; i < HW; i++) d[i] += g;
    }
}

/* A test of the exponent bits (all ones: inf or NaN), so it vectorises as integer
 * operations whatever the float flags of nn_simd.h allow the compiler to assume
 * (a float sum of x * 0 had its vector part folded away under them). */
ZM_VEC int zm_all_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

void zm_maxpool_forward_ref(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                            int D)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        float *y = out + nc * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float m = -FLT_MAX;
                for (int kh = 0; kh < K; kh++) {
                    int ih = p * S - D + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < K; kw++) {
                        int iw = q * S - D + kw;
                        if (iw < 0 || iw >= W) continue;
                        float v = x[ih * W + iw];
                        if (v > m) m = v;
                    }
                }
                y[p * Q + q] = m;
            }
    }
}

/* Fast path: per output row, the maximum over the window's input rows (a vector loop
 * over the row) into a -FLT_MAX-padded buffer, then the maximum over the K columns of
 * each output. Planes wider than the buffer take the reference. */
#define MAXPOOL_ROW 4096
ZM_VEC void zm_maxpool_forward(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                               int D)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    if (W + 2 * D + K > MAXPOOL_ROW) {
        zm_maxpool_forward_ref(out, in, N, C, H, W, K, S, D);
        return;
    }
    float rm[MAXPOOL_ROW];
    for (int i = 0; i < W + 2 * D + K; i++) rm[i] = -FLT_MAX;
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        float *y = out + nc * P * Q;
        for (int p = 0; p < P; p++) {
            float *r = rm + D; /* r[iw], iw in [0, W); the D cells each side stay -FLT_MAX */
            int started = 0;
            for (int kh = 0; kh < K; kh++) {
                int ih = p * S - D + kh;
                if (ih < 0 || ih >= H) continue;
                const float *xr = x + (size_t)ih * W;
                if (!started)
                    for (int iw = 0; iw < W; iw++) r[iw] = xr[iw];
                else
                    for (int iw = 0; iw < W; iw++) r[iw] = xr[iw] > r[iw] ? xr[iw] : r[iw];
                started = 1;
            }
            if (!started)
                for (int iw = 0; iw < W; iw++) r[iw] = -FLT_MAX;
            float *yr = y + (size_t)p * Q;
            for (int q = 0; q < Q; q++) {
                float m = rm[q * S];
                for (int kw = 1; kw < K; kw++) m = rm[q * S + kw] > m ? rm[q * S + kw] : m;
                yr[q] = m;
            }
        }
    }
}

ZM_VEC void zm_maxpool_backward(float *din, const float *dout, const float *in, int N, int C, int H,
                         int W, int K, int S, int D)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        const float *g = dout + nc * P * Q;
        float *d = din + nc * H * W;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float m = -FLT_MAX;
                int at = -1;
                for (int kh = 0; kh < K; kh++) {
                    int ih = p * S - D + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < K; kw++) {
                        int iw = q * S - D + kw;
                        if (iw < 0 || iw >= W) continue;
                        if (x[ih * W + iw] > m || at < 0) {
                            m = x[ih * W + iw];
                            at = ih * W + iw;
                        }
                    }
                }
                if (at >= 0) d[at] += g[p * Q + q];
            }
    }
}

/* ---- fully connected --------------------------------------------------------------- */

ZM_VEC void zm_linear_forward(float *out, const float *in, const float *weight, const float *bias,
                       int N, int NI, int O)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, NI, 1.0f, in, NI, weight, NI, 0.0f,
                out, O);
    if (bias)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) out[(size_t)n * O + o] += bias[o];
}

ZM_VEC void zm_linear_backward(float *din, float *dweight, float *dbias, const float *dout,
                        const float *in, const float *weight, int N, int NI, int O)
{
    /* dW (O, NI) += dout^T (O, N) x in (N, NI) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, NI, N, 1.0f, dout, O, in, NI, 1.0f,
                dweight, NI);
    if (dbias)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) dbias[o] += dout[(size_t)n * O + o];
    /* din (N, NI) += dout (N, O) x W (O, NI) */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, NI, O, 1.0f, dout, O, weight, NI,
                    1.0f, din, NI);
}

/* ---- combinations ------------------------------------------------------------------ */

ZM_VEC void zm_chscale_forward(float *out, const float *x, const float *s, int N, int C, int HW)
{
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float k = s[nc];
        const float *a = x + nc * HW;
        float *y = out + nc * HW;
        for (int i = 0; i < HW; i++) y[i] = a[i] * k;
    }
}

ZM_VEC void zm_chscale_backward(float *dx, float *ds, const float *dout, const float *x,
                         const float *s, int N, int C, int HW)
{
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float k = s[nc], acc = 0.0f;
        const float *a = x + nc * HW, *g = dout + nc * HW;
        float *d = dx ? dx + nc * HW : NULL;
        for (int i = 0; i < HW; i++) acc += g[i] * a[i];
        if (dx)
            for (int i = 0; i < HW; i++) d[i] += g[i] * k;
        if (ds) ds[nc] += acc;
    }
}

ZM_VEC void zm_add_forward(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

ZM_VEC void zm_add_backward(float *da, float *db, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

/* ---- dropout and stochastic depth -------------------------------------------------- */

void zm_dropout_mask(float *mask, size_t n, float p, zm_rng *rng)
{
    if (p <= 0.0f) {
        for (size_t i = 0; i < n; i++) mask[i] = 1.0f;
        return;
    }
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) mask[i] = zm_rng_uniform(rng) < p ? 0.0f : keep;
}

ZM_VEC void zm_mul_forward(float *out, const float *x, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = x[i] * mask[i];
}

ZM_VEC void zm_mul_backward(float *dx, const float *dout, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += dout[i] * mask[i];
}

ZM_VEC void zm_rowscale_forward(float *out, const float *x, const float *mask, int N, size_t M)
{
    for (int n = 0; n < N; n++)
        for (size_t i = 0; i < M; i++) out[n * M + i] = x[n * M + i] * mask[n];
}

ZM_VEC void zm_rowscale_backward(float *dx, const float *dout, const float *mask, int N, size_t M)
{
    for (int n = 0; n < N; n++)
        for (size_t i = 0; i < M; i++) dx[n * M + i] += dout[n * M + i] * mask[n];
}
