/* bench_store.c: write bandwidth of the parallel-HDF5 store as the embed and cutout stages
 * use it: every rank writes its share of N rows in rounds of `batch` rows with collective
 * zm_store_write calls, then the store is flushed, closed and fsync'ed (so the figure is
 * what reached the disk, comparable with `dd conv=fdatasync`; tests/bench/bench_store.sh
 * runs both in the same run).
 * usage: mpirun -np P bench_store PATH ROW_BYTES TOTAL_MIB [BATCH]
 *        -> prints "store_write_mib_s R seconds S bytes B" (rank 0) */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zoomorph/context.h"
#include "zoomorph/h5store.h"
#include "zoomorph/log.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    zm_ctx ctx;
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    if (argc < 4) {
        if (ctx.rank == 0) fprintf(stderr, "usage: bench_store PATH ROW_BYTES TOTAL_MIB [BATCH]\n");
        MPI_Finalize();
        return 2;
    }
    const char *path = argv[1];
    unsigned long long row = strtoull(argv[2], NULL, 10), mib = strtoull(argv[3], NULL, 10);
    long long batch = argc > 4 ? atoll(argv[4]) : 1024;
    unsigned long long N = (mib << 20) / row;
    zm_err err = {0};
    zm_store *s = NULL;
    if (zm_store_create(&s, path, &ctx, 1, &err)) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    zm_field f = {"/bench/rows", ZM_DT_U8, 1, {row, 0, 0}, 0, "", "benchmark rows"};
    if (zm_store_define(s, &f, N, 1, &err)) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    unsigned long long lo = N * ctx.rank / ctx.size, hi = N * (ctx.rank + 1) / ctx.size;
    unsigned long long per = (N + ctx.size - 1) / ctx.size;
    long rounds = (long)((per + batch - 1) / batch);
    unsigned char *buf = zm_malloc((size_t)batch * row);
    for (size_t i = 0; i < (size_t)batch * row; i++) buf[i] = (unsigned char)(i * 2654435761u >> 24);
    MPI_Barrier(ctx.comm);
    double t0 = zm_now();
    for (long r = 0; r < rounds; r++) {
        unsigned long long a = lo + (unsigned long long)r * batch;
        zm_range rg = {a, a < hi ? (hi - a < (unsigned long long)batch ? hi - a : (unsigned long long)batch) : 0};
        if (zm_store_write(s, &f, &rg, rg.count ? 1 : 0, buf, &err)) {
            fprintf(stderr, "bench_store: %s\n", err.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    zm_store_flush(s);
    zm_store_close(s);
    if (ctx.rank == 0) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) perror(path);
        if (fd >= 0) close(fd);
    }
    MPI_Barrier(ctx.comm);
    double t = zm_now() - t0;
    if (ctx.rank == 0)
        printf("store_write_mib_s %.1f seconds %.3f bytes %llu\n", (double)(N * row) / (1 << 20) / t, t, N * row);
    free(buf);
    MPI_Finalize();
    return 0;
}
