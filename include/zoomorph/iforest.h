/*
 * iforest.h: isolation forest (Liu, Ting and Zhou 2008): trees grown on random
 * subsamples (256 by default) by random axis-parallel splits up to depth ceil(log2 psi);
 * the anomaly score of x is 2^(-E[h(x)] / c(psi)), h the path length plus c(leaf size),
 * c(n) = 2 H(n-1) - 2 (n-1) / n. Higher is more anomalous (scikit-learn's
 * -decision_function ordering).
 * Shapes: x is n x d row-major floats.
 */
#ifndef ZOOMORPH_IFOREST_H
#define ZOOMORPH_IFOREST_H

#include <stdint.h>

#include "zoomorph/context.h"
#include "zoomorph/error.h"

typedef struct {
    int feature;   /* -1 for a leaf */
    float split;
    int left, right;
    int size;      /* points that reached the node while growing */
} zm_itree_node;

typedef struct {
    int n_trees, psi, max_depth, d;
    zm_itree_node *nodes;
    int *tree_root;   /* n_trees */
    int n_nodes;
    double c_psi;
} zm_iforest;

/* c(n), the average path length of an unsuccessful BST search. */
double zm_iforest_c(double n);
/* Grows the forest on the m sample rows given (m >= 2). Serial. */
int zm_iforest_fit(zm_iforest *f, const float *x, long m, int d, int n_trees, int psi, uint64_t seed,
                   zm_err *err);
/* Collective: each tree's subsample is drawn from all N rows over the ranks (indices from
 * a stream keyed by the seed, the same on every rank); the rows are gathered and every
 * rank grows the same forest. */
int zm_iforest_fit_mpi(const zm_ctx *ctx, zm_iforest *f, const float *x, long nloc, int d, int n_trees,
                       int psi, uint64_t seed, zm_err *err);
void zm_iforest_score(const zm_iforest *f, const float *x, long n, float *score);
void zm_iforest_free(zm_iforest *f);

#endif
