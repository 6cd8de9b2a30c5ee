/* test_trainer.c: the data-parallel trainer on 1, 2 and 3 ranks.
 *  - the same global batches on all ranks and on rank 0 alone give the same weights
 *    after 5 steps (within float-summation tolerance);
 *  - a run stopped after 2 epochs and resumed from its checkpoint ends with the same
 *    weights, bit for bit, as an uninterrupted 4-epoch run;
 *  - a checkpoint of another network is refused with a message naming both;
 *  - NaN in the input is reported with the layer name (stop) or the step skipped. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_optim.h"
#include "zoomorph/trainer.h"

#define NIMG 96
#define S 36
#define K 32

typedef struct {
    float *img, *tgt;
} toy;

/* Gaussian blobs whose width is the target. */
static void make_toy(toy *t)
{
    t->img = malloc((size_t)NIMG * S * S * sizeof(float));
    t->tgt = malloc((size_t)NIMG * sizeof(float));
    zm_rng r;
    zm_rng_seed(&r, 3, 0);
    for (int i = 0; i < NIMG; i++) {
        double w = 2.0 + 6.0 * zm_rng_uniform(&r), cx = 16 + 4 * zm_rng_uniform(&r), cy = 16 + 4 * zm_rng_uniform(&r);
        t->tgt[i] = (float)((w - 5.0) / 3.0);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                t->img[(size_t)i * S * S + y * S + x] =
                    (float)(exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * w * w)) + 0.05 * zm_rng_uniform(&r));
    }
}

static int load(void *user, const long long *rows, int n, float *images, float *targets, zm_err *err)
{
    toy *t = user;
    for (int i = 0; i < n; i++) {
        memcpy(images + (size_t)i * S * S, t->img + (size_t)rows[i] * S * S, S * S * sizeof(float));
        targets[i] = t->tgt[rows[i]];
    }
    return 0;
}

/* Mean-squared error on output 0; part 0 = the same. */
static double mse(void *user, const float *y, const float *t, int n, int nout, float *dy, double *parts)
{
    double s = 0;
    memset(dy, 0, (size_t)n * nout * sizeof *dy);
    for (int i = 0; i < n; i++) {
        double d = y[i * nout] - t[i];
        s += d * d;
        dy[i * nout] = (float)(2 * d);
    }
    parts[0] += s;
    return s;
}

static zm_net *make_net(const char *arch)
{
    zm_net_config c = zm_net_config_default(arch);
    c.in_ch = 1;
    c.in_size = K;
    c.n_out = 2;
    c.max_batch = 8;
    c.seed = 5;
    zm_net *net = NULL;
    zm_err err = {0};
    ck_assert_msg(zm_net_create(&net, &c, &err) == 0, "%s", err.msg);
    return net;
}

static zm_train_cfg base_cfg(void)
{
    zm_train_cfg c;
    memset(&c, 0, sizeof c);
    c.epochs = 1;
    c.batch = 16;
    c.micro = 4;
    c.augment = 1;
    c.lr = (zm_lr_schedule){ZM_LR_CONSTANT, 1e-3, 0, 0, 0, 0, 0};
    c.clip = 5.0f;
    c.seed = 11;
    return c;
}

static toy data;
static long long rows[NIMG];

static float adam_eps = 1e-8f;

static void train(MPI_Comm comm, zm_net *net, zm_train_cfg *cfg, int expect_rc, zm_err *err)
{
    zm_ctx ctx;
    zm_ctx_init(&ctx, comm);
    zm_adam opt;
    zm_adam_init(&opt, ZM_OPT_ADAM, net->n_params, 0.9f, 0.999f, adam_eps, 0.0f);
    zm_train_data d = {load, &data, 1, S, 1};
    zm_train_loss l = {mse, NULL, 1};
    zm_train_result res;
    int rc = zm_train_run(&ctx, net, &opt, &d, rows, 80, rows + 80, 16, &l, cfg, &res, err);
    ck_assert_msg(rc == expect_rc, "rc %d: %s", rc, err->msg);
    zm_train_result_free(&res);
    zm_adam_free(&opt);
    zm_ctx_free(&ctx);
}

/* 5 steps on every rank and on rank 0 alone, from the same initial weights. The gradient
 * sums differ only by float summation order. With Adam's default eps, a weight whose
 * gradient is near zero can see its normalised update change sign from such a rounding
 * difference (at most 2 lr per step), so there we require 99.9% of the weights within
 * 1e-5 and every one within 2 lr x steps; with a large eps (a momentum-SGD regime) every
 * weight must agree within 1e-5. */
static void compare_ranks(float eps, double frac_min, double worst_max)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    adam_eps = eps;
    zm_net *all = make_net("zoonet");
    zm_train_cfg cfg = base_cfg();
    cfg.max_steps = 5;
    cfg.micro = 8;
    zm_err err = {0};
    train(MPI_COMM_WORLD, all, &cfg, 0, &err);
    MPI_Comm alone;
    MPI_Comm_split(MPI_COMM_WORLD, rank == 0 ? 0 : MPI_UNDEFINED, 0, &alone);
    if (rank == 0) {
        zm_net *one = make_net("zoonet");
        train(alone, one, &cfg, 0, &err);
        double worst = 0;
        size_t close = 0;
        for (size_t i = 0; i < one->n_params; i++) {
            double d = fabs((double)one->params[i] - all->params[i]);
            worst = fmax(worst, d);
            close += d <= 1e-5;
        }
        double frac = (double)close / (double)one->n_params;
        fprintf(stderr, "5 Adam steps (eps %g) on %d ranks vs 1 rank: %.5f of %zu weights within 1e-5, worst "
                "|difference| %.2e\n", eps, size, frac, one->n_params, worst);
        ck_assert(frac >= frac_min);
        ck_assert(worst <= worst_max);
        zm_net_free(one);
        MPI_Comm_free(&alone);
    }
    zm_net_free(all);
    adam_eps = 1e-8f;
}

START_TEST(ranks_agree)
{
    compare_ranks(1e-8f, 0.999, 2 * 1e-3 * 5);
    compare_ranks(1.0f, 1.0, 1e-5);
}
END_TEST

START_TEST(resume_is_exact)
{
    char ck[4200], ck2[4200];
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) snprintf(ck, sizeof ck, "%s/run.ckpt", zt_tmpdir("trainer"));
    MPI_Bcast(ck, sizeof ck, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(ck2, sizeof ck2, "%s.b", ck);
    zm_train_cfg cfg = base_cfg();
    cfg.epochs = 4;
    cfg.checkpoint = ck;
    zm_err err = {0};
    zm_net *straight = make_net("zoonet");
    train(MPI_COMM_WORLD, straight, &cfg, 0, &err);
    zm_net *interrupted = make_net("zoonet");
    cfg.checkpoint = ck2;
    cfg.epochs = 2;
    train(MPI_COMM_WORLD, interrupted, &cfg, 0, &err);
    zm_net_free(interrupted);
    zm_net *resumed = make_net("zoonet"); /* a fresh process would start like this */
    cfg.epochs = 4;
    cfg.resume = 1;
    train(MPI_COMM_WORLD, resumed, &cfg, 0, &err);
    ck_assert_int_eq(memcmp(resumed->params, straight->params, straight->n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(resumed->state, straight->state, straight->n_state * sizeof(float)), 0);
    if (rank == 0) fprintf(stderr, "resumed after 2 of 4 epochs: weights identical to the uninterrupted run\n");
    /* a checkpoint of another network */
    zm_net *other = make_net("resnet18");
    train(MPI_COMM_WORLD, other, &cfg, ZM_EFORMAT, &err);
    if (rank == 0) fprintf(stderr, "%s\n", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "is of another network (zoonet"));
    zm_net_free(other);
    zm_net_free(straight);
    zm_net_free(resumed);
}
END_TEST

START_TEST(nan_detected)
{
    float saved = data.img[5 * S * S + 100];
    data.img[5 * S * S + 100] = NAN;
    zm_train_cfg cfg = base_cfg();
    cfg.augment = 0;
    zm_err err = {0};
    zm_net *net = make_net("zoonet");
    train(MPI_COMM_WORLD, net, &cfg, ZM_EVALUE, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "on_nan = skip"));
    fprintf(stderr, "%s\n", err.msg);
    cfg.nan_policy = ZM_NAN_SKIP;
    train(MPI_COMM_WORLD, net, &cfg, 0, &err);
    for (size_t i = 0; i < net->n_params; i++) ck_assert(isfinite(net->params[i]));
    data.img[5 * S * S + 100] = saved;
    zm_net_free(net);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    make_toy(&data);
    for (int i = 0; i < NIMG; i++) rows[i] = i;
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, ranks_agree);
    tcase_add_test(tc, resume_is_exact);
    tcase_add_test(tc, nan_detected);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite_mpi(s);
    MPI_Finalize();
    return rc;
}
