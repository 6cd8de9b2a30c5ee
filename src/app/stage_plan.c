/*
 * stage_plan.c: `zoomorph plan` lists the inputs (bricks or cutout files), reads the
 * catalogues (each rank a share), applies the galaxy selection, counts galaxies per
 * input and gives every galaxy a global row: inputs in name order (bricks) or table
 * order (cutout files), galaxies in catalogue order within an input. The rows and the
 * bytes of /inputs and /galaxies are the same for any number of ranks.
 * Writes the /inputs and /galaxies datasets, and /rejects (inputs that cannot be used).
 */
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage_common.h"
#include "zoomorph/balance.h"
#include "zoomorph/log.h"
#include "zoomorph/survey.h"
#include "zoomorph/table.h"
#include "zoomorph/tractor.h"

typedef struct {
    int n;
    char (*name)[ZM_NAME_LEN];
    char (*path)[ZM_SOURCE_LEN];
} input_list;

/* What one rank found in one input. */
typedef struct {
    long n;
    zm_source *src;   /* selected sources (bricks) */
    float *th50, *th90;
    long long removed[ZM_SEL_NREASONS]; /* catalogue rows each cut removed ([0]: rows read) */
} found;

/* ---- inputs --------------------------------------------------------------- */

/* [survey] bricks naming a file: one brick name per line (its first word; blank lines and
 * # comments skipped). Every rank reads it (a small file). */
static int bricks_from_file(const char *path, char (**names)[ZM_BRICKNAME_LEN], int *n, zm_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return zm_err_set(err, ZM_ECONFIG, "config key [survey] bricks: %s is neither a brick name (like 1238p245) "
                              "nor a readable file of brick names", path);
    char line[1024];
    int cap = 0, lineno = 0, rc = 0;
    *n = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char word[64] = "";
        if (sscanf(line, "%63s", word) != 1 || word[0] == '#') continue;
        if (!zm_brickname_valid(word)) {
            rc = zm_err_set(err, ZM_ECONFIG, "config key [survey] bricks: file %s line %d: '%s' is not a brick name "
                            "(like 1238p245)", path, lineno, word);
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            *names = zm_realloc(*names, (size_t)cap * sizeof **names);
        }
        snprintf((*names)[(*n)++], ZM_BRICKNAME_LEN, "%s", word);
    }
    if (!rc && ferror(f)) rc = zm_err_set(err, ZM_EIO, "config key [survey] bricks: reading %s failed", path);
    fclose(f);
    if (!rc && *n == 0) rc = zm_err_set(err, ZM_ECONFIG, "config key [survey] bricks: file %s names no brick", path);
    return rc;
}

static int list_bricks(const zm_stage_args *a, input_list *L, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    if (zm_param_require(a->params, "survey.root", "plan", err)) return err->code;
    const char *root = zm_param_str(a->params, "survey.root");
    char **items = NULL, *buf = NULL;
    int n = zm_param_list_alloc(a->params, "survey.bricks", &items, &buf);
    char(*names)[ZM_BRICKNAME_LEN] = NULL;
    int rc = 0;
    if (n == 1 && !zm_brickname_valid(items[0])) {
        rc = bricks_from_file(items[0], &names, &n, err);
    } else if (n > 0) {
        names = zm_calloc((size_t)n, sizeof *names);
        for (int i = 0; i < n && !rc; i++) {
            if (!zm_brickname_valid(items[i]))
                rc = zm_err_set(err, ZM_ECONFIG,
                                "config key [survey] bricks: '%s' is not a brick name (like "
                                "1238p245)",
                                items[i]);
            snprintf(names[i], ZM_BRICKNAME_LEN, "%s", items[i]);
        }
    }
    free(items), free(buf);
    if (!rc && n <= 0) {
        /* rank 0 lists the directory tree; everyone gets the list */
        if (ctx->rank == 0) rc = zm_survey_list_bricks(root, &names, &n, err);
        ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
        if (rc) {
            ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
            err->code = rc;
            return rc;
        }
        ZM_CHECK_MPI(MPI_Bcast(&n, 1, MPI_INT, 0, ctx->comm));
        if (ctx->rank != 0) names = zm_calloc((size_t)(n ? n : 1), sizeof *names);
        if (n) ZM_CHECK_MPI(MPI_Bcast(names, n * ZM_BRICKNAME_LEN, MPI_CHAR, 0, ctx->comm));
        if (n == 0)
            rc = zm_err_set(err, ZM_EMISSING, "survey root %s: no bricks under %s/coadd/<AAA>/",
                            root, root);
    }
    if (rc) {
        free(names);
        return rc;
    }
    L->n = n;
    L->name = zm_calloc((size_t)n, sizeof *L->name);
    L->path = zm_calloc((size_t)n, sizeof *L->path);
    for (int i = 0; i < n; i++) {
        snprintf(L->name[i], ZM_NAME_LEN, "%s", names[i]);
        int w = snprintf(L->path[i], ZM_SOURCE_LEN, "%s/coadd/%.3s/%s", root, names[i], names[i]);
        if (w >= ZM_SOURCE_LEN) {
            free(names);
            return zm_err_set(err, ZM_ECONFIG, "config key [survey] root: path %s is too long (%d "
                              "characters at most)", root, ZM_SOURCE_LEN - 30);
        }
    }
    free(names);
    return 0;
}

typedef struct {
    zm_table *t;
    long n;
    double *ra, *dec, *th50, *th90;
    unsigned char *bad_ra, *bad_dec;
    char (*file)[ZM_SOURCE_LEN];
    int has_petro;
} cutout_table;

static void cutout_table_free(cutout_table *c)
{
    zm_table_close(c->t);
    free(c->ra), free(c->dec), free(c->th50), free(c->th90), free(c->bad_ra), free(c->bad_dec);
    free(c->file);
    memset(c, 0, sizeof *c);
}

/* Every rank reads the table (it is needed whole to number the rows). */
static int read_cutout_table(const zm_stage_args *a, cutout_table *c, input_list *L, zm_err *err)
{
    memset(c, 0, sizeof *c);
    if (zm_param_require(a->params, "survey.cutout_table", "plan", err)) return err->code;
    const char *path = zm_param_str(a->params, "survey.cutout_table");
    int rc = zm_table_open(path, &c->t, err);
    if (rc) return zm_err_prefix(err, "config key [survey] cutout_table"), rc;
    const char *ra_names[] = {"ra"}, *dec_names[] = {"dec"}, *file_names[] = {"file", "file_loc", "filename", "path"};
    int cra = zm_table_col_any(c->t, ra_names, 1), cdec = zm_table_col_any(c->t, dec_names, 1);
    int cfile = zm_table_col_any(c->t, file_names, 4);
    if (cra < 0 || cdec < 0 || cfile < 0) {
        rc = zm_err_set(err, ZM_EMISSING, "cutout table %s: column '%s' is missing (columns ra, dec "
                        "and file are required)", path, cra < 0 ? "ra" : cdec < 0 ? "dec" : "file");
        cutout_table_free(c);
        return rc;
    }
    long n = c->n = zm_table_nrows(c->t);
    size_t m = (size_t)(n ? n : 1);
    c->ra = zm_malloc(m * sizeof *c->ra);
    c->dec = zm_malloc(m * sizeof *c->dec);
    c->th50 = zm_malloc(m * sizeof *c->th50);
    c->th90 = zm_malloc(m * sizeof *c->th90);
    c->bad_ra = zm_malloc(m);
    c->bad_dec = zm_malloc(m);
    c->file = zm_calloc(m, sizeof *c->file);
    rc = zm_table_read_double(c->t, cra, c->ra, c->bad_ra, err);
    if (!rc) rc = zm_table_read_double(c->t, cdec, c->dec, c->bad_dec, err);
    if (!rc) rc = zm_table_read_str(c->t, cfile, (char *)c->file, ZM_SOURCE_LEN, err);
    int c50 = zm_table_col(c->t, "petro_th50"), c90 = zm_table_col(c->t, "petro_th90");
    c->has_petro = c50 >= 0;
    for (long i = 0; i < n; i++) c->th50[i] = c->th90[i] = NAN;
    if (!rc && c50 >= 0) rc = zm_table_read_double(c->t, c50, c->th50, NULL, err);
    if (!rc && c90 >= 0) rc = zm_table_read_double(c->t, c90, c->th90, NULL, err);
    if (rc) {
        cutout_table_free(c);
        return rc;
    }
    /* relative file names are relative to the table's directory */
    char dirbuf[ZM_SOURCE_LEN];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    const char *dir = dirname(dirbuf);
    L->n = (int)n;
    L->name = zm_calloc(m, sizeof *L->name);
    L->path = zm_calloc(m, sizeof *L->path);
    for (long i = 0; i < n; i++) {
        snprintf(L->name[i], ZM_NAME_LEN, "row%ld", zm_table_line(c->t, i));
        const char *f = c->file[i];
        if (f[0] == '/' || !f[0]) snprintf(L->path[i], ZM_SOURCE_LEN, "%s", f);
        else snprintf(L->path[i], ZM_SOURCE_LEN, "%s/%s", dir, f);
    }
    return 0;
}

/* ---- reading one brick's catalogue -------------------------------------------- */

static int plan_brick(const zm_stage_args *a, const char *root, const char *brick,
                      const int wanted[3], int allow_missing, const zm_selection *sel,
                      long long max_per_brick, found *fd, zm_err *err)
{
    zm_brick_files bf;
    zm_survey_brick_files(root, brick, zm_band_letters, ZM_MAX_BANDS, &bf);
    int nbands = 0;
    for (int b = 0; b < ZM_MAX_BANDS; b++) {
        if (!wanted[b]) continue;
        if (bf.image[b][0]) nbands++;
        else if (!allow_missing)
            return zm_err_set(err, ZM_EMISSING,
                              "brick %s: band %s image legacysurvey-%s-image-%s.fits[.fz] is "
                              "missing under %s/coadd/%.3s/%s (set [survey] allow_missing_bands "
                              "= true to accept it)",
                              brick, zm_band_letters[b], brick, zm_band_letters[b], root, brick,
                              brick);
    }
    if (nbands == 0)
        return zm_err_set(err, ZM_EMISSING, "brick %s: none of the requested bands has an image", brick);
    if (access(bf.tractor, R_OK) != 0)
        return zm_err_set(err, ZM_EMISSING, "brick %s: Tractor catalogue %s does not exist or is "
                          "not readable", brick, bf.tractor);
    zm_source *src = NULL;
    long n = 0;
    zm_tractor_schema schema;
    int rc = zm_tractor_read(bf.tractor, zm_band_letters, ZM_MAX_BANDS, sel->mag_band, &src, &n,
                             &schema, err);
    if (rc) return rc;
    long k = 0;
    fd->removed[ZM_SEL_KEPT] = n;
    for (long i = 0; i < n; i++) {
        if (max_per_brick && k >= max_per_brick) break;
        int why = zm_selection_why(sel, &src[i]);
        if (why == ZM_SEL_KEPT) src[k++] = src[i];
        else fd->removed[why]++;
    }
    fd->n = k;
    fd->src = src;
    fd->th50 = zm_malloc((size_t)(k ? k : 1) * sizeof(float));
    fd->th90 = zm_malloc((size_t)(k ? k : 1) * sizeof(float));
    for (long i = 0; i < k; i++) fd->th50[i] = fd->th90[i] = NAN;
    return 0;
}

/* One line: how many catalogue rows each selection cut removed, summed over ranks (a
 * cut is easy to forget: mag_max = 17.77 is the Galaxy Zoo DECaLS limit). Collective. */
static void log_selection(const zm_ctx *ctx, const zm_selection *sel, const char *mag_band, const found *fd, int n)
{
    long long tot[ZM_SEL_NREASONS] = {0};
    for (int i = 0; i < n; i++)
        for (int r = 0; r < ZM_SEL_NREASONS; r++) tot[r] += fd[i].removed[r];
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, tot, ZM_SEL_NREASONS, MPI_LONG_LONG, MPI_SUM, ctx->comm));
    long long gone = 0;
    char line[1024] = "", part[160];
    for (int r = 1; r < ZM_SEL_NREASONS; r++) {
        if (!tot[r]) continue;
        gone += tot[r];
        char why[128];
        zm_selection_reason_text(sel, r, mag_band, why, sizeof why);
        snprintf(part, sizeof part, "%s%lld %s", line[0] ? ", " : "", tot[r], why);
        strncat(line, part, sizeof line - strlen(line) - 1);
    }
    zm_info0("plan: the selection removed %lld of %lld catalogue rows%s%s", gone, tot[ZM_SEL_KEPT],
             gone ? ": " : "", line);
}

static int selection_from_params(const zm_params *p, zm_selection *sel, zm_err *err)
{
    memset(sel, 0, sizeof *sel);
    char *items[16], buf[512];
    sel->ntypes = zm_param_list(p, "select.types", items, 16, buf, sizeof buf);
    if (sel->ntypes < 0) return zm_param_list_error("select.types", 16, err);
    for (int i = 0; i < sel->ntypes; i++) snprintf(sel->types[i], sizeof sel->types[i], "%s", items[i]);
    sel->require_primary = zm_param_bool(p, "select.brick_primary");
    const char *mb = zm_param_str(p, "select.mag_band");
    sel->mag_band = !strcmp(mb, "g") ? 0 : !strcmp(mb, "r") ? 1 : !strcmp(mb, "z") ? 2 : -1;
    sel->mag_min = zm_param_real(p, "select.mag_min");
    sel->mag_max = zm_param_real(p, "select.mag_max");
    sel->r50_min = zm_param_real(p, "select.r50_min");
    sel->r50_max = zm_param_real(p, "select.r50_max");
    return 0;
}

/* ---- the stage ------------------------------------------------------------------ */

static int run_plan(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    const int bricks_mode = !strcmp(zm_param_str(p, "survey.mode"), "bricks");
    int wanted[ZM_MAX_BANDS];
    if (zm_survey_bands(p, wanted, err) < 0) return ZM_EXIT_INPUT;
    zm_selection sel;
    if (selection_from_params(p, &sel, err)) return ZM_EXIT_INPUT;
    input_list L = {0};
    cutout_table ct = {0};
    int rc = bricks_mode ? list_bricks(a, &L, err) : read_cutout_table(a, &ct, &L, err);
    if (zm_any(ctx, rc)) {
        /* list_bricks agrees on every rank; a table read may fail on one rank only */
        if (!rc) zm_err_set(err, ZM_EIO, "reading the inputs failed on another rank");
        free(L.name), free(L.path);
        return ZM_EXIT_INPUT;
    }
    zm_info0("plan: %d %s in %s", L.n, bricks_mode ? "bricks" : "cutout files",
             bricks_mode ? zm_param_str(p, "survey.root") : zm_param_str(p, "survey.cutout_table"));

    zm_store *s = NULL;
    rc = zm_store_create(&s, zm_param_str(p, "store.path"), ctx, zm_param_bool(p, "store.overwrite"), err);
    if (rc) {
        free(L.name), free(L.path);
        cutout_table_free(&ct);
        return ZM_EXIT_INPUT;
    }
    zm_store_set_write_limit(s, (size_t)zm_param_int(p, "store.max_write_mb") << 20);
    char *dump = zm_params_dump(p);
    zm_store_stage_begin(s, "plan", dump);
    free(dump);

    /* each rank reads every size-th input's catalogue */
    const int n = L.n;
    long long *count = zm_calloc((size_t)(n ? n : 1), sizeof *count);
    int *status = zm_calloc((size_t)(n ? n : 1), sizeof *status);
    found *fd = zm_calloc((size_t)(n ? n : 1), sizeof *fd);
    zm_reject_list rej = {0};
    const char *root = bricks_mode ? zm_param_str(p, "survey.root") : NULL;
    long long maxpb = zm_param_int(p, "select.max_per_brick");
    int allow_missing = zm_param_bool(p, "survey.allow_missing_bands");
    zm_progress prog;
    zm_progress_start(&prog, "plan", "inputs", n);
    for (int i = ctx->rank; i < n; i += ctx->size) {
        zm_err e = {0};
        int r = 0;
        if (bricks_mode) {
            r = plan_brick(a, root, L.name[i], wanted, allow_missing, &sel, maxpb, &fd[i], &e);
        } else if (ct.bad_ra[i] || ct.bad_dec[i] || !isfinite(ct.ra[i]) || !isfinite(ct.dec[i])) {
            r = zm_err_set(&e, ZM_EVALUE, "cutout table %s line %ld: ra/dec is not a number",
                           zm_table_path(ct.t), zm_table_line(ct.t, i));
        } else if (!ct.file[i][0]) {
            r = zm_err_set(&e, ZM_EMISSING, "cutout table %s line %ld: empty file name",
                           zm_table_path(ct.t), zm_table_line(ct.t, i));
        } else if (access(L.path[i], R_OK) != 0) {
            r = zm_err_set(&e, ZM_EIO, "cutout table %s line %ld: file %s does not exist or is not "
                           "readable", zm_table_path(ct.t), zm_table_line(ct.t, i), L.path[i]);
        } else {
            fd[i].n = 1;
            fd[i].src = zm_calloc(1, sizeof *fd[i].src);
            fd[i].src->ra = ct.ra[i];
            fd[i].src->dec = ct.dec[i];
            fd[i].src->objid = i;
            fd[i].src->r50 = NAN;
            for (int b = 0; b < ZM_MAX_BANDS; b++) fd[i].src->flux[b] = NAN;
            fd[i].th50 = zm_malloc(sizeof(float));
            fd[i].th90 = zm_malloc(sizeof(float));
            fd[i].th50[0] = (float)ct.th50[i];
            fd[i].th90[0] = (float)ct.th90[i];
        }
        if (r) {
            status[i] = ZM_INPUT_REJECTED_PLAN;
            zm_warn("plan: input %s rejected: %s", L.name[i], e.msg);
            zm_reject_add(&rej, "plan", i, -1, L.path[i], e.msg);
        }
        count[i] = fd[i].n;
        if (bricks_mode) zm_progress_update(&prog, (double)(i + 1));
    }
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, count, n, MPI_LONG_LONG, MPI_SUM, ctx->comm));
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, status, n, MPI_INT, MPI_MAX, ctx->comm));
    if (bricks_mode) log_selection(ctx, &sel, zm_param_str(p, "select.mag_band"), fd, n);
    long long *first = zm_calloc((size_t)(n ? n : 1), sizeof *first);
    long long total = 0;
    int nrej = 0;
    for (int i = 0; i < n; i++) {
        first[i] = total;
        total += count[i];
        nrej += status[i] != 0;
    }

    /* /inputs: rank 0 writes all rows (everyone knows them) */
    const zm_field *inf[] = {&ZM_F_INPUT_NAME, &ZM_F_INPUT_PATH, &ZM_F_INPUT_NGAL, &ZM_F_INPUT_FIRST,
                             &ZM_F_INPUT_STATUS};
    const void *inbuf[] = {L.name, L.path, count, first, status};
    zm_range all = {0, ctx->rank == 0 ? (unsigned long long)n : 0};
    for (int f = 0; f < 5 && !rc; f++) {
        rc = zm_store_define(s, inf[f], (unsigned long long)n, 1, err);
        if (!rc) rc = zm_store_write(s, inf[f], &all, 1, inbuf[f], err);
    }

    /* /galaxies: each rank writes the inputs it read */
    long long mine = 0;
    int nmine = 0;
    for (int i = ctx->rank; i < n; i += ctx->size) mine += fd[i].n, nmine++;
    size_t m = (size_t)(mine ? mine : 1);
    long long *id = zm_malloc(m * sizeof *id), *objid = zm_malloc(m * sizeof *objid);
    double *ra = zm_malloc(m * sizeof *ra), *dec = zm_malloc(m * sizeof *dec);
    char(*brick)[ZM_NAME_LEN] = zm_calloc(m, sizeof *brick);
    char(*type)[8] = zm_calloc(m, sizeof *type);
    int *source = zm_malloc(m * sizeof *source);
    float *r50 = zm_malloc(m * sizeof *r50), *th50 = zm_malloc(m * sizeof *th50),
          *th90 = zm_malloc(m * sizeof *th90), *flux = zm_malloc(3 * m * sizeof *flux);
    zm_range *ranges = zm_malloc((size_t)(nmine ? nmine : 1) * sizeof *ranges);
    long long k = 0;
    int nr = 0;
    for (int i = ctx->rank; i < n; i += ctx->size) {
        ranges[nr++] = (zm_range){(unsigned long long)first[i], (unsigned long long)fd[i].n};
        for (long j = 0; j < fd[i].n; j++, k++) {
            const zm_source *src = &fd[i].src[j];
            id[k] = first[i] + j;
            objid[k] = src->objid;
            ra[k] = src->ra;
            dec[k] = src->dec;
            snprintf(brick[k], ZM_NAME_LEN, "%s", bricks_mode ? L.name[i] : "");
            snprintf(type[k], 8, "%s", src->type);
            source[k] = i;
            r50[k] = src->r50;
            th50[k] = fd[i].th50[j];
            th90[k] = fd[i].th90[j];
            for (int b = 0; b < 3; b++) flux[3 * k + b] = src->flux[b];
        }
    }
    const zm_field *gf[] = {&ZM_F_GAL_ID, &ZM_F_GAL_RA, &ZM_F_GAL_DEC, &ZM_F_GAL_BRICK,
                            &ZM_F_GAL_OBJID, &ZM_F_GAL_SOURCE, &ZM_F_GAL_TYPE, &ZM_F_GAL_R50,
                            &ZM_F_GAL_TH50, &ZM_F_GAL_TH90, &ZM_F_GAL_FLUX};
    const void *gbuf[] = {id, ra, dec, brick, objid, source, type, r50, th50, th90, flux};
    for (int f = 0; f < 11 && !rc; f++) {
        rc = zm_store_define(s, gf[f], (unsigned long long)total, 1, err);
        if (!rc) rc = zm_store_write(s, gf[f], ranges, nr, gbuf[f], err);
    }
    if (!rc) rc = zm_reject_write(s, &rej, err);
    if (!rc) rc = zm_reject_canonicalise(s, 0, ctx, err);
    long long nrej_total = nrej;
    char summary[256];
    snprintf(summary, sizeof summary, "%d inputs, %lld rejected, %lld galaxies", n, nrej_total, total);
    if (!rc) zm_store_stage_end(s, "plan", summary);

    /* how the cutout work will balance on this many ranks */
    int *owner = zm_malloc((size_t)(n ? n : 1) * sizeof *owner);
    zm_assign_lpt(count, n, ctx->size, owner);
    long long maxload = 0;
    for (int r = 0; r < ctx->size; r++) {
        long long l = 0;
        for (int i = 0; i < n; i++) l += owner[i] == r ? count[i] : 0;
        if (l > maxload) maxload = l;
    }
    free(owner);
    if (!rc) {
        zm_info0("plan: %s; largest rank share on %d ranks: %lld galaxies (ideal %.0f)", summary,
                 ctx->size, maxload, (double)total / ctx->size);
        zm_info0("plan: wrote %s", zm_store_path(s));
    }

    free(id), free(objid), free(ra), free(dec), free(brick), free(type), free(source);
    free(r50), free(th50), free(th90), free(flux), free(ranges);
    for (int i = 0; i < n; i++) free(fd[i].src), free(fd[i].th50), free(fd[i].th90);
    free(fd), free(count), free(status), free(first);
    zm_reject_free(&rej);
    free(L.name), free(L.path);
    cutout_table_free(&ct);
    zm_store_close(s);
    if (rc) return ZM_EXIT_INPUT;
    if (total == 0) {
        zm_err_set(err, ZM_EMISSING, "plan: no galaxy could be selected from %d inputs (%d rejected; "
                   "see the warnings above and /rejects)", n, nrej);
        return ZM_EXIT_NOTHING;
    }
    return 0;
}

const zm_stage zm_stage_plan = {
    "plan", "list bricks or cutout files, select galaxies, assign global rows; creates the store",
    "", run_plan};
