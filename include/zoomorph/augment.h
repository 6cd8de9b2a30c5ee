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
/* The test-time views of embed and finetune: n (1, 2, 4 or 8) views of each stamp, every
 * one turned a further `angle` degrees (0 or 45). */
typedef struct {
    int n;
    int angle;
} zm_views;

/* View k of vs.n of m stamps, centrally cropped: n = 2 are the stamp and its left-right
 * mirror, 4 its quarter turns, 8 those and their mirrors (view k: k % 4 quarter turns,
 * then a mirror for k >= 4), each turned vs.angle degrees first. With angle 0 pixels land
 * on pixels and nothing is interpolated; with 45 every view is interpolated as training's
 * rotations are, and the 8 views are still closed under quarter turns and mirrors. in
 * m x (channels x size^2), out m x (channels x crop^2). */
void zm_aug_view_apply(const float *in, int m, int channels, int size, int crop, zm_views vs, int k, float *out);
/* Applies a to each channel. */
void zm_aug_apply(const float *in, int channels, int size, int crop, const zm_aug *a, float *out);

#endif
