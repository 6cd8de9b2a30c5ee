/*
 * picture.h: 8-bit pictures (PNG with libpng, JPEG with libjpeg) as Zoobot users have
 * them, read to planar RGB floats in [0, 1] (grey pictures are copied to 3 planes; an
 * alpha channel is dropped), and written from planar floats (PNG only).
 * Rows are as stored: row 0 is the top of the picture.
 */
#ifndef ZOOMORPH_PICTURE_H
#define ZOOMORPH_PICTURE_H

#include <stdint.h>

#include "zoomorph/error.h"

/* *rgb: 3 x h x w floats, malloc'ed. Format by content (PNG or JPEG signature). */
int zm_picture_read(const char *path, float **rgb, int *w, int *h, zm_err *err);
/* Writes channels (1 or 3) x h x w floats in [0, 1] as an 8-bit PNG. */
int zm_picture_write_png(const char *path, const float *planes, int channels, int w, int h,
                         zm_err *err);
/* Writes channels x h x w bytes as an 8-bit PNG. */
int zm_picture_write_png_u8(const char *path, const uint8_t *planes, int channels, int w, int h,
                            zm_err *err);

#endif
