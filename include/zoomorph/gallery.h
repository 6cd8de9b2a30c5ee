/*
 * gallery.h: a PNG contact sheet of stamps, each labelled with its galaxy id (a built-in
 * 3x5 pixel digit font, scaled), for people to look at: cutout checks, similarity query
 * results (query first), anomaly top lists.
 * Stamps are uint8, channels (1 or 3) x size x size, display order (row 0 at the top).
 */
#ifndef ZOOMORPH_GALLERY_H
#define ZOOMORPH_GALLERY_H

#include <stdint.h>

#include "zoomorph/error.h"

/* n stamps at stamps + i * channels * size * size; ids[i] printed under each (ids may be
 * NULL); ncols per row (0: about square). Writes an RGB PNG. */
int zm_gallery_write(const char *path, const uint8_t *stamps, int n, int channels, int size,
                     const long long *ids, int ncols, zm_err *err);

#endif
