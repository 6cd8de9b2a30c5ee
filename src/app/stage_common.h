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
 * as Slurm's --signal would. No effect otherwise. */
void zm_fault_point(const zm_ctx *ctx, const char *stage, long long round);

/* Collective: matches n label rows (every rank passes the same rows) to store rows, by
 * id (ids[i] is the row; ra/dec unused) or by position (nearest galaxy within radius
 * arcsec; ids unused). Each rank searches its slice of the galaxies; the nearest over
 * ranks wins (ties: the lower row). ok[i] == 0 rows are not matched. Out: row[i] (-1
 * when nothing matched) and, by position, dist[i] in arcsec (may be NULL). */
int zm_match_rows(const zm_ctx *ctx, zm_store *s, int by_id, const long long *ids, const double *ra,
                  const double *dec, const unsigned char *ok, long n, double radius, long long *row, double *dist,
                  zm_err *err);

/* Stamps (and ntargets floats of targets) of a sorted list of rows, held in memory;
 * zm_stamp_cache_load is a zm_train_data load function over it. */
typedef struct {
    long long *rows;   /* sorted, n */
    long n;
    int C, S, A;       /* channels, stamp size, targets per row */
    unsigned char *img8; /* uint8 stamps, or */
    float *imgf;         /* float16 stamps as floats */
    float *targets;      /* n x A, filled by the caller or by zm_stamp_cache_fill */
} zm_stamp_cache;

/* Independent: reads /cutouts/images (and, if targets_path is not NULL, that dataset as
 * the targets) of c->rows; allocates the buffers. */
int zm_stamp_cache_fill(zm_store *s, zm_stamp_cache *c, const char *targets_path, zm_err *err);
int zm_stamp_cache_load(void *user, const long long *rows, int n, float *images, float *targets, zm_err *err);
/* Index of row in the cache or -1. */
long zm_stamp_cache_find(const zm_stamp_cache *c, long long row);
void zm_stamp_cache_free(zm_stamp_cache *c);

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

/* Catalogue columns added by later stages. A stage that writes a per-galaxy dataset
 * (one value, or a short vector, per row of /galaxies) registers it under a column name;
 * `zoomorph catalogue` adds every registered column that exists with one row per galaxy.
 * The registry is the attribute "columns" of /meta/catalogue: "name=path" entries,
 * comma-separated; registering a name again replaces its path. Collective. */
#define ZM_CATALOGUE_REGISTRY "/meta/catalogue"
int zm_catalogue_register(zm_store *s, const char *column, const char *dataset, zm_err *err);

#endif
