/* ivf.c: see ivf.h. */
#include "zoomorph/ivf.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/knn.h"
#include "zoomorph/log.h"
#include "zoomorph/rng.h"

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Squared distance with 8 independent float sums (vectorised; the k-means++ seeding's
 * d x samples x nlist work was a scalar double loop that dominated the build at d = 1280). */
static float sqdist(const float *a, const float *b, int d)
{
    float acc[8] = {0};
    int j = 0;
    for (; j + 8 <= d; j += 8)
        for (int t = 0; t < 8; t++) {
            float v = a[j + t] - b[j + t];
            acc[t] += v * v;
        }
    float s = 0;
    for (; j < d; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
    for (int t = 0; t < 8; t++) s += acc[t];
    return s;
}

/* Nearest centroid of each row (squared distance by sgemm). */
static void assign(const float *x, long n, int d, const float *c, int k, int *lab, float *dmin)
{
    long long *id = zm_malloc((size_t)(n ? n : 1) * sizeof *id);
    float *dd = zm_malloc((size_t)(n ? n : 1) * sizeof *dd);
    for (long i0 = 0; i0 < n; i0 += 4096) {
        int m = (int)(n - i0 < 4096 ? n - i0 : 4096);
        zm_knn_exact(c, k, d, 0, x + (size_t)i0 * d, m, 1, id + i0, dd + i0);
    }
    for (long i = 0; i < n; i++) {
        lab[i] = (int)id[i];
        if (dmin) dmin[i] = dd[i];
    }
    free(id), free(dd);
}

/* Groups this rank's rows by list. */
static void fill_lists(zm_ivf *ix, const float *x, long nloc, long long id0, const int *lab)
{
    const int d = ix->d, nlist = ix->nlist;
    ix->off = zm_calloc((size_t)nlist + 1, sizeof *ix->off);
    for (long i = 0; i < nloc; i++) ix->off[lab[i] + 1]++;
    for (int c = 0; c < nlist; c++) ix->off[c + 1] += ix->off[c];
    ix->vec = zm_malloc((size_t)(nloc ? nloc : 1) * d * sizeof *ix->vec);
    ix->ids = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *ix->ids);
    ix->norms = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *ix->norms);
    long *pos = zm_malloc((size_t)nlist * sizeof *pos);
    memcpy(pos, ix->off, (size_t)nlist * sizeof *pos);
    for (long i = 0; i < nloc; i++) {
        long p = pos[lab[i]]++;
        memcpy(ix->vec + (size_t)p * d, x + (size_t)i * d, (size_t)d * sizeof(float));
        ix->ids[p] = id0 + i;
    }
    /* squared norms as knn.c computes them (double sums rounded to float), so that a
     * list scan gives exact search's distances bit for bit */
    for (long i = 0; i < nloc; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)ix->vec[(size_t)i * d + j] * ix->vec[(size_t)i * d + j];
        ix->norms[i] = (float)s;
    }
    free(pos);
}

int zm_ivf_build(const zm_ctx *ctx, zm_ivf *ix, const float *x, long nloc, int d, long long id0, int nlist, int iters,
                 uint64_t seed, zm_err *err)
{
    memset(ix, 0, sizeof *ix);
    long long N = zm_allreduce_sum_ll(ctx, nloc), first = zm_exscan_ll(ctx, nloc);
    if (N < nlist) return zm_err_set(err, ZM_EVALUE, "index: %lld vectors for %d lists; use fewer lists ([index] nlist)", N, nlist);
    ix->d = d;
    ix->nlist = nlist;
    /* a training sample (at most 64 per list) gathered on every rank, drawn by seed */
    long long ns = (long long)nlist * 64 < N ? (long long)nlist * 64 : N;
    long long *pick = zm_malloc((size_t)ns * sizeof *pick);
    zm_rng r;
    zm_rng_seed(&r, seed, 0x1f);
    for (long long i = 0; i < ns; i++) pick[i] = (long long)((double)i * N / ns + zm_rng_uniform(&r) * ((double)N / ns));
    for (long long i = 0; i < ns; i++) pick[i] = pick[i] >= N ? N - 1 : pick[i];
    qsort(pick, (size_t)ns, sizeof *pick, cmp_ll);
    int cnt = 0;
    for (long long i = 0; i < ns; i++) cnt += pick[i] >= first && pick[i] < first + nloc;
    float *mine = zm_malloc((size_t)(cnt ? cnt : 1) * d * sizeof *mine);
    int k = 0;
    for (long long i = 0; i < ns; i++)
        if (pick[i] >= first && pick[i] < first + nloc) memcpy(mine + (size_t)k++ * d, x + (size_t)(pick[i] - first) * d, (size_t)d * sizeof *mine);
    int *counts = zm_malloc((size_t)ctx->size * sizeof *counts), *displ = zm_malloc((size_t)ctx->size * sizeof *displ);
    int sn = cnt * d, tot = 0;
    ZM_CHECK_MPI(MPI_Allgather(&sn, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm));
    for (int p = 0; p < ctx->size; p++) displ[p] = tot, tot += counts[p];
    float *sample = zm_malloc((size_t)(tot ? tot : 1) * sizeof *sample);
    ZM_CHECK_MPI(MPI_Allgatherv(mine, sn, MPI_FLOAT, sample, counts, displ, MPI_FLOAT, ctx->comm));
    long nsm = tot / d;
    /* k-means++ seeding on the sample (identical on every rank) */
    ix->centroids = zm_malloc((size_t)nlist * d * sizeof *ix->centroids);
    float *dm = zm_malloc((size_t)nsm * sizeof *dm);
    long c0 = (long)zm_rng_below(&r, (uint64_t)nsm);
    memcpy(ix->centroids, sample + (size_t)c0 * d, (size_t)d * sizeof(float));
    for (long i = 0; i < nsm; i++) dm[i] = sqdist(sample + (size_t)i * d, ix->centroids, d);
    for (int c = 1; c < nlist; c++) {
        double total = 0;
        for (long i = 0; i < nsm; i++) total += dm[i];
        double u = zm_rng_uniform(&r) * total, acc = 0;
        long pickc = nsm - 1;
        for (long i = 0; i < nsm; i++) {
            acc += dm[i];
            if (acc >= u) {
                pickc = i;
                break;
            }
        }
        float *cc = ix->centroids + (size_t)c * d;
        memcpy(cc, sample + (size_t)pickc * d, (size_t)d * sizeof(float));
        for (long i = 0; i < nsm; i++) {
            float s = sqdist(sample + (size_t)i * d, cc, d);
            if (s < dm[i]) dm[i] = s;
        }
    }
    free(dm), free(sample), free(mine), free(pick), free(counts), free(displ);
    /* Lloyd iterations over all rows of all ranks */
    int *lab = zm_malloc((size_t)(nloc ? nloc : 1) * sizeof *lab);
    double *sum = zm_malloc(((size_t)nlist * d + nlist) * sizeof *sum);
    for (int it = 0; it < iters; it++) {
        assign(x, nloc, d, ix->centroids, nlist, lab, NULL);
        memset(sum, 0, ((size_t)nlist * d + nlist) * sizeof *sum);
        for (long i = 0; i < nloc; i++) {
            double *s = sum + (size_t)lab[i] * d;
            for (int j = 0; j < d; j++) s[j] += x[(size_t)i * d + j];
            sum[(size_t)nlist * d + lab[i]] += 1;
        }
        ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, sum, nlist * d + nlist, MPI_DOUBLE, MPI_SUM, ctx->comm));
        for (int c = 0; c < nlist; c++) {
            double n = sum[(size_t)nlist * d + c];
            if (n > 0)
                for (int j = 0; j < d; j++) ix->centroids[(size_t)c * d + j] = (float)(sum[(size_t)c * d + j] / n);
            /* an empty list keeps its centroid */
        }
    }
    free(sum);
    /* the lists */
    assign(x, nloc, d, ix->centroids, nlist, lab, NULL);
    fill_lists(ix, x, nloc, id0, lab);
    free(lab);
    return 0;
}

void zm_ivf_from_lists(zm_ivf *ix, const float *centroids, int nlist, int d, const float *x, long nloc, long long id0,
                       const int *lists)
{
    memset(ix, 0, sizeof *ix);
    ix->d = d;
    ix->nlist = nlist;
    ix->centroids = zm_malloc((size_t)nlist * d * sizeof *ix->centroids);
    memcpy(ix->centroids, centroids, (size_t)nlist * d * sizeof *ix->centroids);
    fill_lists(ix, x, nloc, id0, lists);
}

/* Inserts (dd, gid) into a top-k list sorted by distance, then id. */
static void topk_insert(float *od, long long *oi, int k, float dd, long long gid)
{
    if (!(dd < od[k - 1] || (dd == od[k - 1] && gid < oi[k - 1]))) return;
    int t = k - 1;
    while (t > 0 && (od[t - 1] > dd || (od[t - 1] == dd && oi[t - 1] > gid))) {
        od[t] = od[t - 1], oi[t] = oi[t - 1];
        t--;
    }
    od[t] = dd, oi[t] = gid;
}

#define SCAN_BLOCK 1024

void zm_ivf_search(const zm_ctx *ctx, const zm_ivf *ix, const float *q, int nq, int k, int nprobe, long long *ids,
                   float *dist)
{
    if (nprobe > ix->nlist) nprobe = ix->nlist;
    const int d = ix->d, nlist = ix->nlist;
    long long *pl = zm_malloc((size_t)(nq ? nq : 1) * nprobe * sizeof *pl);
    float *pd = zm_malloc((size_t)(nq ? nq : 1) * nprobe * sizeof *pd);
    zm_knn_exact(ix->centroids, nlist, d, 0, q, nq, nprobe, pl, pd);
    for (size_t j = 0; j < (size_t)nq * k; j++) ids[j] = -1, dist[j] = INFINITY;
    /* the queries probing each list, so that a list is scanned once for all of them: one
     * sgemm (queries x rows of the list) per block of rows */
    long *start = zm_calloc((size_t)nlist + 1, sizeof *start);
    for (size_t j = 0; j < (size_t)nq * nprobe; j++) start[pl[j] + 1]++;
    for (int l = 0; l < nlist; l++) start[l + 1] += start[l];
    int *who = zm_malloc((size_t)(nq ? nq : 1) * nprobe * sizeof *who), maxq = 0;
    long *pos = zm_malloc((size_t)nlist * sizeof *pos);
    memcpy(pos, start, (size_t)nlist * sizeof *pos);
    for (int i = 0; i < nq; i++)
        for (int p = 0; p < nprobe; p++) who[pos[pl[(size_t)i * nprobe + p]]++] = i;
    for (int l = 0; l < nlist; l++)
        if (start[l + 1] - start[l] > maxq) maxq = (int)(start[l + 1] - start[l]);
    float *qn = zm_malloc((size_t)(nq ? nq : 1) * sizeof *qn);
    for (int i = 0; i < nq; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)q[(size_t)i * d + j] * q[(size_t)i * d + j];
        qn[i] = (float)s;
    }
    float *qs = zm_malloc((size_t)(maxq ? maxq : 1) * d * sizeof *qs);
    float *g = zm_malloc((size_t)(maxq ? maxq : 1) * SCAN_BLOCK * sizeof *g);
    for (int l = 0; l < nlist; l++) {
        int m = (int)(start[l + 1] - start[l]);
        long n = ix->off[l + 1] - ix->off[l];
        if (m == 0 || n == 0) continue;
        const int *wq = who + start[l];
        for (int a = 0; a < m; a++) memcpy(qs + (size_t)a * d, q + (size_t)wq[a] * d, (size_t)d * sizeof *qs);
        for (long b0 = 0; b0 < n; b0 += SCAN_BLOCK) {
            int nb = (int)(n - b0 < SCAN_BLOCK ? n - b0 : SCAN_BLOCK);
            const long r0 = ix->off[l] + b0;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nb, d, -2.0f, qs, d, ix->vec + (size_t)r0 * d, d,
                        0.0f, g, nb);
            for (int a = 0; a < m; a++) {
                const int i = wq[a];
                float *od = dist + (size_t)i * k;
                long long *oi = ids + (size_t)i * k;
                const float *row = g + (size_t)a * nb;
                for (int j = 0; j < nb; j++) {
                    float dd = row[j] + qn[i] + ix->norms[r0 + j];
                    if (dd < 0) dd = 0;
                    if (dd <= od[k - 1]) topk_insert(od, oi, k, dd, ix->ids[r0 + j]);
                }
            }
        }
    }
    free(pl), free(pd), free(start), free(who), free(pos), free(qn), free(qs), free(g);
    zm_knn_merge(ctx, nq, k, ids, dist);
}

void zm_ivf_free(zm_ivf *ix)
{
    free(ix->centroids), free(ix->off), free(ix->vec), free(ix->ids), free(ix->norms);
    memset(ix, 0, sizeof *ix);
}
