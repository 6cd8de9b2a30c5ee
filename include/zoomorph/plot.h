/*
 * plot.h: small line plots as PNG (loss curves, learning curves) with no plotting
 * library: axes, tick values (a built-in digit font), one colour per series, optional
 * log-scale x. Series colours follow the order of zm_plot_palette.
 */
#ifndef ZOOMORPH_PLOT_H
#define ZOOMORPH_PLOT_H

#include <stdint.h>

#include "zoomorph/error.h"

typedef struct {
    const double *x, *y;  /* n points; NaN y values break the line */
    int n;
    int colour;           /* index into the palette */
} zm_series;

/* RGB of palette colour i (cycles). */
void zm_plot_palette(int i, uint8_t rgb[3]);
/* Writes a w x h plot of the series; logx draws x on a log10 scale. */
int zm_plot_lines(const char *path, int w, int h, const zm_series *s, int ns, int logx, zm_err *err);

#endif
