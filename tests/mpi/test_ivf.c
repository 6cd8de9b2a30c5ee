/* test_ivf.c: the inverted-file index over 1, 2 and 3 ranks: recall@10 against exact
 * search at nprobe 8 of 64 lists >= 0.95 on clustered data, full recall when every list is
 * probed, and nprobe larger than nlist clamped. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/ivf.h"
#include "zoomorph/knn.h"
#include "zoomorph/rng.h"

#define N 40000
#define D 16
#define NQ 300
#define K 10

static void row(long i, float *v, uint64_t seed)
{
    zm_rng r;
    zm_rng_seed(&r, seed, (uint64_t)i);
    int c = (int)zm_rng_below(&r, 200);
    for (int j = 0; j < D; j++) v[j] = (float)(3.0 * sin(1.7 * c + 0.9 * j) + 1.5 * zm_rng_normal(&r));
}

static double recall(const long long *a, const long long *b)
{
    long hit = 0;
    for (int i = 0; i < NQ; i++)
        for (int j = 0; j < K; j++)
            for (int t = 0; t < K; t++)
                if (a[i * K + j] == b[i * K + t]) {
                    hit++;
                    break;
                }
    return (double)hit / (NQ * K);
}

START_TEST(recall_against_exact)
{
    zm_ctx ctx;
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    long lo = (long)N * ctx.rank / ctx.size, hi = (long)N * (ctx.rank + 1) / ctx.size;
    float *x = malloc((size_t)(hi - lo) * D * sizeof *x), *q = malloc(NQ * D * sizeof *q);
    for (long i = lo; i < hi; i++) row(i, x + (size_t)(i - lo) * D, 1);
    for (int i = 0; i < NQ; i++) row(i, q + (size_t)i * D, 9);
    long long *ei = malloc(NQ * K * sizeof *ei), *ai = malloc(NQ * K * sizeof *ai);
    float *ed = malloc(NQ * K * sizeof *ed), *ad = malloc(NQ * K * sizeof *ad);
    zm_knn_exact(x, hi - lo, D, lo, q, NQ, K, ei, ed);
    zm_knn_merge(&ctx, NQ, K, ei, ed);
    zm_ivf ix;
    zm_err err = {0};
    ck_assert_int_eq(zm_ivf_build(&ctx, &ix, x, hi - lo, D, lo, 64, 10, 3, &err), 0);
    zm_ivf_search(&ctx, &ix, q, NQ, K, 8, ai, ad);
    double r8 = recall(ai, ei);
    zm_ivf_search(&ctx, &ix, q, NQ, K, 1000, ai, ad); /* clamped to 64: every list */
    double rall = recall(ai, ei);
    if (ctx.rank == 0)
        fprintf(stderr, "IVF 64 lists on %d ranks: recall@10 %.4f at nprobe 8, %.4f probing every list\n", ctx.size, r8, rall);
    ck_assert(r8 >= 0.95);
    ck_assert(rall >= 0.999);
    zm_ivf_free(&ix);
    free(x), free(q), free(ei), free(ai), free(ed), free(ad);
    zm_ctx_free(&ctx);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *s = suite_create("ivf");
    TCase *tc = tcase_create("ivf");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, recall_against_exact);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite_mpi(s);
    MPI_Finalize();
    return rc;
}
