/* plot.c: see plot.h. A raster canvas, Bresenham lines, 3x5 digits for tick values. */
#include "zoomorph/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/picture.h"

typedef struct {
    int w, h;
    uint8_t *p; /* planar RGB */
} canvas;

static const uint8_t glyphs[13][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {0, 0, 0, 0, 2}, /* . */ {0, 0, 7, 0, 0}, /* - */ {5, 5, 2, 5, 5} /* e as x */};

static void px(canvas *c, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    size_t n = (size_t)c->w * c->h, i = (size_t)y * c->w + x;
    c->p[i] = rgb[0], c->p[n + i] = rgb[1], c->p[2 * n + i] = rgb[2];
}

static void line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int thick)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        for (int a = 0; a < thick; a++)
            for (int b = 0; b < thick; b++) px(c, x0 + a, y0 + b, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

static void text(canvas *c, int x, int y, const char *s, int scale)
{
    static const uint8_t ink[3] = {40, 40, 40};
    for (int k = 0; s[k]; k++) {
        int g = s[k] >= '0' && s[k] <= '9' ? s[k] - '0' : s[k] == '.' ? 10 : s[k] == '-' ? 11 : s[k] == 'e' ? 12 : -1;
        if (g < 0) continue;
        for (int r = 0; r < 5; r++)
            for (int q = 0; q < 3; q++)
                if (glyphs[g][r] >> (2 - q) & 1)
                    for (int a = 0; a < scale; a++)
                        for (int b = 0; b < scale; b++) px(c, x + (4 * k + q) * scale + a, y + r * scale + b, ink);
    }
}

void zm_plot_palette(int i, uint8_t rgb[3])
{
    static const uint8_t pal[8][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                      {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
    memcpy(rgb, pal[((i % 8) + 8) % 8], 3);
}

static void nice_ticks(double lo, double hi, double *t0, double *step)
{
    double span = hi - lo, raw = span / 5, mag = pow(10, floor(log10(raw)));
    double m = raw / mag;
    *step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * mag;
    *t0 = ceil(lo / *step) * *step;
}

/* The plot area of a w x h canvas: margins, data ranges, and the map to pixels. */
typedef struct {
    int w, h, L, R, T, B;
    double xmin, xmax, ymin, ymax;
} frame;

static int fx(const frame *f, double v) { return f->L + (int)lround((v - f->xmin) / (f->xmax - f->xmin) * (f->w - f->L - f->R)); }
static int fy(const frame *f, double v) { return f->h - f->B - (int)lround((v - f->ymin) / (f->ymax - f->ymin) * (f->h - f->T - f->B)); }

/* Grid, tick values and axes. */
static void draw_frame(canvas *c, const frame *f, int logx)
{
    const uint8_t axis[3] = {0, 0, 0}, grid[3] = {225, 225, 225};
    double t0, st;
    char buf[32];
    nice_ticks(f->ymin, f->ymax, &t0, &st);
    for (double t = t0; t <= f->ymax + 1e-9 * st; t += st) {
        line(c, f->L, fy(f, t), f->w - f->R, fy(f, t), grid, 1);
        snprintf(buf, sizeof buf, "%.4g", fabs(t) < 1e-12 * st ? 0.0 : t);
        text(c, 4, fy(f, t) - 5, buf, 2);
    }
    nice_ticks(f->xmin, f->xmax, &t0, &st);
    if (logx) t0 = ceil(f->xmin), st = 1;
    for (double t = t0; t <= f->xmax + 1e-9; t += st) {
        line(c, fx(f, t), f->T, fx(f, t), f->h - f->B, grid, 1);
        snprintf(buf, sizeof buf, "%.4g", logx ? pow(10, t) : fabs(t) < 1e-12 * st ? 0.0 : t);
        text(c, fx(f, t) - 6, f->h - f->B + 8, buf, 2);
    }
    line(c, f->L, f->h - f->B, f->w - f->R, f->h - f->B, axis, 1);
    line(c, f->L, f->T, f->L, f->h - f->B, axis, 1);
}

int zm_plot_lines(const char *path, int w, int h, const zm_series *s, int ns, int logx, zm_err *err)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            double x = logx ? log10(s[k].x[i]) : s[k].x[i], y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xmin = fmin(xmin, x), xmax = fmax(xmax, x), ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    if (!isfinite(xmin) || !isfinite(ymin)) return zm_err_set(err, ZM_EVALUE, "plot %s: no finite points", path);
    if (xmax == xmin) xmax = xmin + 1;
    if (ymax == ymin) ymax = ymin + 1, ymin -= 1;
    double pad = 0.05 * (ymax - ymin);
    ymin -= pad, ymax += pad;
    canvas c = {w, h, zm_malloc((size_t)3 * w * h)};
    memset(c.p, 255, (size_t)3 * w * h);
    const frame f = {w, h, 70, 15, 15, 35, xmin, xmax, ymin, ymax};
    draw_frame(&c, &f, logx);
    for (int k = 0; k < ns; k++) {
        uint8_t rgb[3];
        zm_plot_palette(s[k].colour, rgb);
        int have = 0, px0 = 0, py0 = 0;
        for (int i = 0; i < s[k].n; i++) {
            double x = logx ? log10(s[k].x[i]) : s[k].x[i], y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y)) {
                have = 0;
                continue;
            }
            int X = fx(&f, x), Y = fy(&f, y);
            if (have) line(&c, px0, py0, X, Y, rgb, 2);
            for (int a = -2; a <= 2; a++)
                for (int b = -2; b <= 2; b++) px(&c, X + a, Y + b, rgb);
            px0 = X, py0 = Y, have = 1;
        }
    }
    int rc = zm_picture_write_png_u8(path, c.p, 3, w, h, err);
    free(c.p);
    return rc;
}

int zm_plot_scatter(const char *path, int w, int h, const zm_series *s, int ns, double lo, double hi, int diagonal,
                    zm_err *err)
{
    if (!(hi > lo)) return zm_err_set(err, ZM_EVALUE, "plot %s: empty range [%g, %g]", path, lo, hi);
    canvas c = {w, h, zm_malloc((size_t)3 * w * h)};
    memset(c.p, 255, (size_t)3 * w * h);
    const frame f = {w, h, 70, 15, 15, 35, lo, hi, lo, hi};
    draw_frame(&c, &f, 0);
    if (diagonal) {
        const uint8_t grey[3] = {150, 150, 150};
        line(&c, fx(&f, lo), fy(&f, lo), fx(&f, hi), fy(&f, hi), grey, 1);
    }
    for (int k = 0; k < ns; k++) {
        uint8_t rgb[3];
        zm_plot_palette(s[k].colour, rgb);
        for (int i = 0; i < s[k].n; i++) {
            double x = s[k].x[i], y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y) || x < lo || x > hi || y < lo || y > hi) continue;
            int X = fx(&f, x), Y = fy(&f, y);
            for (int a = -1; a <= 1; a++)
                for (int b = -1; b <= 1; b++) px(&c, X + a, Y + b, rgb);
        }
    }
    int rc = zm_picture_write_png_u8(path, c.p, 3, w, h, err);
    free(c.p);
    return rc;
}
