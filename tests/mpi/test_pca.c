/* test_pca.c: collective PCA on 1, 2 and 3 ranks (uneven splits) against scikit-learn's
 * PCA on the same 6000 x 48 vectors: |cosine| of each of the top 10 components >= 0.999
 * and explained variance within 1e-4 relative. Prints the worst figures. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"
#include "zoomorph/pca.h"
#include "zoomorph/rng.h"

#define N 6000
#define D 48
#define K 10

/* Row i of the data set, the same whatever rank makes it. */
static void make_row(long i, float *row)
{
    zm_rng r;
    zm_rng_seed(&r, 77, (uint64_t)i);
    double z[D];
    for (int j = 0; j < D; j++) z[j] = zm_rng_normal(&r) * (10.0 / (1.0 + j)) ;
    for (int j = 0; j < D; j++) {
        /* mix the axes with a fixed rotation-ish transform and add an offset */
        double v = 3.0 + 0.1 * j;
        for (int m = 0; m < D; m++) v += z[m] * cos(0.37 * (j + 1) * (m + 1));
        row[j] = (float)(v / sqrt(D));
    }
}

START_TEST(against_sklearn)
{
    zm_ctx ctx;
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    /* uneven split: rank r gets a share proportional to r + 1 */
    long tot = 0, lo = 0, hi = 0;
    for (int r = 0; r < ctx.size; r++) tot += r + 1;
    for (int r = 0; r <= ctx.rank; r++) {
        lo = hi;
        hi = lo + (long)N * (r + 1) / tot;
    }
    if (ctx.rank == ctx.size - 1) hi = N;
    float *x = malloc((size_t)(hi - lo + 1) * D * sizeof *x);
    for (long i = lo; i < hi; i++) make_row(i, x + (size_t)(i - lo) * D);
    zm_pca p;
    zm_err err = {0};
    ck_assert_int_eq(zm_pca_fit(&ctx, x, hi - lo, D, K, &p, &err), 0);
    ck_assert_int_eq(p.n, N);
    int rc = 0;
    if (ctx.rank == 0) {
        char dir[4200], xf[4300], prefix[4300], path[4400];
        snprintf(dir, sizeof dir, "%s", zt_tmpdir("pca"));
        snprintf(xf, sizeof xf, "%s/x.f32", dir);
        snprintf(prefix, sizeof prefix, "%s/ref", dir);
        FILE *f = fopen(xf, "wb");
        float row[D];
        for (long i = 0; i < N; i++) {
            make_row(i, row);
            fwrite(row, sizeof *row, D, f);
        }
        fclose(f);
        rc = zt_run("%s %s/tests/reference/pca_ref.py %s %d %d %d %s", zt_env("ZM_PYTHON", "/usr/bin/python3"),
                    zt_env("ZM_SOURCE_DIR", "."), xf, N, D, K, prefix);
        ck_assert_int_eq(rc, 0);
        snprintf(path, sizeof path, "%s.comp", prefix);
        double *comp = zt_read_f64(path, K * D);
        snprintf(path, sizeof path, "%s.var", prefix);
        double *var = zt_read_f64(path, K);
        double worst_cos = 1, worst_var = 0;
        for (int c = 0; c < K; c++) {
            double dot = 0, n1 = 0, n2 = 0;
            for (int j = 0; j < D; j++) {
                dot += comp[c * D + j] * p.components[c * D + j];
                n1 += comp[c * D + j] * comp[c * D + j];
                n2 += (double)p.components[c * D + j] * p.components[c * D + j];
            }
            worst_cos = fmin(worst_cos, fabs(dot) / sqrt(n1 * n2));
            worst_var = fmax(worst_var, fabs(p.explained_variance[c] - var[c]) / var[c]);
        }
        fprintf(stderr, "PCA on %d ranks vs scikit-learn: worst |cosine| %.9f, worst explained-variance "
                "relative difference %.2e, top-10 explained ratio %.3f\n", ctx.size, worst_cos, worst_var,
                p.explained_ratio[0] + p.explained_ratio[1] + p.explained_ratio[2] + p.explained_ratio[3] +
                p.explained_ratio[4] + p.explained_ratio[5] + p.explained_ratio[6] + p.explained_ratio[7] +
                p.explained_ratio[8] + p.explained_ratio[9]);
        ck_assert(worst_cos >= 0.999);
        ck_assert(worst_var <= 1e-4);
        free(comp), free(var);
    }
    float out[K];
    zm_pca_transform(&p, x, 1, out);
    ck_assert(isfinite(out[0]));
    zm_pca_free(&p);
    free(x);
    zm_ctx_free(&ctx);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *s = suite_create("pca");
    TCase *tc = tcase_create("pca");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, against_sklearn);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite_mpi(s);
    MPI_Finalize();
    return rc;
}
