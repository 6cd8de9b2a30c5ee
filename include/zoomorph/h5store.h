/*
 * h5store.h: the run's shared parallel-HDF5 store (one file per run). This module owns
 * every HDF5 call in zoomorph.
 *
 * Datasets are described by a field table (zm_field: path, type, per-row shape, units,
 * description); zm_store_define creates one (row axis first, chunked, extendible) and
 * writes units and description as attributes. zm_store_write is collective: each rank
 * passes the global row ranges it owns (any number, possibly none) and its rows packed
 * in that order; writes larger than the store's write limit are split so every rank
 * makes the same number of H5Dwrite calls, a rank with nothing to write still calls
 * H5Dwrite with an empty selection. Reads are independent (any rank, any rows).
 *
 * /meta holds the format version (checked on open), zoomorph's version and git
 * revision, the creation time, and per-stage groups /meta/stages/<stage> with the
 * status ("running"/"complete"), times, rank count and the stage's resolved config.
 * The layout is documented in docs/store-format.md.
 *
 * Functions marked collective must be called by every rank with the same arguments
 * (except row ranges and buffers).
 */
#ifndef ZOOMORPH_H5STORE_H
#define ZOOMORPH_H5STORE_H

#include <stdint.h>

#include "zoomorph/context.h"
#include "zoomorph/half.h"
#include "zoomorph/error.h"

#define ZM_STORE_FORMAT_VERSION 1

typedef enum {
    ZM_DT_U8,
    ZM_DT_U32,
    ZM_DT_I32,
    ZM_DT_I64,
    ZM_DT_F16,   /* IEEE half; memory holds uint16_t bits (see zm_f32_to_f16) */
    ZM_DT_F32,
    ZM_DT_F64,
    ZM_DT_STR    /* fixed-length, NUL-padded; memory holds strsize bytes per element */
} zm_dtype;

typedef struct {
    const char *path;            /* "/galaxies/ra"                                  */
    zm_dtype type;
    int ndim;                    /* dimensions after the row axis, 0..3              */
    unsigned long long dims[3];
    int strsize;                 /* ZM_DT_STR: bytes per string                      */
    const char *units;           /* "deg", "" when dimensionless                      */
    const char *description;
} zm_field;

typedef struct {
    unsigned long long start, count;
} zm_range;

typedef struct zm_store zm_store;

/* Collective. Creates path (refuses an existing file unless overwrite) with /meta.
 * A path that cannot be written gives ZM_EIO naming it and why. */
int zm_store_create(zm_store **out, const char *path, const zm_ctx *ctx, int overwrite,
                    zm_err *err);
/* Collective. Opens an existing store, checking that it is a zoomorph store of
 * ZM_STORE_FORMAT_VERSION. */
int zm_store_open(zm_store **out, const char *path, int writable, const zm_ctx *ctx,
                  zm_err *err);
/* Collective. */
void zm_store_close(zm_store *s);
const char *zm_store_path(const zm_store *s);
/* Largest bytes in one H5Dwrite (default 256 MiB). */
void zm_store_set_write_limit(zm_store *s, size_t bytes);

/* Bytes of one element of a field's type / one row of a field. */
size_t zm_dtype_size(zm_dtype t, int strsize);
size_t zm_field_row_bytes(const zm_field *f);

/* 1 if the object (group or dataset) exists. Same answer on every rank. */
int zm_store_exists(zm_store *s, const char *path);
/* Collective. Creates the dataset for nrows rows (deleting an existing one when
 * replace is set; otherwise an existing one of the same shape is kept). */
int zm_store_define(zm_store *s, const zm_field *f, unsigned long long nrows, int replace,
                    zm_err *err);
/* Collective. Writes this rank's rows (see header comment). ZM_EIO on every rank if
 * any rank's write failed (disk full...). */
int zm_store_write(zm_store *s, const zm_field *f, const zm_range *ranges, int nranges,
                   const void *buf, zm_err *err);
/* Collective. Appends nlocal rows from each rank, in rank order, to an extendible
 * dataset (created empty if missing). */
int zm_store_append(zm_store *s, const zm_field *f, unsigned long long nlocal, const void *buf,
                    zm_err *err);
/* Collective. Flushes data and metadata to the file, so that what was written survives
 * a crash (a stage calls it before marking work done). */
void zm_store_flush(zm_store *s);
/* Collective. Sets the number of rows of an extendible dataset (shrinking drops rows). */
int zm_store_resize(zm_store *s, const char *path, unsigned long long nrows, zm_err *err);
/* Independent. Reads rows of dataset path into buf as memory type t (HDF5 converts
 * between numeric types; strings must match strsize). */
int zm_store_read(zm_store *s, const char *path, zm_dtype t, int strsize,
                  const zm_range *ranges, int nranges, void *buf, zm_err *err);
/* Rows (first dimension) of a dataset; ZM_EMISSING if absent. */
int zm_store_nrows(zm_store *s, const char *path, unsigned long long *nrows, zm_err *err);
/* Shape of a dataset (up to 4 dims); returns ndims or a negative zm_status. */
int zm_store_shape(zm_store *s, const char *path, unsigned long long *dims, zm_err *err);

/* The stored element type of a dataset (integer and float types by size; strings). */
int zm_store_type(zm_store *s, const char *path, zm_dtype *t, zm_err *err);

/* Collective. String attribute on a group or dataset (created or replaced); rank 0's value
 * is written (broadcast: metadata writes must be the same on every rank). */
int zm_store_set_attr(zm_store *s, const char *objpath, const char *name, const char *value);
/* Independent. Reads a string attribute into buf; ZM_EMISSING if absent. */
int zm_store_get_attr(zm_store *s, const char *objpath, const char *name, char *buf, size_t n);

/* Collective. ZM_EIO on every rank, with a message naming the store, what and the limit,
 * unless the file may grow by bytes plus a margin for metadata (the file-size limit,
 * ulimit -f, and the free space of its file system). zm_store_define checks this itself;
 * a stage checks it when it opens the store for writing, because HDF5 left to fail on a
 * full disk while writing metadata leaves a store it cannot open again. */
int zm_store_check_room(zm_store *s, unsigned long long bytes, const char *what, zm_err *err);

/* Collective. Stage bookkeeping under /meta/stages/<stage>. begin sets status "running",
 * the start time, rank count and config; end sets "complete" and the end time. */
int zm_store_stage_begin(zm_store *s, const char *stage, const char *config_text);
int zm_store_stage_end(zm_store *s, const char *stage, const char *summary);
/* 1 if the stage's status is "complete". */
int zm_store_stage_complete(zm_store *s, const char *stage);

/* HDF5 objects (files, groups, datasets, types, attributes) this process has open: 0
 * between stages; `zoomorph run` checks it after each stage so that a stage leaving
 * something open is found. */
long zm_store_open_objects(void);

#endif
