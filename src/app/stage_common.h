/*
 * stage_common.h: what several stages share: reading the /inputs table, the cutout
 * configuration from parameters, and opening the store with a clear message when an
 * earlier stage has not run.
 */
#ifndef ZOOMORPH_APP_STAGE_COMMON_H
#define ZOOMORPH_APP_STAGE_COMMON_H

#include "stage.h"
#include "zoomorph/cutout.h"
#include "zoomorph/fields.h"
#include "zoomorph/gzschema.h"
#include "zoomorph/h5store.h"

typedef struct {
    int n;
    char (*name)[ZM_NAME_LEN];
    char (*path)[ZM_SOURCE_LEN];
    long long *ngal, *first;
    int *status;
    unsigned char *cutout_done;  /* zeros if the dataset does not exist yet */
} zm_inputs;

/* Independent read of /inputs (every rank reads it all: it is small). */
int zm_inputs_read(zm_store *s, zm_inputs *in, zm_err *err);
void zm_inputs_free(zm_inputs *in);

/* A rank's work in rounds: chunks of at most `batch` galaxies, each a list of pieces
 * (galaxies [off, off + count) of an input). Inputs not owned by the rank, rejected,
 * empty, or marked in done (may be NULL) are skipped. */
typedef struct {
    int input;
    long long off, count;
} zm_piece;

typedef struct {
    zm_piece *p;
    int n, cap;
} zm_chunk;

int zm_work_chunks(const zm_inputs *in, const int *owner, int rank, long long batch,
                   const unsigned char *done, zm_chunk **out);
void zm_work_chunks_free(zm_chunk *c, int n);

/* The answer columns of a decision tree, comma-separated, into buf (the "columns"
 * attribute of vote and prediction datasets). */
void zm_tree_columns(const zm_gz_schema *tree, char *buf, size_t n);

/* The vectors of [similar] space (/pca/coords_<k> or /representation/embedding) into
 * path (128 bytes) and their rows and dimension; ZM_ESTATE naming the key when the store
 * has none. */
int zm_search_space(const zm_params *p, zm_store *s, char *path, unsigned long long *n, int *d, zm_err *err);

/* Collective: a fingerprint of the vectors x (rows [r0, r0 + n) of this rank, n x d)
 * that does not depend on how rows are split over ranks (stage_index.c). */
unsigned long long zm_vectors_fingerprint(const zm_ctx *ctx, const float *x, long n, int d, unsigned long long r0);

/* Fault injection for tests: when ZM_FAULT_KILL="<stage>:<round>[:<rank>]" names this
 * stage and round, that rank (default 0) kills itself with SIGKILL, as a node failure
 * would, after the round's writes; ZM_FAULT_SIGNAL (same form) makes it raise SIGUSR1,
 * as Slurm's --signal would; ZM_FAULT_WAIT (same form) makes that rank wait there (at
 * most 120 s) until a stop signal arrives, so that a test can signal a stage from outside
 * (scancel --signal=USR1) at a known point; not in a requeued Slurm job
 * (SLURM_RESTART_COUNT > 0). No effect otherwise. */
void zm_fault_point(const zm_ctx *ctx, const char *stage, long long round);

/* Opens [store] path; with need_stage set, fails with "run 'zoomorph <need_stage>'
 * first" unless that stage completed. Collective. */
int zm_stage_open_store(const zm_stage_args *a, int writable, const char *need_stage,
                        zm_store **s, zm_err *err);

/* [cutout] parameters. */
void zm_cutout_cfg_from_params(const zm_params *p, zm_cutout_cfg *cfg, zm_field_rule *rule,
                               zm_dtype *dtype, int *rule_auto);

/* Band slots are always g = 0, r = 1, z = 2 (the stretch's order). wanted[slot] is set
 * for the slots named in [survey] bands. Returns the number wanted or ZM_ECONFIG. */
int zm_survey_bands(const zm_params *p, int wanted[ZM_MAX_BANDS], zm_err *err);
extern const char *const zm_band_letters[ZM_MAX_BANDS];

#endif
