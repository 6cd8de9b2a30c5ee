/*
 * fuzz_table: catalogue tables (built twice: FUZZ_CSV for CSV text, otherwise FITS binary
 * tables) through every reader that takes one: the generic column access (zm_table_*
 * with every column read as double, integer, string and logical), Tractor catalogues
 * (zm_tractor_read, both schemas) and Galaxy Zoo vote tables (zm_votes_read with the
 * DECaLS schema, by position and by id).
 */
#include "fuzz_common.h"
#include "zoomorph/gzschema.h"
#include "zoomorph/table.h"
#include "zoomorph/tractor.h"
#include "zoomorph/votes.h"

#ifdef FUZZ_CSV
#define SUFFIX ".csv"
#else
#define SUFFIX ".fits"
#endif

static zm_gz_schema g_schema;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    zm_err err = {0};
    if (zm_gz_schema_decals(&g_schema, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    return 0;
}

static void need_msg(const zm_err *err)
{
    if (!err->msg[0]) abort(); /* every error names what went wrong */
}

static void generic(const char *path)
{
    zm_table *t = NULL;
    zm_err err = {0};
    if (zm_table_open(path, &t, &err)) {
        need_msg(&err);
        return;
    }
    long nr = zm_table_nrows(t);
    if (nr < 0) abort();
    if (nr > 100000) nr = 100000; /* the readers fill whole columns */
    size_t rows = (size_t)zm_table_nrows(t) + 1;
    if (rows <= 100001) {
        double *d = malloc(rows * sizeof *d);
        long long *ll = malloc(rows * sizeof *ll);
        unsigned char *bad = malloc(rows);
        unsigned char *b = malloc(rows);
        char *s = malloc(rows * 24);
        for (int c = 0; c < 64; c++) {
            zm_err e = {0};
            /* a column index past the last must be refused, not read */
            int rc = zm_table_read_double(t, c, d, bad, &e);
            if (rc) need_msg(&e);
            if (rc == ZM_EMISSING && strstr(e.msg, "no such column")) break;
            zm_err_clear(&e);
            if (zm_table_read_ll(t, c, ll, bad, &e)) need_msg(&e);
            zm_err_clear(&e);
            if (zm_table_read_str(t, c, s, 24, &e)) need_msg(&e);
            zm_err_clear(&e);
            if (zm_table_read_bool(t, c, b, bad, &e)) need_msg(&e);
        }
        for (long i = 0; i < nr; i++) (void)zm_table_line(t, i);
        free(d);
        free(ll);
        free(bad);
        free(b);
        free(s);
    }
    zm_table_close(t);
}

static void tractor(const char *path)
{
    static const char *const bands[3] = {"g", "r", "z"};
    zm_source *src = NULL;
    long n = 0;
    zm_tractor_schema schema;
    zm_err err = {0};
    if (zm_tractor_read(path, bands, 3, 1, &src, &n, &schema, &err) == 0) {
        zm_selection sel = {0};
        sel.require_primary = 1;
        sel.mag_band = 1;
        sel.mag_min = 14;
        sel.mag_max = 19.5;
        sel.r50_min = 0.5;
        for (long i = 0; i < n; i++) (void)zm_selection_why(&sel, &src[i]);
        free(src);
    } else {
        need_msg(&err);
    }
}

static void votes(const char *path, const char *id_column)
{
    zm_votes v;
    memset(&v, 0, sizeof v);
    zm_err err = {0};
    if (zm_votes_read(path, &g_schema, id_column, &v, &err) == 0)
        zm_votes_free(&v);
    else
        need_msg(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_write_file(data, n, SUFFIX);
    generic(path);
    tractor(path);
    votes(path, NULL);
    votes(path, "id");
    return 0;
}
