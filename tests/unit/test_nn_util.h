/*
 * test_nn_util.h: helpers shared by the test_nn*.c tests (header-only, static):
 * reading PyTorch reference fixtures (HDF5 written by tests/reference/nn_reference.py)
 * and the tolerance check every comparison uses.
 *
 * Relative difference: |a - b| / max(|b|, floor) with floor = 1e-3 * max|b| over the
 * tensor (values far below the tensor's scale are compared at that scale), printed per
 * tensor by zt_max_rel_diff.
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

#endif
