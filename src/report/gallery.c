/* gallery.c: see gallery.h. */
#include "zoomorph/gallery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/picture.h"

/* 3x5 digits, rows top to bottom, 3 bits each (MSB left) */
static const uint8_t digits[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};

static void put_text(uint8_t *rgb, int W, int H, int x0, int y0, int scale, const char *s)
{
    size_t np = (size_t)W * H;
    for (int k = 0; s[k]; k++) {
        if (s[k] < '0' || s[k] > '9') continue;
        const uint8_t *g = digits[s[k] - '0'];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++) {
                if (!(g[r] >> (2 - c) & 1)) continue;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) {
                        int x = x0 + (4 * k + c) * scale + dx, y = y0 + r * scale + dy;
                        if (x < 0 || y < 0 || x >= W || y >= H) continue;
                        for (int p = 0; p < 3; p++) rgb[p * np + (size_t)y * W + x] = p == 1 ? 230 : 255;
                    }
            }
    }
}

int zm_gallery_write(const char *path, const uint8_t *stamps, int n, int channels, int size,
                     const long long *ids, int ncols, zm_err *err)
{
    if (n <= 0) return zm_err_set(err, ZM_EVALUE, "gallery %s: no stamps to show", path);
    if (ncols <= 0) ncols = (int)ceil(sqrt((double)n));
    int nrows = (n + ncols - 1) / ncols;
    int scale = size >= 96 ? 2 : 1, label = ids ? 5 * scale + 4 : 0, pad = 2;
    int cw = size + pad, ch = size + label + pad;
    int W = ncols * cw + pad, H = nrows * ch + pad;
    size_t np = (size_t)W * H, ss = (size_t)size * size;
    uint8_t *rgb = zm_calloc(3 * np, 1);
    for (int i = 0; i < n; i++) {
        int x0 = pad + (i % ncols) * cw, y0 = pad + (i / ncols) * ch;
        const uint8_t *st = stamps + (size_t)i * channels * ss;
        for (int p = 0; p < 3; p++) {
            const uint8_t *src = st + (size_t)(channels == 3 ? p : 0) * ss;
            for (int y = 0; y < size; y++)
                memcpy(rgb + p * np + (size_t)(y0 + y) * W + x0, src + (size_t)y * size, (size_t)size);
        }
        if (ids) {
            char txt[32];
            snprintf(txt, sizeof txt, "%lld", ids[i]);
            put_text(rgb, W, H, x0 + 1, y0 + size + 2, scale, txt);
        }
    }
    int rc = zm_picture_write_png_u8(path, rgb, 3, W, H, err);
    free(rgb);
    return rc;
}

int zm_gallery_read(zm_store *s, const long long *rows, int n, const uint8_t *first, uint8_t **stamps,
                    int *channels, int *size, zm_err *err)
{
    const char *path = "/cutouts/images";
    unsigned long long d[4] = {0};
    *stamps = NULL;
    if (zm_store_shape(s, path, d, err) != 4)
        return zm_err_set(err, ZM_EMISSING, "store %s has no stamps (a 4-d %s; run 'zoomorph cutout')",
                          zm_store_path(s), path);
    zm_dtype t = ZM_DT_U8;
    if (zm_store_type(s, path, &t, err)) return err->code;
    /* float16 stamps are in [0, 1]: to 0-255, rounded (zm_stamp_quantize) */
    const float scale = t == ZM_DT_F16 ? 255.0f : 1.0f, round = t == ZM_DT_F16 ? 0.5f : 0.0f;
    const size_t per = (size_t)d[1] * d[2] * d[3];
    *channels = (int)d[1], *size = (int)d[2];
    *stamps = zm_calloc((size_t)(n > 0 ? n : 1) * per, 1);
    float *buf = zm_malloc(per * sizeof *buf);
    int rc = 0;
    for (int j = 0; j < n && !rc; j++) {
        uint8_t *out = *stamps + (size_t)j * per;
        if (j == 0 && first) {
            memcpy(out, first, per);
            continue;
        }
        zm_range one = {(unsigned long long)rows[j], 1};
        rc = zm_store_read(s, path, ZM_DT_F32, 0, &one, 1, buf, err);
        for (size_t q = 0; !rc && q < per; q++) {
            float v = buf[q] * scale + round;
            out[q] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    free(buf);
    return rc;
}

int zm_gallery_write_rows(zm_store *s, const char *path, const long long *rows, int n, const uint8_t *first,
                          int ncols, zm_err *err)
{
    uint8_t *stamps = NULL;
    int channels = 0, size = 0;
    int rc = zm_gallery_read(s, rows, n, first, &stamps, &channels, &size, err);
    if (!rc) rc = zm_gallery_write(path, stamps, n, channels, size, rows, ncols, err);
    free(stamps);
    return rc;
}

int zm_gallery_kept_rows(zm_store *s, long long first, long long max, long long *rows, int *n, zm_err *err)
{
    unsigned long long nrows = 0;
    *n = 0;
    int rc = zm_store_nrows(s, "/cutouts/flags", &nrows, err);
    for (long long r = first; !rc && r < (long long)nrows && *n < max; r++) {
        unsigned flags = 0;
        zm_range one = {(unsigned long long)r, 1};
        rc = zm_store_read(s, "/cutouts/flags", ZM_DT_U32, 0, &one, 1, &flags, err);
        if (!rc && !(flags & 16u)) rows[(*n)++] = r;
    }
    return rc;
}
