/*
 * stage_catalogue.c: `zoomorph catalogue` writes the run's results as a FITS binary
 * table for catalogue users: id, brickname, objid, ra, dec, cutout flags, every
 * predicted vote fraction named as in the Galaxy Zoo catalogues
 * (`<question>_<answer>_fraction`) with its uncertainty (`..._fraction_std`: the
 * Monte-Carlo dropout spread when embed made one, otherwise the standard deviation of
 * the predicted Dirichlet), and the PCA-10 coordinates. TUNIT and TDISP where they
 * apply; the versions, the store and the config of every stage in the header;
 * CHECKSUM and DATASUM. Columns that later stages registered (zm_catalogue_register:
 * the anomaly score, fine-tuned predictions) join the same table. Rank 0 streams the rows from the store in chunks.
 */
#include <fitsio.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage_common.h"
#include "zoomorph/log.h"
#include "zoomorph/version.h"

#define CHUNK 65536

typedef struct {
    char name[72];
    char form[16];
    char unit[24];
    char disp[16];
} colspec;

#define MAX_EXTRA 128
#define MAX_EXTRA_WIDTH 64

/* A column registered by a later stage (zm_catalogue_register): its dataset and width. */
typedef struct {
    char name[72];
    char path[256];
    int width;
    int sel, full; /* "path#k": column k of a dataset of full values per galaxy (sel -1: all) */
} extra_col;

/* The registered columns that exist with one row per galaxy; others are skipped with a
 * warning naming them (a registered dataset removed or from an older run). */
static int extra_columns(zm_store *s, unsigned long long N, extra_col *x, int max)
{
    char buf[8192];
    if (zm_store_get_attr(s, ZM_CATALOGUE_REGISTRY, "columns", buf, sizeof buf)) return 0;
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) continue;
        *eq = '\0';
        char *hash = strchr(eq + 1, '#');
        int sel = -1;
        if (hash) *hash = '\0', sel = atoi(hash + 1);
        unsigned long long dims[4] = {0};
        zm_err e = {0};
        int nd = zm_store_shape(s, eq + 1, dims, &e);
        int width = nd == 1 ? 1 : nd == 2 ? (int)dims[1] : 0;
        if (nd < 1 || dims[0] != N || width < 1 || width > MAX_EXTRA_WIDTH || (hash && (sel < 0 || sel >= width))) {
            zm_warn("catalogue: column %s (%s) skipped: %s", t, eq + 1,
                    nd < 0 ? e.msg : hash ? "no such column of a vector of at most 64 per galaxy"
                                          : "expected one value or a vector of at most 64 per galaxy");
            continue;
        }
        snprintf(x[n].name, sizeof x[n].name, "%s", t);
        snprintf(x[n].path, sizeof x[n].path, "%s", eq + 1);
        x[n].sel = sel;
        x[n].full = width;
        x[n++].width = hash ? 1 : width;
    }
    return n;
}

static int fits_fail(const char *path, int status, const char *doing, zm_err *err)
{
    char m[600];
    zm_fits_error_string(status, m, sizeof m);
    return zm_err_set(err, ZM_EIO, "catalogue %s: %s: %s", path, doing, m);
}

static int split_columns(zm_store *s, const char *path, char cols[][72], int max)
{
    char buf[8192];
    if (zm_store_get_attr(s, path, "columns", buf, sizeof buf)) return 0;
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) snprintf(cols[n++], 72, "%s", t);
    return n;
}

/* Header: versions, store, each stage's config as HISTORY cards. */
static void write_header(fitsfile *f, zm_store *s, int *status)
{
    fits_update_key(f, TSTRING, "CREATOR", "zoomorph " ZM_VERSION, "program that wrote this table", status);
    fits_update_key(f, TSTRING, "ZMGITREV", ZM_GIT_REVISION, "zoomorph git revision", status);
    char store[FLEN_VALUE];
    snprintf(store, sizeof store, "%.68s", zm_store_path(s));
    fits_update_key(f, TSTRING, "ZMSTORE", store, "the run's store", status);
    static const char *stages[] = {"plan", "cutout", "votes", "pretrain", "embed", "pca", "anomaly", "finetune"};
    for (int k = 0; k < 8; k++) {
        char path[64], cfg[32768];
        snprintf(path, sizeof path, "/meta/stages/%s", stages[k]);
        if (zm_store_get_attr(s, path, "config", cfg, sizeof cfg)) continue;
        char line[80];
        snprintf(line, sizeof line, "zoomorph %s config:", stages[k]);
        fits_write_history(f, line, status);
        char *save = NULL;
        for (char *t = strtok_r(cfg, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
            snprintf(line, sizeof line, "  %.70s", t);
            fits_write_history(f, line, status);
        }
    }
}

static int run_catalogue(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 0, "embed", &s, err)) return ZM_EXIT_INPUT;
    const char *out = zm_param_str(p, "catalogue.path");
    int overwrite = zm_param_bool(p, "catalogue.overwrite"), rc = 0;
    if (ctx->rank == 0) {
        if (!overwrite && access(out, F_OK) == 0)
            rc = zm_err_set(err, ZM_EIO, "catalogue %s already exists; set [catalogue] overwrite = true or choose "
                            "another [catalogue] path", out);
        unsigned long long N = 0;
        if (!rc) rc = zm_store_nrows(s, ZM_F_GAL_ID.path, &N, err);
        char frac_cols[64][72];
        int A = split_columns(s, "/predictions/vote_fraction", frac_cols, 64);
        int has_std = zm_store_exists(s, "/predictions/vote_fraction_std");
        int has_pca = zm_store_exists(s, "/pca/coords_10");
        /* anomaly ranking: the forest's score, and with labels the ranking key and label */
        colspec cs[256];
        int nc = 0;
        cs[nc++] = (colspec){"id", "K", "", "I12"};
        cs[nc++] = (colspec){"brickname", "16A", "", ""};
        cs[nc++] = (colspec){"objid", "K", "", "I8"};
        cs[nc++] = (colspec){"ra", "D", "deg", "F11.6"};
        cs[nc++] = (colspec){"dec", "D", "deg", "F11.6"};
        cs[nc++] = (colspec){"cutout_flags", "J", "", "I4"};
        for (int k = 0; k < A; k++) {
            snprintf(cs[nc].name, 72, "%s_fraction", frac_cols[k]);
            snprintf(cs[nc].form, 16, "E");
            cs[nc].unit[0] = 0;
            snprintf(cs[nc++].disp, 16, "F6.4");
            snprintf(cs[nc].name, 72, "%s_fraction_std", frac_cols[k]);
            snprintf(cs[nc].form, 16, "E");
            cs[nc].unit[0] = 0;
            snprintf(cs[nc++].disp, 16, "F6.4");
        }
        if (has_pca) cs[nc++] = (colspec){"pca10", "10E", "", "F9.4"};
        extra_col xc[MAX_EXTRA];
        int nx = rc ? 0 : extra_columns(s, N, xc, MAX_EXTRA);
        for (int k = 0; k < nx; k++) {
            snprintf(cs[nc].name, 72, "%s", xc[k].name);
            snprintf(cs[nc].form, 16, "%dE", xc[k].width);
            if (zm_store_get_attr(s, xc[k].path, "units", cs[nc].unit, sizeof cs[nc].unit)) cs[nc].unit[0] = 0;
            snprintf(cs[nc++].disp, 16, "G12.5");
        }
        fitsfile *f = NULL;
        int st = 0;
        /* written beside it and renamed when complete: a full disk or a kill leaves the
         * old catalogue (or none), never a truncated one */
        char part[4200], path[4300];
        snprintf(part, sizeof part, "%s.part%d", out, (int)getpid());
        snprintf(path, sizeof path, "!%s", part);
        if (!rc && fits_create_file(&f, path, &st)) rc = fits_fail(out, st, "cannot create", err);
        char *ttype[256], *tform[256], *tunit[256];
        for (int k = 0; k < nc; k++) ttype[k] = cs[k].name, tform[k] = cs[k].form, tunit[k] = cs[k].unit;
        if (!rc && fits_create_tbl(f, BINARY_TBL, 0, nc, ttype, tform, tunit, "ZOOMORPH", &st))
            rc = fits_fail(out, st, "cannot create the table", err);
        for (int k = 0; !rc && k < nc; k++)
            if (cs[k].disp[0]) {
                char key[16];
                snprintf(key, sizeof key, "TDISP%d", k + 1);
                fits_update_key(f, TSTRING, key, cs[k].disp, NULL, &st);
            }
        if (!rc) write_header(f, s, &st);
        if (!rc && st) rc = fits_fail(out, st, "cannot write the header", err);
        size_t m = CHUNK;
        long long *ll = zm_malloc(m * sizeof *ll);
        double *d = zm_malloc(m * sizeof *d);
        int *ii = zm_malloc(m * sizeof *ii);
        float *fr = zm_malloc(m * (size_t)(A ? A : 1) * sizeof *fr), *sd = zm_malloc(m * (size_t)(A ? A : 1) * sizeof *sd);
        float *col = zm_malloc(m * MAX_EXTRA_WIDTH * sizeof *col);
        char(*br)[ZM_NAME_LEN] = zm_malloc(m * sizeof *br);
        char **bp = zm_malloc(m * sizeof *bp);
        float *conc = zm_malloc(m * (size_t)(A ? A : 1) * sizeof *conc);
        for (unsigned long long r0 = 0; !rc && r0 < N; r0 += CHUNK) {
            unsigned long long cnt = N - r0 < CHUNK ? N - r0 : CHUNK;
            zm_range r = {r0, cnt};
            LONGLONG row = (LONGLONG)r0 + 1;
            int c = 1;
#define FAIL_IF(x) if (!rc && (x)) rc = fits_fail(out, st, "cannot write rows", err)
            rc = zm_store_read(s, ZM_F_GAL_ID.path, ZM_DT_I64, 0, &r, 1, ll, err);
            FAIL_IF(fits_write_col(f, TLONGLONG, c++, row, 1, (LONGLONG)cnt, ll, &st));
            if (!rc) rc = zm_store_read(s, ZM_F_GAL_BRICK.path, ZM_DT_STR, ZM_NAME_LEN, &r, 1, br, err);
            for (unsigned long long i = 0; i < cnt; i++) bp[i] = br[i];
            FAIL_IF(fits_write_col(f, TSTRING, c++, row, 1, (LONGLONG)cnt, bp, &st));
            if (!rc) rc = zm_store_read(s, ZM_F_GAL_OBJID.path, ZM_DT_I64, 0, &r, 1, ll, err);
            FAIL_IF(fits_write_col(f, TLONGLONG, c++, row, 1, (LONGLONG)cnt, ll, &st));
            if (!rc) rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &r, 1, d, err);
            FAIL_IF(fits_write_col(f, TDOUBLE, c++, row, 1, (LONGLONG)cnt, d, &st));
            if (!rc) rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &r, 1, d, err);
            FAIL_IF(fits_write_col(f, TDOUBLE, c++, row, 1, (LONGLONG)cnt, d, &st));
            if (!rc) rc = zm_store_read(s, ZM_F_CUT_FLAGS.path, ZM_DT_I32, 0, &r, 1, ii, err);
            FAIL_IF(fits_write_col(f, TINT, c++, row, 1, (LONGLONG)cnt, ii, &st));
            if (!rc && A) rc = zm_store_read(s, "/predictions/vote_fraction", ZM_DT_F32, 0, &r, 1, fr, err);
            if (!rc && A && has_std) rc = zm_store_read(s, "/predictions/vote_fraction_std", ZM_DT_F32, 0, &r, 1, sd, err);
            if (!rc && A && !has_std) {
                /* Dirichlet marginal: a_i (A - a_i) / (A^2 (A + 1)) with A the question's total */
                rc = zm_store_read(s, "/predictions/concentration", ZM_DT_F32, 0, &r, 1, conc, err);
                for (unsigned long long i = 0; !rc && i < cnt; i++)
                    for (int k = 0; k < A; k++) {
                        float f_ = fr[i * A + k], ai = conc[i * A + k];
                        double Aq = f_ > 0 ? ai / f_ : NAN;
                        sd[i * A + k] = (float)sqrt(ai * (Aq - ai) / (Aq * Aq * (Aq + 1)));
                    }
            }
            for (int k = 0; k < A && !rc; k++) {
                for (unsigned long long i = 0; i < cnt; i++) col[i] = fr[i * A + k];
                FAIL_IF(fits_write_colnull(f, TFLOAT, c++, row, 1, (LONGLONG)cnt, col, NULL, &st));
                for (unsigned long long i = 0; i < cnt; i++) col[i] = sd[i * A + k];
                FAIL_IF(fits_write_colnull(f, TFLOAT, c++, row, 1, (LONGLONG)cnt, col, NULL, &st));
            }
            if (!rc && has_pca) {
                rc = zm_store_read(s, "/pca/coords_10", ZM_DT_F32, 0, &r, 1, col, err);
                FAIL_IF(fits_write_col(f, TFLOAT, c++, row, 1, (LONGLONG)cnt * 10, col, &st));
            }
            for (int k = 0; k < nx && !rc; k++) {
                rc = zm_store_read(s, xc[k].path, ZM_DT_F32, 0, &r, 1, col, err);
                if (xc[k].sel >= 0) /* one column of the vectors, in place (i <= i * full + sel) */
                    for (unsigned long long i = 0; i < cnt; i++) col[i] = col[i * (size_t)xc[k].full + (size_t)xc[k].sel];
                FAIL_IF(fits_write_colnull(f, TFLOAT, c++, row, 1, (LONGLONG)cnt * xc[k].width, col, NULL, &st));
            }
#undef FAIL_IF
        }
        if (!rc && fits_write_chksum(f, &st)) rc = fits_fail(out, st, "cannot write CHECKSUM", err);
        if (f) {
            int st2 = 0;
            if (fits_close_file(f, &st2) && !rc) rc = fits_fail(out, st2, "cannot close (disk full?)", err);
        }
        if (!rc && rename(part, out) != 0)
            rc = zm_err_set(err, ZM_EIO, "catalogue %s: cannot rename %s to it: %s", out, part, strerror(errno));
        if (rc && f) {
            remove(part);
            zm_err_prefix(err, "nothing written (disk full or file-size limit?)");
        }
        free(ll), free(d), free(ii), free(fr), free(sd), free(col), free(br), free(bp), free(conc);
        if (!rc) zm_info("catalogue: %llu galaxies, %d columns written to %s", N, nc, out);
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : 0;
}

const zm_stage zm_stage_catalogue = {
    "catalogue", "write the FITS catalogue: positions, predicted vote fractions with uncertainties, PCA-10, and the columns later stages registered (anomaly, fine-tuned tasks)", "",
    run_catalogue};
