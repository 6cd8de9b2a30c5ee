/*
 * knn.h: exact k-nearest-neighbour search by blocked sgemm (squared Euclidean distance
 * |q|^2 + |b|^2 - 2 q.b; for cosine, normalise the vectors first), and the merge of
 * per-rank top-k lists into the global top-k.
 * Shapes: base n x d, queries nq x d (row-major floats); results nq x k, ascending
 * distance, ties by lower id; missing entries (k > n) have id -1 and distance +inf.
 */
#ifndef ZOOMORPH_KNN_H
#define ZOOMORPH_KNN_H

#include "zoomorph/context.h"

/* ids are base_id0 + row. */
void zm_knn_exact(const float *base, long n, int d, long long base_id0, const float *queries, int nq, int k,
                  long long *ids, float *dist);
/* Collective: every rank passes its local top-k (nq x k); all get the global top-k. */
void zm_knn_merge(const zm_ctx *ctx, int nq, int k, long long *ids, float *dist);
/* Scales each row to unit length (rows of zeros stay zero). */
void zm_normalise_rows(float *x, long n, int d);

#endif
