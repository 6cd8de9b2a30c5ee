/* schema.c: see gzschema.h. The built-in DECaLS tree is kept as text in the same
 * format a file uses, so there is one parser and one set of checks. */
#include "zoomorph/gzschema.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char decals_text[] =
    "# Galaxy Zoo DECaLS (Walmsley et al. 2022): 10 questions, 34 answers\n"
    "smooth-or-featured: smooth, featured-or-disk, artifact\n"
    "disk-edge-on: yes, no | smooth-or-featured_featured-or-disk\n"
    "has-spiral-arms: yes, no | disk-edge-on_no\n"
    "bar: strong, weak, no | disk-edge-on_no\n"
    "bulge-size: dominant, large, moderate, small, none | disk-edge-on_no\n"
    "how-rounded: round, in-between, cigar-shaped | smooth-or-featured_smooth\n"
    "edge-on-bulge: boxy, none, rounded | disk-edge-on_yes\n"
    "spiral-winding: tight, medium, loose | has-spiral-arms_yes\n"
    "spiral-arm-count: 1, 2, 3, 4, more-than-4, cant-tell | has-spiral-arms_yes\n"
    "merging: none, minor-disturbance, major-disturbance, merger\n";

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) >= ZM_GZ_NAME_LEN) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.') return 0;
    return 1;
}

void zm_gz_schema_free(zm_gz_schema *s)
{
    free(s->q);
    free(s->answer);
    free(s->question_of);
    memset(s, 0, sizeof *s);
}

void zm_gz_answer_column(const zm_gz_schema *s, int a, char *buf)
{
    snprintf(buf, ZM_GZ_COL_LEN, "%s_%s", s->q[s->question_of[a]].name, s->answer[a]);
}

int zm_gz_question_find(const zm_gz_schema *s, const char *name)
{
    for (int q = 0; q < s->nquestions; q++)
        if (!strcmp(s->q[q].name, name)) return q;
    return -1;
}

int zm_gz_answer_find(const zm_gz_schema *s, const char *column)
{
    char buf[ZM_GZ_COL_LEN];
    for (int a = 0; a < s->nanswers; a++) {
        zm_gz_answer_column(s, a, buf);
        if (!strcmp(buf, column)) return a;
    }
    return -1;
}

int zm_gz_question_depth(const zm_gz_schema *s, int q)
{
    int d = 0;
    while (s->q[q].parent >= 0 && d <= s->nquestions) {
        q = s->question_of[s->q[q].parent];
        d++;
    }
    return d;
}

int zm_gz_schema_parse(zm_gz_schema *s, const char *text, const char *what, zm_err *err)
{
    memset(s, 0, sizeof *s);
    char *copy = zm_strdup(text);
    int cap_q = 16, cap_a = 64, rc = 0, line = 0;
    s->q = zm_calloc((size_t)cap_q, sizeof *s->q);
    s->answer = zm_calloc((size_t)cap_a, sizeof *s->answer);
    s->question_of = zm_calloc((size_t)cap_a, sizeof *s->question_of);
    char *save = NULL;
    for (char *ln = strtok_r(copy, "\n", &save); ln && !rc; ln = strtok_r(NULL, "\n", &save)) {
        line++;
        char *hash = strchr(ln, '#');
        if (hash) *hash = '\0';
        char *t = trim(ln);
        if (!*t) continue;
        char *colon = strchr(t, ':');
        if (!colon) {
            rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s line %d: expected "
                            "'question: answer, answer [| parent_answer]'", what, line);
            break;
        }
        *colon = '\0';
        char *qname = trim(t), *rest = colon + 1, *bar = strchr(rest, '|');
        char *dep = NULL;
        if (bar) {
            *bar = '\0';
            dep = trim(bar + 1);
        }
        if (!valid_name(qname) || zm_gz_question_find(s, qname) >= 0) {
            rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s line %d: question name '%s' is "
                            "empty, too long, has odd characters or repeats", what, line, qname);
            break;
        }
        if (s->nquestions == cap_q) {
            cap_q *= 2;
            s->q = zm_realloc(s->q, (size_t)cap_q * sizeof *s->q);
        }
        zm_gz_question *q = &s->q[s->nquestions];
        memset(q, 0, sizeof *q);
        snprintf(q->name, sizeof q->name, "%s", qname);
        q->first = s->nanswers;
        q->parent = -1;
        if (dep && *dep) {
            q->parent = zm_gz_answer_find(s, dep);
            if (q->parent < 0) {
                rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s line %d: question '%s' "
                                "depends on '%s', which is not an answer of an earlier question",
                                what, line, qname, dep);
                break;
            }
        }
        char *save2 = NULL;
        for (char *a = strtok_r(rest, ",", &save2); a; a = strtok_r(NULL, ",", &save2)) {
            a = trim(a);
            if (!valid_name(a)) {
                rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s line %d: answer '%s' of "
                                "'%s' is empty, too long or has odd characters", what, line, a, qname);
                break;
            }
            for (int k = q->first; k < s->nanswers; k++)
                if (!strcmp(s->answer[k], a))
                    rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s line %d: answer '%s' "
                                    "repeats in '%s'", what, line, a, qname);
            if (rc) break;
            if (s->nanswers == cap_a) {
                cap_a *= 2;
                s->answer = zm_realloc(s->answer, (size_t)cap_a * sizeof *s->answer);
                s->question_of = zm_realloc(s->question_of, (size_t)cap_a * sizeof *s->question_of);
            }
            snprintf(s->answer[s->nanswers], ZM_GZ_NAME_LEN, "%s", a);
            s->question_of[s->nanswers] = s->nquestions;
            s->nanswers++;
        }
        if (rc) break;
        q->nanswers = s->nanswers - q->first;
        if (q->nanswers > 64) { /* zm_gz_dirichlet_loss keeps a question's answers on the stack */
            rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s line %d: question '%s' has %d answers; at "
                            "most 64 are supported", what, line, qname, q->nanswers);
            break;
        }
        if (q->nanswers < 2) {
            rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s line %d: question '%s' needs at "
                            "least 2 answers", what, line, qname);
            break;
        }
        s->nquestions++;
    }
    if (!rc && s->nquestions == 0)
        rc = zm_err_set(err, ZM_EFORMAT, "decision tree %s: no questions", what);
    free(copy);
    if (rc) zm_gz_schema_free(s);
    return rc;
}

int zm_gz_schema_decals(zm_gz_schema *s, zm_err *err)
{
    return zm_gz_schema_parse(s, decals_text, "(built-in GZ DECaLS)", err);
}

int zm_gz_schema_load(zm_gz_schema *s, const char *path, zm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return zm_err_set(err, ZM_EIO, "decision tree %s: cannot open", path);
    size_t cap = 4096, n = 0;
    char *buf = zm_malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) buf = zm_realloc(buf, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return zm_err_set(err, ZM_EIO, "decision tree %s: read error", path);
    }
    buf[n] = '\0';
    int rc = zm_gz_schema_parse(s, buf, path, err);
    free(buf);
    return rc;
}
