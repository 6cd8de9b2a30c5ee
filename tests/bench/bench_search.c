/* bench_search.c: exact and IVF k-nearest-neighbour search (src/search) on synthetic
 * vectors, for tests/bench/bench_search.sh, which runs the faiss peer on the same files.
 *
 *   bench_search gen OUTDIR N D [CLUSTERS [SPREAD]]   writes OUTDIR/x.f32 (N x D) and
 *       q.f32 (1000 x D): Gaussian clusters (1000 centres N(0, 1) per coordinate, spread
 *       SPREAD per coordinate, 1.0 by default: overlapping), rows drawn from streams keyed
 *       by row: the same data every time
 *   mpirun -np P bench_search run OUTDIR N D NLIST NPROBE[,NPROBE...]
 *       each rank reads its slice; times exact search of the 1000 queries (one batch, k =
 *       10, per-rank top-k merged), the IVF build (k-means, 10 iterations) and IVF search at
 *       each nprobe with recall@10 against the exact result; prints "key value" lines and
 *       writes OUTDIR/exact_ids.i64 (rank 0) for the peer to check.
 * One thread per rank (OPENBLAS_NUM_THREADS=1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "zoomorph/context.h"
#include "zoomorph/ivf.h"
#include "zoomorph/knn.h"
#include "zoomorph/log.h"
#include "zoomorph/rng.h"

#define NQ 1000
#define K 10

static void gen_rows(float *out, long r0, long n, int d, int nclusters, float spread, const float *centres,
                     uint64_t stream0)
{
    for (long i = 0; i < n; i++) {
        zm_rng r;
        zm_rng_seed(&r, 42, stream0 + (uint64_t)(r0 + i));
        int c = (int)zm_rng_below(&r, (uint64_t)nclusters);
        for (int j = 0; j < d; j++) out[(size_t)i * d + j] = centres[(size_t)c * d + j] + spread * (float)zm_rng_normal(&r);
    }
}

static int gen(const char *dir, long n, int d, int nclusters, float spread)
{
    float *cen = malloc((size_t)nclusters * d * sizeof *cen), *buf = malloc((size_t)65536 * d * sizeof *buf);
    zm_rng r;
    zm_rng_seed(&r, 7, 0);
    for (size_t i = 0; i < (size_t)nclusters * d; i++) cen[i] = (float)zm_rng_normal(&r);
    char p[4096];
    snprintf(p, sizeof p, "%s/x.f32", dir);
    FILE *f = fopen(p, "wb");
    if (!f) return 1;
    for (long r0 = 0; r0 < n; r0 += 65536) {
        long m = n - r0 < 65536 ? n - r0 : 65536;
        gen_rows(buf, r0, m, d, nclusters, spread, cen, 0);
        if (fwrite(buf, sizeof *buf, (size_t)m * d, f) != (size_t)m * d) return 1;
    }
    if (fclose(f)) return 1;
    snprintf(p, sizeof p, "%s/q.f32", dir);
    f = fopen(p, "wb");
    gen_rows(buf, 0, NQ, d, nclusters, spread, cen, 1ULL << 40);
    if (!f || fwrite(buf, sizeof *buf, (size_t)NQ * d, f) != (size_t)NQ * d || fclose(f)) return 1;
    free(cen), free(buf);
    return 0;
}

static double recall(const long long *a, const long long *b, int nq)
{
    long hit = 0;
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < K; j++)
            for (int t = 0; t < K; t++)
                if (b[(size_t)i * K + j] == a[(size_t)i * K + t]) {
                    hit++;
                    break;
                }
    return (double)hit / ((double)nq * K);
}

static double rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

static int run(const zm_ctx *ctx, const char *dir, long n, int d, int nlist, const char *nprobes)
{
    long r0 = n * ctx->rank / ctx->size, r1 = n * (ctx->rank + 1) / ctx->size, nloc = r1 - r0;
    float *x = malloc((size_t)(nloc ? nloc : 1) * d * sizeof *x), *q = malloc((size_t)NQ * d * sizeof *q);
    char p[4096];
    snprintf(p, sizeof p, "%s/x.f32", dir);
    FILE *f = fopen(p, "rb");
    if (!f || fseek(f, (long)(r0 * d * (long)sizeof(float)), SEEK_SET) ||
        fread(x, sizeof *x, (size_t)nloc * d, f) != (size_t)nloc * d)
        ZM_ABORT("cannot read %s", p);
    fclose(f);
    snprintf(p, sizeof p, "%s/q.f32", dir);
    f = fopen(p, "rb");
    if (!f || fread(q, sizeof *q, (size_t)NQ * d, f) != (size_t)NQ * d) ZM_ABORT("cannot read %s", p);
    fclose(f);
    double rss0 = rss_mb();
    long long *ex = malloc((size_t)NQ * K * sizeof *ex), *iv = malloc((size_t)NQ * K * sizeof *iv);
    float *dist = malloc((size_t)NQ * K * sizeof *dist);
    double best = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        MPI_Barrier(ctx->comm);
        double t0 = zm_now();
        zm_knn_exact(x, nloc, d, r0, q, NQ, K, ex, dist);
        zm_knn_merge(ctx, NQ, K, ex, dist);
        double t = zm_now() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
        if (t < best) best = t;
    }
    if (ctx->rank == 0) {
        printf("exact_qps %.1f\n", NQ / best);
        snprintf(p, sizeof p, "%s/exact_ids.i64", dir);
        f = fopen(p, "wb");
        if (!f || fwrite(ex, sizeof *ex, (size_t)NQ * K, f) != (size_t)NQ * K || fclose(f)) ZM_ABORT("cannot write %s", p);
    }
    zm_ivf ix;
    zm_err err = {0};
    MPI_Barrier(ctx->comm);
    double t0 = zm_now();
    if (zm_ivf_build(ctx, &ix, x, nloc, d, r0, nlist, 10, 1, &err)) ZM_ABORT("%s", err.msg);
    double tb = zm_now() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &tb, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
    double mem = ((double)nlist * d * 4 + (double)nloc * (d * 4 + 8) + (nlist + 1) * 8.0) / 1048576.0;
    MPI_Allreduce(MPI_IN_PLACE, &mem, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
    double rss = rss_mb();
    MPI_Allreduce(MPI_IN_PLACE, &rss, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
    MPI_Allreduce(MPI_IN_PLACE, &rss0, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
    if (ctx->rank == 0)
        printf("ivf_build_s %.2f\nivf_index_mb_per_rank %.1f\nrss_mb_per_rank_data %.0f\nrss_mb_per_rank_peak %.0f\n", tb, mem,
               rss0, rss);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", nprobes);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int np = atoi(tok);
        best = 1e30;
        for (int rep = 0; rep < 2; rep++) {
            MPI_Barrier(ctx->comm);
            t0 = zm_now();
            zm_ivf_search(ctx, &ix, q, NQ, K, np, iv, dist);
            double t = zm_now() - t0;
            MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
            if (t < best) best = t;
        }
        if (ctx->rank == 0) printf("ivf nprobe %d qps %.1f recall %.4f\n", np, NQ / best, recall(ex, iv, NQ));
    }
    zm_ivf_free(&ix);
    free(x), free(q), free(ex), free(iv), free(dist);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "gen")) return gen(argv[2], atol(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 1000, argc > 6 ? (float)atof(argv[6]) : 1.0f);
    if (argc < 7 || strcmp(argv[1], "run")) {
        fprintf(stderr, "usage: bench_search gen OUTDIR N D [CLUSTERS [SPREAD]] | run OUTDIR N D NLIST NPROBE[,...]\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    zm_ctx ctx;
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    int rc = run(&ctx, argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6]);
    zm_ctx_free(&ctx);
    MPI_Finalize();
    return rc;
}
