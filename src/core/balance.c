/* balance.c: see balance.h. O(n log n + n log P) with a binary heap of rank loads. */
#include "zoomorph/balance.h"

#include <stdlib.h>

#include "zoomorph/error.h"

typedef struct {
    long long w;
    int i;
} item;

static int by_weight_desc(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->i - y->i;
}

typedef struct {
    long long load;
    int rank;
} slot;

static int less(const slot *a, const slot *b)
{
    return a->load < b->load || (a->load == b->load && a->rank < b->rank);
}

static void sift_down(slot *h, int n, int k)
{
    for (;;) {
        int l = 2 * k + 1, r = l + 1, m = k;
        if (l < n && less(&h[l], &h[m])) m = l;
        if (r < n && less(&h[r], &h[m])) m = r;
        if (m == k) return;
        slot t = h[k];
        h[k] = h[m];
        h[m] = t;
        k = m;
    }
}

void zm_assign_lpt(const long long *weights, int n, int nranks, int *owner)
{
    if (nranks < 1) ZM_ABORT("nranks %d < 1", nranks);
    item *it = zm_malloc((size_t)(n ? n : 1) * sizeof *it);
    for (int i = 0; i < n; i++) it[i] = (item){weights[i], i};
    qsort(it, (size_t)n, sizeof *it, by_weight_desc);
    slot *h = zm_malloc((size_t)nranks * sizeof *h);
    for (int r = 0; r < nranks; r++) h[r] = (slot){0, r};
    for (int k = 0; k < n; k++) {
        owner[it[k].i] = h[0].rank;
        h[0].load += it[k].w > 0 ? it[k].w : 1;  /* empty items still cost an open */
        sift_down(h, nranks, 0);
    }
    free(h);
    free(it);
}
