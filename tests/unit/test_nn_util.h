/*
 * test_nn_util.h: helpers shared by the test_nn*.c tests (header-only, static):
 * reading PyTorch reference fixtures (HDF5 written by tests/reference/nn_reference.py)
 * and the tolerance check every comparison uses.
 *
 * Relative difference: |a - b| / max(|b|, floor) with floor = 1e-3 * max|b| over the
 * tensor (values far below the tensor's scale are compared at that scale), printed per
 * tensor by zt_max_rel_diff; used where both sides are the engine's own.
 *
 * Against a float64 reference, sums of products are held to their rounding-error bound
 * (nt_bound), which does not depend on the order the BLAS or the engine sums in: for
 * s = sum of n products x_i y_i computed in float32 in any order, with or without FMA,
 * |fl(s) - s| <= gamma_n sum |x_i y_i|, gamma_n = n u / (1 - n u), u = 2^-24 (Higham,
 * Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5). The test's inputs are
 * the float32 roundings of the reference's float64 inputs (each product off by at most
 * 2u more) and the stored reference is rounded to float32 (u |s|), so the allowed error is
 * gamma_{n+2} M + u |s|, M = sum |x_i y_i| being the same computation on absolute values.
 */
#ifndef ZOOMORPH_NN_TESTUTIL_H
#define ZOOMORPH_NN_TESTUTIL_H

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "zoomorph/error.h"

/* Dataset path (e.g. "conv3x3/x") as a malloc'd float array; *n its size. Aborts if absent. */
static inline float *nt_read(hid_t f, const char *path, size_t *n)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) ZM_ABORT("fixture: no dataset %s", path);
    hid_t sp = H5Dget_space(d);
    size_t cnt = (size_t)H5Sget_simple_extent_npoints(sp);
    float *buf = zm_malloc(sizeof(float) * (cnt ? cnt : 1));
    ZM_CHECK_H5(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    H5Sclose(sp);
    H5Dclose(d);
    if (n) *n = cnt;
    return buf;
}

static inline int nt_attr_int(hid_t f, const char *obj, const char *name)
{
    int v = 0;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) ZM_ABORT("fixture: no attribute %s/%s", obj, name);
    ZM_CHECK_H5(H5Aread(a, H5T_NATIVE_INT, &v));
    H5Aclose(a);
    return v;
}

/* Worst relative difference, the floor a fraction of the reference's largest magnitude. */
static inline double nt_diff_floor(const char *name, const float *a, const float *b, size_t n,
                                   double floor)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)b[i]));
    return zt_max_rel_diff(name, a, b, n, m > 0 ? floor * m : 1e-30);
}

/* Worst relative difference (floor 1e-3 of the reference's largest magnitude). */
static inline double nt_diff(const char *name, const float *a, const float *b, size_t n)
{
    return nt_diff_floor(name, a, b, n, 1e-3);
}

#define NT_U (1.0 / 16777216.0) /* 2^-24, float32's unit roundoff */

static inline double nt_gamma(double n) { return n * NT_U / (1.0 - n * NT_U); }

/* Worst ratio of |a - b| to the bound gamma_{nterms+2} mag + u |b| over n values (<= 1:
 * within the bound), printed with where it happened. mag: sum of |products| per value. */
static inline double nt_bound(const char *name, const float *a, const float *b, const float *mag,
                              size_t n, double nterms)
{
    double worst = 0, g = nt_gamma(nterms + 2);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double allowed = g * fabs((double)mag[i]) + NT_U * fabs((double)b[i]) + 1e-37;
        double r = fabs((double)a[i] - (double)b[i]) / allowed;
        if (!(r <= worst)) worst = r, at = i;
    }
    fprintf(stderr, "%s: worst error %.3g of the float32 bound (n = %.0f) at %zu (%g vs %g)\n",
            name, worst, nterms, at, n ? a[at] : 0.0, n ? b[at] : 0.0);
    return worst;
}

/* |v| for n values into a new array. */
static inline float *nt_abs(const float *v, size_t n)
{
    float *a = zm_malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) a[i] = fabsf(v[i]);
    return a;
}

/* Worst ratio of |a - b| to a per-value tolerance tol + u |b| (<= 1: within it). */
static inline double nt_within(const char *name, const float *a, const float *b, const float *tol,
                               size_t n)
{
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double allowed = fabs((double)tol[i]) + NT_U * fabs((double)b[i]) + 1e-37;
        double r = fabs((double)a[i] - (double)b[i]) / allowed;
        if (!(r <= worst)) worst = r, at = i;
    }
    fprintf(stderr, "%s: worst error %.3g of its rounding tolerance at %zu (%g vs %g, tolerance %g)\n",
            name, worst, at, n ? a[at] : 0.0, n ? b[at] : 0.0, n ? tol[at] : 0.0);
    return worst;
}

#endif
