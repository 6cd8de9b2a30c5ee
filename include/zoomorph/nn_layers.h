/*
 * nn_layers.h: the CNN engine's kernels, forward and backward, on raw float arrays.
 *
 * Every kernel is a pure function on NCHW float arrays plus shape ints. Letter legend,
 * fixed for all kernels:
 *   N batch, C input channels, H W input height/width, O output channels,
 *   P Q output height/width, K square kernel size, S stride, D zero padding, G groups.
 * Backward kernels ACCUMULATE (+=) into every gradient they write (input and parameter
 * gradients alike), so that a tensor read by two layers sums both contributions and
 * zeroing gradients is one memset. A NULL input-gradient pointer skips that part.
 *
 * Optimised kernels (im2col + cblas_sgemm, direct depthwise loops) have a scalar
 * reference beside them (`*_ref`), used by the tests. No kernel allocates: callers pass
 * a workspace of the size documented.
 *
 * Not here: the network graph (nn.h), optimisers (nn_optim.h), weight files (nn_file.h).
 */
#ifndef ZOOMORPH_NN_LAYERS_H
#define ZOOMORPH_NN_LAYERS_H

#include <stddef.h>

#include "zoomorph/rng.h"

/* Output size of a convolution / pool along one axis. */
static inline int zm_conv_out(int H, int K, int S, int D) { return (H + 2 * D - K) / S + 1; }

/* ---- 2-D convolution ----------------------------------------------------------------
 * in (N,C,H,W), weight (O, C/G, K, K), bias (O) or NULL, out (N,O,P,Q).
 * work: zm_conv2d_work(C,O,K,P,Q,G) floats (depthwise: zero-padded phase planes of one
 * plane and its gradient; NULL there selects the plain direct loops). */
size_t zm_conv2d_work(int C, int O, int K, int P, int Q, int G);
void zm_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                       int N, int C, int H, int W, int O, int K, int S, int D, int G,
                       float *work);
/* din (N,C,H,W) or NULL, dweight (O,C/G,K,K), dbias (O) or NULL; all accumulated. */
void zm_conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                        const float *in, const float *weight, int N, int C, int H, int W,
                        int O, int K, int S, int D, int G, float *work);
/* Inference with batch normalisation folded in: out = act(conv(in) * scale + shift)
 * per output channel (act 0 none, 1 ReLU, 2 SiLU), applied while each image / plane is
 * in cache. inscale (N, C) or NULL: input channels scaled per image first (a preceding
 * squeeze-excitation); only for 1x1 stride-1 G=1. 1x1 convolutions on planes of at most
 * ZM_CONV_BATCH_PQ pixels run as one sgemm per L2-sized chunk of images when work_n
 * allows.
 * work: zm_conv2d_fused_work(N,C,O,K,P,Q,G) floats (work_n = what the caller has). */
#define ZM_CONV_BATCH_PQ 400
size_t zm_conv2d_fused_work(int N, int C, int O, int K, int P, int Q, int G);
void zm_conv2d_forward_fused(float *out, const float *in, const float *weight,
                             const float *scale, const float *shift, int act,
                             const float *inscale, int N, int C, int H, int W, int O, int K,
                             int S, int D, int G, float *work, size_t work_n);
/* Scalar references (direct loops, any G). */
void zm_conv2d_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                           int N, int C, int H, int W, int O, int K, int S, int D, int G);
void zm_conv2d_backward_ref(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, int N, int C, int H, int W,
                            int O, int K, int S, int D, int G);

/* ---- batch normalisation (per channel over N,H,W) -----------------------------------
 * Training: batch statistics; saved (2*C): mean then 1/sqrt(var+eps) for backward;
 * running_mean/var updated with momentum (running var uses the unbiased batch var, as
 * PyTorch does). Inference: y = x * scale + shift from the running statistics. */
void zm_batchnorm_forward_train(float *out, float *saved, float *running_mean,
                                float *running_var, const float *in, const float *gamma,
                                const float *beta, int N, int C, int HW, float eps,
                                float momentum);
void zm_batchnorm_forward_eval(float *out, const float *in, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, int N, int C, int HW, float eps);
void zm_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *saved, const float *gamma, int N,
                           int C, int HW);

/* ---- element-wise activations, n values; backward takes the forward input (x) ------- */
void zm_relu_forward(float *y, const float *x, size_t n);
void zm_relu_backward(float *dx, const float *dy, const float *x, size_t n);
void zm_silu_forward(float *y, const float *x, size_t n);
void zm_silu_backward(float *dx, const float *dy, const float *x, size_t n);
void zm_sigmoid_forward(float *y, const float *x, size_t n);
void zm_sigmoid_backward(float *dx, const float *dy, const float *x, size_t n);

/* ---- pooling ------------------------------------------------------------------------
 * Global average: in (N,C,HW) -> out (N,C). Max: in (N,C,H,W) -> out (N,C,P,Q), padding
 * never wins (-inf); backward recomputes the arg-max (first maximum). */
void zm_avgpool_global_forward(float *out, const float *in, int N, int C, int HW);
void zm_avgpool_global_backward(float *din, const float *dout, int N, int C, int HW);
void zm_maxpool_forward(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                        int D);
void zm_maxpool_backward(float *din, const float *dout, const float *in, int N, int C, int H,
                         int W, int K, int S, int D);
/* 1 if every one of the n values is finite (no NaN, no inf), else 0. */
int zm_all_finite(const float *x, size_t n);
/* The scalar reference of zm_maxpool_forward. */
void zm_maxpool_forward_ref(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                            int D);

/* ---- fully connected: in (N,NI), weight (O,NI), bias (O) or NULL, out (N,O) ---------- */
void zm_linear_forward(float *out, const float *in, const float *weight, const float *bias,
                       int N, int NI, int O);
void zm_linear_backward(float *din, float *dweight, float *dbias, const float *dout,
                        const float *in, const float *weight, int N, int NI, int O);

/* ---- combinations -------------------------------------------------------------------
 * Channel scale (squeeze-excitation): out (N,C,HW) = x (N,C,HW) * s (N,C). */
void zm_chscale_forward(float *out, const float *x, const float *s, int N, int C, int HW);
void zm_chscale_backward(float *dx, float *ds, const float *dout, const float *x,
                         const float *s, int N, int C, int HW);
/* Residual: out = a + b (n values); backward adds dout to both. */
void zm_add_forward(float *out, const float *a, const float *b, size_t n);
void zm_add_backward(float *da, float *db, const float *dout, size_t n);

/* ---- stochastic regularisers --------------------------------------------------------
 * Dropout: mask (n) gets 0 or 1/(1-p) per value. Stochastic depth ("row" mode, as in
 * torchvision): one 0 or 1/(1-p) per sample, mask (N). p = 0 gives a mask of ones. */
void zm_dropout_mask(float *mask, size_t n, float p, zm_rng *rng);
void zm_mul_forward(float *out, const float *x, const float *mask, size_t n);
void zm_mul_backward(float *dx, const float *dout, const float *mask, size_t n);
/* Per-sample scale: out (N, M) = x (N, M) * mask (N). */
void zm_rowscale_forward(float *out, const float *x, const float *mask, int N, size_t M);
void zm_rowscale_backward(float *dx, const float *dout, const float *mask, int N, size_t M);

#endif
