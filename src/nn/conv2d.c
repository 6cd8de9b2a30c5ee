/*
 * conv2d.c: 2-D convolution forward and backward (see nn_layers.h for the letter legend).
 *
 * Fast path: dense and grouped convolutions go through im2col into the caller's
 * workspace and one cblas_sgemm per image and group (1x1 stride-1 convolutions skip
 * im2col and multiply the input directly); depthwise convolutions (G == C == O) use
 * direct loops over whole output rows, which the compiler vectorises. The scalar
 * references at the end are the textbook seven loops; tests compare the two.
 */
#include <cblas.h>
#include <string.h>

#include "zoomorph/nn_layers.h"

static int is_depthwise(int C, int O, int G) { return G == C && O == C && G > 1; }
static int is_pointwise(int K, int S, int D) { return K == 1 && S == 1 && D == 0; }

size_t zm_conv2d_work(int C, int O, int K, int P, int Q, int G)
{
    if (is_depthwise(C, O, G)) return 0;
    return (size_t)(C / G) * K * K * P * Q;
}

/* col (Cg*K*K, P*Q) from one image's group slice in (Cg, H, W). */
static void im2col(float *col, const float *in, int Cg, int H, int W, int K, int S, int D,
                   int P, int Q)
{
    for (int c = 0; c < Cg; c++)
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                float *dst = col + ((size_t)(c * K + kh) * K + kw) * P * Q;
                const float *src = in + (size_t)c * H * W;
                for (int p = 0; p < P; p++) {
                    int ih = p * S - D + kh;
                    float *d = dst + (size_t)p * Q;
                    if (ih < 0 || ih >= H) {
                        memset(d, 0, sizeof(float) * Q);
                        continue;
                    }
                    const float *row = src + (size_t)ih * W;
                    if (S == 1) {
                        for (int q = 0; q < Q; q++) {
                            int iw = q - D + kw;
                            d[q] = (iw >= 0 && iw < W) ? row[iw] : 0.0f;
                        }
                    } else {
                        for (int q = 0; q < Q; q++) {
                            int iw = q * S - D + kw;
                            d[q] = (iw >= 0 && iw < W) ? row[iw] : 0.0f;
                        }
                    }
                }
            }
}

/* in (Cg, H, W) += col2im(col (Cg*K*K, P*Q)). */
static void col2im_add(float *in, const float *col, int Cg, int H, int W, int K, int S, int D,
                       int P, int Q)
{
    for (int c = 0; c < Cg; c++)
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *src = col + ((size_t)(c * K + kh) * K + kw) * P * Q;
                float *dst = in + (size_t)c * H * W;
                for (int p = 0; p < P; p++) {
                    int ih = p * S - D + kh;
                    if (ih < 0 || ih >= H) continue;
                    float *row = dst + (size_t)ih * W;
                    const float *s = src + (size_t)p * Q;
                    for (int q = 0; q < Q; q++) {
                        int iw = q * S - D + kw;
                        if (iw >= 0 && iw < W) row[iw] += s[q];
                    }
                }
            }
}

/* Range of output columns q whose input column q*S - D + kw lies in [0, W). */
static void q_range(int *q0, int *q1, int W, int Q, int S, int D, int kw)
{
    int lo = D - kw > 0 ? (D - kw + S - 1) / S : 0;
    int hi = W - 1 + D - kw;
    hi = hi < 0 ? -1 : hi / S;
    if (hi > Q - 1) hi = Q - 1;
    *q0 = lo;
    *q1 = hi;
}

/* One depthwise plane: out (P,Q) = conv(in (H,W), w (K,K)) + b. */
static void dw_plane_forward(float *out, const float *in, const float *w, float b, int H, int W,
                             int P, int Q, int K, int S, int D)
{
    for (int p = 0; p < P; p++) {
        float *orow = out + (size_t)p * Q;
        for (int q = 0; q < Q; q++) orow[q] = b;
        for (int kh = 0; kh < K; kh++) {
            int ih = p * S - D + kh;
            if (ih < 0 || ih >= H) continue;
            const float *irow = in + (size_t)ih * W;
            for (int kw = 0; kw < K; kw++) {
                float wv = w[kh * K + kw];
                int q0, q1;
                q_range(&q0, &q1, W, Q, S, D, kw);
                if (S == 1) {
                    const float *ip = irow + kw - D;
                    for (int q = q0; q <= q1; q++) orow[q] += wv * ip[q];
                } else {
                    const float *ip = irow + kw - D;
                    for (int q = q0; q <= q1; q++) orow[q] += wv * ip[q * S];
                }
            }
        }
    }
}

static void dw_plane_backward(float *din, float *dw, const float *dout, const float *in,
                              const float *w, int H, int W, int P, int Q, int K, int S, int D)
{
    for (int p = 0; p < P; p++) {
        const float *grow = dout + (size_t)p * Q;
        for (int kh = 0; kh < K; kh++) {
            int ih = p * S - D + kh;
            if (ih < 0 || ih >= H) continue;
            const float *irow = in + (size_t)ih * W;
            float *drow = din ? din + (size_t)ih * W : NULL;
            for (int kw = 0; kw < K; kw++) {
                float wv = w[kh * K + kw];
                int q0, q1;
                q_range(&q0, &q1, W, Q, S, D, kw);
                const float *ip = irow + kw - D;
                float acc = 0.0f;
                if (S == 1) {
                    for (int q = q0; q <= q1; q++) acc += grow[q] * ip[q];
                    if (drow) {
                        float *dp = drow + kw - D;
                        for (int q = q0; q <= q1; q++) dp[q] += wv * grow[q];
                    }
                } else {
                    for (int q = q0; q <= q1; q++) acc += grow[q] * ip[q * S];
                    if (drow) {
                        float *dp = drow + kw - D;
                        for (int q = q0; q <= q1; q++) dp[q * S] += wv * grow[q];
                    }
                }
                dw[kh * K + kw] += acc;
            }
        }
    }
}

void zm_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                       int N, int C, int H, int W, int O, int K, int S, int D, int G,
                       float *work)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    size_t PQ = (size_t)P * Q, HW = (size_t)H * W;
    if (is_depthwise(C, O, G)) {
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                dw_plane_forward(out + ((size_t)n * C + c) * PQ, in + ((size_t)n * C + c) * HW,
                                 weight + (size_t)c * K * K, bias ? bias[c] : 0.0f, H, W, P, Q,
                                 K, S, D);
        return;
    }
    int Cg = C / G, Og = O / G, KK = Cg * K * K;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            const float *src = in + ((size_t)n * C + (size_t)g * Cg) * HW;
            const float *col = src;
            if (!is_pointwise(K, S, D)) {
                im2col(work, src, Cg, H, W, K, S, D, P, Q);
                col = work;
            }
            float *dst = out + ((size_t)n * O + (size_t)g * Og) * PQ;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, (int)PQ, KK, 1.0f,
                        weight + (size_t)g * Og * KK, KK, col, (int)PQ, 0.0f, dst, (int)PQ);
        }
    if (bias)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) {
                float *d = out + ((size_t)n * O + o) * PQ, b = bias[o];
                for (size_t i = 0; i < PQ; i++) d[i] += b;
            }
}

void zm_conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                        const float *in, const float *weight, int N, int C, int H, int W,
                        int O, int K, int S, int D, int G, float *work)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    size_t PQ = (size_t)P * Q, HW = (size_t)H * W;
    if (dbias)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) {
                const float *g = dout + ((size_t)n * O + o) * PQ;
                float acc = 0.0f;
                for (size_t i = 0; i < PQ; i++) acc += g[i];
                dbias[o] += acc;
            }
    if (is_depthwise(C, O, G)) {
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                dw_plane_backward(din ? din + ((size_t)n * C + c) * HW : NULL,
                                  dweight + (size_t)c * K * K, dout + ((size_t)n * C + c) * PQ,
                                  in + ((size_t)n * C + c) * HW, weight + (size_t)c * K * K, H,
                                  W, P, Q, K, S, D);
        return;
    }
    int Cg = C / G, Og = O / G, KK = Cg * K * K;
    int pw = is_pointwise(K, S, D);
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            const float *src = in + ((size_t)n * C + (size_t)g * Cg) * HW;
            const float *gout = dout + ((size_t)n * O + (size_t)g * Og) * PQ;
            const float *col = src;
            if (!pw) {
                im2col(work, src, Cg, H, W, K, S, D, P, Q);
                col = work;
            }
            /* dW (Og, KK) += dout (Og, PQ) x col^T (PQ, KK) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Og, KK, (int)PQ, 1.0f, gout,
                        (int)PQ, col, (int)PQ, 1.0f, dweight + (size_t)g * Og * KK, KK);
            if (!din) continue;
            float *dsrc = din + ((size_t)n * C + (size_t)g * Cg) * HW;
            /* dcol (KK, PQ) = W^T (KK, Og) x dout (Og, PQ) */
            if (pw) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, KK, (int)PQ, Og, 1.0f,
                            weight + (size_t)g * Og * KK, KK, gout, (int)PQ, 1.0f, dsrc, (int)PQ);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, KK, (int)PQ, Og, 1.0f,
                            weight + (size_t)g * Og * KK, KK, gout, (int)PQ, 0.0f, work, (int)PQ);
                col2im_add(dsrc, work, Cg, H, W, K, S, D, P, Q);
            }
        }
}

/* ---- scalar references ------------------------------------------------------------- */

void zm_conv2d_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                           int N, int C, int H, int W, int O, int K, int S, int D, int G)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    int Cg = C / G, Og = O / G;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            int g = o / Og;
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    double acc = bias ? bias[o] : 0.0;
                    for (int c = 0; c < Cg; c++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = p * S - D + kh, iw = q * S - D + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += (double)weight[((size_t)(o * Cg + c) * K + kh) * K + kw] *
                                       in[(((size_t)n * C + g * Cg + c) * H + ih) * W + iw];
                            }
                    out[(((size_t)n * O + o) * P + p) * Q + q] = (float)acc;
                }
        }
}

void zm_conv2d_backward_ref(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, int N, int C, int H, int W,
                            int O, int K, int S, int D, int G)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    int Cg = C / G, Og = O / G;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            int g = o / Og;
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    float gv = dout[(((size_t)n * O + o) * P + p) * Q + q];
                    if (dbias) dbias[o] += gv;
                    for (int c = 0; c < Cg; c++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = p * S - D + kh, iw = q * S - D + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                size_t wi = ((size_t)(o * Cg + c) * K + kh) * K + kw;
                                size_t ii = (((size_t)n * C + g * Cg + c) * H + ih) * W + iw;
                                dweight[wi] += gv * in[ii];
                                if (din) din[ii] += gv * weight[wi];
                            }
                }
        }
}
