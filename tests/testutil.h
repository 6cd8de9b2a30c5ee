/*
 * testutil.h: helpers for the C tests: environment paths, skipping, temporary
 * directories, running a shell command, and the worst-difference report every numeric
 * comparison prints.
 */
#ifndef ZOOMORPH_TESTUTIL_H
#define ZOOMORPH_TESTUTIL_H

#include <check.h>
#include <stddef.h>

#include "zoomorph/gzschema.h"

#define ZM_SKIP 77

/* Environment variable or a default. */
const char *zt_env(const char *name, const char *def);
/* ../shared/data/real or NULL (then the caller skips with a message). */
const char *zt_shared_data(void);
/* A fresh directory under the build tree's tmp/, named after tag; returns its path. */
const char *zt_tmpdir(const char *tag);
/* system() with the command printed; returns the exit status. */
int zt_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Max |a - b| / max(|b|, floor) and where; prints "name: worst rel diff ... at i". */
double zt_max_rel_diff(const char *name, const float *a, const float *b, size_t n, double floor);
/* Raw binary files of doubles/floats shared with the Python references (asserting). */
double *zt_read_f64(const char *path, size_t n);
/* tests/reference/gz_loss.py (PyTorch autograd) on the tree s: B galaxies drawn with the
 * seed; returns logits x and counts k (B x answers), the loss per galaxy and its gradient
 * (B x answers), all to be freed. tag names the temporary directory. */
void zt_gz_loss_reference(const char *tag, const zm_gz_schema *s, int B, int seed, double **x, double **k,
                          double **loss, double **grad);
void zt_write_f64(const char *path, const double *v, size_t n);

/* Runs a Check suite, returns the process exit code. */
int zt_run_suite(Suite *s);
/* The same in an MPI test: every rank runs the suite; the exit code is 1 on every rank if
 * any rank failed (MPI must be initialised). */
int zt_run_suite_mpi(Suite *s);

#endif
