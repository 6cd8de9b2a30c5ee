/*
 * similar.h: what the similar stage's two files share (stage_similar.c: queries and
 * search; stage_similar_eval.c: the tag evaluation): the vectors searched, split over
 * the ranks, and the search over them.
 */
#ifndef ZOOMORPH_APP_SIMILAR_H
#define ZOOMORPH_APP_SIMILAR_H

#include <stdint.h>

#include "stage_common.h"

/* Queries: a row id (>= 0), a position (id -1, ra/dec), or an image file (file set;
 * ra/dec the position to cut at, NaN for the image centre). */
typedef struct {
    int n, cap;
    long long *id;
    double *ra, *dec;
    char **file;
} zm_queries;

/* This rank's slice of the searched vectors: rows [r0, r0 + nloc) of N, d columns;
 * non-finite rows pushed far away, unit rows for the cosine metric. */
typedef struct {
    char path[128];
    unsigned long long N, r0;
    int d, cosine;
    long nloc;
    float *x;
    unsigned long long fingerprint;
} zm_space;

/* Collective: [similar] space of the store. */
int zm_space_load(const zm_ctx *ctx, const zm_params *p, zm_store *s, zm_space *sp, zm_err *err);
/* After x is filled by hand: pushes non-finite rows away, normalises for cosine. */
void zm_space_finish(zm_space *sp);
void zm_space_free(zm_space *sp);
/* Local row i can no longer be anyone's neighbour. */
void zm_space_push_far(zm_space *sp, long i);
/* Collective: the k nearest rows of each of nq queries (every rank passes the same
 * queries; qv is normalised in place for cosine); exact, or the stored IVF index. */
int zm_space_search(const zm_ctx *ctx, const zm_params *p, zm_store *s, const zm_space *sp, int use_ivf, float *qv,
                    int nq, int k, long long *ids, float *dist, zm_err *err);
/* Representations (n x D) to the space's coordinates (the stored PCA axes when the
 * space is /pca/coords_<k>). */
int zm_space_project(zm_store *s, const zm_space *sp, const float *emb, int n, int D, float *out, zm_err *err);
/* A PNG contact sheet: the query (first: its stamp when given, else row qid's), then
 * its nnb neighbours, labelled with ids. No-op without /cutouts/images. */
int zm_similar_gallery(zm_store *s, const char *png, const uint8_t *first, long long qid, const long long *nb, int nnb,
                       zm_err *err);

/* --evaluate-tags (stage_similar_eval.c); truth_fits may be NULL. */
int zm_similar_evaluate(const zm_stage_args *a, const char *tags_csv, const char *truth_fits, zm_err *err);

#endif
