/* test_store.c: the parallel-HDF5 store on 1, 2 and 3 ranks: collective writes of
 * scattered row ranges (a rank with no rows included), writes split into pieces with
 * uneven counts per rank, appends, float16 and string fields, attributes, stage marks,
 * format-version checks, unwritable paths and damaged stores. */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "zoomorph/h5store.h"

static zm_ctx ctx;
static char dir[4096];

static void shared_dir(void)
{
    if (ctx.rank == 0) snprintf(dir, sizeof dir, "%s", zt_tmpdir("store"));
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, ctx.comm);
}

/* Rank r owns rows i with (i / 7) % size == r, except the last rank owns none when
 * size > 1 (to test a rank with zero rows). */
static int owns(long long i, int r, int size)
{
    int owner = (int)((i / 7) % (size > 1 ? size - 1 : 1));
    return size > 1 ? owner == r && r < size - 1 : 1;
}

START_TEST(scattered_split_writes)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    zm_store *s = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_store_create(&s, path, &ctx, 1, &err), 0);
    zm_store_set_write_limit(s, 40); /* 5 int64 rows per H5Dwrite: many pieces */
    const long long N = 103;
    zm_field fid = {"/galaxies/id", ZM_DT_I64, 0, {0}, 0, "", "id"};
    zm_field fvec = {"/x/vec", ZM_DT_F16, 2, {2, 3}, 0, "m", "vector"};
    zm_field fstr = {"/x/name", ZM_DT_STR, 0, {0}, 8, "", "names"};
    ck_assert_int_eq(zm_store_define(s, &fid, N, 1, &err), 0);
    ck_assert_int_eq(zm_store_define(s, &fvec, N, 1, &err), 0);
    ck_assert_int_eq(zm_store_define(s, &fstr, N, 1, &err), 0);
    zm_range r[64];
    int nr = 0;
    long long *ids = malloc(N * sizeof *ids);
    uint16_t *vec = malloc(N * 6 * sizeof *vec);
    char *names = calloc(N, 8);
    long long k = 0;
    for (long long i = 0; i < N; i++) {
        if (!owns(i, ctx.rank, ctx.size)) continue;
        if (nr && r[nr - 1].start + r[nr - 1].count == (unsigned long long)i) r[nr - 1].count++;
        else r[nr++] = (zm_range){(unsigned long long)i, 1};
        ids[k] = 1000 + i;
        for (int j = 0; j < 6; j++) vec[k * 6 + j] = zm_f32_to_f16((float)i + 0.25f * j);
        snprintf(names + 8 * k, 8, "g%lld", i);
        k++;
    }
    ck_assert_int_eq(zm_store_write(s, &fid, r, nr, ids, &err), 0);
    ck_assert_int_eq(zm_store_write(s, &fvec, r, nr, vec, &err), 0);
    ck_assert_int_eq(zm_store_write(s, &fstr, r, nr, names, &err), 0);
    zm_store_close(s);

    ck_assert_int_eq(zm_store_open(&s, path, 0, &ctx, &err), 0);
    zm_range all = {0, N};
    long long *back = malloc(N * sizeof *back);
    float *vback = malloc(N * 6 * sizeof *vback);
    char *nback = calloc(N, 8);
    ck_assert_int_eq(zm_store_read(s, "/galaxies/id", ZM_DT_I64, 0, &all, 1, back, &err), 0);
    ck_assert_int_eq(zm_store_read(s, "/x/vec", ZM_DT_F32, 0, &all, 1, vback, &err), 0);
    ck_assert_int_eq(zm_store_read(s, "/x/name", ZM_DT_STR, 8, &all, 1, nback, &err), 0);
    for (long long i = 0; i < N; i++) {
        ck_assert_int_eq(back[i], 1000 + i);
        for (int j = 0; j < 6; j++) ck_assert_float_eq(vback[i * 6 + j], (float)i + 0.25f * j);
        char want[8];
        snprintf(want, 8, "g%lld", i);
        ck_assert_str_eq(nback + 8 * i, want);
    }
    char units[32];
    ck_assert_int_eq(zm_store_get_attr(s, "/x/vec", "units", units, sizeof units), 0);
    ck_assert_str_eq(units, "m");
    zm_store_close(s);
    free(ids), free(vec), free(names), free(back), free(vback), free(nback);
}
END_TEST

START_TEST(appends_in_rank_order)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/b.h5", dir);
    zm_store *s = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_store_create(&s, path, &ctx, 1, &err), 0);
    zm_field f = {"/rejects/id", ZM_DT_I64, 0, {0}, 0, "", "ids"};
    for (int round = 0; round < 2; round++) {
        long long v[8];
        int n = ctx.rank + round; /* rank 0 appends nothing in round 0 */
        for (int i = 0; i < n; i++) v[i] = 100 * round + 10 * ctx.rank + i;
        ck_assert_int_eq(zm_store_append(s, &f, (unsigned long long)n, v, &err), 0);
    }
    unsigned long long nrows = 0;
    ck_assert_int_eq(zm_store_nrows(s, "/rejects/id", &nrows, &err), 0);
    long long expect[64];
    int ne = 0;
    for (int round = 0; round < 2; round++)
        for (int r = 0; r < ctx.size; r++)
            for (int i = 0; i < r + round; i++) expect[ne++] = 100 * round + 10 * r + i;
    ck_assert_uint_eq(nrows, (unsigned long long)ne);
    long long got[64];
    zm_range all = {0, nrows};
    ck_assert_int_eq(zm_store_read(s, "/rejects/id", ZM_DT_I64, 0, &all, 1, got, &err), 0);
    for (int i = 0; i < ne; i++) ck_assert_int_eq(got[i], expect[i]);
    zm_store_close(s);
}
END_TEST

START_TEST(stage_marks_and_meta)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/c.h5", dir);
    zm_store *s = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_store_create(&s, path, &ctx, 1, &err), 0);
    ck_assert_int_eq(zm_store_stage_complete(s, "plan"), 0);
    zm_store_stage_begin(s, "plan", "[store]\npath = c.h5\n");
    ck_assert_int_eq(zm_store_stage_complete(s, "plan"), 0);
    zm_store_stage_end(s, "plan", "3 inputs");
    ck_assert_int_eq(zm_store_stage_complete(s, "plan"), 1);
    char buf[256];
    ck_assert_int_eq(zm_store_get_attr(s, "/meta/stages/plan", "config", buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "path = c.h5"));
    ck_assert_int_eq(zm_store_get_attr(s, "/meta", "creator", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "zoomorph");
    ck_assert_int_eq(zm_store_get_attr(s, "/meta", "git_revision", buf, sizeof buf), 0);
    ck_assert_int_eq(zm_store_get_attr(s, "/meta", "nonexistent", buf, sizeof buf), ZM_EMISSING);
    zm_store_close(s);
}
END_TEST

START_TEST(refuses_bad_paths_and_versions)
{
    zm_store *s = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_store_create(&s, "/nonexistent-dir/x/s.h5", &ctx, 0, &err), ZM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "directory /nonexistent-dir/x does not exist"));
    char path[4200];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    ck_assert_int_eq(zm_store_create(&s, path, &ctx, 0, &err), 0);
    zm_store_close(s);
    ck_assert_int_eq(zm_store_create(&s, path, &ctx, 0, &err), ZM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "already exists"));
    ck_assert_int_eq(zm_store_open(&s, "/nonexistent.h5", 0, &ctx, &err), ZM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not exist"));
    /* a text file, a plain HDF5 file and a store of another version */
    char txt[4200], plain[4200];
    snprintf(txt, sizeof txt, "%s/notes.txt", dir);
    snprintf(plain, sizeof plain, "%s/plain.h5", dir);
    if (ctx.rank == 0) {
        FILE *f = fopen(txt, "w");
        fputs("not hdf5\n", f);
        fclose(f);
        hid_t h = H5Fcreate(plain, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert_int_ge(h, 0);
        H5Fclose(h);
        h = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        ck_assert_int_ge(H5Adelete_by_name(h, "/meta", "format_version", H5P_DEFAULT), 0);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate_by_name(h, "/meta", "format_version", H5T_STD_I64LE, sp, H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT);
        long long v = 99;
        ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_LLONG, &v), 0);
        H5Aclose(a);
        H5Sclose(sp);
        H5Fclose(h);
    }
    MPI_Barrier(ctx.comm);
    ck_assert_int_eq(zm_store_open(&s, txt, 0, &ctx, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an HDF5 file"));
    ck_assert_int_eq(zm_store_open(&s, plain, 0, &ctx, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a zoomorph store"));
    ck_assert_int_eq(zm_store_open(&s, path, 0, &ctx, &err), ZM_EFORMAT);
    fprintf(stderr, "%s\n", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "format version 99"));
}
END_TEST

/* Overwrites 4 bytes of the object header of obj in file path (rank 0 only). */
static void damage_header(const char *path, const char *obj)
{
    hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(h, 0);
    H5O_info_t info;
    ck_assert_int_ge(H5Oget_info_by_name2(h, obj, &info, H5O_INFO_BASIC, H5P_DEFAULT), 0);
    H5Fclose(h);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)info.addr + 6, SEEK_SET), 0);
    ck_assert_int_eq(fwrite("\xde\xad\xbe\xef", 1, 4, f), 4);
    fclose(f);
}

/* A damaged store (found by tests/fuzz/fuzz_store: HDF5 failures while reading one used
 * to abort the job) gives errors naming the store and the object, on every rank. */
START_TEST(damaged_store_is_an_error)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/dmg-version.h5", dir);
    snprintf(b, sizeof b, "%s/dmg-header.h5", dir);
    zm_err err = {0};
    for (int k = 0; k < 2; k++) {
        zm_store *s = NULL;
        ck_assert_int_eq(zm_store_create(&s, k ? b : a, &ctx, 1, &err), 0);
        zm_store_stage_begin(s, "plan", "");
        zm_store_stage_end(s, "plan", "");
        zm_field f = {"/galaxies/ra", ZM_DT_F64, 0, {0}, 0, "deg", "ra"};
        ck_assert_int_eq(zm_store_define(s, &f, 10, 0, &err), 0);
        zm_store_close(s);
    }
    if (ctx.rank == 0) {
        /* format_version of another type */
        hid_t h = H5Fopen(a, H5F_ACC_RDWR, H5P_DEFAULT);
        ck_assert_int_ge(H5Adelete_by_name(h, "/meta", "format_version", H5P_DEFAULT), 0);
        hid_t ty = H5Tcopy(H5T_C_S1);
        H5Tset_size(ty, 4);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t at = H5Acreate_by_name(h, "/meta", "format_version", ty, sp, H5P_DEFAULT,
                                     H5P_DEFAULT, H5P_DEFAULT);
        ck_assert_int_ge(H5Awrite(at, ty, "one"), 0);
        H5Aclose(at);
        H5Sclose(sp);
        H5Tclose(ty);
        H5Fclose(h);
        damage_header(b, "/meta/stages/plan");
        damage_header(b, "/galaxies/ra");
    }
    MPI_Barrier(ctx.comm);
    zm_store *s = NULL;
    ck_assert_int_eq(zm_store_open(&s, a, 0, &ctx, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "format_version is not a readable integer"));
    ck_assert_ptr_null(s);
    ck_assert_int_eq(zm_store_open(&s, b, 0, &ctx, &err), 0);
    char buf[64];
    ck_assert_int_eq(zm_store_get_attr(s, "/meta/stages/plan", "status", buf, sizeof buf),
                     ZM_EFORMAT);
    ck_assert_int_eq(zm_store_stage_complete(s, "plan"), 0);
    unsigned long long dims[4];
    zm_err_clear(&err);
    ck_assert_int_eq(zm_store_shape(s, "/galaxies/ra", dims, &err), ZM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "/galaxies/ra is not a readable dataset (damaged store?)"));
    double v[2];
    zm_range r = {0, 2};
    ck_assert_int_eq(zm_store_read(s, "/galaxies/ra", ZM_DT_F64, 0, &r, 1, v, &err), ZM_EFORMAT);
    zm_dtype t;
    ck_assert_int_eq(zm_store_type(s, "/galaxies/ra", &t, &err), ZM_EFORMAT);
    zm_store_close(s);
}
END_TEST

START_TEST(one_writer_at_a_time)
{
    char path[4200], lock[4300];
    snprintf(path, sizeof path, "%s/lock.h5", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    zm_store *a = NULL, *b = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_store_create(&a, path, &ctx, 1, &err), 0);
    ck_assert_int_eq(zm_store_open(&b, path, 1, &ctx, &err), ZM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is being written by another run"));
    zm_store_close(a);
    MPI_Barrier(ctx.comm); /* rank 0 removes the lock after the collective close */
    ck_assert_int_eq(access(lock, F_OK), -1);
    /* readers take no lock */
    ck_assert_int_eq(zm_store_open(&b, path, 0, &ctx, &err), 0);
    ck_assert_int_eq(access(lock, F_OK), -1);
    zm_store_close(b);
    /* a stale lock of a process that is gone is taken over */
    if (ctx.rank == 0) {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        FILE *f = fopen(lock, "w");
        fprintf(f, "%s 999999999 -\n", host);
        fclose(f);
    }
    MPI_Barrier(ctx.comm);
    ck_assert_int_eq(zm_store_open(&a, path, 1, &ctx, &err), 0);
    zm_store_close(a);
}
END_TEST

START_TEST(half_precision)
{
    float vals[] = {0.0f, 1.0f, -2.5f, 0.333333f, 65504.0f, 1e-7f, 6.1e-5f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        float back = zm_f16_to_f32(zm_f32_to_f16(vals[i]));
        ck_assert_msg(fabsf(back - vals[i]) <= 1e-3f * fabsf(vals[i]) + 6e-8f, "%g -> %g", vals[i], back);
    }
    ck_assert_int_eq(zm_f32_to_f16(1.0f), 0x3c00);
    ck_assert_int_eq(zm_f32_to_f16(1e6f), 0x7c00);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    shared_dir();
    Suite *su = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_test(tc, scattered_split_writes);
    tcase_add_test(tc, appends_in_rank_order);
    tcase_add_test(tc, stage_marks_and_meta);
    tcase_add_test(tc, refuses_bad_paths_and_versions);
    tcase_add_test(tc, one_writer_at_a_time);
    tcase_add_test(tc, half_precision);
    tcase_add_test(tc, damaged_store_is_an_error);
    suite_add_tcase(su, tc);
    int rc = zt_run_suite_mpi(su);
    zm_ctx_free(&ctx);
    MPI_Finalize();
    return rc;
}
