/* votes.c: see votes.h. */
#include "zoomorph/votes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/table.h"

void zm_votes_free(zm_votes *v)
{
    free(v->ra), free(v->dec), free(v->id), free(v->counts), free(v->ok), free(v->line), free(v->why);
    free(v->split);
    memset(v, 0, sizeof *v);
}

int zm_votes_read(const char *path, const zm_gz_schema *s, const char *id_column, zm_votes *v,
                  zm_err *err)
{
    memset(v, 0, sizeof *v);
    zm_table *t = NULL;
    int rc = zm_table_open(path, &t, err);
    if (rc) return zm_err_prefix(err, "vote table"), rc;
    const long n = zm_table_nrows(t);
    const int A = s->nanswers;
    int *col = zm_malloc((size_t)A * sizeof *col);
    for (int a = 0; a < A && !rc; a++) {
        char name[ZM_GZ_COL_LEN];
        zm_gz_answer_column(s, a, name);
        col[a] = zm_table_col(t, name);
        if (col[a] < 0)
            rc = zm_err_set(err, ZM_EMISSING,
                            "vote table %s: answer column '%s' is missing (one count column "
                            "<question>_<answer> per answer of the tree is expected)",
                            path, name);
    }
    int cra = zm_table_col(t, "ra"), cdec = zm_table_col(t, "dec"), cid = -1;
    if (!rc && id_column) {
        cid = zm_table_col(t, id_column);
        if (cid < 0) rc = zm_err_set(err, ZM_EMISSING, "vote table %s: id column '%s' is missing", path, id_column);
    } else if (!rc && (cra < 0 || cdec < 0)) {
        rc = zm_err_set(err, ZM_EMISSING, "vote table %s: column '%s' is missing (positions are "
                        "needed to match votes to galaxies; or set match = id in [labels], or in [finetune] for kind = tree)",
                        path, cra < 0 ? "ra" : "dec");
    }
    if (rc) {
        free(col);
        zm_table_close(t);
        return rc;
    }
    size_t m = (size_t)(n ? n : 1);
    v->n = n;
    v->nanswers = A;
    v->ra = zm_malloc(m * sizeof *v->ra);
    v->dec = zm_malloc(m * sizeof *v->dec);
    v->id = zm_malloc(m * sizeof *v->id);
    v->counts = zm_calloc(m * (size_t)A, sizeof *v->counts);
    v->ok = zm_malloc(m);
    v->line = zm_malloc(m * sizeof *v->line);
    v->why = zm_calloc(m, sizeof *v->why);
    memset(v->ok, 1, m);
    unsigned char *bad = zm_malloc(m), *bad2 = zm_malloc(m);
    double *tmp = zm_malloc(m * sizeof *tmp);
    for (long i = 0; i < n; i++) {
        v->line[i] = zm_table_line(t, i);
        v->id[i] = -1;
        v->ra[i] = v->dec[i] = NAN;
    }
    if (cid >= 0) {
        rc = zm_table_read_ll(t, cid, v->id, bad, err);
        for (long i = 0; !rc && i < n; i++)
            if (bad[i] && v->ok[i]) {
                v->ok[i] = 0;
                snprintf(v->why[i], sizeof v->why[i], "%s line %ld: column %s is not an integer id",
                         path, v->line[i], id_column);
            }
    } else {
        rc = zm_table_read_double(t, cra, v->ra, bad, err);
        if (!rc) rc = zm_table_read_double(t, cdec, v->dec, bad2, err);
        for (long i = 0; !rc && i < n; i++)
            if ((bad[i] || bad2[i] || !isfinite(v->ra[i]) || !isfinite(v->dec[i])) && v->ok[i]) {
                v->ok[i] = 0;
                snprintf(v->why[i], sizeof v->why[i], "%s line %ld: ra/dec is not a number", path, v->line[i]);
            }
    }
    for (int a = 0; a < A && !rc; a++) {
        char name[ZM_GZ_COL_LEN];
        zm_gz_answer_column(s, a, name);
        rc = zm_table_read_double(t, col[a], tmp, bad, err);
        for (long i = 0; !rc && i < n; i++) {
            double c = tmp[i];
            if (v->ok[i] && (bad[i] || !isfinite(c) || c < 0 || c != floor(c))) {
                v->ok[i] = 0;
                snprintf(v->why[i], sizeof v->why[i],
                         "%s line %ld: column %s = %g: expected a non-negative whole number of votes",
                         path, v->line[i], name, bad[i] ? NAN : c);
            }
            v->counts[(size_t)i * A + a] = isfinite(c) && c >= 0 ? (float)c : 0.0f;
        }
    }
    v->split = zm_malloc(m);
    memset(v->split, 3, m);
    int csplit = zm_table_col(t, "split");
    if (!rc && csplit >= 0) {
        char(*sp)[16] = zm_malloc(m * sizeof *sp);
        rc = zm_table_read_str(t, csplit, (char *)sp, 16, err);
        for (long i = 0; !rc && i < n; i++) {
            const char *x = sp[i];
            int k = !strcmp(x, "train") || !strcmp(x, "0") ? 0
                    : !strcmp(x, "validation") || !strcmp(x, "val") || !strcmp(x, "1") ? 1
                    : !strcmp(x, "test") || !strcmp(x, "2") ? 2 : -1;
            if (k < 0 && v->ok[i]) {
                v->ok[i] = 0;
                snprintf(v->why[i], sizeof v->why[i], "%s line %ld: column split = '%s': expected train, validation or test",
                         path, v->line[i], x);
            }
            v->split[i] = (unsigned char)(k < 0 ? 3 : k);
        }
        free(sp);
        v->has_split = 1;
    }
    for (long i = 0; !rc && i < n; i++) {
        if (!v->ok[i]) {
            v->n_rejected++;
            continue;
        }
        const float *k = v->counts + (size_t)i * A;
        int excess = 0;
        for (int q = 0; q < s->nquestions && !excess; q++) {
            if (s->q[q].parent < 0) continue;
            double tot = 0;
            for (int j = 0; j < s->q[q].nanswers; j++) tot += k[s->q[q].first + j];
            excess = tot > k[s->q[q].parent];
        }
        v->n_child_excess += excess;
    }
    free(bad), free(bad2), free(tmp), free(col);
    zm_table_close(t);
    if (rc) zm_votes_free(v);
    return rc;
}
