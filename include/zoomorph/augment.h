/*
 * augment.h: Zoobot's training augmentation on stored stamps: a random rotation by any
 * angle (bilinear, reflect fill: ... c b a | a b c ...), random horizontal and vertical
 * flips, and a random crop; validation and inference take the central crop instead.
 * Shapes: in is channels x size x size, out channels x crop x crop (floats).
 * Deterministic for a given RNG state (the trainer draws one per image from a stream
 * keyed by epoch and row, so results do not depend on the rank count).
 */
#ifndef ZOOMORPH_AUGMENT_H
#define ZOOMORPH_AUGMENT_H

#include "zoomorph/rng.h"

typedef struct {
    double angle;     /* radians, counter-clockwise on the displayed image */
    int flip_x;       /* mirror left-right */
    int flip_y;       /* mirror top-bottom */
    int x0, y0;       /* top-left corner of the crop in the (rotated, flipped) stamp */
} zm_aug;

/* Draws a random augmentation for a size -> crop stamp. */
void zm_aug_draw(zm_rng *r, int size, int crop, zm_aug *a);
/* The identity with a central crop (validation, inference). */
void zm_aug_center(int size, int crop, zm_aug *a);
/* View v (0 <= v < 8) of the square's symmetries with a central crop: v % 4 quarter
 * turns, then for v >= 4 a left-right mirror. The test-time views of embed and finetune. */
void zm_aug_dihedral(int size, int crop, int v, zm_aug *a);
/* Which view is the k-th of n (1, 2, 4 or 8): 2 views are the stamp and its mirror, 4 its
 * four quarter turns, 8 all eight. */
int zm_aug_view_index(int n, int k);
/* Applies a to each channel. */
void zm_aug_apply(const float *in, int channels, int size, int crop, const zm_aug *a, float *out);

#endif
