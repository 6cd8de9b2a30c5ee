/* test_knn.c: exact k-NN with the base split over 1, 2 and 3 ranks and merged, against
 * faiss IndexFlatL2: the same neighbours (recall 1 up to ties) and distances within 1e-4
 * relative; k larger than the number of vectors gives -1 ids. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/knn.h"
#include "zoomorph/rng.h"

#define N 30000
#define D 24
#define NQ 200
#define K 10

static void row(long i, float *v, uint64_t seed)
{
    zm_rng r;
    zm_rng_seed(&r, seed, (uint64_t)i);
    int c = (int)zm_rng_below(&r, 50);
    for (int j = 0; j < D; j++) v[j] = (float)(((c * 31 + j * 7) % 11) * 0.5 + zm_rng_normal(&r));
}

START_TEST(against_faiss)
{
    zm_ctx ctx;
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    long lo = (long)N * ctx.rank / ctx.size, hi = (long)N * (ctx.rank + 1) / ctx.size;
    float *base = malloc((size_t)(hi - lo) * D * sizeof *base), *q = malloc(NQ * D * sizeof *q);
    for (long i = lo; i < hi; i++) row(i, base + (size_t)(i - lo) * D, 1);
    for (int i = 0; i < NQ; i++) row(i, q + (size_t)i * D, 2);
    long long *ids = malloc(NQ * K * sizeof *ids);
    float *dist = malloc(NQ * K * sizeof *dist);
    zm_knn_exact(base, hi - lo, D, lo, q, NQ, K, ids, dist);
    zm_knn_merge(&ctx, NQ, K, ids, dist);
    if (ctx.rank == 0) {
        const char *dir = zt_tmpdir("knn");
        char bf[4200], qf[4200], of[4200], odf[4300];
        snprintf(bf, sizeof bf, "%s/b.f32", dir);
        snprintf(qf, sizeof qf, "%s/q.f32", dir);
        snprintf(of, sizeof of, "%s/ref.i64", dir);
        snprintf(odf, sizeof odf, "%s.d", of);
        FILE *f = fopen(bf, "wb");
        float v[D];
        for (long i = 0; i < N; i++) {
            row(i, v, 1);
            fwrite(v, sizeof *v, D, f);
        }
        fclose(f);
        f = fopen(qf, "wb");
        fwrite(q, sizeof *q, NQ * D, f);
        fclose(f);
        ck_assert_int_eq(zt_run("%s %s/tests/reference/knn_ref.py %s %d %s %d %d %d %s", zt_env("ZM_PYTHON", "/usr/bin/python3"),
                                zt_env("ZM_SOURCE_DIR", "."), bf, N, qf, NQ, D, K, of), 0);
        long long *rid = malloc(NQ * K * sizeof *rid);
        float *rd = malloc(NQ * K * sizeof *rd);
        f = fopen(of, "rb");
        ck_assert_uint_eq(fread(rid, sizeof *rid, NQ * K, f), NQ * K);
        fclose(f);
        f = fopen(odf, "rb");
        ck_assert_uint_eq(fread(rd, sizeof *rd, NQ * K, f), NQ * K);
        fclose(f);
        long same = 0;
        double worst = 0;
        for (int i = 0; i < NQ; i++)
            for (int j = 0; j < K; j++) {
                for (int t = 0; t < K; t++)
                    if (ids[i * K + j] == rid[i * K + t]) {
                        same++;
                        break;
                    }
                worst = fmax(worst, fabs(dist[i * K + j] - rd[i * K + j]) / fmax(rd[i * K + j], 1e-3));
            }
        double recall = (double)same / (NQ * K);
        fprintf(stderr, "exact k-NN over %d ranks vs faiss IndexFlatL2: recall@%d %.4f, worst distance difference %.2e\n",
                ctx.size, K, recall, worst);
        ck_assert(recall >= 0.999);
        ck_assert(worst < 1e-4);
        free(rid), free(rd);
    }
    /* k larger than the base */
    long long ids2[5];
    float d2[5];
    zm_knn_exact(q, 3, D, 0, q, 1, 5, ids2, d2);
    ck_assert_int_eq(ids2[0], 0);
    ck_assert_int_eq(ids2[3], -1);
    ck_assert(isinf(d2[4]));
    free(base), free(q), free(ids), free(dist);
    zm_ctx_free(&ctx);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *s = suite_create("knn");
    TCase *tc = tcase_create("knn");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, against_faiss);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite_mpi(s);
    MPI_Finalize();
    return rc;
}
