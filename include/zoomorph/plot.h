/*
 * plot.h: small line plots (loss curves, learning curves) and scatter plots (predicted
 * against observed) as PNG with no plotting library: axes, tick values (a built-in digit
 * font), one colour per series, optional log-scale x. Series colours follow the order of zm_plot_palette.
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
/* Writes a w x h scatter plot of the series' points (3x3 pixels each, later series on
 * top) on the square range [lo, hi] of both axes (points outside are left out), with the
 * line y = x when diagonal is set: predicted against observed. The plot area spans pixels
 * [70, w - 15) in x and (15, h - 35] in y, y upwards. */
int zm_plot_scatter(const char *path, int w, int h, const zm_series *s, int ns, double lo, double hi, int diagonal,
                    zm_err *err);

#endif
