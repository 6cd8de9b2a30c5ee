/*
 * fields.h: the field table of the store: every dataset zoomorph writes, with its type,
 * per-row shape, units and description (which become HDF5 attributes). One generic
 * writer (zm_store_write) serves them all. docs/store-format.md lists the same table.
 */
#ifndef ZOOMORPH_FIELDS_H
#define ZOOMORPH_FIELDS_H

#include "zoomorph/h5store.h"

#define ZM_NAME_LEN 16    /* brick names, Tractor types, stage names */
#define ZM_SOURCE_LEN 256 /* input paths */
#define ZM_REASON_LEN 256 /* reject reasons */

/* /inputs: one row per input (a brick, or a cutout file) in plan order. */
extern const zm_field ZM_F_INPUT_NAME, ZM_F_INPUT_PATH, ZM_F_INPUT_NGAL, ZM_F_INPUT_FIRST,
    ZM_F_INPUT_STATUS, ZM_F_INPUT_CUTOUT_DONE;
/* /galaxies: one row per selected galaxy; row = id. */
extern const zm_field ZM_F_GAL_ID, ZM_F_GAL_RA, ZM_F_GAL_DEC, ZM_F_GAL_BRICK, ZM_F_GAL_OBJID,
    ZM_F_GAL_SOURCE, ZM_F_GAL_TYPE, ZM_F_GAL_R50, ZM_F_GAL_TH50, ZM_F_GAL_TH90, ZM_F_GAL_FLUX;
/* /cutouts */
extern const zm_field ZM_F_CUT_FLAGS, ZM_F_CUT_PIXSCALE;
/* /rejects: appended by any stage. */
extern const zm_field ZM_F_REJ_STAGE, ZM_F_REJ_INPUT, ZM_F_REJ_ID, ZM_F_REJ_SOURCE,
    ZM_F_REJ_REASON;

/* /cutouts/images: N x channels x size x size, uint8 or float16. */
zm_field zm_field_cutout_images(int channels, int size, zm_dtype type);

/* Input status values in /inputs/status. */
enum { ZM_INPUT_OK = 0, ZM_INPUT_REJECTED_PLAN = 1, ZM_INPUT_REJECTED_CUTOUT = 2 };

/* One row of /rejects, and a growable list of them. */
typedef struct {
    char stage[ZM_NAME_LEN];
    int input;
    long long id;
    char source[ZM_SOURCE_LEN];
    char reason[ZM_REASON_LEN];
} zm_reject;

typedef struct {
    zm_reject *r;
    long n, cap;
} zm_reject_list;

void zm_reject_add(zm_reject_list *l, const char *stage, int input, long long id,
                   const char *source, const char *reason);
void zm_reject_free(zm_reject_list *l);
/* Collective: appends every rank's rejects to /rejects (rank order). */
int zm_reject_write(zm_store *s, const zm_reject_list *l, zm_err *err);
/* Number of rows in /rejects now (0 if none yet). */
unsigned long long zm_reject_count(zm_store *s);
/* Collective: sorts the /rejects rows from row `from` on by (input, id, reason) so that
 * the table is the same whatever the number of ranks that wrote it. */
int zm_reject_canonicalise(zm_store *s, unsigned long long from, const zm_ctx *ctx, zm_err *err);
/* Collective: drops the /rejects rows from row `from` on whose input is not marked in
 * keep (an interrupted stage's rows for inputs it will redo). */
int zm_reject_drop_unfinished(zm_store *s, unsigned long long from, const unsigned char *keep,
                              const zm_ctx *ctx, zm_err *err);

#endif
