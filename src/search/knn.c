/* knn.c: see knn.h. A max-heap of k per query over blocks of the base. */
#include "zoomorph/knn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/error.h"

#define BLOCK 2048

/* max-heap on (dist, id): the root is the worst kept candidate */
static int worse(float da, long long ia, float db, long long ib) { return da > db || (da == db && ia > ib); }

static void heap_push(float *hd, long long *hi, int k, int *size, float d, long long id)
{
    if (*size < k) {
        int i = (*size)++;
        hd[i] = d, hi[i] = id;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!worse(hd[i], hi[i], hd[p], hi[p])) break;
            float td = hd[i];
            long long ti = hi[i];
            hd[i] = hd[p], hi[i] = hi[p], hd[p] = td, hi[p] = ti;
            i = p;
        }
        return;
    }
    if (!worse(hd[0], hi[0], d, id)) return;
    hd[0] = d, hi[0] = id;
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && worse(hd[l], hi[l], hd[m], hi[m])) m = l;
        if (r < k && worse(hd[r], hi[r], hd[m], hi[m])) m = r;
        if (m == i) break;
        float td = hd[i];
        long long ti = hi[i];
        hd[i] = hd[m], hi[i] = hi[m], hd[m] = td, hi[m] = ti;
        i = m;
    }
}

typedef struct {
    float d;
    long long id;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void sort_out(float *hd, long long *hi, int size, int k, float *dist, long long *ids)
{
    cand *c = zm_malloc((size_t)(k ? k : 1) * sizeof *c);
    for (int i = 0; i < size; i++) c[i] = (cand){hd[i], hi[i]};
    qsort(c, (size_t)size, sizeof *c, cmp_cand);
    for (int i = 0; i < k; i++) {
        dist[i] = i < size ? c[i].d : INFINITY;
        ids[i] = i < size ? c[i].id : -1;
    }
    free(c);
}

void zm_knn_exact(const float *base, long n, int d, long long base_id0, const float *q, int nq, int k,
                  long long *ids, float *dist)
{
    /* the distance block is no wider than the base: a small base (the IVF centroids) does
     * not allocate, and fault in, nq x BLOCK floats on every call */
    const size_t bw = n < BLOCK ? (size_t)(n > 0 ? n : 1) : BLOCK;
    float *g = zm_malloc((size_t)(nq ? nq : 1) * bw * sizeof *g), *bn = zm_malloc(bw * sizeof *bn);
    float *qn = zm_malloc((size_t)(nq ? nq : 1) * sizeof *qn);
    float *hd = zm_malloc((size_t)nq * (k ? k : 1) * sizeof *hd);
    long long *hi = zm_malloc((size_t)nq * (k ? k : 1) * sizeof *hi);
    int *hs = zm_calloc((size_t)(nq ? nq : 1), sizeof *hs);
    for (int i = 0; i < nq; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)q[(size_t)i * d + j] * q[(size_t)i * d + j];
        qn[i] = (float)s;
    }
    for (long b0 = 0; b0 < n; b0 += BLOCK) {
        int m = (int)(n - b0 < BLOCK ? n - b0 : BLOCK);
        const float *B = base + (size_t)b0 * d;
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int t = 0; t < d; t++) s += (double)B[(size_t)j * d + t] * B[(size_t)j * d + t];
            bn[j] = (float)s;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, m, d, -2.0f, q, d, B, d, 0.0f, g, m);
        for (int i = 0; i < nq; i++) {
            float *row = g + (size_t)i * m, *h = hd + (size_t)i * k;
            long long *hid = hi + (size_t)i * k;
            float bound = hs[i] == k ? h[0] : INFINITY;
            for (int j = 0; j < m; j++) {
                float dd = row[j] + qn[i] + bn[j];
                if (dd < 0) dd = 0;
                if (dd > bound) continue;
                heap_push(h, hid, k, &hs[i], dd, base_id0 + b0 + j);
                if (hs[i] == k) bound = h[0];
            }
        }
    }
    for (int i = 0; i < nq; i++) sort_out(hd + (size_t)i * k, hi + (size_t)i * k, hs[i], k, dist + (size_t)i * k, ids + (size_t)i * k);
    free(g), free(bn), free(qn), free(hd), free(hi), free(hs);
}

void zm_knn_merge(const zm_ctx *ctx, int nq, int k, long long *ids, float *dist)
{
    if (ctx->size == 1) return;
    size_t per = (size_t)nq * k;
    float *ad = zm_malloc(per * ctx->size * sizeof *ad);
    long long *ai = zm_malloc(per * ctx->size * sizeof *ai);
    ZM_CHECK_MPI(MPI_Allgather(dist, (int)per, MPI_FLOAT, ad, (int)per, MPI_FLOAT, ctx->comm));
    ZM_CHECK_MPI(MPI_Allgather(ids, (int)per, MPI_LONG_LONG, ai, (int)per, MPI_LONG_LONG, ctx->comm));
    cand *c = zm_malloc((size_t)k * ctx->size * sizeof *c);
    for (int i = 0; i < nq; i++) {
        int m = 0;
        for (int r = 0; r < ctx->size; r++)
            for (int j = 0; j < k; j++) {
                size_t o = per * r + (size_t)i * k + j;
                if (ai[o] >= 0) c[m++] = (cand){ad[o], ai[o]};
            }
        qsort(c, (size_t)m, sizeof *c, cmp_cand);
        for (int j = 0; j < k; j++) {
            dist[(size_t)i * k + j] = j < m ? c[j].d : INFINITY;
            ids[(size_t)i * k + j] = j < m ? c[j].id : -1;
        }
    }
    free(ad), free(ai), free(c);
}

void zm_normalise_rows(float *x, long n, int d)
{
    for (long i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)x[(size_t)i * d + j] * x[(size_t)i * d + j];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (int j = 0; j < d; j++) x[(size_t)i * d + j] *= inv;
        }
    }
}
