/* test_iforest.c: the isolation forest over 1, 2 and 3 ranks: the same scores whatever
 * the rank count (the forest is grown from one pool drawn by seed), c(n) values, and the
 * ROC AUC on overlapping Gaussian clusters with 2% scattered outliers within 0.01 of
 * scikit-learn's. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/iforest.h"
#include "zoomorph/rng.h"

#define N 20000
#define D 16

static void make_row(long i, float *row, unsigned char *label)
{
    zm_rng r;
    zm_rng_seed(&r, 99, (uint64_t)i);
    int outlier = zm_rng_uniform(&r) < 0.02;
    int c = (int)zm_rng_below(&r, 5);
    for (int j = 0; j < D; j++)
        row[j] = outlier ? (float)(7.0 * zm_rng_uniform(&r) - 3.5) : (float)(1.0 * (((c + j) % 5) - 2) + 1.0 * zm_rng_normal(&r));
    *label = (unsigned char)outlier;
}

START_TEST(against_sklearn)
{
    zm_ctx ctx;
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    long lo = (long)N * ctx.rank / ctx.size, hi = (long)N * (ctx.rank + 1) / ctx.size, n = hi - lo;
    float *x = malloc((size_t)n * D * sizeof *x), *sc = malloc((size_t)n * sizeof *sc);
    unsigned char lab;
    for (long i = lo; i < hi; i++) make_row(i, x + (size_t)(i - lo) * D, &lab);
    zm_iforest f;
    zm_err err = {0};
    ck_assert_msg(zm_iforest_fit_mpi(&ctx, &f, x, n, D, 100, 256, 7, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.max_depth, 8);
    zm_iforest_score(&f, x, n, sc);
    float *all = ctx.rank == 0 ? malloc(N * sizeof *all) : NULL;
    int *cnt = malloc(ctx.size * sizeof *cnt), *dsp = malloc(ctx.size * sizeof *dsp);
    for (int p = 0; p < ctx.size; p++) {
        long a = (long)N * p / ctx.size, b = (long)N * (p + 1) / ctx.size;
        cnt[p] = (int)(b - a);
        dsp[p] = (int)a;
    }
    MPI_Gatherv(sc, (int)n, MPI_FLOAT, all, cnt, dsp, MPI_FLOAT, 0, ctx.comm);
    if (ctx.rank == 0) {
        const char *dir = zt_tmpdir("iforest");
        char xf[4200], lf[4200], sf[4200];
        snprintf(xf, sizeof xf, "%s/x.f32", dir);
        snprintf(lf, sizeof lf, "%s/y.u8", dir);
        snprintf(sf, sizeof sf, "%s/ours.f32", dir);
        FILE *fx = fopen(xf, "wb"), *fl = fopen(lf, "wb"), *fs = fopen(sf, "wb");
        float row[D];
        for (long i = 0; i < N; i++) {
            make_row(i, row, &lab);
            fwrite(row, sizeof *row, D, fx);
            fwrite(&lab, 1, 1, fl);
        }
        fwrite(all, sizeof *all, N, fs);
        fclose(fx), fclose(fl), fclose(fs);
        /* the same scores on every rank count: the forest grown on rank 0 alone */
        MPI_Comm alone;
        MPI_Comm_split(MPI_COMM_SELF, 0, 0, &alone);
        zm_ctx one;
        zm_ctx_init(&one, alone);
        float *xall = malloc((size_t)N * D * sizeof *xall), *sone = malloc(N * sizeof *sone);
        for (long i = 0; i < N; i++) make_row(i, xall + (size_t)i * D, &lab);
        zm_iforest f1;
        ck_assert_int_eq(zm_iforest_fit_mpi(&one, &f1, xall, N, D, 100, 256, 7, &err), 0);
        zm_iforest_score(&f1, xall, N, sone);
        for (long i = 0; i < N; i++) ck_assert_float_eq(sone[i], all[i]);
        fprintf(stderr, "isolation forest on %d ranks: scores identical to 1 rank\n", ctx.size);
        zm_iforest_free(&f1);
        zm_ctx_free(&one);
        MPI_Comm_free(&alone);
        free(xall), free(sone);
        char cmd[16384], out[512] = "";
        snprintf(cmd, sizeof cmd, "%s %s/tests/reference/iforest_ref.py %s %d %d %s %s 7", zt_env("ZM_PYTHON", "/usr/bin/python3"),
                 zt_env("ZM_SOURCE_DIR", "."), xf, N, D, lf, sf);
        FILE *pp = popen(cmd, "r");
        ck_assert_ptr_nonnull(pp);
        ck_assert_ptr_nonnull(fgets(out, sizeof out, pp));
        ck_assert_int_eq(pclose(pp), 0);
        double a_sk = 0, a_us = 0, t = 0;
        ck_assert_int_eq(sscanf(out, "sklearn_auc %lf ours_auc %lf sklearn_fit_score_s %lf", &a_sk, &a_us, &t), 3);
        fprintf(stderr, "ROC AUC on %d x %d with 2%% outliers: zoomorph %.4f, scikit-learn %.4f (difference %.4f)\n", N, D,
                a_us, a_sk, a_us - a_sk);
        ck_assert(fabs(a_us - a_sk) <= 0.01);
        free(all);
    }
    ck_assert_double_eq_tol(zm_iforest_c(256), 10.244770920116851, 1e-9);
    ck_assert_double_eq(zm_iforest_c(2), 1.0);
    zm_iforest_free(&f);
    free(x), free(sc), free(cnt), free(dsp);
    zm_ctx_free(&ctx);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *s = suite_create("iforest");
    TCase *tc = tcase_create("iforest");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, against_sklearn);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite_mpi(s);
    MPI_Finalize();
    return rc;
}
