/*
 * active.h: one researcher's labels turned into a ranking (the paper's active learning
 * and Astronomaly's neighbour score). Pure numerics on vectors: no files, no MPI.
 *
 *  - zm_standardise: columns to zero mean and unit variance (the GP's input).
 *  - zm_expected_improvement: EI for maximisation with a trade-off xi (the paper: 0.5).
 *  - zm_neighbour_score: Astronomaly's re-weighting of an anomaly score s (on 0..5) by a
 *    predicted user score u: f_u = 0.1 + 0.85 u / 5 (u clipped to [0.1, 5]),
 *    d0 = distance to the nearest labelled row / mean of those distances over all rows,
 *    s' = s tanh(exp(alpha d0) - 1 + arctanh(f_u)). Far from every label s' -> s; on a
 *    label s' = s f_u.
 *  - zm_active: the state of one labelling: labels so far (NaN: none), a GP fitted to
 *    them (gp.h) whose mean is the predicted user score, and the proposals of the next
 *    batch: "gp" by expected improvement (the first batch at random), "neighbour" the
 *    top of the neighbour-score ranking (Astronomaly's loop: the researcher looks at the
 *    most anomalous unlabelled galaxies; the first batch is the top of s).
 *  - The final ranking key: a labelled row's label, otherwise the method's prediction
 *    (GP mean, or s'), ties to labelled rows: what the researcher would look at first.
 * Shapes: z is n x d row-major doubles; s, u, label and outputs have n entries.
 */
#ifndef ZOOMORPH_ACTIVE_H
#define ZOOMORPH_ACTIVE_H

#include <stdint.h>

#include "zoomorph/error.h"
#include "zoomorph/gp.h"

#define ZM_SCORE_MAX 5.0

enum { ZM_ACTIVE_GP = 0, ZM_ACTIVE_NEIGHBOUR = 1 };

/* z[i][j] = (x[i][j] - mean_j) / std_j (population std; a constant column is centred only). */
void zm_standardise(const float *x, long n, int d, double *z);
/* Linear map of s onto [lo, hi] (Astronomaly's ScoreConverter); all equal: lo. */
void zm_minmax_scale(const double *s, long n, double lo, double hi, double *out);
/* ei[i] = imp Phi(imp / sd) + sd phi(imp / sd), imp = mean - best - xi; 0 where sd <= 0. */
void zm_expected_improvement(const double *mean, const double *sd, long n, double best, double xi, double *ei);
/* dist[i]: Euclidean distance of row i of z to the nearest of the nl rows listed in lab
 * (nl >= 1). Brute force, O(n nl d). */
void zm_nearest_labelled(const double *z, long n, int d, const long *lab, long nl, double *dist);
/* out[i] = s[i] tanh(exp(alpha dist[i] / mean(dist)) - 1 + arctanh(f_u[i])) as above. */
void zm_neighbour_score(const double *s, const double *u, const double *dist, long n, double alpha, double *out);

typedef struct {
    long n;
    int d;
    const double *z;      /* n x d standardised coordinates */
    const double *s;      /* n anomaly scores on 0..5 (isolation forest, min-max scaled) */
    const float *label;   /* n researcher's scores 0..5, NaN where unlabelled */
    zm_gp_kernel k;       /* GP hyperparameters (start values; updated by optimising fits) */
    int restarts;         /* extra starts of the hyperparameter search */
    double alpha;         /* neighbour score's trust in the predicted user score (1) */
    /* outputs of zm_active_update (allocated by zm_active_init): */
    double *mean, *sd;    /* GP prediction (0 and NaN before any label) */
    double *ns;           /* neighbour score (s before any label) */
    long nl;              /* labelled rows */
    long *lab;            /* their indices (ascending) */
    double jitter;        /* jitter the last GP fit needed (0: none) */
} zm_active;

void zm_active_init(zm_active *a, long n, int d, const double *z, const double *s, const float *label);
void zm_active_free(zm_active *a);
/* Fits the GP to the labels (optimising the hyperparameters from a->k when optimise is
 * set) and predicts mean, sd and the neighbour score of every row. */
int zm_active_update(zm_active *a, int optimise, zm_err *err);
/* Up to batch unlabelled rows to label next (method ZM_ACTIVE_GP or _NEIGHBOUR), into out;
 * returns how many. With no labels, GP draws at random from the stream (seed, stream). */
long zm_active_propose(const zm_active *a, int method, long batch, double xi, uint64_t seed, uint64_t stream, long *out);
/* key[i]: the label where there is one, otherwise the GP mean (ZM_ACTIVE_GP) or the
 * neighbour score; order: zm_rank_desc. */
void zm_active_key(const zm_active *a, int method, double *key);
/* order[0..n): row indices by key descending; ties: labelled first (when label is not
 * NULL), then lower index. NaN keys last. */
void zm_rank_desc(const double *key, const float *label, long n, long *order);

#endif
