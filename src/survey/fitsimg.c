/* fitsimg.c: see fitsimg.h. Every cfitsio call's status is checked and reported. */
#include "zoomorph/fitsimg.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int fits_fail(zm_err *err, int code, int status, const char *path, int hdu,
                     const char *doing)
{
    char m[600];
    zm_fits_error_string(status, m, sizeof m);
    if (hdu > 0)
        return zm_err_set(err, code, "%s HDU %d: %s: %s", path, hdu, doing, m);
    return zm_err_set(err, code, "%s: %s: %s", path, doing, m);
}

/* 1 if a Rice-compressed tile of clen bytes decodes to npix pixels without reading past
 * its end: the bit walk of cfitsio's fits_rdecomp (ricecomp.c), values not computed.
 * cfitsio reads beyond the buffer, unchecked, on a corrupt stream (a run of zero bytes
 * where a code is due), so every tile is walked here first. */
static int rice_tile_ok(const unsigned char *c, long long clen, long long npix, int nblock,
                        int bytepix)
{
    int fsbits = bytepix == 1 ? 3 : bytepix == 2 ? 4 : 5;
    int fsmax = bytepix == 1 ? 6 : bytepix == 2 ? 14 : 25;
    int bbits = 1 << fsbits;
    if (nblock < 1 || clen < bytepix + 1) return 0;
    long long p = bytepix;
    unsigned long long b = c[p++];
    long long nbits = 8;
#define ZM_RICE_NEXT(expr)      \
    do {                        \
        if (p >= clen) return 0; \
        expr;                   \
    } while (0)
    for (long long i = 0; i < npix;) {
        nbits -= fsbits;
        while (nbits < 0) ZM_RICE_NEXT((b = ((b << 8) | c[p++]) & 0xffffffffu, nbits += 8));
        if (nbits > 31) return 0;
        int fs = (int)(b >> nbits) - 1;
        b &= (1ull << nbits) - 1;
        long long imax = i + nblock < npix ? i + nblock : npix;
        if (fs < 0) {
            i = imax;
        } else if (fs == fsmax) {
            for (; i < imax; i++) {
                long long k = bbits - nbits;
                for (k -= 8; k >= 0; k -= 8) ZM_RICE_NEXT(b = c[p++]);
                if (nbits > 0) {
                    ZM_RICE_NEXT(b = c[p++]);
                    b &= (1ull << nbits) - 1;
                } else {
                    b = 0;
                }
            }
        } else {
            for (; i < imax; i++) {
                while (b == 0) ZM_RICE_NEXT((nbits += 8, b = c[p++]));
                int top = 64 - __builtin_clzll(b); /* cfitsio's nonzero_count[b] */
                long long nzero = nbits - top;
                nbits -= nzero + 1;
                if (nbits < 0 || nbits > 31) return 0;
                b ^= 1ull << nbits;
                nbits -= fs;
                while (nbits < 0) ZM_RICE_NEXT((b = ((b << 8) | c[p++]) & 0xffffffffu, nbits += 8));
                if (nbits > 31) return 0;
                b &= (1ull << nbits) - 1;
            }
        }
    }
#undef ZM_RICE_NEXT
    return 1;
}

/* The Rice parameters and tile grid of a compressed HDU; 0 if it is not Rice-compressed. */
static int rice_params(fitsfile *f, int *nblock, int *bytepix, int *naxis, long long *axes,
                       long long *tile)
{
    int status = 0;
    char cmp[FLEN_VALUE] = "";
    if (fits_read_key(f, TSTRING, "ZCMPTYPE", cmp, NULL, &status)) return 0;
    if (strcmp(cmp, "RICE_1") != 0 && strcmp(cmp, "RICE_ONE") != 0) return 0;
    int zbitpix = 0;
    if (fits_read_key(f, TINT, "ZBITPIX", &zbitpix, NULL, &status) ||
        fits_read_key(f, TINT, "ZNAXIS", naxis, NULL, &status) || *naxis < 1 || *naxis > 6)
        return 0;
    *bytepix = zbitpix == 8 ? 1 : zbitpix == 16 ? 2 : 4;
    *nblock = 32;
    for (int k = 1; k < 10; k++) {
        char key[16], name[FLEN_VALUE] = "";
        int val = 0, st = 0;
        snprintf(key, sizeof key, "ZNAME%d", k);
        if (fits_read_key(f, TSTRING, key, name, NULL, &st)) break;
        snprintf(key, sizeof key, "ZVAL%d", k);
        if (fits_read_key(f, TINT, key, &val, NULL, &st)) break;
        if (!strcasecmp(name, "BLOCKSIZE")) *nblock = val;
        if (!strcasecmp(name, "BYTEPIX")) *bytepix = val;
    }
    if (*bytepix != 1 && *bytepix != 2 && *bytepix != 4) return 0;
    for (int k = 0; k < *naxis; k++) {
        char key[16];
        int st = 0;
        snprintf(key, sizeof key, "ZNAXIS%d", k + 1);
        if (fits_read_key(f, TLONGLONG, key, &axes[k], NULL, &st) || axes[k] < 1) return 0;
        snprintf(key, sizeof key, "ZTILE%d", k + 1);
        if (fits_read_key(f, TLONGLONG, key, &tile[k], NULL, &st)) tile[k] = k ? 1 : axes[0];
        if (tile[k] < 1) return 0;
    }
    return 1;
}

/* A tile-compressed image is a binary table whose rows point (descriptors) into a heap.
 * cfitsio decompresses whatever a descriptor points at without checking that it lies in
 * the heap, and reads out of bounds on a corrupt one (found by tests/fuzz/fuzz_fits_image;
 * cfitsio 4.2): every descriptor is checked against the heap and the heap against the
 * file before any tile is read. */
static int check_tiles(fitsfile *f, const char *path, int hdu, size_t file_bytes,
                       const zm_image *img, zm_err *err)
{
    static const char *const cols[] = {"COMPRESSED_DATA", "GZIP_COMPRESSED_DATA",
                                       "UNCOMPRESSED_DATA"};
    int status = 0;
    long long nrows = 0, pcount = 0, theap = 0, naxis1 = 0;
    LONGLONG headstart = 0, datastart = 0, dataend = 0;
    if (fits_read_key(f, TLONGLONG, "NAXIS1", &naxis1, NULL, &status) ||
        fits_read_key(f, TLONGLONG, "NAXIS2", &nrows, NULL, &status) ||
        fits_read_key(f, TLONGLONG, "PCOUNT", &pcount, NULL, &status) ||
        fits_get_hduaddrll(f, &headstart, &datastart, &dataend, &status))
        return fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read the tile table");
    if (fits_read_key(f, TLONGLONG, "THEAP", &theap, NULL, &status)) {
        status = 0;
        theap = naxis1 * nrows;
    }
    if (naxis1 < 0 || nrows < 0 || pcount < 0 || theap < 0 ||
        (file_bytes && (double)datastart + (double)theap + (double)pcount > (double)file_bytes))
        return zm_err_set(err, ZM_EFORMAT,
                          "%s HDU %d: cannot read the %ld x %ld x %ld pixels (truncated file?): "
                          "the compressed tiles (%lld, heap of %lld bytes) end past the file's "
                          "%zu bytes",
                          path, hdu, img->nx, img->ny, img->nplanes, nrows, pcount, file_bytes);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        int col = 0, typecode = 0;
        long repeat = 0, width = 0;
        if (fits_get_colnum(f, CASEINSEN, (char *)cols[c], &col, &status)) {
            status = 0;
            continue;
        }
        if (fits_get_coltype(f, col, &typecode, &repeat, &width, &status))
            return fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read the tile column");
        if (typecode >= 0) continue; /* not a variable-length column */
        for (long long r = 1; r <= nrows; r++) {
            LONGLONG len = 0, off = 0;
            if (fits_read_descriptll(f, col, r, &len, &off, &status))
                return fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read a tile");
            if (len < 0 || off < 0 || (double)off + (double)len * (double)width > (double)pcount)
                return zm_err_set(err, ZM_EFORMAT,
                                  "%s HDU %d: compressed image: tile %lld (%s) lies outside the "
                                  "heap (%lld bytes at %lld; the heap has %lld): corrupt file",
                                  path, hdu, r, cols[c], (long long)len * width, (long long)off,
                                  pcount);
        }
        if (c != 0 || width != 1) continue;
        int nblock = 0, bytepix = 0, zn = 0;
        long long axes[6], tile[6];
        if (!rice_params(f, &nblock, &bytepix, &zn, axes, tile)) continue;
        unsigned char *buf = NULL;
        long long cap = 0;
        for (long long r = 1; r <= nrows; r++) {
            LONGLONG len = 0, off = 0;
            if (fits_read_descriptll(f, col, r, &len, &off, &status)) break;
            if (len == 0) continue; /* stored another way (GZIP_/UNCOMPRESSED_DATA) */
            long long idx = r - 1, npix = 1;
            for (int k = 0; k < zn; k++) {
                long long nt = (axes[k] + tile[k] - 1) / tile[k], t = idx % nt;
                idx /= nt;
                long long w = axes[k] - t * tile[k];
                npix *= w < tile[k] ? w : tile[k];
            }
            if (len > cap) {
                free(buf);
                cap = len;
                buf = zm_malloc((size_t)cap);
            }
            int anynul = 0;
            if (fits_read_col(f, TBYTE, col, r, 1, len, NULL, buf, &anynul, &status)) break;
            if (!rice_tile_ok(buf, len, npix, nblock, bytepix)) {
                free(buf);
                return zm_err_set(err, ZM_EFORMAT,
                                  "%s HDU %d: compressed image: tile %lld is not a valid Rice "
                                  "stream of %lld pixels (it runs past its %lld bytes): corrupt "
                                  "file",
                                  path, hdu, r, npix, (long long)len);
            }
        }
        free(buf);
        if (status)
            return fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read a compressed tile");
    }
    return 0;
}

/* Reads from an open file f of file_bytes bytes (0: unknown) and closes it. */
static int read_open(fitsfile *f, const char *path, size_t file_bytes, int with_pixels,
                     zm_image *img, zm_err *err)
{
    int status = 0;
    int nhdu = 0;
    if (fits_get_num_hdus(f, &nhdu, &status)) {
        int st2 = 0;
        fits_close_file(f, &st2);
        return fits_fail(err, ZM_EFORMAT, status, path, 0, "cannot count HDUs");
    }
    int rc = 0, hdu = 0, naxis = 0;
    long naxes[9] = {0};
    for (int h = 1; h <= nhdu && !hdu; h++) {
        int type = 0;
        if (fits_movabs_hdu(f, h, &type, &status)) {
            rc = fits_fail(err, ZM_EFORMAT, status, path, h, "cannot read the header");
            goto out;
        }
        if (type != IMAGE_HDU) continue;
        if (fits_get_img_dim(f, &naxis, &status)) {
            rc = fits_fail(err, ZM_EFORMAT, status, path, h, "cannot read NAXIS");
            goto out;
        }
        if (naxis == 0) continue;
        hdu = h;
    }
    if (!hdu) {
        rc = zm_err_set(err, ZM_EFORMAT, "%s: no HDU holds an image (NAXIS 2 or 3 expected)", path);
        goto out;
    }
    if (naxis != 2 && naxis != 3) {
        rc = zm_err_set(err, ZM_EFORMAT,
                        "%s HDU %d: NAXIS = %d; expected 2 (an image) or 3 (a cube of bands)",
                        path, hdu, naxis);
        goto out;
    }
    if (fits_get_img_size(f, 3, naxes, &status)) {
        rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read NAXISn");
        goto out;
    }
    img->nx = naxes[0];
    img->ny = naxes[1];
    img->nplanes = naxis == 3 ? naxes[2] : 1;
    img->hdu = hdu;
    if (img->nx < 1 || img->ny < 1 || img->nplanes < 1) {
        rc = zm_err_set(err, ZM_EFORMAT, "%s HDU %d: empty image (%ld x %ld x %ld)", path, hdu,
                        img->nx, img->ny, img->nplanes);
        goto out;
    }
    /* The header's size must be one the file can hold, checked before anything is
     * allocated: a hostile or corrupt NAXISn must not overflow the size or exhaust the
     * memory of the rank (found by tests/fuzz/fuzz_fits_image). */
    if (img->nx > ZM_IMAGE_MAX_SIDE || img->ny > ZM_IMAGE_MAX_SIDE ||
        img->nplanes > ZM_IMAGE_MAX_SIDE ||
        (double)img->nx * (double)img->ny * (double)img->nplanes * sizeof(float) >
            (double)ZM_IMAGE_MAX_BYTES) {
        rc = zm_err_set(err, ZM_EFORMAT,
                        "%s HDU %d: image of %ld x %ld x %ld pixels is larger than zoomorph "
                        "reads (at most %d on a side and %d MiB as floats)",
                        path, hdu, img->nx, img->ny, img->nplanes, ZM_IMAGE_MAX_SIDE,
                        (int)(ZM_IMAGE_MAX_BYTES >> 20));
        goto out;
    }
    if (with_pixels) {
        int compressed = fits_is_compressed_image(f, &status);
        status = 0;
        double need = (double)img->nx * (double)img->ny * (double)img->nplanes;
        if (compressed) {
            if ((rc = check_tiles(f, path, hdu, file_bytes, img, err))) goto out;
            /* tile compression packs well under 1024:1 even for constant tiles */
            if (file_bytes &&
                need * sizeof(float) > 1024.0 * (double)file_bytes + (16 << 20)) {
                rc = zm_err_set(err, ZM_EFORMAT,
                                "%s HDU %d: cannot read the %ld x %ld x %ld pixels (truncated "
                                "file?): a compressed image of %zu bytes cannot hold them",
                                path, hdu, img->nx, img->ny, img->nplanes, file_bytes);
                goto out;
            }
        } else if (file_bytes) {
            LONGLONG headstart = 0, datastart = 0, dataend = 0;
            if (fits_get_hduaddrll(f, &headstart, &datastart, &dataend, &status)) {
                rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot locate the data");
                goto out;
            }
            int bitpix = 0;
            if (fits_get_img_type(f, &bitpix, &status)) {
                rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read BITPIX");
                goto out;
            }
            double bytes = (double)datastart + need * (double)(bitpix < 0 ? -bitpix : bitpix) / 8;
            if (bytes > (double)file_bytes) {
                rc = zm_err_set(err, ZM_EFORMAT,
                                "%s HDU %d: cannot read the %ld x %ld x %ld pixels (truncated "
                                "file?): they end at byte %.0f, the file has %zu",
                                path, hdu, img->nx, img->ny, img->nplanes, bytes, file_bytes);
                goto out;
            }
        }
    }
    char bands[FLEN_VALUE] = "";
    int kst = 0;
    if (fits_read_key(f, TSTRING, "BANDS", bands, NULL, &kst) == 0)
        snprintf(img->bands, sizeof img->bands, "%s", bands);
    char *hdr = NULL;
    int nkeys = 0;
    if (fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &status)) {
        rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, "cannot read the header");
        goto out;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s HDU %d", path, hdu);
    rc = zm_wcs_from_header(&img->wcs, hdr, nkeys, what, err);
    int fst = 0;
    fits_free_memory(hdr, &fst);
    if (rc) goto out;
    if (with_pixels) {
        size_t n = (size_t)img->nx * (size_t)img->ny * (size_t)img->nplanes;
        img->pix = zm_malloc(n * sizeof(float));
        float nulval = NAN;
        int anynul = 0;
        if (fits_read_img(f, TFLOAT, 1, (LONGLONG)n, &nulval, img->pix, &anynul, &status)) {
            char m[64];
            snprintf(m, sizeof m, "cannot read the %ld x %ld x %ld pixels (truncated file?)",
                     img->nx, img->ny, img->nplanes);
            rc = fits_fail(err, ZM_EFORMAT, status, path, hdu, m);
            goto out;
        }
    }
out:
    if (f) {
        int st2 = 0;
        fits_close_file(f, &st2);
    }
    if (rc) zm_image_free(img);
    return rc;
}

int zm_image_read(const char *path, int with_pixels, zm_image *img, zm_err *err)
{
    memset(img, 0, sizeof *img);
    fitsfile *f = NULL;
    int status = 0;
    if (fits_open_diskfile(&f, path, READONLY, &status))
        return fits_fail(err, ZM_EIO, status, path, 0, "cannot open");
    struct stat st;
    size_t bytes = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    return read_open(f, path, bytes, with_pixels, img, err);
}

int zm_image_read_mem(const char *name, const void *data, size_t n, int with_pixels,
                      zm_image *img, zm_err *err)
{
    memset(img, 0, sizeof *img);
    fitsfile *f = NULL;
    int status = 0;
    /* cfitsio wants a pointer it may realloc; READONLY never writes or grows it */
    void *buf = (void *)data;
    size_t size = n;
    if (fits_open_memfile(&f, name, READONLY, &buf, &size, 0, NULL, &status))
        return fits_fail(err, ZM_EIO, status, name, 0, "cannot open");
    return read_open(f, name, n, with_pixels, img, err);
}

void zm_image_free(zm_image *img)
{
    if (!img) return;
    free(img->pix);
    zm_wcs_free(img->wcs);
    memset(img, 0, sizeof *img);
}
