/*
 * stage_common.h: what several stages share: reading the /inputs table, the cutout
 * configuration from parameters, and opening the store with a clear message when an
 * earlier stage has not run.
 */
#ifndef ZOOMORPH_APP_STAGE_COMMON_H
#define ZOOMORPH_APP_STAGE_COMMON_H

#include "stage.h"
#include "zoomorph/augment.h"
#include "zoomorph/cutout.h"
#include "zoomorph/fields.h"
#include "zoomorph/gzschema.h"
#include "zoomorph/h5store.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"

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

/* The rows of x (n x d) with every value finite, packed into xv (n x d room); ok[i]
 * (n bytes) says whether row i is one of them. Returns how many there are. */
long zm_pack_finite_rows(const float *x, long n, int d, float *xv, unsigned char *ok);

/* Fault injection for tests: when ZM_FAULT_KILL="<stage>:<round>[:<rank>]" names this
 * stage and round, that rank (default 0) kills itself with SIGKILL, as a node failure
 * would, after the round's writes; ZM_FAULT_SIGNAL (same form) makes it raise SIGUSR1,
 * as Slurm's --signal would; ZM_FAULT_WAIT (same form) makes that rank wait there (at
 * most 120 s) until a stop signal arrives, so that a test can signal a stage from outside
 * (scancel --signal=USR1) at a known point; not in a requeued Slurm job
 * (SLURM_RESTART_COUNT > 0). No effect otherwise. */
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
/* 1 if path names an existing regular file. */
int zm_is_file(const char *path);

/* The encoder's weight file: the first non-empty of first_key (may be NULL), [embed]
 * weights and [model] output where the user set it or the file exists; otherwise the
 * shipped model (models/zoonet-gz-sim.h5 beside the executable's install prefix, then in
 * the source tree it was built from). Into buf (n bytes); returns buf. */
const char *zm_encoder_weights(const zm_params *p, const char *first_key, char *buf, size_t n);

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
 * comma-separated; registering a name again replaces its path. "path#k" names column k
 * of a per-galaxy vector (one catalogue column per answer of a fine-tuned tree).
 * Collective. */
#define ZM_CATALOGUE_REGISTRY "/meta/catalogue"
int zm_catalogue_register(zm_store *s, const char *column, const char *dataset, zm_err *err);

/* ---- image files to stamps, stamps to representations (stage_stamp.c) ---- */

/* The images of one input: a brick's bands, a FITS cutout (cube) or a picture. */
typedef struct {
    int input;              /* caller's mark: -1 none loaded (kept across loads) */
    int failed;             /* caller's mark: the input could not be read */
    int is_picture;
    zm_image img[ZM_MAX_BANDS];
    zm_band_set bands;
    float *pic;             /* picture: 3 x ph x pw in [0, 1] */
    int pw, ph;
} zm_loaded_input;

/* How stamps are cut ([cutout] and [survey] parameters). */
typedef struct {
    zm_cutout_cfg cfg;
    zm_field_rule rule;
    zm_dtype dtype;
    int rule_auto, bricks_mode, allow_missing;
    int wanted[ZM_MAX_BANDS];
    int input_field;        /* cutout files: ZM_INPUT_AUTO, _GZ or _PIXSCALE ([survey] input_field) */
    double input_gz_pixels; /* ZM_INPUT_GZ: pixels of a file at the gz rule's scale */
    double input_pixscale;  /* ZM_INPUT_PIXSCALE: arcsec per picture pixel */
} zm_stamp_rules;
enum { ZM_INPUT_AUTO = 0, ZM_INPUT_GZ = 1, ZM_INPUT_PIXSCALE = 2 };

int zm_stamp_rules_from_params(const zm_params *p, zm_stamp_rules *r, zm_err *err);
/* The field rule of r and the stamp size as one line, e.g. "gz: 212 x max(min(0.04 th50,
 * 0.02 th90), 0.1) arcsec on 72-pixel stamps": the cutout stage stores it (attribute "field" of /cutouts/images), pretrain
 * and finetune write it into their weight files (stamp_field). n >= ZM_STAMP_FIELD_LEN. */
void zm_stamp_field_text(const zm_stamp_rules *r, char *buf, size_t n);
/* The stamps' field (store attribute, or zm_stamp_field_text where they are cut now)
 * against the one the model was trained on: 0 if either is unknown or they agree; a
 * ZM_ECONFIG error naming both otherwise, or a warning where [model] check_field =
 * false. The same on every rank. */
int zm_stamp_field_check(const zm_params *p, const char *weights, const char *model_field, const char *stamps_field,
                         const char *stamps_where, zm_err *err);
/* The field of the store's stamps: the attribute, else (stores cut before it existed)
 * from the parameters the cutout stage recorded, laid over p (zm_params_recorded); ""
 * where neither says. */
void zm_store_stamp_field(zm_store *s, const zm_params *p, char *buf, size_t n);
/* 1 if the path names a PNG/JPEG picture (by its extension). */
int zm_is_picture_path(const char *path);
/* Loads a brick's band images (bricks_mode: path is the brick directory, name the
 * brick) or one cutout file (FITS image or cube, bands by the BANDS keyword or the
 * wanted bands in g, r, z order; or a picture). 0, or an error naming the file/HDU. */
int zm_input_load(const char *name, const char *path, int bricks_mode, const int wanted[ZM_MAX_BANDS],
                  int allow_missing, zm_loaded_input *L, zm_err *err);
void zm_loaded_unload(zm_loaded_input *L);

/* Stamps for pieces of work (inputs' galaxy rows) as the cutout stage makes them:
 * inputs loaded once for consecutive pieces, /galaxies rows read from the store,
 * quantised stamps (rules.dtype), flags and pixel scales; an unreadable input or a
 * galaxy that cannot be cut is rejected (ZM_CUT_REJECTED, zeros) and listed in rej
 * under the stage's name. Counters over every piece made. Used by cutout, and by embed
 * when the store holds no stamps. */
typedef struct {
    zm_stamp_rules rules;
    const char *stage;
    zm_loaded_input L;
    float *stamp, *work, *r50, *th50, *th90;
    double *ra, *dec;
    long long n_ok, n_rej, n_edge, n_nan, n_missing, in_rej;
} zm_stamp_maker;

int zm_stamp_maker_init(zm_stamp_maker *m, const zm_params *p, long long batch, const char *stage, zm_err *err);
/* count galaxies of input i from its galaxy off into dst (count stamps), flags and
 * pixscale; *input_rejected set when the input failed to load here. */
void zm_stamp_maker_piece(zm_stamp_maker *m, zm_store *s, const zm_inputs *in, int i, long long off, long long count,
                          void *dst, unsigned *flags, float *pixscale, zm_reject_list *rej, int *input_rejected);
void zm_stamp_maker_free(zm_stamp_maker *m);

/* Collective: where a stage's rejects begin in /rejects. A resumed stage (resume set)
 * takes over the trailing rows its interrupted run wrote under its name, dropping those
 * of inputs not marked in done (they are redone); zm_reject_canonicalise from there at
 * the end makes the table the same as a clean run's. */
unsigned long long zm_rejects_begin(zm_store *s, const char *stage, int resume, const unsigned char *done,
                                    const zm_ctx *ctx);
/* One galaxy's stamp (cfg.channels x cfg.size^2 floats in [0, 1]) from a loaded input,
 * as the cutout stage makes it: a picture resampled over its whole extent; survey
 * images cut by the field rule (auto: Galaxy Zoo's for bricks or when th50 is known,
 * otherwise the file's whole extent). work: zm_cutout_work_floats floats. Returns 0 or
 * zm_cutout_make's error. */
int zm_stamp_make(const zm_stamp_rules *r, zm_loaded_input *L, double ra, double dec, float r50, float th50,
                  float th90, float *work, float *stamp, unsigned *flags, float *pixscale, zm_err *err);

/* The encoder as `embed` runs it. */
typedef struct {
    zm_net *net;
    zm_nn_file_info info;
    zm_gz_schema tree;
    int have_tree;
    char weights[4096];
    int C, S, K, D, A, batch, mc;
    zm_views views; /* test-time views averaged (zm_aug_view_apply); open sets 1 view at 0 degrees */
    float *x, *a1, *f1;
} zm_embedder;

/* Loads the weights and the tree ([labels] tree); checks the model takes C channels of
 * at most S pixels, cut with the field it was trained on (stamps_field, "" unknown:
 * zm_stamp_field_check); stamps_where names the stamps in messages. Not collective. */
int zm_embedder_open(const zm_params *p, const char *weights, int C, int S, const char *stamps_field,
                     const char *stamps_where, int batch, int mc, zm_embedder *e, zm_err *err);
/* m <= batch stamps (C x S x S floats in [0, 1]) centre-cropped to the model's input, in
 * each of the views: emb m x D (the mean over views of each view's first pass), conc/frac
 * m x A (mean over views and passes), sd m x A (their spread).
 * stream keys the dropout's random numbers (Monte-Carlo passes). */
int zm_embedder_run(zm_embedder *e, const float *raw, int m, uint64_t stream, float *emb, float *conc, float *frac,
                    float *sd, zm_err *err);
void zm_embedder_close(zm_embedder *e);
/* The test-time views the store's /representation/embedding was made with (its attributes
 * views and view_angle; 1 view at 0 degrees when absent; a value zoomorph does not write
 * gets one warning and the default). */
zm_views zm_embed_views(zm_store *s);

#endif
