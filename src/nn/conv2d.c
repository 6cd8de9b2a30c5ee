/*
 * conv2d.c: 2-D convolution forward and backward (see nn_layers.h for the letter legend).
 *
 * Fast path: dense and grouped convolutions go through im2col into the caller's
 * workspace and one cblas_sgemm per image and group (1x1 stride-1 convolutions skip
 * im2col and multiply the input directly); depthwise convolutions (G == C == O) work on
 * a zero-padded copy of each plane (stride 2: split into even/odd phases) so every tap
 * is a contiguous vector loop (forward: over whole rows at once, see "flat" below).
 * zm_conv2d_forward_fused is the inference form with batch norm and activation folded
 * in (column-blocked, batched over images for small planes; dense 3x3 stride-1 by
 * Winograd F(2x2, 3x3)). The scalar references at
 * the end are the textbook seven loops; tests compare them with the fast paths.
 */
#include "nn_simd.h" /* first: -O3 for the whole file */
#include <cblas.h>
#include <string.h>

#include "zoomorph/nn_layers.h"

static int is_depthwise(int C, int O, int G) { return G == C && O == C && G > 1; }
static int is_pointwise(int K, int S, int D) { return K == 1 && S == 1 && D == 0; }

#define DW_FLAT_CHUNK 1024 /* depthwise forward: floats of flat output per chunk (L1) */
#define DW_FLAT_PAD 32     /* slack after each phase plane and chunk (vector rounding) */

size_t zm_conv2d_work(int C, int O, int K, int P, int Q, int G)
{
    if (is_depthwise(C, O, G)) {
        /* up to 4 phase planes of at most (P+K) x (Q+K) (H + 2D <= 2P + K); forward:
         * those of the input and one chunk; backward: those of the input and its
         * gradient, and the output gradient rows widened */
        size_t ph = 4 * ((size_t)(P + K) * (Q + K) + K + DW_FLAT_PAD);
        size_t bwd = 2 * ph + (size_t)P * (Q + K) + 16;
        size_t fwd = ph + DW_FLAT_CHUNK + Q + K + DW_FLAT_PAD;
        return bwd > fwd ? bwd : fwd;
    }
    return (size_t)(C / G) * K * K * P * Q;
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

/* col (Cg*K*K, (p1-p0)*Q), rows ld apart: output rows p0 <= p < p1 of the im2col matrix
 * of one image's group slice in (Cg, H, W). Each row segment is a copy of the valid
 * input columns between zeroed edges. */
ZM_VEC static void im2col_rows(float *col, size_t ld, const float *in, int Cg, int H, int W,
                               int K, int S, int D, int Q, int p0, int p1)
{
    for (int c = 0; c < Cg; c++)
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                float *dst = col + ((size_t)(c * K + kh) * K + kw) * ld;
                const float *src = in + (size_t)c * H * W;
                int q0, q1;
                q_range(&q0, &q1, W, Q, S, D, kw);
                for (int p = p0; p < p1; p++) {
                    int ih = p * S - D + kh;
                    float *d = dst + (size_t)(p - p0) * Q;
                    if (ih < 0 || ih >= H || q1 < q0) {
                        memset(d, 0, sizeof(float) * Q);
                        continue;
                    }
                    const float *row = src + (size_t)ih * W + kw - D;
                    for (int q = 0; q < q0; q++) d[q] = 0.0f;
                    if (S == 1)
                        for (int q = q0; q <= q1; q++) d[q] = row[q];
                    else
                        for (int q = q0; q <= q1; q++) d[q] = row[q * S];
                    for (int q = q1 + 1; q < Q; q++) d[q] = 0.0f;
                }
            }
}

/* col (Cg*K*K, P*Q), rows ld apart, from one image's group slice in (Cg, H, W). */
static void im2col_ld(float *col, size_t ld, const float *in, int Cg, int H, int W, int K, int S,
                      int D, int P, int Q)
{
    im2col_rows(col, ld, in, Cg, H, W, K, S, D, Q, 0, P);
}

static void im2col(float *col, const float *in, int Cg, int H, int W, int K, int S, int D, int P,
                   int Q)
{
    im2col_ld(col, (size_t)P * Q, in, Cg, H, W, K, S, D, P, Q);
}

/* in (Cg, H, W) += col2im(col (Cg*K*K, P*Q)). */
ZM_VEC static void col2im_add(float *in, const float *col, int Cg, int H, int W, int K, int S, int D,
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

/* y = act(x * sc + sh) over n values (y may be x); act 0 none, 1 ReLU, 2 SiLU. */
ZM_VEC static void epilogue2(float *y, const float *x, size_t n, float sc, float sh, int act)
{
    if (act == 2)
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * sc + sh;
            y[i] = v / (1.0f + zm_expf(-v));
        }
    else if (act == 1)
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * sc + sh;
            y[i] = v > 0.0f ? v : 0.0f;
        }
    else
        for (size_t i = 0; i < n; i++) y[i] = x[i] * sc + sh;
}

static void epilogue(float *y, size_t n, float sc, float sh, int act)
{
    epilogue2(y, y, n, sc, sh, act);
}


/* One output row: orow[q] = act(sc * sum over the K*K taps of w[k] * t[k][q] + sh), q < Q;
 * K constant per instance so the taps unroll and q vectorises. */
#define DW_ROW(KC)                                                                     \
    static inline __attribute__((always_inline)) void dw_row_##KC(                    \
        float *restrict orow, const float *const *t, const float *w, int Q, float sc,  \
        float sh, int act)                                                             \
    {                                                                                  \
        for (int q = 0; q < Q; q++) {                                                  \
            float acc = 0.0f;                                                          \
            _Pragma("GCC unroll 25")                                                   \
            for (int k = 0; k < KC * KC; k++) acc += w[k] * t[k][q];                   \
            float v = acc * sc + sh;                                                   \
            if (act == 2)                                                              \
                v = v / (1.0f + zm_expf(-v));                                          \
            else if (act == 1)                                                         \
                v = v > 0.0f ? v : 0.0f;                                               \
            orow[q] = v;                                                               \
        }                                                                              \
    }
DW_ROW(3)
DW_ROW(5)

/* Depthwise forward fast path ("flat"): the plane is copied once into S*S zero-padded
 * phase planes (S == 2: even/odd padded rows x even/odd padded columns), each Wr wide,
 * so that output (p, q) of tap (kh, kw) reads phase (kh%S, kw%S) at (p + kh/S) * Wr +
 * q + kw/S: a constant offset from the flat index p * Wr + q. The K*K taps then run as
 * one long vector loop over whole rows at once (Wr - Q columns per row are computed and
 * dropped), so small planes (7x7, 14x14) vectorise as well as large ones; chunks of rows
 * go through a small buffer and are compacted into the output rows. */

typedef struct {
    int Wr, rows;  /* phase plane width and rows */
    size_t plane;  /* floats per phase plane, slack included */
    int R;         /* output rows per chunk */
} dw_flat_layout;

static dw_flat_layout dw_flat_plan(int H, int W, int K, int S, int D, int P)
{
    dw_flat_layout L;
    int Hp = H + 2 * D, Wp = W + 2 * D;
    L.Wr = (Wp + S - 1) / S;
    int need = P + (K - 1) / S, have = (Hp + S - 1) / S;
    L.rows = need > have ? need : have;
    L.plane = (size_t)L.rows * L.Wr + K + DW_FLAT_PAD;
    L.R = DW_FLAT_CHUNK / L.Wr > 0 ? DW_FLAT_CHUNK / L.Wr : 1;
    if (L.R > P) L.R = P;
    return L;
}

/* in (H, W) -> S*S zero-padded phase planes of L (see above). */
ZM_VEC static void dw_phases(float *ph, const dw_flat_layout *L, const float *in, int H, int W,
                             int S, int D)
{
    memset(ph, 0, sizeof(float) * S * S * L->plane);
    for (int ih = 0; ih < H; ih++) {
        int r = ih + D, a = r % S;
        const float *row = in + (size_t)ih * W;
        float *base = ph + (size_t)(a * S) * L->plane + (size_t)(r / S) * L->Wr;
        if (S == 1) {
            memcpy(base + D, row, sizeof(float) * W);
            continue;
        }
        for (int b = 0; b < 2; b++) { /* padded column 2j+b = input column 2j+b-D */
            float *dst = base + (size_t)b * L->plane;
            int off = b - D;
            int lo = off < 0 ? (-off + 1) / 2 : 0;
            int hi = W - 1 - off < 0 ? -1 : (W - 1 - off) / 2;
            if (hi > L->Wr - 1) hi = L->Wr - 1;
            const float *src = row + off;
            for (int j = lo; j <= hi; j++) dst[j] = src[2 * j];
        }
    }
}

/* One depthwise plane: out (P,Q) = act(sc * conv(in (H,W), w (K,K)) + sh) (act 0 none,
 * 1 ReLU, 2 SiLU). Fast path (K 3 or 5, S 1 or 2, scratch given: dw_flat_work floats):
 * the flat kernel above. Otherwise: direct loops with per-tap column ranges. */
ZM_VEC static void dw_plane_forward(float *out, const float *in, const float *w, float sc,
                                    float sh, int act, int H, int W, int P, int Q, int K, int S,
                                    int D, float *scratch)
{
    if ((K == 3 || K == 5) && (S == 1 || S == 2) && scratch) {
        dw_flat_layout L = dw_flat_plan(H, W, K, S, D, P);
        float *ph = scratch, *tmp = scratch + (size_t)S * S * L.plane;
        dw_phases(ph, &L, in, H, W, S, D);
        const float *base[25], *taps[25];
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++)
                base[kh * K + kw] = ph + (size_t)((kh % S) * S + kw % S) * L.plane +
                                    (size_t)(kh / S) * L.Wr + kw / S;
        for (int p0 = 0; p0 < P; p0 += L.R) {
            int nr = P - p0 < L.R ? P - p0 : L.R;
            int len = (nr * L.Wr + 15) & ~15; /* whole vectors: the slack is zero */
            for (int k = 0; k < K * K; k++) taps[k] = base[k] + (size_t)p0 * L.Wr;
            if (K == 3) {
                if (act == 2) dw_row_3(tmp, taps, w, len, sc, sh, 2);
                else if (act == 1) dw_row_3(tmp, taps, w, len, sc, sh, 1);
                else dw_row_3(tmp, taps, w, len, sc, sh, 0);
            } else {
                if (act == 2) dw_row_5(tmp, taps, w, len, sc, sh, 2);
                else if (act == 1) dw_row_5(tmp, taps, w, len, sc, sh, 1);
                else dw_row_5(tmp, taps, w, len, sc, sh, 0);
            }
            for (int i = 0; i < nr; i++)
                memcpy(out + (size_t)(p0 + i) * Q, tmp + (size_t)i * L.Wr, sizeof(float) * Q);
        }
        return;
    }
    for (int p = 0; p < P; p++) {
        float *orow = out + (size_t)p * Q;
        for (int q = 0; q < Q; q++) orow[q] = 0.0f;
        for (int kh = 0; kh < K; kh++) {
            int ih = p * S - D + kh;
            if (ih < 0 || ih >= H) continue;
            const float *irow = in + (size_t)ih * W;
            for (int kw = 0; kw < K; kw++) {
                float wv = w[kh * K + kw];
                int q0, q1;
                q_range(&q0, &q1, W, Q, S, D, kw);
                const float *ip = irow + kw - D;
                for (int q = q0; q <= q1; q++) orow[q] += wv * ip[q * S];
            }
        }
    }
    epilogue(out, (size_t)P * Q, sc, sh, act);
}

/* Backward of one depthwise plane: dw (K,K) += correlation of dout (P,Q) with the
 * input; din (H,W) += transposed convolution of dout (if din). Fast path (K 3 or 5,
 * S 1 or 2, scratch: zm_conv2d_work floats) flat as the forward, every tap one vector
 * loop over the whole plane. Otherwise: direct loops with per-tap column ranges. */
ZM_VEC static void dw_plane_backward(float *din, float *dw, const float *dout, const float *in,
                                     const float *w, int H, int W, int P, int Q, int K, int S,
                                     int D, float *scratch)
{
    if ((K == 3 || K == 5) && (S == 1 || S == 2) && scratch) {
        /* flat, as the forward: input phase planes xph, input-gradient phase planes dph,
         * dout rows widened to Wr with zeros (g); per tap one pass over the whole plane:
         * dw[k] = g . x_k and d_k += w[k] * g (the taps one after the other, so their
         * overlapping updates of dph add up) */
        dw_flat_layout L = dw_flat_plan(H, W, K, S, D, P);
        size_t nph = (size_t)S * S * L.plane;
        float *xph = scratch, *dph = scratch + nph, *g = scratch + 2 * nph;
        int len = (P * L.Wr + 15) & ~15;
        dw_phases(xph, &L, in, H, W, S, D);
        memset(g, 0, sizeof(float) * len);
        for (int p = 0; p < P; p++) memcpy(g + (size_t)p * L.Wr, dout + (size_t)p * Q, sizeof(float) * Q);
        if (din) memset(dph, 0, sizeof(float) * nph);
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                size_t off = (size_t)((kh % S) * S + kw % S) * L.plane + (size_t)(kh / S) * L.Wr + kw / S;
                const float *x = xph + off;
                float acc = 0.0f;
                for (int i = 0; i < len; i++) acc += g[i] * x[i];
                dw[kh * K + kw] += acc;
                if (din) {
                    float *d = dph + off, wv = w[kh * K + kw];
                    for (int i = 0; i < len; i++) d[i] += wv * g[i];
                }
            }
        if (din)
            for (int ih = 0; ih < H; ih++) {
                int r = ih + D;
                float *drow = din + (size_t)ih * W;
                const float *base = dph + (size_t)((r % S) * S) * L.plane + (size_t)(r / S) * L.Wr;
                if (S == 1) {
                    for (int iw = 0; iw < W; iw++) drow[iw] += base[iw + D];
                    continue;
                }
                for (int bpar = 0; bpar < 2; bpar++) { /* input column 2j+bpar-D */
                    const float *src = base + (size_t)bpar * L.plane;
                    int off = bpar - D;
                    int lo = off < 0 ? (-off + 1) / 2 : 0;
                    int hi = W - 1 - off < 0 ? -1 : (W - 1 - off) / 2;
                    if (hi > L.Wr - 1) hi = L.Wr - 1;
                    float *dst = drow + off;
                    for (int j = lo; j <= hi; j++) dst[2 * j] += src[j];
                }
            }
        return;
    }
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

ZM_VEC void zm_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                       int N, int C, int H, int W, int O, int K, int S, int D, int G,
                       float *work)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    size_t PQ = (size_t)P * Q, HW = (size_t)H * W;
    if (is_depthwise(C, O, G)) {
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                dw_plane_forward(out + ((size_t)n * C + c) * PQ, in + ((size_t)n * C + c) * HW,
                                 weight + (size_t)c * K * K, 1.0f, bias ? bias[c] : 0.0f, 0, H,
                                 W, P, Q, K, S, D, work);
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

/* Dense KxK convolutions on planes of at most DENSE_BATCH_PQ pixels im2col several
 * images side by side (about 256 columns) for one sgemm; larger column blocks made the
 * im2col buffer outgrow the caches. */
#define DENSE_BATCH_PQ 64
static int dense_chunk(int N, size_t PQ)
{
    int nb = (int)((256 + PQ - 1) / PQ);
    return nb < N ? nb : N;
}

/* Dense KxK convolutions per image (inference): im2col blocks of whole output rows,
 * about COL_BLOCK_FLOATS floats (L2) but at least COL_BLOCK_MIN columns (sgemm width). */
#define COL_BLOCK_FLOATS 131072
#define COL_BLOCK_MIN 192

/* 1x1 convolutions on small planes: floats of gathered input + result per chunk of
 * images (768 KiB: L2-sized; 64-256 Ki floats measured alike on efficientnet_b0). */
#define BATCH_CHUNK_FLOATS 196608

/* Dense 3x3 stride-1 padding-1 convolutions (inference): Winograd F(2x2, 3x3). Each 2x2
 * output tile comes from a 4x4 input tile: V = Bt d B per input channel, U = G g Gt per
 * filter, M = U . V elementwise summed over channels (16 sgemms, one per tile position,
 * O x C times C x tiles), Y = At M A: 16 multiplies per 4 outputs instead of 36. Tiles
 * are taken in blocks of whole tile rows (across images), about WINO_BLOCK_TILES tiles.
 * The input transform runs along a tile row as vector loops: the input rows are combined
 * first (Bt), then split into even and odd columns so that B over a tile's columns reads
 * constant offsets; the output transform runs over the whole block. Rounding: about 1e-7
 * of the layer's largest output, absolute. Used for C, O >= WINO_MIN_CH (thin layers:
 * im2col). */
#define WINO_MIN_CH 16
#define WINO_BLOCK_TILES 192 /* tiles per block (ResNet-18, 1 thread: 128-384 alike, 24 worse) */

static int use_winograd(int C, int O, int K, int S, int D, int G)
{
    return G == 1 && K == 3 && S == 1 && D == 1 && C >= WINO_MIN_CH && O >= WINO_MIN_CH;
}

/* tile rows per block, for TQ tiles per row and N*TP tile rows in all */
static int wino_rows(int TQ, int rows_all)
{
    int r = WINO_BLOCK_TILES / TQ;
    if (r < 1) r = 1;
    return r < rows_all ? r : rows_all;
}

static size_t wino_work(int N, int C, int O, int P, int Q)
{
    int TP = (P + 1) / 2, TQ = (Q + 1) / 2;
    size_t nt = (size_t)wino_rows(TQ, N * TP) * TQ;
    size_t tmp = 16 * ((size_t)TQ + 1) > 4 * nt ? 16 * ((size_t)TQ + 1) : 4 * nt;
    return 16 * ((size_t)O * C + (size_t)(C + O) * nt) + tmp;
}

/* U (16, O, C) = G g Gt for every filter g (O, C, 3, 3) */
ZM_VEC static void wino_filters(float *restrict U, const float *restrict w, int O, int C)
{
    size_t OC = (size_t)O * C;
#pragma GCC ivdep
    for (size_t k = 0; k < OC; k++) {
        const float *g = w + 9 * k;
        float t[4][3];
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[j];
            t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            U[(4 * i + 0) * OC + k] = t[i][0];
            U[(4 * i + 1) * OC + k] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            U[(4 * i + 2) * OC + k] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            U[(4 * i + 3) * OC + k] = t[i][2];
        }
    }
}

/* V (16, C, nt): input tiles of tile rows g0 <= g < g1 (g = n * TP + tp), TQ tiles each.
 * tmp: 16 * (TQ + 1) floats. */
ZM_VEC static void wino_input(float *restrict V, size_t nt, const float *in, int C, int H, int W,
                              int TP, int TQ, int g0, int g1, float *restrict tmp)
{
    size_t HW = (size_t)H * W, Cnt = (size_t)C * nt;
    int T1 = TQ + 1, Wp = 2 * T1; /* padded row: column x is input column x - 1 */
    float *e = tmp, *o = tmp + 4 * (size_t)T1, *pr = tmp + 8 * (size_t)T1; /* pr: 4 x Wp */
    for (int c = 0; c < C; c++)
        for (int g = g0; g < g1; g++) {
            int n = g / TP, tp = g % TP, y0 = 2 * tp - 1;
            const float *plane = in + ((size_t)n * C + c) * HW;
            for (int i = 0; i < 4; i++) {
                float *r = pr + (size_t)i * Wp;
                if (y0 + i < 0 || y0 + i >= H) {
                    memset(r, 0, sizeof(float) * Wp);
                    continue;
                }
                r[0] = 0.0f;
                memcpy(r + 1, plane + (size_t)(y0 + i) * W, sizeof(float) * W);
                for (int x = W + 1; x < Wp; x++) r[x] = 0.0f;
            }
            /* Bt over the 4 rows, split into even (e) and odd (o) padded columns */
            const float *p0 = pr, *p1 = pr + Wp, *p2 = p1 + Wp, *p3 = p2 + Wp;
#pragma GCC ivdep
            for (int k = 0; k < T1; k++) {
                e[k] = p0[2 * k] - p2[2 * k];
                e[T1 + k] = p1[2 * k] + p2[2 * k];
                e[2 * T1 + k] = p2[2 * k] - p1[2 * k];
                e[3 * T1 + k] = p1[2 * k] - p3[2 * k];
                o[k] = p0[2 * k + 1] - p2[2 * k + 1];
                o[T1 + k] = p1[2 * k + 1] + p2[2 * k + 1];
                o[2 * T1 + k] = p2[2 * k + 1] - p1[2 * k + 1];
                o[3 * T1 + k] = p1[2 * k + 1] - p3[2 * k + 1];
            }
            /* B over each tile's 4 columns: tile q reads e[q], o[q], e[q+1], o[q+1] */
            float *v = V + (size_t)c * nt + (size_t)(g - g0) * TQ;
            for (int i = 0; i < 4; i++) {
                const float *ei = e + (size_t)i * T1, *oi = o + (size_t)i * T1;
                float *v0 = v + (size_t)(4 * i) * Cnt, *v1 = v0 + Cnt, *v2 = v1 + Cnt, *v3 = v2 + Cnt;
#pragma GCC ivdep
                for (int q = 0; q < TQ; q++) {
                    v0[q] = ei[q] - ei[q + 1];
                    v1[q] = oi[q] + ei[q + 1];
                    v2[q] = ei[q + 1] - oi[q];
                    v3[q] = oi[q] - oi[q + 1];
                }
            }
        }
}

/* out rows of tile rows g0 <= g < g1 from M (16, O, nt): Y = At m A over the whole block
 * at once (vector loops over its tiles), the epilogue, then each tile's 2x2 outputs to
 * their places. tmp: 4 * nt floats. */
ZM_VEC static void wino_output(float *out, const float *restrict M, size_t nt, int O, int P, int Q,
                               int TP, int TQ, int g0, int g1, const float *scale,
                               const float *shift, int act, float *restrict tmp)
{
    size_t PQ = (size_t)P * Q, Ont = (size_t)O * nt, m = (size_t)(g1 - g0) * TQ;
    float *y00 = tmp, *y01 = tmp + nt, *y10 = y01 + nt, *y11 = y10 + nt;
    for (int oc = 0; oc < O; oc++) {
        const float *mm = M + (size_t)oc * nt;
#pragma GCC ivdep
        for (size_t t = 0; t < m; t++) {
            float s[4], u[4];
            for (int j = 0; j < 4; j++) {
                float a0 = mm[j * Ont + t], a1 = mm[(4 + j) * Ont + t];
                float a2 = mm[(8 + j) * Ont + t], a3 = mm[(12 + j) * Ont + t];
                s[j] = a0 + a1 + a2;
                u[j] = a1 - a2 - a3;
            }
            y00[t] = s[0] + s[1] + s[2];
            y01[t] = s[1] - s[2] - s[3];
            y10[t] = u[0] + u[1] + u[2];
            y11[t] = u[1] - u[2] - u[3];
        }
        epilogue2(tmp, tmp, 4 * nt, scale[oc], shift[oc], act);
        for (int g = g0; g < g1; g++) {
            int n = g / TP, tp = g % TP, even = Q / 2;
            size_t t0 = (size_t)(g - g0) * TQ;
            float *ya = out + ((size_t)n * O + oc) * PQ + (size_t)(2 * tp) * Q, *yb = ya + Q;
            for (int q = 0; q < even; q++) {
                ya[2 * q] = y00[t0 + q];
                ya[2 * q + 1] = y01[t0 + q];
            }
            if (Q & 1) ya[Q - 1] = y00[t0 + even];
            if (2 * tp + 1 < P) {
                for (int q = 0; q < even; q++) {
                    yb[2 * q] = y10[t0 + q];
                    yb[2 * q + 1] = y11[t0 + q];
                }
                if (Q & 1) yb[Q - 1] = y10[t0 + even];
            }
        }
    }
}

static void wino_forward(float *out, const float *in, const float *weight, const float *scale,
                         const float *shift, int act, int N, int C, int H, int W, int O,
                         float *work)
{
    int P = H, Q = W, TP = (P + 1) / 2, TQ = (Q + 1) / 2, rows_all = N * TP;
    int rows = wino_rows(TQ, rows_all);
    size_t nt = (size_t)rows * TQ;
    float *U = work, *V = U + 16 * (size_t)O * C, *M = V + 16 * (size_t)C * nt;
    float *tmp = M + 16 * (size_t)O * nt;
    wino_filters(U, weight, O, C);
    for (int g0 = 0; g0 < rows_all; g0 += rows) {
        int g1 = rows_all - g0 < rows ? rows_all : g0 + rows;
        int m = (g1 - g0) * TQ;
        wino_input(V, nt, in, C, H, W, TP, TQ, g0, g1, tmp);
        for (int xi = 0; xi < 16; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, m, C, 1.0f,
                        U + (size_t)xi * O * C, C, V + (size_t)xi * C * nt, (int)nt, 0.0f,
                        M + (size_t)xi * O * nt, (int)nt);
        wino_output(out, M, nt, O, P, Q, TP, TQ, g0, g1, scale, shift, act, tmp);
    }
}

size_t zm_conv2d_fused_work(int N, int C, int O, int K, int P, int Q, int G)
{
    size_t w = zm_conv2d_work(C, O, K, P, Q, G);
    size_t PQ = (size_t)P * Q;
    if (G == 1 && K > 1 && PQ <= DENSE_BATCH_PQ && N > 1) {
        size_t need = ((size_t)C * K * K + O) * dense_chunk(N, PQ) * PQ;
        if (need > w) w = need;
    }
    /* stride and padding are not arguments here: room for Winograd whenever it may apply */
    if (use_winograd(C, O, K, 1, 1, G)) {
        size_t need = wino_work(N, C, O, P, Q);
        if (need > w) w = need;
    }
    if (G == 1 && K == 1) {
        if ((size_t)O * C > w) w = (size_t)O * C;
        if ((size_t)P * Q <= ZM_CONV_BATCH_PQ && (size_t)(C + O) * N * P * Q > w)
            w = (size_t)(C + O) * N * P * Q;
    }
    return w;
}

ZM_VEC void zm_conv2d_forward_fused(float *out, const float *in, const float *weight,
                                    const float *scale, const float *shift, int act,
                                    const float *inscale, int N, int C, int H, int W, int O,
                                    int K, int S, int D, int G, float *work, size_t work_n)
{
    int P = zm_conv_out(H, K, S, D), Q = zm_conv_out(W, K, S, D);
    size_t PQ = (size_t)P * Q, HW = (size_t)H * W, M = (size_t)N * PQ;
    if (G == 1 && is_pointwise(K, S, D) && N > 1 && PQ <= ZM_CONV_BATCH_PQ &&
        (size_t)(C + O) * M <= work_n) {
        /* small planes: images side by side, B (C, nb*PQ) gathered (with the SE scale),
         * one sgemm per chunk of nb images, result scattered through the epilogue; B and R
         * of a chunk stay in L2 (the whole batch at once wrote R to memory and read it back) */
        int nb = (int)(BATCH_CHUNK_FLOATS / ((size_t)(C + O) * PQ));
        if (nb < 1) nb = 1;
        if (nb > N) nb = N;
        for (int n0 = 0; n0 < N; n0 += nb) {
            int m = N - n0 < nb ? N - n0 : nb;
            size_t Mc = (size_t)m * PQ;
            float *B = work, *R = work + (size_t)C * Mc;
            for (int i = 0; i < m; i++)
                for (int c = 0; c < C; c++) {
                    const float *src = in + ((size_t)(n0 + i) * C + c) * PQ;
                    float *dst = B + (size_t)c * Mc + (size_t)i * PQ;
                    float k = inscale ? inscale[(size_t)(n0 + i) * C + c] : 1.0f;
                    for (size_t j = 0; j < PQ; j++) dst[j] = src[j] * k;
                }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, (int)Mc, C, 1.0f, weight, C,
                        B, (int)Mc, 0.0f, R, (int)Mc);
            for (int i = 0; i < m; i++)
                for (int o = 0; o < O; o++)
                    epilogue2(out + ((size_t)(n0 + i) * O + o) * PQ, R + (size_t)o * Mc + (size_t)i * PQ,
                              PQ, scale[o], shift[o], act);
        }
        return;
    }
    if (is_depthwise(C, O, G)) {
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                float *y = out + ((size_t)n * C + c) * PQ;
                dw_plane_forward(y, in + ((size_t)n * C + c) * HW, weight + (size_t)c * K * K,
                                 scale[c], shift[c], act, H, W, P, Q, K, S, D, work);
            }
        return;
    }
    if (G == 1 && is_pointwise(K, S, D) && PQ > ZM_CONV_BATCH_PQ) {
        /* large planes: column blocks whose output (O x nb) stays in L2 for the epilogue */
        size_t nb = (size_t)(65536 / O) & ~(size_t)15;
        if (nb < 64) nb = 64;
        for (int n = 0; n < N; n++) {
            const float *w = weight;
            if (inscale) {
                const float *sn = inscale + (size_t)n * C;
                for (int o = 0; o < O; o++)
                    for (int c = 0; c < C; c++) work[(size_t)o * C + c] = weight[(size_t)o * C + c] * sn[c];
                w = work;
            }
            for (size_t j = 0; j < PQ; j += nb) {
                size_t m = PQ - j < nb ? PQ - j : nb;
                float *dst = out + (size_t)n * O * PQ + j;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, (int)m, C, 1.0f, w, C,
                            in + (size_t)n * C * PQ + j, (int)PQ, 0.0f, dst, (int)PQ);
                for (int o = 0; o < O; o++) epilogue(dst + (size_t)o * PQ, m, scale[o], shift[o], act);
            }
        }
        return;
    }
    if (use_winograd(C, O, K, S, D, G) && !inscale && wino_work(N, C, O, P, Q) <= work_n) {
        wino_forward(out, in, weight, scale, shift, act, N, C, H, W, O, work);
        return;
    }
    int Cg = C / G, Og = O / G, KK = Cg * K * K;
    if (G == 1 && K > 1 && PQ <= DENSE_BATCH_PQ && N > 1 && !inscale) {
        /* small planes: im2col of several images side by side, one sgemm per chunk */
        int nb = dense_chunk(N, PQ);
        size_t Mmax = (size_t)nb * PQ;
        if (((size_t)KK + O) * Mmax <= work_n) {
            float *col = work, *R = work + (size_t)KK * Mmax;
            for (int n0 = 0; n0 < N; n0 += nb) {
                int m = N - n0 < nb ? N - n0 : nb;
                size_t Mc = (size_t)m * PQ;
                for (int i = 0; i < m; i++)
                    im2col_ld(col + (size_t)i * PQ, Mc, in + (size_t)(n0 + i) * C * HW, C, H, W, K,
                              S, D, P, Q);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, (int)Mc, KK, 1.0f, weight,
                            KK, col, (int)Mc, 0.0f, R, (int)Mc);
                for (int i = 0; i < m; i++)
                    for (int o = 0; o < O; o++)
                        epilogue2(out + ((size_t)(n0 + i) * O + o) * PQ,
                                  R + (size_t)o * Mc + (size_t)i * PQ, PQ, scale[o], shift[o], act);
            }
            return;
        }
    }
    for (int n = 0; n < N; n++) {
        for (int g = 0; g < G; g++) {
            const float *src = in + ((size_t)n * C + (size_t)g * Cg) * HW;
            const float *col = src, *w = weight + (size_t)g * Og * KK;
            if (inscale) { /* pointwise, G == 1: fold the per-image channel scale into W */
                const float *sn = inscale + (size_t)n * C;
                for (int o = 0; o < O; o++)
                    for (int c = 0; c < C; c++) work[(size_t)o * C + c] = weight[(size_t)o * C + c] * sn[c];
                w = work;
            } else if (!is_pointwise(K, S, D)) {
                /* blocks of output rows: the block's im2col columns (KK x rows*Q) stay in
                 * L2 between im2col and the sgemm's packing; one sgemm per block */
                float *dst = out + ((size_t)n * O + (size_t)g * Og) * PQ;
                int pr = (int)((COL_BLOCK_FLOATS / KK > COL_BLOCK_MIN ? COL_BLOCK_FLOATS / KK
                                                                      : COL_BLOCK_MIN) / Q);
                if (pr < 1) pr = 1;
                for (int p0 = 0; p0 < P; p0 += pr) {
                    int p1 = P - p0 < pr ? P : p0 + pr;
                    size_t m = (size_t)(p1 - p0) * Q, j = (size_t)p0 * Q;
                    im2col_rows(work, m, src, Cg, H, W, K, S, D, Q, p0, p1);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, (int)m, KK, 1.0f,
                                w, KK, work, (int)m, 0.0f, dst + j, (int)PQ);
                    for (int o = 0; o < Og; o++)
                        epilogue(dst + (size_t)o * PQ + j, m, scale[g * Og + o],
                                 shift[g * Og + o], act);
                }
                continue;
            }
            float *dst = out + ((size_t)n * O + (size_t)g * Og) * PQ;
            /* column blocks whose output (Og x nb) stays in L2 for the epilogue */
            size_t nb = (size_t)(65536 / Og) & ~(size_t)15;
            if (nb < 64) nb = 64;
            for (size_t j = 0; j < PQ; j += nb) {
                size_t m = PQ - j < nb ? PQ - j : nb;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, (int)m, KK, 1.0f, w,
                            KK, col + j, (int)PQ, 0.0f, dst + j, (int)PQ);
                for (int o = 0; o < Og; o++)
                    epilogue(dst + (size_t)o * PQ + j, m, scale[g * Og + o], shift[g * Og + o],
                             act);
            }
        }
    }
}

ZM_VEC void zm_conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
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
                                  W, P, Q, K, S, D, work);
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
