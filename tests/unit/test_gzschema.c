/* test_gzschema.c: the Galaxy Zoo decision tree as data: the built-in DECaLS tree
 * (10 questions, 34 answers, the "asked if" dependencies of DESIGN.md), column names,
 * loading from a file, and clear errors for malformed trees. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/gzschema.h"

static int parent_is(const zm_gz_schema *s, const char *q, const char *col)
{
    int qi = zm_gz_question_find(s, q);
    ck_assert_int_ge(qi, 0);
    if (!col) return s->q[qi].parent == -1;
    return s->q[qi].parent == zm_gz_answer_find(s, col);
}

START_TEST(decals_tree)
{
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_decals(&s, &err), 0);
    ck_assert_int_eq(s.nquestions, 10);
    ck_assert_int_eq(s.nanswers, 34);
    ck_assert(parent_is(&s, "smooth-or-featured", NULL));
    ck_assert(parent_is(&s, "merging", NULL));
    ck_assert(parent_is(&s, "disk-edge-on", "smooth-or-featured_featured-or-disk"));
    ck_assert(parent_is(&s, "has-spiral-arms", "disk-edge-on_no"));
    ck_assert(parent_is(&s, "bar", "disk-edge-on_no"));
    ck_assert(parent_is(&s, "bulge-size", "disk-edge-on_no"));
    ck_assert(parent_is(&s, "how-rounded", "smooth-or-featured_smooth"));
    ck_assert(parent_is(&s, "edge-on-bulge", "disk-edge-on_yes"));
    ck_assert(parent_is(&s, "spiral-winding", "has-spiral-arms_yes"));
    ck_assert(parent_is(&s, "spiral-arm-count", "has-spiral-arms_yes"));
    char col[ZM_GZ_COL_LEN];
    zm_gz_answer_column(&s, 0, col);
    ck_assert_str_eq(col, "smooth-or-featured_smooth");
    zm_gz_answer_column(&s, 33, col);
    ck_assert_str_eq(col, "merging_merger");
    ck_assert_int_eq(zm_gz_answer_find(&s, "spiral-arm-count_more-than-4"), 28);
    ck_assert_int_eq(zm_gz_answer_find(&s, "bar_none"), -1);
    ck_assert_int_eq(zm_gz_question_depth(&s, zm_gz_question_find(&s, "spiral-winding")), 3);
    /* answers are contiguous per question and cover 0..33 */
    int next = 0;
    for (int q = 0; q < s.nquestions; q++) {
        ck_assert_int_eq(s.q[q].first, next);
        for (int a = 0; a < s.q[q].nanswers; a++) ck_assert_int_eq(s.question_of[next + a], q);
        next += s.q[q].nanswers;
    }
    ck_assert_int_eq(next, 34);
    zm_gz_schema_free(&s);
}
END_TEST

START_TEST(file_and_errors)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tree.txt", zt_tmpdir("gzschema"));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# a GZ2-like fragment\nq1: a, b  # first\n\nq2: yes, no | q1_b\n", f);
    fclose(f);
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_load(&s, path, &err), 0);
    ck_assert_int_eq(s.nquestions, 2);
    ck_assert_int_eq(s.nanswers, 4);
    ck_assert_int_eq(s.q[1].parent, 1);
    zm_gz_schema_free(&s);

    const char *bad[] = {"q1: a\n", "q1: a, b\nq2: c, d | q1_zz\n", "q1: a, a\n", "q1 a, b\n",
                         "q1: a, b\nq1: c, d\n", "", "q1: a, b c\n"};
    const char *want[] = {"at least 2", "not an answer", "repeats", "expected", "repeats",
                          "no questions", "odd characters"};
    for (int i = 0; i < 7; i++) {
        zm_err_clear(&err);
        ck_assert_int_eq(zm_gz_schema_parse(&s, bad[i], "test", &err), ZM_EFORMAT);
        printf("bad tree %d: %s\n", i, err.msg);
        ck_assert_msg(strstr(err.msg, want[i]), "tree %d: '%s' lacks '%s'", i, err.msg, want[i]);
    }
    ck_assert_int_eq(zm_gz_schema_load(&s, "/nonexistent/tree.txt", &err), ZM_EIO);
}
END_TEST

/* The shipped Galaxy Zoo 2 tree (config/trees/gz2.tree): 11 tasks, 37 answers, with the
 * dependencies of Willett et al. (2013). */
START_TEST(gz2_tree_file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config/trees/gz2.tree", zt_env("ZM_SOURCE_DIR", "."));
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_msg(zm_gz_schema_load(&s, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.nquestions, 11);
    ck_assert_int_eq(s.nanswers, 37);
    struct { const char *q, *parent; } dep[] = {
        {"smooth-or-features", NULL}, {"edge-on", "smooth-or-features_features-or-disk"},
        {"bar", "edge-on_no"}, {"spiral", "edge-on_no"}, {"bulge-prominence", "edge-on_no"},
        {"odd", NULL}, {"rounded", "smooth-or-features_smooth"}, {"odd-feature", "odd_yes"},
        {"bulge-shape", "edge-on_yes"}, {"arms-winding", "spiral_spiral"}, {"arms-number", "spiral_spiral"}};
    for (int i = 0; i < 11; i++) {
        int q = zm_gz_question_find(&s, dep[i].q);
        ck_assert_msg(q == i, "%s is question %d", dep[i].q, q);
        ck_assert_int_eq(s.q[q].parent, dep[i].parent ? zm_gz_answer_find(&s, dep[i].parent) : -1);
    }
    ck_assert_int_eq(s.q[zm_gz_question_find(&s, "odd-feature")].nanswers, 7);
    ck_assert_int_ge(zm_gz_answer_find(&s, "arms-number_more-than-4"), 0);
    zm_gz_schema_free(&s);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *su = suite_create("gzschema");
    TCase *tc = tcase_create("gzschema");
    tcase_add_test(tc, decals_tree);
    tcase_add_test(tc, file_and_errors);
    tcase_add_test(tc, gz2_tree_file);
    suite_add_tcase(su, tc);
    int rc = zt_run_suite(su);
    MPI_Finalize();
    return rc;
}
