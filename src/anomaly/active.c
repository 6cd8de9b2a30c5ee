/* active.c: see active.h. */
#include "zoomorph/active.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/rng.h"

void zm_standardise(const float *x, long n, int d, double *z)
{
    for (int j = 0; j < d; j++) {
        double mu = 0, var = 0;
        for (long i = 0; i < n; i++) mu += x[(size_t)i * d + j];
        mu = n ? mu / n : 0;
        for (long i = 0; i < n; i++) var += (x[(size_t)i * d + j] - mu) * (x[(size_t)i * d + j] - mu);
        double sd = n ? sqrt(var / n) : 0;
        for (long i = 0; i < n; i++) z[(size_t)i * d + j] = (x[(size_t)i * d + j] - mu) / (sd > 0 ? sd : 1);
    }
}

void zm_minmax_scale(const double *s, long n, double lo, double hi, double *out)
{
    double a = INFINITY, b = -INFINITY;
    for (long i = 0; i < n; i++) a = fmin(a, s[i]), b = fmax(b, s[i]);
    for (long i = 0; i < n; i++) out[i] = b > a ? lo + (hi - lo) * (s[i] - a) / (b - a) : lo;
}

void zm_expected_improvement(const double *mean, const double *sd, long n, double best, double xi, double *ei)
{
    for (long i = 0; i < n; i++) {
        double imp = mean[i] - best - xi, s = sd[i], v = 0;
        if (s > 0) {
            double z = imp / s;
            v = imp * 0.5 * erfc(-z / sqrt(2.0)) + s * exp(-0.5 * z * z) / sqrt(2 * M_PI);
        }
        ei[i] = v;
    }
}

void zm_nearest_labelled(const double *z, long n, int d, const long *lab, long nl, double *dist)
{
    for (long i = 0; i < n; i++) {
        const double *a = z + (size_t)i * d;
        double best = INFINITY;
        for (long q = 0; q < nl; q++) {
            const double *b = z + (size_t)lab[q] * d;
            double r2 = 0;
            for (int j = 0; j < d && r2 < best; j++) r2 += (a[j] - b[j]) * (a[j] - b[j]);
            if (r2 < best) best = r2;
        }
        dist[i] = sqrt(best);
    }
}

void zm_neighbour_score(const double *s, const double *u, const double *dist, long n, double alpha, double *out)
{
    double mean = 0;
    for (long i = 0; i < n; i++) mean += dist[i];
    mean = n ? mean / n : 0;
    for (long i = 0; i < n; i++) {
        double uu = fmin(fmax(u[i], 0.1), ZM_SCORE_MAX);
        double fu = 0.1 + 0.85 * uu / ZM_SCORE_MAX;
        double d0 = mean > 0 ? dist[i] / mean : 0;
        out[i] = s[i] * tanh(exp(alpha * d0) - 1 + atanh(fu));
    }
}

void zm_active_init(zm_active *a, long n, int d, const double *z, const double *s, const float *label)
{
    memset(a, 0, sizeof *a);
    a->n = n, a->d = d, a->z = z, a->s = s, a->label = label;
    a->k = (zm_gp_kernel){1.0, 5.0, 1.0, 0.1};
    a->alpha = 1.0;
    size_t m = (size_t)(n ? n : 1);
    a->mean = zm_malloc(m * sizeof *a->mean);
    a->sd = zm_malloc(m * sizeof *a->sd);
    a->ns = zm_malloc(m * sizeof *a->ns);
    a->lab = zm_malloc(m * sizeof *a->lab);
    for (long i = 0; i < n; i++) a->mean[i] = 0, a->sd[i] = NAN, a->ns[i] = s[i];
}

void zm_active_free(zm_active *a)
{
    free(a->mean), free(a->sd), free(a->ns), free(a->lab);
    memset(a, 0, sizeof *a);
}

int zm_active_update(zm_active *a, int optimise, zm_err *err)
{
    a->nl = 0;
    for (long i = 0; i < a->n; i++)
        if (!isnan(a->label[i])) a->lab[a->nl++] = i;
    if (a->nl == 0) {
        for (long i = 0; i < a->n; i++) a->mean[i] = 0, a->sd[i] = NAN, a->ns[i] = a->s[i];
        return 0;
    }
    const int d = a->d, nl = (int)a->nl;
    double *lx = zm_malloc((size_t)nl * d * sizeof *lx), *ly = zm_malloc((size_t)nl * sizeof *ly);
    for (int q = 0; q < nl; q++) {
        memcpy(lx + (size_t)q * d, a->z + (size_t)a->lab[q] * d, (size_t)d * sizeof *lx);
        ly[q] = a->label[a->lab[q]];
    }
    zm_gp g;
    int rc = optimise ? zm_gp_fit_optimise(&g, lx, ly, nl, d, &a->k, a->restarts, err)
                      : zm_gp_fit(&g, lx, ly, nl, d, &a->k, err);
    free(lx), free(ly);
    if (rc) return rc;
    a->k = g.k;
    a->jitter = g.jitter;
    zm_gp_predict(&g, a->z, (int)a->n, a->mean, a->sd);
    zm_gp_free(&g);
    double *dist = zm_malloc((size_t)a->n * sizeof *dist);
    zm_nearest_labelled(a->z, a->n, d, a->lab, a->nl, dist);
    zm_neighbour_score(a->s, a->mean, dist, a->n, a->alpha, a->ns);
    free(dist);
    return 0;
}

typedef struct {
    double key;
    int labelled;
    long i;
} keyed;

static int by_key_desc(const void *pa, const void *pb)
{
    const keyed *x = pa, *y = pb;
    int nx = isnan(x->key), ny = isnan(y->key);
    if (nx != ny) return nx - ny;
    if (!nx && x->key != y->key) return x->key > y->key ? -1 : 1;
    if (x->labelled != y->labelled) return y->labelled - x->labelled;
    return x->i < y->i ? -1 : x->i > y->i;
}

void zm_rank_desc(const double *key, const float *label, long n, long *order)
{
    keyed *k = zm_malloc((size_t)(n ? n : 1) * sizeof *k);
    for (long i = 0; i < n; i++) k[i] = (keyed){key[i], label ? !isnan(label[i]) : 0, i};
    qsort(k, (size_t)n, sizeof *k, by_key_desc);
    for (long i = 0; i < n; i++) order[i] = k[i].i;
    free(k);
}

void zm_active_key(const zm_active *a, int method, double *key)
{
    const double *pred = method == ZM_ACTIVE_GP ? a->mean : a->ns;
    for (long i = 0; i < a->n; i++) key[i] = isnan(a->label[i]) ? pred[i] : a->label[i];
}

long zm_active_propose(const zm_active *a, int method, long batch, double xi, uint64_t seed, uint64_t stream, long *out)
{
    long n = a->n, free_rows = n - a->nl, take = batch < free_rows ? batch : free_rows;
    if (take <= 0) return 0;
    if (method == ZM_ACTIVE_GP && a->nl == 0) {
        /* the first batch at random: a partial Fisher-Yates over the unlabelled rows */
        long *idx = zm_malloc((size_t)free_rows * sizeof *idx), m = 0;
        for (long i = 0; i < n; i++)
            if (isnan(a->label[i])) idx[m++] = i;
        zm_rng r;
        zm_rng_seed(&r, seed, stream);
        for (long i = 0; i < take; i++) {
            long j = i + (long)zm_rng_below(&r, (uint64_t)(m - i)), t = idx[i];
            idx[i] = idx[j], idx[j] = t;
            out[i] = idx[i];
        }
        free(idx);
        return take;
    }
    double *v = zm_malloc((size_t)n * sizeof *v);
    if (method == ZM_ACTIVE_GP) {
        double best = -INFINITY;
        for (long q = 0; q < a->nl; q++) best = fmax(best, a->label[a->lab[q]]);
        zm_expected_improvement(a->mean, a->sd, n, best, xi, v);
    } else {
        memcpy(v, a->ns, (size_t)n * sizeof *v);
    }
    for (long i = 0; i < n; i++)
        if (!isnan(a->label[i])) v[i] = NAN; /* NaN sorts last */
    long *order = zm_malloc((size_t)n * sizeof *order);
    zm_rank_desc(v, NULL, n, order);
    for (long i = 0; i < take; i++) out[i] = order[i];
    free(v), free(order);
    return take;
}
