/*
 * bench_nn.c: CNN engine throughput (not a test; run by tests/bench/bench_nn.sh).
 *
 *   [mpirun -np R] bench_nn ARCH IN_CH SIZE BATCH MODE ITERS     MODE = infer | train
 * infer: inference_only network, EVAL forward. train: TRAIN forward + backward + Adam.
 * Under mpirun, train is the data-parallel step of src/train/trainer.c: each rank passes
 * its BATCH/R images, the gradients are summed with one MPI_Allreduce, Adam steps, the
 * batch-norm running statistics are averaged; images/s are of the global batch (the
 * slowest rank's time), CPU time summed over the ranks, per-layer times rank 0's.
 * Prints images/s of the best and the mean batch (the best is robust against other
 * processes sharing the cores) and the best batch's CPU time, then seconds and GFLOP/s
 * per layer type (mean; CPU seconds when OPENBLAS_NUM_THREADS=1, else wall),
 * and the sgemm rate of a 1024^3 product measured in the same run. Threads: OpenBLAS's
 * (OPENBLAS_NUM_THREADS); the engine's own loops are single-threaded. Ranks: mpirun's.
 */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zoomorph/cpuinfo.h"
#include "zoomorph/log.h"
#include "zoomorph/error.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_optim.h"

enum { T_CONV_KXK, T_CONV_1X1, T_DW, T_BN, T_ACT, T_SE, T_OTHER, T_N };
static const char *tname[T_N] = {"conv KxK dense", "conv 1x1", "conv depthwise", "batchnorm",
                                 "activation", "SE (pool/fc/scale)", "other"};

/* CPU seconds of the whole process (all threads): with one thread, robust against other
 * processes sharing the cores, unlike wall time. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int op_type(const zm_net *net, const zm_op *op)
{
    const zm_tensor *ti = &net->t[op->in0];
    switch (op->kind) {
    case ZM_OP_CONV:
        if (op->g > 1 && op->g == ti->c) return T_DW;
        return op->k == 1 ? T_CONV_1X1 : T_CONV_KXK;
    case ZM_OP_BN: return T_BN;
    case ZM_OP_RELU: case ZM_OP_SILU: return ti->h == 1 ? T_SE : T_ACT;
    case ZM_OP_SIGMOID: case ZM_OP_CHSCALE: return T_SE;
    case ZM_OP_GAP: case ZM_OP_LINEAR: return strstr(op->name, "block") ? T_SE : T_OTHER;
    default: return T_OTHER;
    }
}

static double op_flops(const zm_net *net, const zm_op *op)
{
    const zm_tensor *ti = &net->t[op->in0], *to = &net->t[op->out];
    if (op->kind == ZM_OP_CONV)
        return 2.0 * to->c * to->h * to->w * (ti->c / op->g) * op->k * op->k;
    if (op->kind == ZM_OP_LINEAR) return 2.0 * ti->c * ti->h * ti->w * to->c;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: bench_nn ARCH IN_CH SIZE BATCH infer|train ITERS\n");
        return 2;
    }
    zm_cpu_autotune(argv); /* as zoomorph does: a fallback BLAS core is replaced */
    ZM_CHECK_MPI(MPI_Init(&argc, &argv));
    int rank, size;
    ZM_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    ZM_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size));
    int train = strcmp(argv[5], "train") == 0, iters = atoi(argv[6]);
    if (size > 1 && (!train || atoi(argv[4]) % size)) {
        fprintf(stderr, "bench_nn: several ranks only for train, with BATCH a multiple of them\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    /* per-op times and the sgemm rate in CPU seconds: with one thread, what the cores
     * did for us, whatever else ran on them */
    const char *nt = getenv("OPENBLAS_NUM_THREADS");
    int cpu_prof = nt && atoi(nt) == 1;
    zm_net_config c = zm_net_config_default(argv[1]);
    c.in_ch = atoi(argv[2]);
    c.in_size = atoi(argv[3]);
    c.max_batch = atoi(argv[4]) / size; /* this rank's share of the global batch */
    c.inference_only = !train;
    zm_net *net;
    zm_err err = {0};
    if (zm_net_create(&net, &c, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    net->check_finite = train; /* the trainer's setting; inference skips the scan */
    int B = c.max_batch, GB = B * size;
    size_t nx = (size_t)B * c.in_ch * c.in_size * c.in_size;
    float *x = malloc(sizeof(float) * nx), *dy = malloc(sizeof(float) * B * c.n_out);
    zm_rng r;
    zm_rng_seed(&r, 1, 0);
    for (size_t i = 0; i < nx; i++) x[i] = (float)zm_rng_normal(&r);
    for (int i = 0; i < B * c.n_out; i++) dy[i] = 1e-3f * (float)zm_rng_normal(&r) / size;
    zm_adam opt;
    zm_adam_init(&opt, ZM_OPT_ADAM, net->n_params, 0.9f, 0.999f, 1e-8f, 0.0f);
    double *prof = calloc(net->n_ops, sizeof(double));
    double best = 1e30, tot = 0, cbest = 1e30;
    for (int it = 0; it < iters + 1; it++) {
        if (it == 1) net->prof = prof; /* first iteration warms up */
        net->prof_cpu = cpu_prof;
        ZM_CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
        double t0 = zm_now(), c0 = cpu_now();
        if (zm_net_forward(net, x, B, train ? ZM_MODE_TRAIN : ZM_MODE_EVAL, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (train) {
            zm_net_zero_grad(net);
            zm_net_backward(net, dy, B);
            if (size > 1)
                ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, net->grads, (int)net->n_params,
                                           MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
            zm_adam_step(&opt, net->params, net->grads, 1e-4f);
            if (size > 1 && net->n_state) {
                ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, net->state, (int)net->n_state,
                                           MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
                for (size_t i = 0; i < net->n_state; i++) net->state[i] /= (float)size;
            }
        }
        double dt = zm_now() - t0, dc = cpu_now() - c0;
        ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
        ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &dc, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
        if (it > 0) {
            tot += dt;
            if (dt < best) best = dt;
            if (dc < cbest) cbest = dc;
        }
    }
    if (rank > 0) { /* rank 0 reports */
        free(x), free(dy), free(prof);
        zm_adam_free(&opt);
        zm_net_free(net);
        ZM_CHECK_MPI(MPI_Finalize());
        return 0;
    }
    printf("zoomorph %s %s in_ch=%d size=%d batch=%d: %.2f images/s best, %.2f mean "
           "(%d batches; %.2f GFLOP/image forward%s)\n",
           argv[1], train ? "train-step" : "inference", c.in_ch, c.in_size, GB, GB / best,
           GB / (tot / iters), iters, zm_net_flops(net) / 1e9,
           size > 1 ? "; data-parallel over the ranks" : "");
    if (size > 1) printf("  %d ranks of %d images, gradients allreduced\n", size, B);
    char blas[1024];
    zm_cpu_describe(blas, sizeof blas);
    printf("  blas: %s\n", blas);
    printf("  best batch CPU time %.3f s (all threads%s; %.2f images per CPU second)\n", cbest,
           size > 1 ? " of all ranks" : "", GB / cbest);
    double sec[T_N] = {0}, fl[T_N] = {0};
    for (int o = 0; o < net->n_ops; o++) {
        int t = op_type(net, &net->ops[o]);
        sec[t] += prof[o] / iters;
        fl[t] += op_flops(net, &net->ops[o]) * B * (train ? 3 : 1);
    }
    double all = 0;
    for (int t = 0; t < T_N; t++) all += sec[t];
    for (int t = 0; t < T_N; t++)
        printf("  %-20s %7.3f s/batch %5.1f%%  %7.1f GFLOP/s\n", tname[t], sec[t],
               100 * sec[t] / all, sec[t] > 0 && fl[t] > 0 ? fl[t] / sec[t] / 1e9 : 0.0);
    if (getenv("BENCH_NN_OPS")) /* every op: seconds per batch, shape */
        for (int o = 0; o < net->n_ops; o++) {
            const zm_op *op = &net->ops[o];
            const zm_tensor *ti = &net->t[op->in0], *to = &net->t[op->out];
            if (prof[o] / iters < 1e-4) continue;
            printf("    op %-28s %-20s %4dx%3dx%3d -> %4dx%3dx%3d k%d s%d g%d %7.4f s %6.1f GFLOP/s\n",
                   op->name, tname[op_type(net, op)], ti->c, ti->h, ti->w, to->c, to->h, to->w,
                   op->k, op->s, op->g, prof[o] / iters,
                   op_flops(net, op) * B * (train ? 3 : 1) / (prof[o] / iters) / 1e9);
        }
    /* sgemm reference rate */
    int n = 1024;
    float *a = malloc(4ul * n * n), *b = malloc(4ul * n * n), *cc = malloc(4ul * n * n);
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = 1e-3f * (i % 7);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, cc, n);
    double t0 = zm_now(), c0 = cpu_now();
    for (int k = 0; k < 5; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, cc, n);
    double tw = zm_now() - t0, tc = cpu_now() - c0;
    printf("  sgemm 1024^3: %.1f GFLOP/s (wall), %.1f GFLOP per CPU second\n",
           5 * 2.0 * n * n * n / tw / 1e9, 5 * 2.0 * n * n * n / tc / 1e9);
    free(a), free(b), free(cc), free(x), free(dy), free(prof);
    zm_adam_free(&opt);
    zm_net_free(net);
    ZM_CHECK_MPI(MPI_Finalize());
    return 0;
}
