/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *zt_env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

const char *zt_shared_data(void)
{
    const char *d = zt_env("ZM_SHARED_DATA", NULL);
    struct stat st;
    if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    return d;
}

const char *zt_tmpdir(const char *tag)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tmp/%s.%d", zt_env("ZM_BUILD_DIR", "."), tag, (int)getpid());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot make %s\n", path);
        exit(1);
    }
    return path;
}

int zt_run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "+ %s\n", cmd);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

double zt_max_rel_diff(const char *name, const float *a, const float *b, size_t n, double floor)
{
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / fmax(fabs((double)b[i]), floor);
        if (!(d <= worst)) {
            worst = d;
            at = i;
        }
    }
    fprintf(stderr, "%s: worst relative difference %.3g at %zu (%g vs %g) over %zu values\n", name,
            worst, at, n ? a[at] : 0.0, n ? b[at] : 0.0, n);
    return worst;
}

int zt_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

double *zt_read_f64(const char *path, size_t n)
{
    double *v = malloc(n * sizeof *v);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_uint_eq(fread(v, sizeof *v, n, f), n);
    fclose(f);
    return v;
}

void zt_write_f64(const char *path, const double *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(v, sizeof *v, n, f), n);
    fclose(f);
}

int zt_run_suite_mpi(Suite *s)
{
    int rc = zt_run_suite(s), any = 0;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

void zt_gz_loss_reference(const char *tag, const zm_gz_schema *s, int B, int seed, double **x, double **k,
                          double **loss, double **grad)
{
    const char *dir = zt_tmpdir(tag);
    char schema[4200], prefix[4200], p[4300];
    snprintf(schema, sizeof schema, "%s/schema.txt", dir);
    snprintf(prefix, sizeof prefix, "%s/ref", dir);
    FILE *f = fopen(schema, "w");
    ck_assert_ptr_nonnull(f);
    for (int q = 0; q < s->nquestions; q++) fprintf(f, "%d %d\n", s->q[q].first, s->q[q].nanswers);
    fclose(f);
    ck_assert_int_eq(zt_run("%s %s/tests/reference/gz_loss.py %s %s %d %d", zt_env("ZM_PYTHON", "/usr/bin/python3"),
                            zt_env("ZM_SOURCE_DIR", "."), schema, prefix, B, seed), 0);
    const size_t n = (size_t)B * s->nanswers;
    snprintf(p, sizeof p, "%s.x", prefix);
    *x = zt_read_f64(p, n);
    snprintf(p, sizeof p, "%s.k", prefix);
    *k = zt_read_f64(p, n);
    snprintf(p, sizeof p, "%s.loss", prefix);
    *loss = zt_read_f64(p, (size_t)B);
    snprintf(p, sizeof p, "%s.grad", prefix);
    *grad = zt_read_f64(p, n);
}
