/* table.c: see table.h. CSV is read whole into memory (cells as strings); FITS columns
 * are read on demand with cfitsio. */
#include "zoomorph/table.h"

#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct zm_table {
    char path[1024];
    int is_csv;
    long nrows;
    int ncols;
    char **names;
    /* FITS */
    fitsfile *f;
    int hdu;
    /* CSV */
    char **cells;  /* nrows x ncols, pointers into text */
    long *lines;
    char *text;
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Splits one CSV line in place (double quotes may enclose a field with commas). */
static int split_csv(char *line, char **out, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *start = p;
        if (*p == '"') {
            start = ++p;
            char *w = p;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"') p++;
                *w++ = *p++;
            }
            if (*p == '"') p++;
            char *end = w;
            while (*p && *p != ',') p++;
            *end = '\0';
            out[n++] = start;
        } else {
            while (*p && *p != ',') p++;
            char c = *p;
            *p = '\0';
            out[n++] = trim(start);
            *p = c;
        }
        if (*p != ',') break;
        *p++ = '\0';
    }
    return n;
}

static int open_csv(zm_table *t, zm_err *err)
{
    FILE *fp = fopen(t->path, "rb");
    if (!fp) return zm_err_set(err, ZM_EIO, "%s: cannot open: %s", t->path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return zm_err_set(err, ZM_EIO, "%s: cannot seek", t->path);
    }
    long size = ftell(fp);
    rewind(fp);
    t->text = zm_malloc((size_t)size + 1);
    size_t got = fread(t->text, 1, (size_t)size, fp);
    fclose(fp);
    if ((long)got != size) return zm_err_set(err, ZM_EIO, "%s: short read", t->path);
    t->text[size] = '\0';
    /* lines */
    long cap = 1024, nl = 0;
    char **lines = zm_malloc((size_t)cap * sizeof *lines);
    long *lineno = zm_malloc((size_t)cap * sizeof *lineno);
    char *p = t->text;
    long ln = 0;
    while (*p) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        ln++;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = '\0';
        char *q = p;
        while (isspace((unsigned char)*q)) q++;
        if (*q && *q != '#') {
            if (nl == cap) {
                cap *= 2;
                lines = zm_realloc(lines, (size_t)cap * sizeof *lines);
                lineno = zm_realloc(lineno, (size_t)cap * sizeof *lineno);
            }
            lines[nl] = p;
            lineno[nl++] = ln;
        }
        if (!e) break;
        p = e + 1;
    }
    if (nl == 0) {
        free(lines);
        free(lineno);
        return zm_err_set(err, ZM_EFORMAT, "%s: empty CSV file (a header line is expected)", t->path);
    }
    char *hdr[4096];
    t->ncols = split_csv(lines[0], hdr, 4096);
    t->names = zm_malloc((size_t)t->ncols * sizeof *t->names);
    for (int c = 0; c < t->ncols; c++) t->names[c] = hdr[c];
    t->nrows = nl - 1;
    t->cells = zm_calloc((size_t)(t->nrows ? t->nrows : 1) * (size_t)t->ncols, sizeof *t->cells);
    t->lines = zm_malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *t->lines);
    char **tmp = zm_malloc((size_t)t->ncols * sizeof *tmp);
    static char empty[] = "";
    for (long r = 0; r < t->nrows; r++) {
        int n = split_csv(lines[r + 1], tmp, t->ncols);
        for (int c = 0; c < t->ncols; c++) t->cells[r * t->ncols + c] = c < n ? tmp[c] : empty;
        t->lines[r] = lineno[r + 1];
    }
    free(tmp);
    free(lines);
    free(lineno);
    return 0;
}

static int fits_fail(zm_table *t, int status, const char *doing, zm_err *err)
{
    char m[600];
    zm_fits_error_string(status, m, sizeof m);
    return zm_err_set(err, ZM_EFORMAT, "%s HDU %d: %s: %s", t->path, t->hdu, doing, m);
}

static int open_fits(zm_table *t, zm_err *err)
{
    int status = 0, nhdu = 0;
    if (fits_open_diskfile(&t->f, t->path, READONLY, &status)) {
        char m[600];
        zm_fits_error_string(status, m, sizeof m);
        t->f = NULL;
        return zm_err_set(err, ZM_EIO, "%s: cannot open: %s", t->path, m);
    }
    if (fits_get_num_hdus(t->f, &nhdu, &status)) return fits_fail(t, status, "cannot count HDUs", err);
    for (int h = 1; h <= nhdu; h++) {
        int type = 0;
        if (fits_movabs_hdu(t->f, h, &type, &status)) {
            t->hdu = h;
            return fits_fail(t, status, "cannot read the header", err);
        }
        if (type == BINARY_TBL || type == ASCII_TBL) {
            t->hdu = h;
            break;
        }
    }
    if (!t->hdu) return zm_err_set(err, ZM_EFORMAT, "%s: no table HDU (a FITS binary table is expected)", t->path);
    if (fits_get_num_rows(t->f, &t->nrows, &status)) return fits_fail(t, status, "cannot read NAXIS2", err);
    if (fits_get_num_cols(t->f, &t->ncols, &status)) return fits_fail(t, status, "cannot read TFIELDS", err);
    t->names = zm_calloc((size_t)t->ncols, sizeof *t->names);
    for (int c = 0; c < t->ncols; c++) {
        char key[FLEN_KEYWORD], val[FLEN_VALUE] = "";
        snprintf(key, sizeof key, "TTYPE%d", c + 1);
        int ks = 0;
        fits_read_key(t->f, TSTRING, key, val, NULL, &ks);
        t->names[c] = zm_strdup(trim(val));
    }
    return 0;
}

int zm_table_open(const char *path, zm_table **out, zm_err *err)
{
    zm_table *t = zm_calloc(1, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    t->is_csv = ends_with(path, ".csv") || ends_with(path, ".txt");
    int rc = t->is_csv ? open_csv(t, err) : open_fits(t, err);
    if (rc) {
        zm_table_close(t);
        *out = NULL;
        return rc;
    }
    *out = t;
    return 0;
}

void zm_table_close(zm_table *t)
{
    if (!t) return;
    if (t->f) {
        int st = 0;
        fits_close_file(t->f, &st);
    }
    if (!t->is_csv && t->names)
        for (int c = 0; c < t->ncols; c++) free(t->names[c]);
    free(t->names);
    free(t->cells);
    free(t->lines);
    free(t->text);
    free(t);
}

long zm_table_nrows(const zm_table *t) { return t->nrows; }
const char *zm_table_path(const zm_table *t) { return t->path; }

int zm_table_col(const zm_table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (t->names[c] && strcasecmp(t->names[c], name) == 0) return c;
    return -1;
}

int zm_table_col_any(const zm_table *t, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        int c = zm_table_col(t, names[i]);
        if (c >= 0) return c;
    }
    return -1;
}

long zm_table_line(const zm_table *t, long row) { return t->is_csv ? t->lines[row] : row + 1; }

static int check_col(const zm_table *t, int col, zm_err *err)
{
    if (col < 0 || col >= t->ncols) return zm_err_set(err, ZM_EMISSING, "%s: no such column", t->path);
    return 0;
}

int zm_table_read_double(zm_table *t, int col, double *out, unsigned char *bad, zm_err *err)
{
    if (check_col(t, col, err)) return err->code;
    if (!t->is_csv) {
        int status = 0, anynul = 0;
        double nulval = NAN;
        if (t->nrows && fits_read_col(t->f, TDOUBLE, col + 1, 1, 1, t->nrows, &nulval, out, &anynul, &status)) {
            char what[200];
            snprintf(what, sizeof what, "cannot read column %s as numbers", t->names[col]);
            return fits_fail(t, status, what, err);
        }
        if (bad) memset(bad, 0, (size_t)t->nrows);
        return 0;
    }
    for (long r = 0; r < t->nrows; r++) {
        const char *s = t->cells[r * t->ncols + col];
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        int isbad = !*s || *end || errno == ERANGE;
        if (isbad && !bad)
            return zm_err_set(err, ZM_EVALUE, "%s line %ld: column %s = '%s': expected a number",
                              t->path, t->lines[r], t->names[col], s);
        if (bad) bad[r] = (unsigned char)isbad;
        out[r] = isbad ? NAN : v;
    }
    return 0;
}

int zm_table_read_ll(zm_table *t, int col, long long *out, unsigned char *bad, zm_err *err)
{
    if (check_col(t, col, err)) return err->code;
    if (!t->is_csv) {
        int status = 0, anynul = 0;
        long long nulval = 0;
        if (t->nrows && fits_read_col(t->f, TLONGLONG, col + 1, 1, 1, t->nrows, &nulval, out, &anynul, &status)) {
            char what[200];
            snprintf(what, sizeof what, "cannot read column %s as integers", t->names[col]);
            return fits_fail(t, status, what, err);
        }
        if (bad) memset(bad, 0, (size_t)t->nrows);
        return 0;
    }
    for (long r = 0; r < t->nrows; r++) {
        const char *s = t->cells[r * t->ncols + col];
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        int isbad = !*s || *end || errno == ERANGE;
        if (isbad && !bad)
            return zm_err_set(err, ZM_EVALUE, "%s line %ld: column %s = '%s': expected an integer",
                              t->path, t->lines[r], t->names[col], s);
        if (bad) bad[r] = (unsigned char)isbad;
        out[r] = isbad ? 0 : v;
    }
    return 0;
}

int zm_table_read_str(zm_table *t, int col, char *out, int width, zm_err *err)
{
    if (check_col(t, col, err)) return err->code;
    if (!t->is_csv) {
        int status = 0, typecode = 0;
        long repeat = 0, w = 0;
        if (fits_get_eqcoltype(t->f, col + 1, &typecode, &repeat, &w, &status))
            return fits_fail(t, status, "cannot read a column type", err);
        if (typecode != TSTRING) {
            /* numbers as text */
            double *v = zm_malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *v);
            int rc = zm_table_read_double(t, col, v, NULL, err);
            for (long r = 0; !rc && r < t->nrows; r++)
                snprintf(out + r * width, (size_t)width, "%.17g", v[r]);
            free(v);
            return rc;
        }
        int dispw = (int)repeat + 1;
        char *buf = zm_malloc((size_t)dispw);
        for (long r = 0; r < t->nrows; r++) {
            char *ptr[1] = {buf};
            int anynul = 0;
            if (fits_read_col(t->f, TSTRING, col + 1, r + 1, 1, 1, "", ptr, &anynul, &status)) {
                free(buf);
                return fits_fail(t, status, "cannot read a string column", err);
            }
            snprintf(out + r * width, (size_t)width, "%s", trim(buf));
        }
        free(buf);
        return 0;
    }
    for (long r = 0; r < t->nrows; r++) snprintf(out + r * width, (size_t)width, "%s", t->cells[r * t->ncols + col]);
    return 0;
}

int zm_table_read_bool(zm_table *t, int col, unsigned char *out, unsigned char *bad, zm_err *err)
{
    if (check_col(t, col, err)) return err->code;
    if (!t->is_csv) {
        int status = 0, typecode = 0;
        long repeat = 0, w = 0;
        if (fits_get_eqcoltype(t->f, col + 1, &typecode, &repeat, &w, &status))
            return fits_fail(t, status, "cannot read a column type", err);
        if (typecode == TLOGICAL) {
            char *v = zm_malloc((size_t)(t->nrows ? t->nrows : 1));
            int anynul = 0;
            char nul = 0;
            if (t->nrows && fits_read_col(t->f, TLOGICAL, col + 1, 1, 1, t->nrows, &nul, v, &anynul, &status)) {
                free(v);
                return fits_fail(t, status, "cannot read a logical column", err);
            }
            for (long r = 0; r < t->nrows; r++) out[r] = v[r] != 0;
            free(v);
            if (bad) memset(bad, 0, (size_t)t->nrows);
            return 0;
        }
        double *v = zm_malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *v);
        int rc = zm_table_read_double(t, col, v, NULL, err);
        for (long r = 0; !rc && r < t->nrows; r++) out[r] = v[r] != 0;
        if (bad) memset(bad, 0, (size_t)t->nrows);
        free(v);
        return rc;
    }
    for (long r = 0; r < t->nrows; r++) {
        const char *s = t->cells[r * t->ncols + col];
        int v = -1;
        if (!strcasecmp(s, "true") || !strcasecmp(s, "t") || !strcmp(s, "1")) v = 1;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "f") || !strcmp(s, "0")) v = 0;
        if (v < 0 && !bad)
            return zm_err_set(err, ZM_EVALUE, "%s line %ld: column %s = '%s': expected true or false",
                              t->path, t->lines[r], t->names[col], s);
        if (bad) bad[r] = v < 0;
        out[r] = v > 0;
    }
    return 0;
}
