/* picture.c: see picture.h. libpng's simplified API; libjpeg with a longjmp error exit. */
#include "zoomorph/picture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
/* jpeglib.h needs FILE from stdio.h first */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

static int read_png(const char *path, float **rgb, int *w, int *h, zm_err *err)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return zm_err_set(err, ZM_EFORMAT, "%s: not a readable PNG: %s", path, im.message);
    im.format = PNG_FORMAT_RGB;
    size_t n = (size_t)im.width * im.height;
    unsigned char *buf = zm_malloc(PNG_IMAGE_SIZE(im));
    if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        return zm_err_set(err, ZM_EFORMAT, "%s: PNG decoding failed: %s", path, im.message);
    }
    float *out = zm_malloc(3 * n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) out[k * n + i] = buf[3 * i + (size_t)k] / 255.0f;
    free(buf);
    *rgb = out;
    *w = (int)im.width;
    *h = (int)im.height;
    png_image_free(&im);
    return 0;
}

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void jpeg_fail(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

static int read_jpeg(const char *path, float **rgb, int *w, int *h, zm_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return zm_err_set(err, ZM_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct jpeg_decompress_struct d;
    jerr je;
    d.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    unsigned char *row = NULL;
    float *volatile out = NULL;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&d);
        fclose(fp);
        free(row);
        free(out);
        return zm_err_set(err, ZM_EFORMAT, "%s: JPEG decoding failed: %s", path, je.msg);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    size_t W = d.output_width, H = d.output_height, n = W * H;
    out = zm_malloc(3 * n * sizeof(float));
    row = zm_malloc(W * 3);
    while (d.output_scanline < d.output_height) {
        size_t y = d.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&d, &rp, 1);
        for (size_t x = 0; x < W; x++)
            for (int k = 0; k < 3; k++) out[k * n + y * W + x] = row[3 * x + (size_t)k] / 255.0f;
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(fp);
    free(row);
    *rgb = out;
    *w = (int)W;
    *h = (int)H;
    return 0;
}

int zm_picture_read(const char *path, float **rgb, int *w, int *h, zm_err *err)
{
    *rgb = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return zm_err_set(err, ZM_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, 8, fp);
    fclose(fp);
    if (got >= 8 && !png_sig_cmp(sig, 0, 8)) return read_png(path, rgb, w, h, err);
    if (got >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) return read_jpeg(path, rgb, w, h, err);
    return zm_err_set(err, ZM_EFORMAT, "%s: not a PNG or JPEG picture", path);
}

int zm_picture_write_png_u8(const char *path, const uint8_t *planes, int channels, int w, int h,
                            zm_err *err)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    size_t n = (size_t)w * h;
    unsigned char *buf = zm_malloc(n * (size_t)channels);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < channels; k++) buf[i * (size_t)channels + (size_t)k] = planes[(size_t)k * n + i];
    int ok = png_image_write_to_file(&im, path, 0, buf, 0, NULL);
    free(buf);
    if (!ok) return zm_err_set(err, ZM_EIO, "%s: cannot write PNG: %s", path, im.message);
    return 0;
}

int zm_picture_write_png(const char *path, const float *planes, int channels, int w, int h,
                         zm_err *err)
{
    size_t n = (size_t)w * h * (size_t)channels;
    uint8_t *b = zm_malloc(n);
    for (size_t i = 0; i < n; i++) {
        float v = planes[i] * 255.0f + 0.5f;
        b[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    int rc = zm_picture_write_png_u8(path, b, channels, w, h, err);
    free(b);
    return rc;
}
