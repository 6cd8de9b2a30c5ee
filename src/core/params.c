/*
 * params.c: see params.h. Rank 0 reads the INI file with libinih, validates every
 * value against the parameter table, and broadcasts "name=value" lines plus each
 * value's source; the other ranks never touch the file.
 */
#include "zoomorph/params.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SRC_NONE = 0, SRC_DEFAULT = 1, SRC_FILE = 2, SRC_SET = 3 };

struct zm_params {
    int n;
    const zm_param_def **defs;
    char **values;  /* NULL when unset */
    int *source;
};

int zm_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int *row = zm_malloc((lb + 1) * sizeof *row);
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[lb];
    free(row);
    return d;
}

static int find_index(const zm_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcasecmp(p->defs[i]->name, name) == 0) return i;
    return -1;
}

const zm_param_def *zm_params_find_def(const zm_params *p, const char *name)
{
    int i = find_index(p, name);
    return i < 0 ? NULL : p->defs[i];
}

static const char *nearest_name(const zm_params *p, const char *name)
{
    int best = 1 << 30;
    const char *who = NULL;
    for (int i = 0; i < p->n; i++) {
        int d = zm_edit_distance(name, p->defs[i]->name);
        /* also compare the key alone, for a key placed in the wrong section */
        const char *dot = strchr(p->defs[i]->name, '.');
        const char *ndot = strchr(name, '.');
        if (dot && ndot) {
            int dk = zm_edit_distance(ndot + 1, dot + 1) + 1;
            if (dk < d) d = dk;
        }
        if (d < best) {
            best = d;
            who = p->defs[i]->name;
        }
    }
    int limit = (int)strlen(name) / 3;
    if (limit < 3) limit = 3;
    return best <= limit ? who : NULL;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t k = 0;
    while (s[k] && isspace((unsigned char)s[k])) k++;
    if (k) memmove(s, s + k, n - k + 1);
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = 1, 1;
        if (strcasecmp(v, no[i]) == 0) return *out = 0, 1;
    }
    return 0;
}

/* Validate value for def; 0 or ZM_ECONFIG with a message naming the key (where says
 * where it came from: "file run.ini line 12" or "--set"). */
static int validate(const zm_param_def *d, const char *value, const char *where, zm_err *err)
{
    char sec[128];
    const char *dot = strchr(d->name, '.');
    snprintf(sec, sizeof sec, "[%.*s] %s", (int)(dot ? dot - d->name : 0), d->name,
             dot ? dot + 1 : d->name);
    errno = 0;
    char *end = NULL;
    switch (d->type) {
    case ZM_PT_INT: {
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno)
            return zm_err_set(err, ZM_ECONFIG, "%s: config key %s = '%s': expected an integer",
                              where, sec, value);
        if (d->min <= d->max && ((double)v < d->min || (double)v > d->max))
            return zm_err_set(err, ZM_ECONFIG,
                              "%s: config key %s = %lld: expected a value in [%g, %g]", where,
                              sec, v, d->min, d->max);
        break;
    }
    case ZM_PT_REAL: {
        double v = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(v))
            return zm_err_set(err, ZM_ECONFIG, "%s: config key %s = '%s': expected a number",
                              where, sec, value);
        if (d->min <= d->max && (v < d->min || v > d->max))
            return zm_err_set(err, ZM_ECONFIG,
                              "%s: config key %s = %g: expected a value in [%g, %g]", where, sec,
                              v, d->min, d->max);
        break;
    }
    case ZM_PT_BOOL: {
        int b;
        if (!parse_bool(value, &b))
            return zm_err_set(err, ZM_ECONFIG,
                              "%s: config key %s = '%s': expected true or false", where, sec,
                              value);
        break;
    }
    case ZM_PT_CHOICE: {
        const char *c = d->choices;
        size_t lv = strlen(value);
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t lc = bar ? (size_t)(bar - c) : strlen(c);
            if (lc == lv && strncasecmp(c, value, lv) == 0) return 0;
            c = bar ? bar + 1 : NULL;
        }
        return zm_err_set(err, ZM_ECONFIG, "%s: config key %s = '%s': expected one of %s",
                          where, sec, value, d->choices);
    }
    case ZM_PT_STR:
    case ZM_PT_LIST:
        break;
    }
    return 0;
}

static void set_value(zm_params *p, int i, const char *v, int src)
{
    free(p->values[i]);
    p->values[i] = v ? zm_strdup(v) : NULL;
    p->source[i] = v ? src : SRC_NONE;
}

typedef struct {
    zm_params *p;
    const char *path;
    int line_guess;
    zm_err *err;
    int failed;
    char seen[256][96];
    int nseen;
} ini_state;

/* A value as libinih gives it, trimmed, without an inline comment (" ;" or " #"). */
static void ini_value(const char *value, char *val, size_t n)
{
    snprintf(val, n, "%s", value ? value : "");
    trim(val);
    for (char *c = val; *c; c++)
        if ((*c == ';' || *c == '#') && c > val && isspace((unsigned char)c[-1])) {
            *c = '\0';
            trim(val);
            break;
        }
}

static int on_ini_line(void *user, const char *section, const char *key, const char *value)
{
    ini_state *st = user;
    char name[256], where[512], val[4096];
    snprintf(name, sizeof name, "%s.%s", section, key);
    ini_value(value, val, sizeof val);
    snprintf(where, sizeof where, "config file %s", st->path);
    if (!section[0]) {
        zm_err_set(st->err, ZM_ECONFIG, "%s: key '%s' is outside any [section]", where, key);
        return 0;
    }
    int i = find_index(st->p, name);
    if (i < 0) {
        const char *near = nearest_name(st->p, name);
        if (near)
            zm_err_set(st->err, ZM_ECONFIG,
                       "%s: unknown config key [%s] %s (did you mean '%s'?)", where, section,
                       key, near);
        else
            zm_err_set(st->err, ZM_ECONFIG, "%s: unknown config key [%s] %s", where, section,
                       key);
        return 0;
    }
    for (int k = 0; k < st->nseen; k++)
        if (strcasecmp(st->seen[k], name) == 0) {
            zm_err_set(st->err, ZM_ECONFIG, "%s: config key [%s] %s is given twice", where,
                       section, key);
            return 0;
        }
    if (st->nseen < 256) snprintf(st->seen[st->nseen++], sizeof st->seen[0], "%s", name);
    if (validate(st->p->defs[i], val, where, st->err)) return 0;
    set_value(st->p, i, val, SRC_FILE);
    return 1;
}

/* libinih reads lines of at most INI_MAX_LINE - 1 characters and parses the rest of a
 * longer line as a line of its own; refuse such a file with a message instead. Rewinds f. */
static int long_line(FILE *f, const char *path, zm_err *err)
{
    int c, line = 1, len = 0, rc = 0;
    while (!rc && (c = getc(f)) != EOF) {
        if (c == '\n') {
            line++, len = 0;
        } else if (++len >= INI_MAX_LINE - 1) {
            rc = zm_err_set(err, ZM_ECONFIG,
                            "config file %s line %d: longer than %d characters; a long list (like [survey] "
                            "bricks) can go in a file named by the key", path, line, INI_MAX_LINE - 2);
        }
    }
    rewind(f);
    return rc;
}

static int apply_override(zm_params *p, const char *ov, zm_err *err)
{
    const char *eq = strchr(ov, '=');
    if (!eq || eq == ov)
        return zm_err_set(err, ZM_ECONFIG, "--set '%s': expected section.key=value", ov);
    char name[256], val[4096];
    snprintf(name, sizeof name, "%.*s", (int)(eq - ov), ov);
    if (strlen(eq + 1) >= sizeof val)
        return zm_err_set(err, ZM_ECONFIG, "--set %s: value longer than %zu characters (name a file for long lists, "
                          "like [survey] bricks)", name, sizeof val - 1);
    snprintf(val, sizeof val, "%s", eq + 1);
    trim(name);
    trim(val);
    int i = find_index(p, name);
    if (i < 0) {
        const char *near = nearest_name(p, name);
        return zm_err_set(err, ZM_ECONFIG, "--set: unknown config key '%s'%s%s%s", name,
                          near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    if (validate(p->defs[i], val, "--set", err)) return err->code;
    set_value(p, i, val, SRC_SET);
    return 0;
}

static zm_params *params_new(const zm_param_table *tables, int ntables)
{
    zm_params *p = zm_calloc(1, sizeof *p);
    for (int t = 0; t < ntables; t++) p->n += tables[t].n;
    p->defs = zm_calloc((size_t)p->n, sizeof *p->defs);
    p->values = zm_calloc((size_t)p->n, sizeof *p->values);
    p->source = zm_calloc((size_t)p->n, sizeof *p->source);
    int k = 0;
    for (int t = 0; t < ntables; t++)
        for (int i = 0; i < tables[t].n; i++) {
            const zm_param_def *d = &tables[t].defs[i];
            for (int j = 0; j < k; j++)
                if (strcasecmp(p->defs[j]->name, d->name) == 0)
                    ZM_ABORT("parameter %s is declared twice", d->name);
            p->defs[k] = d;
            if (d->def) set_value(p, k, d->def, SRC_DEFAULT);
            k++;
        }
    return p;
}

void zm_params_free(zm_params *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->values[i]);
    free(p->values);
    free(p->source);
    free(p->defs);
    free(p);
}

/* Serialise the values: per parameter "source\tvalue\n" in table order (values hold no
 * newlines: libinih gives single lines). */
static char *serialise(const zm_params *p, int *len)
{
    size_t cap = 64, used = 0;
    for (int i = 0; i < p->n; i++) cap += 8 + (p->values[i] ? strlen(p->values[i]) : 0);
    char *buf = zm_malloc(cap);
    for (int i = 0; i < p->n; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%d\t%s\n", p->source[i],
                                 p->values[i] ? p->values[i] : "");
    *len = (int)used + 1;
    return buf;
}

static void deserialise(zm_params *p, char *buf)
{
    char *save = NULL, *line = strtok_r(buf, "\n", &save);
    for (int i = 0; i < p->n; i++) {
        if (!line) ZM_ABORT("parameter broadcast is short (%d of %d)", i, p->n);
        int src = line[0] - '0';
        set_value(p, i, src == SRC_NONE ? NULL : line + 2, src);
        line = strtok_r(NULL, "\n", &save);
    }
}

int zm_params_load(zm_params **out, const zm_param_table *tables, int ntables,
                   const char *ini_path, char *const *overrides, int noverrides,
                   MPI_Comm comm, zm_err *err)
{
    int rank;
    ZM_CHECK_MPI(MPI_Comm_rank(comm, &rank));
    zm_params *p = params_new(tables, ntables);
    zm_err local = {0};
    int status = 0;
    if (rank == 0) {
        if (ini_path) {
            ini_state *st = zm_calloc(1, sizeof *st);
            st->p = p;
            st->path = ini_path;
            st->err = &local;
            FILE *f = fopen(ini_path, "r");
            if (!f) {
                status = zm_err_set(&local, ZM_EIO, "config file %s: cannot open: %s", ini_path,
                                    strerror(errno));
            } else if (long_line(f, ini_path, &local)) {
                status = local.code;
                fclose(f);
            } else {
                int line = ini_parse_file(f, on_ini_line, st);
                fclose(f);
                if (line != 0) {
                    if (!local.code)
                        zm_err_set(&local, ZM_ECONFIG, "config file %s: syntax error",
                                   ini_path);
                    /* libinih reports the line of the first error */
                    if (line > 0) {
                        char m[ZM_ERR_MSG_LEN];
                        snprintf(m, sizeof m, "%s", local.msg);
                        const char *tail = strstr(m, ": ");
                        snprintf(local.msg, sizeof local.msg, "config file %s line %d%s",
                                 ini_path, line, tail ? tail : "");
                    }
                    status = local.code;
                }
            }
            free(st);
        }
        for (int i = 0; !status && i < noverrides; i++)
            status = apply_override(p, overrides[i], &local);
    }
    ZM_CHECK_MPI(MPI_Bcast(&status, 1, MPI_INT, 0, comm));
    if (status) {
        ZM_CHECK_MPI(MPI_Bcast(local.msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, comm));
        zm_err_set(err, status, "%s", local.msg);
        zm_params_free(p);
        *out = NULL;
        return status;
    }
    int len = 0;
    char *blob = rank == 0 ? serialise(p, &len) : NULL;
    ZM_CHECK_MPI(MPI_Bcast(&len, 1, MPI_INT, 0, comm));
    if (rank != 0) blob = zm_malloc((size_t)len);
    ZM_CHECK_MPI(MPI_Bcast(blob, len, MPI_CHAR, 0, comm));
    if (rank != 0) deserialise(p, blob);
    free(blob);
    *out = p;
    return 0;
}

/* zm_params_recorded: every known, valid key of the text replaces p's value */
static int on_recorded_line(void *user, const char *section, const char *key, const char *value)
{
    zm_params *q = user;
    char name[256], val[4096];
    snprintf(name, sizeof name, "%s.%s", section, key);
    ini_value(value, val, sizeof val);
    int i = find_index(q, name);
    zm_err e = {0};
    if (i >= 0 && !validate(q->defs[i], val, "recorded config", &e)) set_value(q, i, val, SRC_FILE);
    return 1;
}

zm_params *zm_params_recorded(const zm_params *p, const char *text)
{
    zm_params *q = zm_calloc(1, sizeof *q);
    q->n = p->n;
    q->defs = zm_calloc((size_t)q->n, sizeof *q->defs);
    q->values = zm_calloc((size_t)q->n, sizeof *q->values);
    q->source = zm_calloc((size_t)q->n, sizeof *q->source);
    memcpy(q->defs, p->defs, (size_t)q->n * sizeof *q->defs);
    for (int i = 0; i < q->n; i++) set_value(q, i, p->values[i], p->source[i]);
    ini_parse_string(text, on_recorded_line, q);
    return q;
}

int zm_params_set(zm_params *p, const char *name, const char *value, zm_err *err)
{
    char ov[4096];
    snprintf(ov, sizeof ov, "%s=%s", name, value);
    return apply_override(p, ov, err);
}

static int index_or_abort(const zm_params *p, const char *name, zm_param_type want)
{
    int i = find_index(p, name);
    if (i < 0) ZM_ABORT("parameter '%s' is not in the parameter table", name);
    zm_param_type t = p->defs[i]->type;
    int ok = t == want || (want == ZM_PT_STR && (t == ZM_PT_CHOICE || t == ZM_PT_LIST));
    if (!ok) ZM_ABORT("parameter '%s' read with the wrong type", name);
    return i;
}

long long zm_param_int(const zm_params *p, const char *name)
{
    int i = index_or_abort(p, name, ZM_PT_INT);
    if (!p->values[i]) ZM_ABORT("parameter '%s' has no value and no default", name);
    return strtoll(p->values[i], NULL, 10);
}

double zm_param_real(const zm_params *p, const char *name)
{
    int i = index_or_abort(p, name, ZM_PT_REAL);
    if (!p->values[i]) ZM_ABORT("parameter '%s' has no value and no default", name);
    return strtod(p->values[i], NULL);
}

int zm_param_bool(const zm_params *p, const char *name)
{
    int i = index_or_abort(p, name, ZM_PT_BOOL), b = 0;
    if (!p->values[i]) ZM_ABORT("parameter '%s' has no value and no default", name);
    parse_bool(p->values[i], &b);
    return b;
}

const char *zm_param_str(const zm_params *p, const char *name)
{
    int i = index_or_abort(p, name, ZM_PT_STR);
    return p->values[i];
}

int zm_param_list(const zm_params *p, const char *name, char **items, int max, char *buf,
                  int bufsize)
{
    const char *v = zm_param_str(p, name);
    if (!v) return 0;
    if (strlen(v) >= (size_t)bufsize) return -1;
    snprintf(buf, (size_t)bufsize, "%s", v);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        trim(tok);
        if (!*tok) continue;
        if (n == max) return -1;
        items[n++] = tok;
    }
    return n;
}

int zm_param_list_alloc(const zm_params *p, const char *name, char ***items, char **buf)
{
    const char *v = zm_param_str(p, name);
    size_t len = v ? strlen(v) : 0, words = 1;
    for (size_t i = 0; i < len; i++) words += v[i] == ',';
    *buf = zm_malloc(len + 1);
    *items = zm_malloc(words * sizeof **items);
    return zm_param_list(p, name, *items, (int)words, *buf, (int)(len + 1));
}

int zm_param_list_error(const char *name, int max, zm_err *err)
{
    const char *dot = strchr(name, '.');
    return zm_err_set(err, ZM_ECONFIG, "config key [%.*s] %s: more than %d items (or too long a value)",
                      dot ? (int)(dot - name) : 0, name, dot ? dot + 1 : name, max);
}

int zm_param_is_set(const zm_params *p, const char *name)
{
    int i = find_index(p, name);
    if (i < 0) ZM_ABORT("parameter '%s' is not in the parameter table", name);
    return p->source[i] >= SRC_FILE;
}

int zm_param_require(const zm_params *p, const char *name, const char *stage, zm_err *err)
{
    int i = find_index(p, name);
    if (i < 0) ZM_ABORT("parameter '%s' is not in the parameter table", name);
    if (p->values[i] && p->values[i][0]) return 0;
    const char *dot = strchr(name, '.');
    return zm_err_set(err, ZM_ECONFIG,
                      "config key [%.*s] %s is required by stage '%s' (%s); set it in the "
                      "config file or with --set %s=...",
                      (int)(dot ? dot - name : 0), name, dot ? dot + 1 : name, stage,
                      p->defs[i]->help, name);
}

char *zm_params_dump(const zm_params *p)
{
    static const char *srcname[] = {"", "default", "file", "set"};
    size_t cap = 256, used = 0;
    for (int i = 0; i < p->n; i++)
        cap += strlen(p->defs[i]->name) + (p->values[i] ? strlen(p->values[i]) : 0) + 40;
    char *buf = zm_malloc(cap);
    buf[0] = '\0';
    char section[128] = "";
    for (int i = 0; i < p->n; i++) {
        if (!p->values[i]) continue;
        const char *name = p->defs[i]->name, *dot = strchr(name, '.');
        int sl = dot ? (int)(dot - name) : 0;
        if ((int)strlen(section) != sl || strncmp(section, name, (size_t)sl) != 0) {
            snprintf(section, sizeof section, "%.*s", sl, name);
            used += (size_t)snprintf(buf + used, cap - used, "%s[%s]\n", used ? "\n" : "",
                                     section);
        }
        used += (size_t)snprintf(buf + used, cap - used, "%s = %s ; %s\n", dot ? dot + 1 : name,
                                 p->values[i], srcname[p->source[i]]);
    }
    return buf;
}
