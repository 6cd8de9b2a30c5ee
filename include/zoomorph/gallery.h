/*
 * gallery.h: a PNG contact sheet of stamps, each labelled with its galaxy id (a built-in
 * 3x5 pixel digit font, scaled), for people to look at: cutout checks, similarity query
 * results (query first), anomaly top lists.
 * Stamps are uint8, channels (1 or 3) x size x size, display order (row 0 at the top).
 * The store functions read the stamps of a zoomorph store (/cutouts/images: uint8 as
 * stored, float16 ones, in [0, 1], scaled to 0-255 as zm_stamp_quantize does); their
 * reads are independent (any rank may call them), and a store without a 4-d
 * /cutouts/images gives ZM_EMISSING, for callers to say so or skip the sheet.
 */
#ifndef ZOOMORPH_GALLERY_H
#define ZOOMORPH_GALLERY_H

#include <stdint.h>

#include "zoomorph/error.h"
#include "zoomorph/h5store.h"

/* n stamps at stamps + i * channels * size * size; ids[i] printed under each (ids may be
 * NULL); ncols per row (0: about square). Writes an RGB PNG. */
int zm_gallery_write(const char *path, const uint8_t *stamps, int n, int channels, int size,
                     const long long *ids, int ncols, zm_err *err);

/* The stamps of store rows rows[0..n) into *stamps (malloc'ed, n x channels x size x
 * size; freed by the caller, also on error); first (may be NULL) stands as stamp 0 in
 * place of row rows[0] (a stamp made on the fly), which is then not read. */
int zm_gallery_read(zm_store *s, const long long *rows, int n, const uint8_t *first, uint8_t **stamps,
                    int *channels, int *size, zm_err *err);
/* zm_gallery_read, then zm_gallery_write of the n stamps labelled with their rows. */
int zm_gallery_write_rows(zm_store *s, const char *path, const long long *rows, int n, const uint8_t *first,
                          int ncols, zm_err *err);
/* Up to max rows from row first on whose stamps were kept (/cutouts/flags without the
 * reject bit 16), into rows; *n gets how many. ZM_EMISSING without /cutouts/flags. */
int zm_gallery_kept_rows(zm_store *s, long long first, long long max, long long *rows, int *n, zm_err *err);

#endif
