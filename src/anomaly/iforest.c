/* iforest.c: see iforest.h. */
#include "zoomorph/iforest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/rng.h"

double zm_iforest_c(double n)
{
    if (n <= 1) return 0;
    if (n == 2) return 1;
    return 2.0 * (log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n;
}

typedef struct {
    zm_itree_node *nodes;
    int n, cap;
} builder;

static int new_node(builder *b)
{
    if (b->n == b->cap) b->nodes = zm_realloc(b->nodes, (size_t)(b->cap = b->cap ? 2 * b->cap : 1024) * sizeof *b->nodes);
    return b->n++;
}

/* Grows a node over idx[0..m) at depth; returns its index. */
static int grow(builder *b, const float *x, int d, long *idx, long m, int depth, int max_depth, zm_rng *r)
{
    int me = new_node(b);
    b->nodes[me] = (zm_itree_node){-1, 0, -1, -1, (int)m};
    if (depth >= max_depth || m <= 1) return me;
    /* a random feature among those not constant here (as scikit-learn's extra trees) */
    int tried = 0, q = -1;
    float lo = 0, hi = 0;
    int *order = NULL;
    while (tried < d) {
        int f = (int)zm_rng_below(r, (uint64_t)(d - tried));
        if (!order) {
            order = zm_malloc((size_t)d * sizeof *order);
            for (int k = 0; k < d; k++) order[k] = k;
        }
        int feat = order[f];
        order[f] = order[d - tried - 1];
        order[d - tried - 1] = feat;
        tried++;
        lo = hi = x[(size_t)idx[0] * d + feat];
        for (long i = 1; i < m; i++) {
            float v = x[(size_t)idx[i] * d + feat];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (hi > lo) {
            q = feat;
            break;
        }
    }
    free(order);
    if (q < 0) return me;
    float split = lo + (float)zm_rng_uniform(r) * (hi - lo);
    if (split <= lo) split = lo + (hi - lo) * 1e-6f;
    long i = 0, j = m - 1;
    while (i <= j) {
        if (x[(size_t)idx[i] * d + q] < split) i++;
        else {
            long t = idx[i];
            idx[i] = idx[j];
            idx[j--] = t;
        }
    }
    int L = grow(b, x, d, idx, i, depth + 1, max_depth, r);
    int R = grow(b, x, d, idx + i, m - i, depth + 1, max_depth, r);
    b->nodes[me].feature = q;
    b->nodes[me].split = split;
    b->nodes[me].left = L;
    b->nodes[me].right = R;
    return me;
}

int zm_iforest_fit(zm_iforest *f, const float *x, long m, int d, int n_trees, int psi, uint64_t seed, zm_err *err)
{
    memset(f, 0, sizeof *f);
    if (m < 2) return zm_err_set(err, ZM_EVALUE, "isolation forest: %ld rows; at least 2 are needed", m);
    if (psi > m) psi = (int)m;
    f->n_trees = n_trees;
    f->psi = psi;
    f->d = d;
    f->max_depth = (int)ceil(log2((double)(psi > 2 ? psi : 2)));
    f->c_psi = zm_iforest_c(psi);
    f->tree_root = zm_malloc((size_t)n_trees * sizeof *f->tree_root);
    builder b = {0};
    long *idx = zm_malloc((size_t)m * sizeof *idx);
    for (int t = 0; t < n_trees; t++) {
        zm_rng r;
        zm_rng_seed(&r, seed, (uint64_t)t);
        /* a subsample without replacement: partial Fisher-Yates */
        for (long i = 0; i < m; i++) idx[i] = i;
        for (long i = 0; i < psi; i++) {
            long j = i + (long)zm_rng_below(&r, (uint64_t)(m - i));
            long tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        f->tree_root[t] = grow(&b, x, d, idx, psi, 0, f->max_depth, &r);
    }
    free(idx);
    f->nodes = b.nodes;
    f->n_nodes = b.n;
    return 0;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int zm_iforest_fit_mpi(const zm_ctx *ctx, zm_iforest *f, const float *x, long nloc, int d, int n_trees, int psi,
                       uint64_t seed, zm_err *err)
{
    long long N = zm_allreduce_sum_ll(ctx, nloc), first = zm_exscan_ll(ctx, nloc);
    if (N < 2) return zm_err_set(err, ZM_EVALUE, "isolation forest: %lld rows in all; at least 2 are needed", N);
    /* a pool of distinct global rows, enough for every tree's subsample: min(N, trees*psi) */
    long long want = (long long)n_trees * psi < N ? (long long)n_trees * psi : N;
    zm_rng r;
    zm_rng_seed(&r, seed, 0xf0f0);
    long long *pick = zm_malloc((size_t)want * sizeof *pick);
    if (want == N) {
        for (long long i = 0; i < N; i++) pick[i] = i;
    } else {
        /* draw, sort, drop duplicates, top up until enough distinct rows */
        long long k = 0;
        while (k < want) {
            for (long long i = k; i < want; i++) pick[i] = (long long)zm_rng_below(&r, (uint64_t)N);
            qsort(pick, (size_t)want, sizeof *pick, cmp_ll); /* then drop duplicates */
            long long u = 0;
            for (long long i = 0; i < want; i++)
                if (!u || pick[i] != pick[u - 1]) pick[u++] = pick[i];
            k = u;
        }
    }
    /* this rank's rows of the pool, gathered in pool order on every rank */
    int cnt = 0;
    for (long long i = 0; i < want; i++) cnt += pick[i] >= first && pick[i] < first + nloc;
    float *mine = zm_malloc((size_t)(cnt ? cnt : 1) * d * sizeof *mine);
    int k = 0;
    for (long long i = 0; i < want; i++)
        if (pick[i] >= first && pick[i] < first + nloc)
            memcpy(mine + (size_t)k++ * d, x + (size_t)(pick[i] - first) * d, (size_t)d * sizeof *mine);
    int *counts = zm_malloc((size_t)ctx->size * sizeof *counts), *displ = zm_malloc((size_t)ctx->size * sizeof *displ);
    int sendn = cnt * d;
    ZM_CHECK_MPI(MPI_Allgather(&sendn, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm));
    int tot = 0;
    for (int p = 0; p < ctx->size; p++) displ[p] = tot, tot += counts[p];
    float *pool = zm_malloc((size_t)(tot ? tot : 1) * sizeof *pool);
    ZM_CHECK_MPI(MPI_Allgatherv(mine, sendn, MPI_FLOAT, pool, counts, displ, MPI_FLOAT, ctx->comm));
    /* rows are sorted by global index and ranks hold contiguous index ranges in rank order,
     * so the gathered pool is in pool order */
    int rc = zm_iforest_fit(f, pool, (long)(tot / d), d, n_trees, psi, seed, err);
    free(pick), free(mine), free(counts), free(displ), free(pool);
    return rc;
}

void zm_iforest_score(const zm_iforest *f, const float *x, long n, float *score)
{
    for (long i = 0; i < n; i++) {
        const float *v = x + (size_t)i * f->d;
        double h = 0;
        for (int t = 0; t < f->n_trees; t++) {
            int node = f->tree_root[t], depth = 0;
            while (f->nodes[node].feature >= 0) {
                const zm_itree_node *nd = &f->nodes[node];
                node = v[nd->feature] < nd->split ? nd->left : nd->right;
                depth++;
            }
            h += depth + zm_iforest_c(f->nodes[node].size);
        }
        score[i] = (float)pow(2.0, -(h / f->n_trees) / f->c_psi);
    }
}

void zm_iforest_free(zm_iforest *f)
{
    free(f->nodes);
    free(f->tree_root);
    memset(f, 0, sizeof *f);
}
