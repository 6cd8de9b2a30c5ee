/* fields.c: see fields.h. */
#include "zoomorph/fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(path, type, units, desc) {path, type, 0, {0}, 0, units, desc}
#define S(path, len, desc) {path, ZM_DT_STR, 0, {0}, len, "", desc}

const zm_field ZM_F_INPUT_NAME = S("/inputs/name", ZM_NAME_LEN, "brick name, or the cutout file's row label");
const zm_field ZM_F_INPUT_PATH = S("/inputs/path", ZM_SOURCE_LEN, "brick directory or cutout file");
const zm_field ZM_F_INPUT_NGAL = F("/inputs/ngal", ZM_DT_I64, "", "galaxies selected from this input");
const zm_field ZM_F_INPUT_FIRST = F("/inputs/first_row", ZM_DT_I64, "", "row of its first galaxy in /galaxies");
const zm_field ZM_F_INPUT_STATUS = F("/inputs/status", ZM_DT_I32, "", "0 ok, 1 rejected by plan, 2 rejected by cutout (see /rejects)");
const zm_field ZM_F_INPUT_CUTOUT_DONE = F("/inputs/cutout_done", ZM_DT_U8, "", "1 once the cutout stage has written this input's stamps");

const zm_field ZM_F_GAL_ID = F("/galaxies/id", ZM_DT_I64, "", "global row id (0-based), the same for any rank count");
const zm_field ZM_F_GAL_RA = F("/galaxies/ra", ZM_DT_F64, "deg", "right ascension (ICRS)");
const zm_field ZM_F_GAL_DEC = F("/galaxies/dec", ZM_DT_F64, "deg", "declination (ICRS)");
const zm_field ZM_F_GAL_BRICK = S("/galaxies/brickname", ZM_NAME_LEN, "Legacy Surveys brick name (empty for cutout files)");
const zm_field ZM_F_GAL_OBJID = F("/galaxies/objid", ZM_DT_I64, "", "Tractor objid within the brick (table row for cutout files)");
const zm_field ZM_F_GAL_SOURCE = F("/galaxies/source_file", ZM_DT_I32, "", "row of /inputs the galaxy came from");
const zm_field ZM_F_GAL_TYPE = S("/galaxies/type", 8, "Tractor morphological type");
const zm_field ZM_F_GAL_R50 = F("/galaxies/r50", ZM_DT_F32, "arcsec", "half-light radius (Tractor shape_r, or fracdev-weighted DR5-7 radii)");
const zm_field ZM_F_GAL_TH50 = F("/galaxies/petro_th50", ZM_DT_F32, "arcsec", "Petrosian 50% radius if given, else NaN");
const zm_field ZM_F_GAL_TH90 = F("/galaxies/petro_th90", ZM_DT_F32, "arcsec", "Petrosian 90% radius if given, else NaN");
const zm_field ZM_F_GAL_FLUX = {"/galaxies/flux", ZM_DT_F32, 1, {3}, 0, "nanomaggies", "Tractor flux in g, r, z (NaN if absent)"};

const zm_field ZM_F_CUT_FLAGS = F("/cutouts/flags", ZM_DT_U32, "", "bit mask: 1 edge padded, 2 NaN pixels, 4 missing band, 8 too empty, 16 rejected (no stamp), 32 pre-stretched picture");
const zm_field ZM_F_CUT_PIXSCALE = F("/cutouts/pixscale", ZM_DT_F32, "arcsec/pixel", "stamp pixel scale (field / size)");

const zm_field ZM_F_REJ_STAGE = S("/rejects/stage", ZM_NAME_LEN, "stage that rejected the item");
const zm_field ZM_F_REJ_INPUT = F("/rejects/input", ZM_DT_I32, "", "row of /inputs, -1 if none");
const zm_field ZM_F_REJ_ID = F("/rejects/id", ZM_DT_I64, "", "galaxy id, -1 for a whole input");
const zm_field ZM_F_REJ_SOURCE = S("/rejects/source", ZM_SOURCE_LEN, "file involved");
const zm_field ZM_F_REJ_REASON = S("/rejects/reason", ZM_REASON_LEN, "why, naming the file, HDU, column or key");

zm_field zm_field_cutout_images(int channels, int size, zm_dtype type)
{
    zm_field f = {"/cutouts/images", type, 3,
                  {(unsigned long long)channels, (unsigned long long)size, (unsigned long long)size},
                  0, type == ZM_DT_U8 ? "0-255 = stretched [0, 1]" : "stretched [0, 1]",
                  "stamps, channels x rows x columns, row 0 north, east left, Galaxy Zoo stretch"};
    return f;
}

void zm_reject_add(zm_reject_list *l, const char *stage, int input, long long id,
                   const char *source, const char *reason)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->r = zm_realloc(l->r, (size_t)l->cap * sizeof *l->r);
    }
    zm_reject *r = &l->r[l->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->stage, sizeof r->stage, "%s", stage);
    r->input = input;
    r->id = id;
    snprintf(r->source, sizeof r->source, "%s", source ? source : "");
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
}

void zm_reject_free(zm_reject_list *l)
{
    free(l->r);
    l->r = NULL;
    l->n = l->cap = 0;
}

int zm_reject_write(zm_store *s, const zm_reject_list *l, zm_err *err)
{
    size_t n = (size_t)l->n;
    char *stage = zm_malloc(n * ZM_NAME_LEN + 1), *src = zm_malloc(n * ZM_SOURCE_LEN + 1),
         *why = zm_malloc(n * ZM_REASON_LEN + 1);
    int *input = zm_malloc(n * sizeof *input + 1);
    long long *id = zm_malloc(n * sizeof *id + 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(stage + i * ZM_NAME_LEN, l->r[i].stage, ZM_NAME_LEN);
        memcpy(src + i * ZM_SOURCE_LEN, l->r[i].source, ZM_SOURCE_LEN);
        memcpy(why + i * ZM_REASON_LEN, l->r[i].reason, ZM_REASON_LEN);
        input[i] = l->r[i].input;
        id[i] = l->r[i].id;
    }
    int rc = zm_store_append(s, &ZM_F_REJ_STAGE, n, stage, err);
    if (!rc) rc = zm_store_append(s, &ZM_F_REJ_INPUT, n, input, err);
    if (!rc) rc = zm_store_append(s, &ZM_F_REJ_ID, n, id, err);
    if (!rc) rc = zm_store_append(s, &ZM_F_REJ_SOURCE, n, src, err);
    if (!rc) rc = zm_store_append(s, &ZM_F_REJ_REASON, n, why, err);
    free(stage), free(src), free(why), free(input), free(id);
    return rc;
}

unsigned long long zm_reject_count(zm_store *s)
{
    unsigned long long n = 0;
    if (!zm_store_exists(s, ZM_F_REJ_ID.path)) return 0;
    zm_err e = {0};
    if (zm_store_nrows(s, ZM_F_REJ_ID.path, &n, &e)) return 0;
    return n;
}

/* The /rejects rows [from, from + m) into the five column buffers (independent read). */
static int read_rejects(zm_store *s, unsigned long long from, size_t m, char *stage, int *input, long long *id,
                        char *src, char *why, zm_err *err)
{
    zm_range r = {from, m};
    int rc = zm_store_read(s, ZM_F_REJ_STAGE.path, ZM_DT_STR, ZM_NAME_LEN, &r, 1, stage, err);
    if (!rc) rc = zm_store_read(s, ZM_F_REJ_INPUT.path, ZM_DT_I32, 0, &r, 1, input, err);
    if (!rc) rc = zm_store_read(s, ZM_F_REJ_ID.path, ZM_DT_I64, 0, &r, 1, id, err);
    if (!rc) rc = zm_store_read(s, ZM_F_REJ_SOURCE.path, ZM_DT_STR, ZM_SOURCE_LEN, &r, 1, src, err);
    if (!rc) rc = zm_store_read(s, ZM_F_REJ_REASON.path, ZM_DT_STR, ZM_REASON_LEN, &r, 1, why, err);
    return rc;
}

/* Rank 0 writes rows [from, from + k) of the five columns (collective). */
static int write_rejects(zm_store *s, unsigned long long from, size_t k, const char *stage, const int *input,
                         const long long *id, const char *src, const char *why, const zm_ctx *ctx, zm_err *err)
{
    const zm_field *f[] = {&ZM_F_REJ_STAGE, &ZM_F_REJ_INPUT, &ZM_F_REJ_ID, &ZM_F_REJ_SOURCE, &ZM_F_REJ_REASON};
    const void *buf[] = {stage, input, id, src, why};
    zm_range w = {from, ctx->rank == 0 ? k : 0};
    int rc = 0;
    for (int j = 0; j < 5 && !rc; j++) rc = zm_store_write(s, f[j], &w, 1, buf[j], err);
    return rc;
}

static int cmp_reject(const void *a, const void *b)
{
    const zm_reject *x = a, *y = b;
    if (x->input != y->input) return x->input < y->input ? -1 : 1;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    int c = strcmp(x->stage, y->stage);
    return c ? c : strcmp(x->reason, y->reason);
}

int zm_reject_canonicalise(zm_store *s, unsigned long long from, const zm_ctx *ctx, zm_err *err)
{
    unsigned long long n = zm_reject_count(s);
    if (n <= from) return 0;
    size_t m = (size_t)(n - from);
    char *stage = zm_malloc(m * ZM_NAME_LEN), *src = zm_malloc(m * ZM_SOURCE_LEN),
         *why = zm_malloc(m * ZM_REASON_LEN);
    int *input = zm_malloc(m * sizeof *input);
    long long *id = zm_malloc(m * sizeof *id);
    int rc = read_rejects(s, from, m, stage, input, id, src, why, err);
    if (zm_any(ctx, rc)) {
        if (!rc) zm_err_set(err, ZM_EIO, "reading /rejects failed on another rank");
        rc = ZM_EIO;
    } else {
        zm_reject *all = zm_calloc(m, sizeof *all);
        for (size_t i = 0; i < m; i++) {
            memcpy(all[i].stage, stage + i * ZM_NAME_LEN, ZM_NAME_LEN);
            memcpy(all[i].source, src + i * ZM_SOURCE_LEN, ZM_SOURCE_LEN);
            memcpy(all[i].reason, why + i * ZM_REASON_LEN, ZM_REASON_LEN);
            all[i].stage[ZM_NAME_LEN - 1] = all[i].source[ZM_SOURCE_LEN - 1] = all[i].reason[ZM_REASON_LEN - 1] = 0;
            all[i].input = input[i];
            all[i].id = id[i];
        }
        qsort(all, m, sizeof *all, cmp_reject);
        for (size_t i = 0; i < m; i++) {
            memcpy(stage + i * ZM_NAME_LEN, all[i].stage, ZM_NAME_LEN);
            memcpy(src + i * ZM_SOURCE_LEN, all[i].source, ZM_SOURCE_LEN);
            memcpy(why + i * ZM_REASON_LEN, all[i].reason, ZM_REASON_LEN);
            input[i] = all[i].input;
            id[i] = all[i].id;
        }
        free(all);
        rc = write_rejects(s, from, m, stage, input, id, src, why, ctx, err);
    }
    free(stage), free(src), free(why), free(input), free(id);
    return rc;
}

int zm_reject_drop_unfinished(zm_store *s, unsigned long long from, const unsigned char *keep,
                              const zm_ctx *ctx, zm_err *err)
{
    unsigned long long n = zm_reject_count(s);
    if (n <= from) return 0;
    size_t m = (size_t)(n - from);
    char *stage = zm_malloc(m * ZM_NAME_LEN), *src = zm_malloc(m * ZM_SOURCE_LEN), *why = zm_malloc(m * ZM_REASON_LEN);
    int *input = zm_malloc(m * sizeof *input);
    long long *id = zm_malloc(m * sizeof *id);
    int rc = read_rejects(s, from, m, stage, input, id, src, why, err);
    if (zm_any(ctx, rc)) {
        if (!rc) rc = zm_err_set(err, ZM_EIO, "reading /rejects failed on another rank");
    } else {
        size_t k = 0;
        for (size_t i = 0; i < m; i++) {
            if (input[i] >= 0 && !keep[input[i]]) continue;
            memmove(stage + k * ZM_NAME_LEN, stage + i * ZM_NAME_LEN, ZM_NAME_LEN);
            memmove(src + k * ZM_SOURCE_LEN, src + i * ZM_SOURCE_LEN, ZM_SOURCE_LEN);
            memmove(why + k * ZM_REASON_LEN, why + i * ZM_REASON_LEN, ZM_REASON_LEN);
            input[k] = input[i];
            id[k] = id[i];
            k++;
        }
        const zm_field *f[] = {&ZM_F_REJ_STAGE, &ZM_F_REJ_INPUT, &ZM_F_REJ_ID, &ZM_F_REJ_SOURCE, &ZM_F_REJ_REASON};
        for (int j = 0; j < 5 && !rc; j++) rc = zm_store_resize(s, f[j]->path, from + k, err);
        if (!rc) rc = write_rejects(s, from, k, stage, input, id, src, why, ctx, err);
    }
    free(stage), free(src), free(why), free(input), free(id);
    return rc;
}
