/* test_taskloss.c: the fine-tuning losses (binary cross-entropy with logits, softmax
 * cross-entropy, squared error; class weights) and their gradients against PyTorch
 * autograd, ROC AUC against scikit-learn (tests/reference/task_loss.py); class balancing
 * weights and predictions on known values. A decision-tree task (ZM_TASK_TREE, `zoomorph
 * finetune` kind = tree) against the Dirichlet reference of pretraining
 * (tests/reference/gz_loss.py, PyTorch lgamma autograd) on a 2-question tree; its loss is
 * zm_gz_dirichlet_loss itself (bit for bit), its predictions the expected vote fractions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/gzloss.h"
#include "zoomorph/taskloss.h"

enum { N = 200 };

static double *rd(const char *prefix, const char *task, const char *what, size_t n)
{
    char p[4400];
    snprintf(p, sizeof p, "%s.%s.%s", prefix, task, what);
    return zt_read_f64(p, n);
}

static void check_task(const char *prefix, const char *name, zm_task_kind kind, int K)
{
    const int nout = kind == ZM_TASK_MULTICLASS ? K : 1;
    double *y = rd(prefix, name, "y", (size_t)N * nout), *lab = rd(prefix, name, "label", N);
    double *w = rd(prefix, name, "w", kind == ZM_TASK_REGRESSION ? 1 : (size_t)K);
    double *loss = rd(prefix, name, "loss", 1), *grad = rd(prefix, name, "grad", (size_t)N * nout);
    float *yf = malloc(sizeof(float) * N * nout), *lf = malloc(sizeof(float) * N), *dy = malloc(sizeof(float) * N * nout);
    float wf[8];
    for (int i = 0; i < N * nout; i++) yf[i] = (float)y[i];
    for (int i = 0; i < N; i++) lf[i] = (float)lab[i];
    for (int k = 0; k < K && kind != ZM_TASK_REGRESSION; k++) wf[k] = (float)w[k];
    zm_task t = {kind, kind == ZM_TASK_REGRESSION ? 0 : K, kind == ZM_TASK_REGRESSION ? NULL : wf, NULL};
    ck_assert_int_eq(zm_task_outputs(&t), nout);
    double l = zm_task_loss(&t, yf, lf, N, dy);
    double dl = fabs(l - loss[0]) / fmax(fabs(loss[0]), 1.0), dg = 0;
    for (int i = 0; i < N * nout; i++) dg = fmax(dg, fabs(dy[i] - grad[i]) / fmax(fabs(grad[i]), 1e-2));
    fprintf(stderr, "%s loss vs PyTorch: relative difference %.2e (loss %.6g), worst gradient %.2e, %d samples\n", name,
            dl, loss[0], dg, N);
    ck_assert(dl < 1e-6);
    ck_assert(dg < 1e-5);
    free(y), free(lab), free(w), free(loss), free(grad), free(yf), free(lf), free(dy);
}

START_TEST(against_pytorch)
{
    const char *dir = zt_tmpdir("taskloss");
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s/ref", dir);
    ck_assert_int_eq(zt_run("%s %s/tests/reference/task_loss.py %s %d 11", zt_env("ZM_PYTHON", "/usr/bin/python3"),
                            zt_env("ZM_SOURCE_DIR", "."), prefix, N),
                     0);
    check_task(prefix, "binary", ZM_TASK_BINARY, 2);
    check_task(prefix, "multiclass", ZM_TASK_MULTICLASS, 4);
    check_task(prefix, "regression", ZM_TASK_REGRESSION, 1);
    double *sc = rd(prefix, "auc", "score", N), *lab = rd(prefix, "auc", "label", N), *ref = rd(prefix, "auc", "value", 1);
    float s[N];
    unsigned char l[N];
    for (int i = 0; i < N; i++) s[i] = (float)sc[i], l[i] = lab[i] > 0.5;
    double auc = zm_roc_auc(s, l, N);
    fprintf(stderr, "ROC AUC %.10f, scikit-learn %.10f (scores with ties)\n", auc, ref[0]);
    ck_assert_double_eq_tol(auc, ref[0], 1e-12);
    free(sc), free(lab), free(ref);
}
END_TEST

START_TEST(known_values)
{
    long counts[3] = {90, 10, 0};
    float w[3];
    zm_task_balance_weights(counts, 3, w);
    ck_assert_float_eq_tol(w[0], 100.0f / (2 * 90), 1e-6f);
    ck_assert_float_eq_tol(w[1], 100.0f / (2 * 10), 1e-6f);
    ck_assert_float_eq(w[2], 0.0f);
    zm_task b = {ZM_TASK_BINARY, 2, NULL, NULL};
    float y[2] = {0.0f, 100.0f}, lab[2] = {1, 1}, dy[2], p[2];
    double l = zm_task_loss(&b, y, lab, 2, dy); /* log 2 + ~0, no overflow at 100 */
    ck_assert_double_eq_tol(l, log(2.0), 1e-9);
    zm_task_predict(&b, y, 2, p);
    ck_assert_float_eq_tol(p[0], 0.5f, 1e-7f);
    ck_assert_int_eq(zm_task_class(&b, p + 1), 1);
    zm_task m = {ZM_TASK_MULTICLASS, 3, NULL, NULL};
    float ym[3] = {1000.0f, 0.0f, 999.0f}, pm[3];
    zm_task_predict(&m, ym, 1, pm);
    ck_assert(isfinite(pm[0]) && pm[0] > pm[2] && pm[1] < 1e-30f);
    ck_assert_int_eq(zm_task_class(&m, pm), 0);
    unsigned char one[3] = {1, 1, 1};
    float sc[3] = {0.1f, 0.2f, 0.3f};
    ck_assert(isnan(zm_roc_auc(sc, one, 3)));
}
END_TEST

START_TEST(tree_against_pytorch)
{
    zm_gz_schema tr;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_parse(&tr, "shape: round, disk, odd\nbar: yes, no | shape_disk\n", "(test)", &err), 0);
    enum { B = 96 };
    const int A = tr.nanswers;
    double *x, *k, *loss, *grad;
    zt_gz_loss_reference("taskloss_tree", &tr, B, 5, &x, &k, &loss, &grad);
    float xf[B * 5], kf[B * 5], dy[B * 5], g1[5], fr[B * 5];
    for (int i = 0; i < B * A; i++) xf[i] = (float)x[i], kf[i] = (float)k[i];
    zm_task t = {ZM_TASK_TREE, 0, NULL, &tr};
    ck_assert_int_eq(zm_task_outputs(&t), A);
    ck_assert_int_eq(zm_task_label_width(&t), A);
    double l = zm_task_loss(&t, xf, kf, B, dy), ref = 0, direct = 0, dg = 0;
    for (int b = 0; b < B; b++) {
        ref += loss[b];
        /* the same function as pretraining's: equal bit for bit, sample by sample */
        double lb = zm_gz_dirichlet_loss(&tr, xf + b * A, kf + b * A, g1, NULL);
        direct += lb;
        ck_assert(memcmp(g1, dy + b * A, sizeof g1[0] * (size_t)A) == 0);
    }
    for (int i = 0; i < B * A; i++) dg = fmax(dg, fabs(dy[i] - grad[i]) / fmax(fabs(grad[i]), 1e-3));
    double dl = fabs(l - ref) / fmax(fabs(ref), 1.0);
    fprintf(stderr, "tree (2 questions, %d answers) loss vs PyTorch: relative difference %.2e (loss %.6g), worst "
            "gradient %.2e, %d galaxies\n", A, dl, ref, dg, B);
    ck_assert(l == direct);
    ck_assert(dl < 1e-6);
    ck_assert(dg < 1e-3);
    /* predictions: a_i / A_q per question (sums to 1), a = 1 + 100 sigmoid(x) */
    zm_task_predict(&t, xf, B, fr);
    for (int b = 0; b < B; b++)
        for (int q = 0; q < tr.nquestions; q++) {
            double sum = 0, A_ = 0;
            for (int i = 0; i < tr.q[q].nanswers; i++) {
                int j = b * A + tr.q[q].first + i;
                sum += fr[j];
                A_ += 1 + 100 / (1 + exp(-x[j]));
            }
            ck_assert_double_eq_tol(sum, 1.0, 1e-5);
            int j = b * A + tr.q[q].first;
            ck_assert_double_eq_tol(fr[j], (1 + 100 / (1 + exp(-x[j]))) / A_, 1e-5);
        }
    ck_assert_int_eq(zm_task_class(&t, fr), 0);
    /* mean absolute error of the fractions: by hand on two galaxies */
    float pr[10] = {0.5f, 0.3f, 0.2f, 0.9f, 0.1f, 1.0f / 3, 1.0f / 3, 1.0f / 3, 0.5f, 0.5f};
    float cn[10] = {2, 2, 0, 0, 0, 0, 0, 0, 3, 1};
    long pairs = 0;
    double m0 = zm_task_tree_mae(&t, pr, cn, 2, 0, &pairs);
    ck_assert_int_eq(pairs, 1); /* galaxy 2 has no votes on question 0 */
    ck_assert_double_eq_tol(m0, (0 + 0.2 + 0.2) / 3, 1e-6);
    double mall = zm_task_tree_mae(&t, pr, cn, 2, -1, &pairs);
    ck_assert_int_eq(pairs, 2);
    ck_assert_double_eq_tol(mall, ((0.4 / 3) + (0.25 + 0.25) / 2) / 2, 1e-6);
    ck_assert(isnan(zm_task_tree_mae(&t, pr, cn, 1, 1, &pairs)) && pairs == 0);
    free(x), free(k), free(loss), free(grad);
    zm_gz_schema_free(&tr);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("taskloss");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, against_pytorch);
    tcase_add_test(tc, known_values);
    tcase_add_test(tc, tree_against_pytorch);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
