/* test_nn_head.c: the fine-tuning heads. A head_only network (the head alone, on the
 * representation) carries the full network's head parameters under the same names:
 * copied across (zm_net_copy_matching) it gives the full network's outputs from the full
 * network's representation, for the linear head and DESIGN.md's MLP head; its gradients
 * match central differences; a weight file records the head width and refuses a network
 * with another head. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"

static void head_matches(int hidden)
{
    zm_err err = {0};
    zm_net_config c = zm_net_config_default("zoonet");
    c.in_size = 32;
    c.n_out = 3;
    c.max_batch = 4;
    c.head_hidden = hidden;
    c.seed = 5;
    zm_net *full = NULL, *head = NULL;
    ck_assert_int_eq(zm_net_create(&full, &c, &err), 0);
    zm_net_config h = c;
    h.head_only = 1;
    h.seed = 9;
    ck_assert_int_eq(zm_net_create(&head, &h, &err), 0);
    ck_assert_int_eq(head->n_blocks, 1);
    ck_assert_int_eq(zm_net_repr_dim(head), 512);
    ck_assert_int_eq(zm_net_copy_matching(head, full), hidden ? 6 : 2);
    float *x = malloc(sizeof(float) * 4 * 32 * 32);
    for (int i = 0; i < 4 * 32 * 32; i++) x[i] = (float)((i * 37) % 101) / 101.0f;
    ck_assert_int_eq(zm_net_forward(full, x, 4, ZM_MODE_EVAL, &err), 0);
    ck_assert_int_eq(zm_net_forward(head, zm_net_repr(full), 4, ZM_MODE_EVAL, &err), 0);
    double worst = zt_max_rel_diff("head outputs", zm_net_output(head), zm_net_output(full), 12, 1e-3);
    ck_assert(worst < 1e-5);
    /* gradient of sum(y * r) w.r.t. a few head parameters vs central differences */
    float r[12];
    for (int i = 0; i < 12; i++) r[i] = 0.3f * (float)(i % 5) - 0.6f;
    const float *rep = zm_net_repr(full);
    float *in = malloc(sizeof(float) * 4 * 512);
    for (int i = 0; i < 4 * 512; i++) in[i] = rep[i];
    zm_net_zero_grad(head);
    ck_assert_int_eq(zm_net_forward(head, in, 4, ZM_MODE_EVAL, &err), 0);
    zm_net_backward(head, r, 4);
    double wg = 0;
    for (size_t k = 0; k < head->n_params; k += head->n_params / 23 + 1) {
        float p0 = head->params[k];
        double f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            head->params[k] = p0 + (sgn ? -1e-2f : 1e-2f);
            zm_net_forward(head, in, 4, ZM_MODE_EVAL, &err);
            const float *y = zm_net_output(head);
            f[sgn] = 0;
            for (int i = 0; i < 12; i++) f[sgn] += (double)y[i] * r[i];
        }
        head->params[k] = p0;
        double num = (f[0] - f[1]) / 2e-2;
        wg = fmax(wg, fabs(num - head->grads[k]) / fmax(fabs(num), 1e-2));
    }
    fprintf(stderr, "head width %d: outputs agree to %.2e, gradients vs central differences %.2e\n", hidden, worst, wg);
    ck_assert(wg < 2e-2);
    /* weight file: head width recorded; a network with another head is refused */
    char path[4200];
    snprintf(path, sizeof path, "%s/head%d.h5", zt_tmpdir("nn_head"), hidden);
    ck_assert_int_eq(zm_net_save(full, path, &err), 0);
    zm_nn_file_info info;
    ck_assert_int_eq(zm_net_file_info(path, &info, &err), 0);
    ck_assert_int_eq(info.head_hidden, hidden);
    zm_net_config o = c;
    o.head_hidden = hidden ? 0 : 16;
    zm_net *other = NULL;
    ck_assert_int_eq(zm_net_create(&other, &o, &err), 0);
    ck_assert_int_ne(zm_net_load(other, path, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "head of width"));
    ck_assert_int_eq(zm_net_load(other, path, ZM_LOAD_SKIP_HEAD, &err), 0);
    zm_net_free(other);
    free(x), free(in);
    zm_net_free(full);
    zm_net_free(head);
}

START_TEST(linear_head) { head_matches(0); }
END_TEST
START_TEST(mlp_head) { head_matches(64); }
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_head");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_head);
    tcase_add_test(tc, mlp_head);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
