/* test_params.c: INI parameters: typed values, strict parsing, unknown keys with a
 * suggestion, --set overrides, ranges and choices, the dump round trip. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/params.h"

static const zm_param_def defs[] = {
    {"cutout.size", ZM_PT_INT, "300", 8, 4096, NULL, "pixels", "stamp size"},
    {"cutout.max_empty_fraction", ZM_PT_REAL, "0.2", 0, 1, NULL, "", "empty"},
    {"cutout.edge", ZM_PT_CHOICE, "pad", 1, 0, "pad|reject", "", "edge"},
    {"survey.root", ZM_PT_STR, NULL, 1, 0, NULL, "", "root"},
    {"survey.bands", ZM_PT_LIST, "g,r,z", 1, 0, NULL, "", "bands"},
    {"store.overwrite", ZM_PT_BOOL, "false", 1, 0, NULL, "", "overwrite"},
};
static const zm_param_table table = {defs, 6};

static const char *write_ini(const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", zt_tmpdir(name), name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int load(const char *ini, char **sets, int nsets, zm_params **p, zm_err *err)
{
    return zm_params_load(p, &table, 1, ini, sets, nsets, MPI_COMM_WORLD, err);
}

START_TEST(typed_values_and_defaults)
{
    const char *ini = write_ini("ok.ini", "[cutout]\nsize = 64   ; a comment\nedge = reject\n"
                                          "[survey]\nroot = /data/dr10\nbands = z, r\n");
    zm_params *p = NULL;
    zm_err err = {0};
    ck_assert_int_eq(load(ini, NULL, 0, &p, &err), 0);
    ck_assert_int_eq(zm_param_int(p, "cutout.size"), 64);
    ck_assert_double_eq_tol(zm_param_real(p, "cutout.max_empty_fraction"), 0.2, 1e-12);
    ck_assert_str_eq(zm_param_str(p, "cutout.edge"), "reject");
    ck_assert_str_eq(zm_param_str(p, "survey.root"), "/data/dr10");
    ck_assert_int_eq(zm_param_bool(p, "store.overwrite"), 0);
    char *items[4], buf[64];
    ck_assert_int_eq(zm_param_list(p, "survey.bands", items, 4, buf, sizeof buf), 2);
    ck_assert_str_eq(items[0], "z");
    ck_assert_str_eq(items[1], "r");
    /* more words than room, or a value longer than the buffer: -1, nothing dropped silently */
    ck_assert_int_eq(zm_param_list(p, "survey.bands", items, 1, buf, sizeof buf), -1);
    ck_assert_int_eq(zm_param_list(p, "survey.bands", items, 4, buf, 4), -1);
    zm_err le = {0};
    zm_param_list_error("survey.bands", 1, &le);
    ck_assert_ptr_nonnull(strstr(le.msg, "config key [survey] bands: more than 1 items"));
    ck_assert_int_eq(zm_param_is_set(p, "cutout.size"), 1);
    ck_assert_int_eq(zm_param_is_set(p, "store.overwrite"), 0);
    zm_params_free(p);
}
END_TEST

/* a list (like [survey] bricks) may hold more words than any fixed array; a config line
 * longer than libinih reads, or a --set value longer than 4095 characters, is refused */
START_TEST(long_lists_unlimited)
{
    char *set = malloc(8192), *w = set;
    w += sprintf(w, "survey.bands=");
    for (int i = 0; i < 400; i++) w += sprintf(w, "%s%04dp%03d", i ? "," : "", i, i);
    zm_params *p = NULL;
    zm_err err = {0};
    ck_assert_int_eq(load(write_ini("l.ini", "[survey]\nroot = /x\n"), &set, 1, &p, &err), 0);
    char **items = NULL, *buf = NULL;
    ck_assert_int_eq(zm_param_list_alloc(p, "survey.bands", &items, &buf), 400);
    ck_assert_str_eq(items[0], "0000p000");
    ck_assert_str_eq(items[399], "0399p399");
    free(items), free(buf);
    zm_params_free(p);
    p = NULL;
    for (int i = 400; i < 500; i++) w += sprintf(w, ",%04dp%03d", i, i);
    ck_assert_int_ne(load(write_ini("l.ini", "[survey]\nroot = /x\n"), &set, 1, &p, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "--set survey.bands: value longer than 4095 characters"));
    free(set);
    char line[400] = "[survey]\nroot = /x\nbands = g";
    for (int i = 0; i < 100; i++) strcat(line, ",r");
    strcat(line, "\n");
    memset(&err, 0, sizeof err);
    ck_assert_int_ne(load(write_ini("l.ini", line), NULL, 0, &p, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 3: longer than"));
}
END_TEST

START_TEST(trailing_junk_and_ranges_rejected)
{
    const char *cases[][2] = {
        {"[cutout]\nsize = 64x\n", "expected an integer"},
        {"[cutout]\nsize = 4\n", "expected a value in [8, 4096]"},
        {"[cutout]\nmax_empty_fraction = 1.5\n", "expected a value in [0, 1]"},
        {"[cutout]\nmax_empty_fraction = nan\n", "expected a number"},
        {"[cutout]\nedge = crop\n", "expected one of pad|reject"},
        {"[store]\noverwrite = maybe\n", "expected true or false"},
        {"[cutout]\nsize = 64\nsize = 65\n", "given twice"},
        {"size = 64\n", "outside any [section]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *ini = write_ini("bad.ini", cases[i][0]);
        zm_params *p = NULL;
        zm_err err = {0};
        int rc = load(ini, NULL, 0, &p, &err);
        fprintf(stderr, "case %zu: %s\n", i, err.msg);
        ck_assert_int_eq(rc, ZM_ECONFIG);
        ck_assert_ptr_null(p);
        ck_assert_ptr_nonnull(strstr(err.msg, cases[i][1]));
        ck_assert_ptr_nonnull(strstr(err.msg, "bad.ini"));
    }
}
END_TEST

START_TEST(unknown_key_suggests_nearest)
{
    const char *ini = write_ini("typo.ini", "[cutout]\nsize = 64\nmax_empty_fractoin = 0.3\n");
    zm_params *p = NULL;
    zm_err err = {0};
    ck_assert_int_eq(load(ini, NULL, 0, &p, &err), ZM_ECONFIG);
    fprintf(stderr, "%s\n", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown config key [cutout] max_empty_fractoin"));
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'cutout.max_empty_fraction'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "line 3"));
    /* a key in the wrong section */
    ini = write_ini("section.ini", "[survey]\nsize = 64\n");
    ck_assert_int_eq(load(ini, NULL, 0, &p, &err), ZM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'cutout.size'"));
}
END_TEST

START_TEST(overrides)
{
    const char *ini = write_ini("ov.ini", "[cutout]\nsize = 64\n");
    char *sets[] = {"cutout.size=128", "survey.root = /x"};
    zm_params *p = NULL;
    zm_err err = {0};
    ck_assert_int_eq(load(ini, sets, 2, &p, &err), 0);
    ck_assert_int_eq(zm_param_int(p, "cutout.size"), 128);
    ck_assert_str_eq(zm_param_str(p, "survey.root"), "/x");
    zm_params_free(p);
    char *bad[] = {"cutout.sise=1"};
    ck_assert_int_eq(load(NULL, bad, 1, &p, &err), ZM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'cutout.size'"));
    char *noeq[] = {"cutout.size"};
    ck_assert_int_eq(load(NULL, noeq, 1, &p, &err), ZM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "section.key=value"));
}
END_TEST

START_TEST(missing_file_and_required_key)
{
    zm_params *p = NULL;
    zm_err err = {0};
    ck_assert_int_eq(load("/nonexistent/run.ini", NULL, 0, &p, &err), ZM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/run.ini"));
    ck_assert_int_eq(load(NULL, NULL, 0, &p, &err), 0);
    ck_assert_int_eq(zm_param_require(p, "survey.root", "plan", &err), ZM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "[survey] root is required by stage 'plan'"));
    zm_params_free(p);
}
END_TEST

START_TEST(dump_round_trip)
{
    char *sets[] = {"cutout.size=96", "survey.root=/a/b"};
    zm_params *p = NULL, *q = NULL;
    zm_err err = {0};
    ck_assert_int_eq(load(NULL, sets, 2, &p, &err), 0);
    char *d = zm_params_dump(p);
    fprintf(stderr, "%s", d);
    ck_assert_ptr_nonnull(strstr(d, "size = 96 ; set"));
    ck_assert_ptr_nonnull(strstr(d, "edge = pad ; default"));
    const char *ini = write_ini("dump.ini", d);
    ck_assert_int_eq(load(ini, NULL, 0, &q, &err), 0);
    ck_assert_int_eq(zm_param_int(q, "cutout.size"), 96);
    ck_assert_str_eq(zm_param_str(q, "survey.root"), "/a/b");
    free(d);
    zm_params_free(p);
    zm_params_free(q);
}
END_TEST

/* zm_params_recorded: a stage's recorded dump laid over the live values; unknown keys
 * and invalid values in the text are ignored, keys it lacks keep the live value */
START_TEST(recorded_over_live)
{
    char *sets[] = {"cutout.size=96", "survey.root=/a/b", "cutout.edge=reject"};
    zm_params *p = NULL, *old = NULL;
    zm_err err = {0};
    ck_assert_int_eq(load(NULL, sets, 1, &old, &err), 0);
    char *d = zm_params_dump(old); /* size 96, edge pad */
    ck_assert_int_eq(load(NULL, sets + 1, 2, &p, &err), 0);
    char *text = zm_malloc(strlen(d) + 200);
    sprintf(text, "%s[cutout]\nremoved_key = 3 ; file\nmax_empty_fraction = 7 ; file\n", d);
    zm_params *q = zm_params_recorded(p, text);
    ck_assert_int_eq(zm_param_int(q, "cutout.size"), 96);                /* from the text */
    ck_assert_str_eq(zm_param_str(q, "cutout.edge"), "pad");             /* from the text */
    ck_assert_double_eq(zm_param_real(q, "cutout.max_empty_fraction"), 0.2); /* 7 is out of range */
    ck_assert_str_eq(zm_param_str(q, "survey.root"), "/a/b");            /* absent in the text */
    ck_assert_int_eq(zm_param_int(p, "cutout.size"), 300);               /* p untouched */
    zm_params_free(q);
    free(text), free(d);
    zm_params_free(p);
    zm_params_free(old);
}
END_TEST

START_TEST(edit_distance)
{
    ck_assert_int_eq(zm_edit_distance("kitten", "sitting"), 3);
    ck_assert_int_eq(zm_edit_distance("", "abc"), 3);
    ck_assert_int_eq(zm_edit_distance("same", "same"), 0);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, typed_values_and_defaults);
    tcase_add_test(tc, long_lists_unlimited);
    tcase_add_test(tc, trailing_junk_and_ranges_rejected);
    tcase_add_test(tc, unknown_key_suggests_nearest);
    tcase_add_test(tc, overrides);
    tcase_add_test(tc, missing_file_and_required_key);
    tcase_add_test(tc, dump_round_trip);
    tcase_add_test(tc, recorded_over_live);
    tcase_add_test(tc, edit_distance);
    suite_add_tcase(s, tc);
    int rc = zt_run_suite(s);
    MPI_Finalize();
    return rc;
}
