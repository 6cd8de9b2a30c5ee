/* taskloss.c: see taskloss.h. Numerically stable forms: softplus(x) = max(x, 0) +
 * log1p(exp(-|x|)), log-sum-exp shifted by the maximum. */
#include "zoomorph/taskloss.h"

#include <math.h>
#include <stdlib.h>

#include "zoomorph/error.h"
#include "zoomorph/gzloss.h"

int zm_task_outputs(const zm_task *t)
{
    return t->kind == ZM_TASK_MULTICLASS ? t->nclass : t->kind == ZM_TASK_TREE ? t->tree->nanswers : 1;
}

int zm_task_label_width(const zm_task *t) { return t->kind == ZM_TASK_TREE ? t->tree->nanswers : 1; }

static double weight_of(const zm_task *t, int k)
{
    return t->weights && k >= 0 && k < t->nclass ? t->weights[k] : 1.0;
}

double zm_task_loss(const zm_task *t, const float *y, const float *label, int n, float *dy)
{
    double total = 0;
    const int K = zm_task_outputs(t);
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * K;
        float *di = dy + (size_t)i * K;
        if (t->kind == ZM_TASK_TREE) {
            /* the pretraining loss itself (src/gz/dirichlet.c), not a second implementation */
            total += zm_gz_dirichlet_loss(t->tree, yi, label + (size_t)i * K, di, NULL);
        } else if (t->kind == ZM_TASK_BINARY) {
            double x = yi[0], z = label[i] > 0.5f ? 1.0 : 0.0, w = weight_of(t, (int)z);
            double sp = fmax(x, 0.0) + log1p(exp(-fabs(x))); /* softplus(x) = -log(1 - sigmoid) */
            total += w * (sp - z * x);
            di[0] = (float)(w * (1.0 / (1.0 + exp(-x)) - z));
        } else if (t->kind == ZM_TASK_MULTICLASS) {
            int c = (int)lroundf(label[i]);
            double w = weight_of(t, c), m = yi[0], s = 0;
            for (int k = 1; k < K; k++) m = fmax(m, yi[k]);
            for (int k = 0; k < K; k++) s += exp(yi[k] - m);
            double lse = m + log(s);
            total += w * (lse - yi[c]);
            for (int k = 0; k < K; k++) di[k] = (float)(w * (exp(yi[k] - lse) - (k == c)));
        } else {
            double r = (double)yi[0] - label[i];
            total += r * r;
            di[0] = (float)(2 * r);
        }
    }
    return total;
}

void zm_task_predict(const zm_task *t, const float *y, int n, float *out)
{
    const int K = zm_task_outputs(t);
    float *a = t->kind == ZM_TASK_TREE ? zm_malloc((size_t)K * sizeof *a) : NULL;
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * K;
        if (t->kind == ZM_TASK_TREE) {
            zm_gz_concentration(yi, K, a);
            zm_gz_vote_fraction(t->tree, a, out + (size_t)i * K);
        } else if (t->kind == ZM_TASK_BINARY) {
            out[i] = (float)(1.0 / (1.0 + exp(-(double)yi[0])));
        } else if (t->kind == ZM_TASK_MULTICLASS) {
            double m = yi[0], s = 0;
            for (int k = 1; k < K; k++) m = fmax(m, yi[k]);
            for (int k = 0; k < K; k++) s += exp(yi[k] - m);
            for (int k = 0; k < K; k++) out[(size_t)i * K + k] = (float)(exp(yi[k] - m) / s);
        } else {
            out[i] = yi[0];
        }
    }
    free(a);
}

int zm_task_class(const zm_task *t, const float *pred)
{
    if (t->kind == ZM_TASK_BINARY) return pred[0] >= 0.5f;
    if (t->kind == ZM_TASK_MULTICLASS) {
        int best = 0;
        for (int k = 1; k < t->nclass; k++)
            if (pred[k] > pred[best]) best = k;
        return best;
    }
    return 0;
}

double zm_task_tree_mae(const zm_task *t, const float *pred, const float *counts, long n, int q, long *npairs)
{
    const zm_gz_schema *s = t->tree;
    const int A = s->nanswers;
    double sum = 0;
    long pairs = 0;
    for (long i = 0; i < n; i++)
        for (int j = q >= 0 ? q : 0; j < (q >= 0 ? q + 1 : s->nquestions); j++) {
            const zm_gz_question *Q = &s->q[j];
            const float *k = counts + (size_t)i * A + Q->first, *p = pred + (size_t)i * A + Q->first;
            double N = 0, e = 0;
            for (int a = 0; a < Q->nanswers; a++) N += k[a];
            if (!(N > 0)) continue;
            for (int a = 0; a < Q->nanswers; a++) e += fabs((double)p[a] - k[a] / N);
            sum += e / Q->nanswers;
            pairs++;
        }
    if (npairs) *npairs = pairs;
    return pairs ? sum / (double)pairs : NAN;
}

void zm_task_balance_weights(const long *counts, int nclass, float *weights)
{
    long n = 0;
    int present = 0;
    for (int k = 0; k < nclass; k++) n += counts[k], present += counts[k] > 0;
    for (int k = 0; k < nclass; k++)
        weights[k] = counts[k] > 0 ? (float)((double)n / ((double)present * (double)counts[k])) : 0.0f;
}

typedef struct {
    float s;
    unsigned char y;
} scored;

static int by_score(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

double zm_roc_auc(const float *score, const unsigned char *label, long n)
{
    scored *v = zm_malloc((size_t)(n ? n : 1) * sizeof *v);
    long npos = 0;
    for (long i = 0; i < n; i++) v[i].s = score[i], v[i].y = label[i] != 0, npos += v[i].y;
    long nneg = n - npos;
    if (npos == 0 || nneg == 0) {
        free(v);
        return NAN;
    }
    qsort(v, (size_t)n, sizeof *v, by_score);
    /* sum of the (average, 1-based) ranks of the positives */
    double rsum = 0;
    for (long i = 0; i < n;) {
        long j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double r = 0.5 * (double)(i + 1 + j);
        for (long k = i; k < j; k++)
            if (v[k].y) rsum += r;
        i = j;
    }
    free(v);
    return (rsum - 0.5 * (double)npos * (double)(npos + 1)) / ((double)npos * (double)nneg);
}
