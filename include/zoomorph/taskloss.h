/*
 * taskloss.h: losses and metrics of a fine-tuning task (a new label the pretrained
 * encoder was not trained on): binary classification (one logit, binary cross-entropy),
 * multi-class classification (K logits, softmax cross-entropy), regression (one output,
 * squared error), or a Galaxy Zoo-style decision tree (one output per answer, the
 * Dirichlet-multinomial loss of the vote counts summed over questions: zm_gz_dirichlet_loss,
 * the function pretraining uses; an unanswered question costs nothing). Class weights (class balancing) multiply each sample's loss, as
 * PyTorch's BCEWithLogitsLoss / CrossEntropyLoss with per-sample weights and
 * reduction='sum' (checked against them in tests/unit/test_taskloss.c).
 *
 *   zm_task t = {ZM_TASK_BINARY, 2, weights};      // weights[k] for class k, or NULL
 *   double sum = zm_task_loss(&t, y, labels, n, dy); // y, dy: n x zm_task_outputs(&t)
 *   zm_task_predict(&t, y, n, p);                     // probabilities / values
 *   double auc = zm_roc_auc(score, label, n);
 *
 * Labels are floats: class index 0..K-1 for classification, the value for regression;
 * for a tree, nanswers vote counts per sample (schema order, `<question>_<answer>`).
 */
#ifndef ZOOMORPH_TASKLOSS_H
#define ZOOMORPH_TASKLOSS_H

#include "zoomorph/gzschema.h"

typedef enum { ZM_TASK_BINARY = 0, ZM_TASK_MULTICLASS = 1, ZM_TASK_REGRESSION = 2, ZM_TASK_TREE = 3 } zm_task_kind;

typedef struct {
    zm_task_kind kind;
    int nclass;            /* 2 for binary, K for multi-class, 0 for regression and trees */
    const float *weights;  /* per-class loss weight (nclass), or NULL: all 1 */
    const zm_gz_schema *tree; /* ZM_TASK_TREE: the decision tree (not owned) */
} zm_task;

/* Network outputs the task needs: 1 (binary, regression), nclass, or the tree's nanswers. */
int zm_task_outputs(const zm_task *t);
/* Values per label: the tree's nanswers vote counts, else 1. */
int zm_task_label_width(const zm_task *t);
/* Summed loss of n samples; dy (n x outputs) = d(summed loss)/dy. y: logits / values.
 * label: n x zm_task_label_width(t). */
double zm_task_loss(const zm_task *t, const float *y, const float *label, int n, float *dy);
/* Per sample: binary 1 value P(class 1); multi-class nclass probabilities (softmax);
 * regression the value; tree the expected vote fractions a_i / A_q (nanswers).
 * out: n x (binary/regression 1, multi-class nclass, tree nanswers). */
void zm_task_predict(const zm_task *t, const float *y, int n, float *out);
/* Predicted class of one sample from zm_task_predict's output (binary: p >= 0.5;
 * regression and trees: 0). */
int zm_task_class(const zm_task *t, const float *pred);
/* Balancing weights n / (K n_k) of classes with counts[k] > 0 (0 for absent classes). */
void zm_task_balance_weights(const long *counts, int nclass, float *weights);

/* Mean absolute error of predicted vote fractions (zm_task_predict of a tree) against
 * the observed fractions k_i / N_q, over the answers of every (sample, question) with
 * votes (N_q > 0); question q only when q >= 0, else every question. *npairs (may be
 * NULL) receives the number of (sample, question) pairs; NaN when there are none. */
double zm_task_tree_mae(const zm_task *t, const float *pred, const float *counts, long n, int q, long *npairs);

/* Area under the ROC curve of scores for binary labels (0/1): the Mann-Whitney
 * statistic, ties counted half (sklearn's roc_auc_score). NaN when one class is absent. */
double zm_roc_auc(const float *score, const unsigned char *label, long n);

#endif
