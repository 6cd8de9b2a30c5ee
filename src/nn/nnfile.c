/*
 * nnfile.c: network weight files in HDF5 (see nn_file.h for the layout).
 * Bad files are returned errors (the HDF5 error stack is silenced while reading);
 * files are built in memory and written whole (a full disk is a returned error and leaves
 * no partial file); HDF5 failures while building one abort (ZM_CHECK_H5).
 * A file is read whole and its user-block header (magic, version, length, CRC-32 of the
 * rest) checked before HDF5 sees it; HDF5 then parses those checked bytes from memory, so
 * a corrupted weight file never reaches HDF5's parser (HDF5 1.10.8 overruns a heap buffer
 * on some corrupt attribute messages: docs/reliability.md).
 */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoomorph/nn_file.h"

uint32_t zm_crc32(uint32_t crc, const void *data, size_t n)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put_str_attr(hid_t obj, const char *name, const char *value)
{
    hid_t ty = H5Tcopy(H5T_C_S1);
    ZM_CHECK_H5(ty);
    ZM_CHECK_H5(H5Tset_size(ty, strlen(value) + 1));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    ZM_CHECK_H5(a);
    ZM_CHECK_H5(H5Awrite(a, ty, value));
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(ty);
}

static void put_int_attr(hid_t obj, const char *name, hid_t type, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    ZM_CHECK_H5(a);
    ZM_CHECK_H5(H5Awrite(a, type, v));
    H5Aclose(a);
    H5Sclose(sp);
}

/* ---- the user-block header (nn_file.h) ------------------------------------------------ */

enum { HDR_MAGIC_LEN = 24, HDR_VERSION = 24, HDR_USERBLOCK = 28, HDR_LENGTH = 32, HDR_CRC = 40 };

static void put_le(unsigned char *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Fills the user block of a whole file of size bytes (size > ZM_NN_USERBLOCK). */
static void seal_image(unsigned char *image, size_t size)
{
    memset(image, 0, ZM_NN_USERBLOCK);
    memcpy(image, ZM_NN_MAGIC, strlen(ZM_NN_MAGIC));
    put_le(image + HDR_VERSION, ZM_NN_FORMAT_VERSION, 4);
    put_le(image + HDR_USERBLOCK, ZM_NN_USERBLOCK, 4);
    put_le(image + HDR_LENGTH, size, 8);
    put_le(image + HDR_CRC, zm_crc32(0, image + ZM_NN_USERBLOCK, size - ZM_NN_USERBLOCK), 4);
}

int zm_net_save(const zm_net *net, const char *path, zm_err *err)
{
    /* Built in memory (HDF5's core driver, no backing store), then written by us beside
     * path and renamed when complete: a full disk, a file-size limit or a kill leaves the
     * previous file (or none), never a truncated one, and a failed write is an error, not
     * an abort. (HDF5 left to write to a full disk fails in H5Fclose and then crashes at
     * exit; found by e2e.disk_full.) */
    char part[4200];
    snprintf(part, sizeof part, "%s.part%d", path, (int)getpid());
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    ZM_CHECK_H5(fapl);
    ZM_CHECK_H5(H5Pset_fapl_core(fapl, 1 << 20, 0));
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    ZM_CHECK_H5(fcpl);
    ZM_CHECK_H5(H5Pset_userblock(fcpl, ZM_NN_USERBLOCK)); /* the header goes there */
    hid_t f = H5Fcreate(part, H5F_ACC_TRUNC, fcpl, fapl);
    ZM_CHECK_H5(f);
    ZM_CHECK_H5(H5Pclose(fcpl));
    ZM_CHECK_H5(H5Pclose(fapl));
    put_str_attr(f, "format", ZM_NN_FORMAT);
    int v = ZM_NN_FORMAT_VERSION;
    put_int_attr(f, "format_version", H5T_NATIVE_INT, &v);
    put_str_attr(f, "arch", net->arch);
    put_int_attr(f, "in_ch", H5T_NATIVE_INT, &net->cfg.in_ch);
    put_int_attr(f, "in_size", H5T_NATIVE_INT, &net->cfg.in_size);
    put_int_attr(f, "n_out", H5T_NATIVE_INT, &net->cfg.n_out);
    put_int_attr(f, "head_hidden", H5T_NATIVE_INT, &net->cfg.head_hidden);
    if (net->stamp_field[0]) put_str_attr(f, "stamp_field", net->stamp_field);
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ZM_CHECK_H5(g);
    for (int i = 0; i < net->n_pinfo; i++) {
        const zm_param *p = &net->pinfo[i];
        const float *data = (p->is_state ? net->state : net->params) + p->off;
        hsize_t dims[4];
        for (int k = 0; k < p->ndim; k++) dims[k] = (hsize_t)p->shape[k];
        hid_t sp = H5Screate_simple(p->ndim, dims, NULL);
        ZM_CHECK_H5(sp);
        hid_t d = H5Dcreate2(g, p->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        ZM_CHECK_H5(d);
        ZM_CHECK_H5(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
        uint32_t crc = zm_crc32(0, data, sizeof(float) * p->count); /* little-endian host */
        put_int_attr(d, "crc32", H5T_NATIVE_UINT32, &crc);
        ZM_CHECK_H5(H5Dclose(d));
        ZM_CHECK_H5(H5Sclose(sp));
    }
    ZM_CHECK_H5(H5Gclose(g));
    ZM_CHECK_H5(H5Fflush(f, H5F_SCOPE_GLOBAL));
    /* the core driver's image starts at the superblock (HDF5's base address): the user
     * block goes before it */
    ssize_t isize = H5Fget_file_image(f, NULL, 0);
    ZM_CHECK_H5(isize);
    size_t size = ZM_NN_USERBLOCK + (size_t)isize;
    char *image = zm_malloc(size);
    ZM_CHECK_H5(H5Fget_file_image(f, image + ZM_NN_USERBLOCK, (size_t)isize));
    ZM_CHECK_H5(H5Fclose(f));
    seal_image((unsigned char *)image, size);
    FILE *out = fopen(part, "wb");
    if (!out) {
        int e = errno;
        free(image);
        return zm_err_set(err, ZM_EIO, "weights %s: cannot create %s: %s", path, part,
                          strerror(e));
    }
    int bad = fwrite(image, 1, size, out) != size;
    int e = errno;
    if (fflush(out) != 0 || fsync(fileno(out)) != 0) bad = 1, e = errno;
    if (fclose(out) != 0) bad = 1, e = errno;
    free(image);
    if (bad) {
        remove(part);
        return zm_err_set(err, ZM_EIO,
                          "weights %s: write failed: %s (disk full or file-size limit?); nothing "
                          "written, an earlier file there is unchanged",
                          path, strerror(e));
    }
    if (rename(part, path) != 0) {
        e = errno;
        remove(part);
        return zm_err_set(err, ZM_EIO, "weights %s: cannot rename %s to it: %s", path, part,
                          strerror(e));
    }
    return 0;
}

/* ---- reading ------------------------------------------------------------------------ */

static int get_str_attr(hid_t obj, const char *name, char *buf, size_t n)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ty = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(ty) == H5T_STRING && !H5Tis_variable_str(ty)) {
        size_t sz = H5Tget_size(ty);
        char *tmp = zm_calloc(sz + 1, 1);
        if (H5Aread(a, ty, tmp) >= 0) { /* the file's own type: NULLPAD or NULLTERM */
            snprintf(buf, n, "%s", tmp);
            rc = 0;
        }
        free(tmp);
    } else if (H5Tget_class(ty) == H5T_STRING) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ty)); /* h5py writes UTF-8: no conversion to ASCII */
        if (H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, n, "%s", s);
            H5free_memory(s);
            rc = 0;
        }
        H5Tclose(mt);
    }
    H5Tclose(ty);
    H5Aclose(a);
    return rc;
}

static int get_attr(hid_t obj, const char *name, hid_t mtype, void *v)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = H5Aread(a, mtype, v) < 0 ? -1 : 0;
    H5Aclose(a);
    return rc;
}

static int read_header(hid_t f, const char *path, zm_nn_file_info *info, zm_err *err)
{
    char fmt[64] = "";
    memset(info, 0, sizeof *info);
    if (get_str_attr(f, "format", fmt, sizeof fmt) < 0 || strcmp(fmt, ZM_NN_FORMAT) != 0)
        return zm_err_set(err, ZM_EFORMAT,
                          "weights %s: not a zoomorph weight file (attribute format is '%s', "
                          "expected '%s')",
                          path, fmt, ZM_NN_FORMAT);
    if (get_attr(f, "format_version", H5T_NATIVE_INT, &info->version) < 0)
        return zm_err_set(err, ZM_EFORMAT, "weights %s: no format_version attribute", path);
    if (info->version != ZM_NN_FORMAT_VERSION)
        return zm_err_set(err, ZM_EFORMAT,
                          "weights %s: unknown format version %d (this zoomorph reads %d)", path,
                          info->version, ZM_NN_FORMAT_VERSION);
    if (get_str_attr(f, "arch", info->arch, sizeof info->arch) < 0 ||
        get_attr(f, "in_ch", H5T_NATIVE_INT, &info->in_ch) < 0 ||
        get_attr(f, "in_size", H5T_NATIVE_INT, &info->in_size) < 0 ||
        get_attr(f, "n_out", H5T_NATIVE_INT, &info->n_out) < 0)
        return zm_err_set(err, ZM_EFORMAT,
                          "weights %s: missing one of the attributes arch, in_ch, in_size, n_out",
                          path);
    if (H5Aexists(f, "head_hidden") > 0 && get_attr(f, "head_hidden", H5T_NATIVE_INT, &info->head_hidden) < 0)
        return zm_err_set(err, ZM_EFORMAT, "weights %s: unreadable attribute head_hidden", path);
    if (H5Aexists(f, "stamp_field") > 0 && get_str_attr(f, "stamp_field", info->stamp_field, sizeof info->stamp_field) < 0)
        return zm_err_set(err, ZM_EFORMAT, "weights %s: unreadable attribute stamp_field", path);
    return 0;
}

/* The file's bytes, checked against its header, into *image (size *n); ZM_EIO or
 * ZM_EFORMAT naming the problem otherwise. Reads at most the header of a file that is not
 * a sealed weight file of the size it claims. */
static int read_checked(const char *path, unsigned char **image, size_t *n, zm_err *err)
{
    *image = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return zm_err_set(err, ZM_EIO, "weights %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)fclose(fp); /* read-only, and already an error */
        return zm_err_set(err, ZM_EIO, "weights %s: cannot open: not a regular file", path);
    }
    const size_t size = (size_t)st.st_size;
    unsigned char hdr[ZM_NN_USERBLOCK] = {0}, magic[HDR_MAGIC_LEN] = {0};
    memcpy(magic, ZM_NN_MAGIC, strlen(ZM_NN_MAGIC));
    size_t got = fread(hdr, 1, size < sizeof hdr ? size : sizeof hdr, fp);
    int rc = 0;
    if (got != (size < sizeof hdr ? size : sizeof hdr))
        rc = zm_err_set(err, ZM_EIO, "weights %s: cannot read the first %zu bytes", path,
                        size < sizeof hdr ? size : sizeof hdr);
    else if (size < HDR_MAGIC_LEN || memcmp(hdr, magic, HDR_MAGIC_LEN) != 0) {
        /* HDF5's signature at 0, 512, 1024, ... (where HDF5 looks for its superblock) */
        static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
        int hdf5 = size >= 8 && memcmp(hdr, sig, 8) == 0;
        for (size_t off = 512; !hdf5 && off + 8 <= size && off <= ((size_t)1 << 40); off *= 2) {
            unsigned char b[8];
            hdf5 = fseek(fp, (long)off, SEEK_SET) == 0 && fread(b, 1, 8, fp) == 8 &&
                   memcmp(b, sig, 8) == 0;
        }
        if (hdf5)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: an HDF5 file without the '%s' header: a weight file of "
                            "format version 1 (zoomorph reads version %d) or not a zoomorph weight "
                            "file; a version-1 file is upgraded, tensors unchanged, by "
                            "'/usr/bin/python3 models/upgrade_weights.py %s NEW.h5' (or rewrite it "
                            "with models/convert_torch.py)",
                            path, ZM_NN_MAGIC, ZM_NN_FORMAT_VERSION, path);
        else
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: not a zoomorph weight file, nor an HDF5 file (no '%s' "
                            "header, no HDF5 signature; %zu bytes)",
                            path, ZM_NN_MAGIC, size);
    } else if (size < ZM_NN_HEADER_LEN)
        rc = zm_err_set(err, ZM_EFORMAT,
                        "weights %s: truncated: %zu bytes, shorter than the %d-byte header", path,
                        size, ZM_NN_HEADER_LEN);
    else {
        uint32_t version = (uint32_t)get_le(hdr + HDR_VERSION, 4);
        uint32_t ub = (uint32_t)get_le(hdr + HDR_USERBLOCK, 4);
        uint64_t length = get_le(hdr + HDR_LENGTH, 8);
        if (version != ZM_NN_FORMAT_VERSION)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: unknown format version %u (this zoomorph reads %d)", path,
                            version, ZM_NN_FORMAT_VERSION);
        else if (ub != ZM_NN_USERBLOCK)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: the header gives a user block of %u bytes, expected %d "
                            "(damaged header)",
                            path, ub, ZM_NN_USERBLOCK);
        else if (length > size)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: truncated: %zu bytes, the header says %llu", path, size,
                            (unsigned long long)length);
        else if (length < size)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: %zu bytes, the header says %llu (data appended, or a "
                            "damaged header)",
                            path, size, (unsigned long long)length);
        else if (size <= ZM_NN_USERBLOCK)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: %zu bytes, no room for HDF5 after the %d-byte user block "
                            "(damaged header)",
                            path, size, ZM_NN_USERBLOCK);
    }
    if (rc == 0) {
        const size_t rest = size - ZM_NN_USERBLOCK;
        *image = zm_malloc(size);
        memcpy(*image, hdr, ZM_NN_USERBLOCK);
        if (fread(*image + ZM_NN_USERBLOCK, 1, rest, fp) != rest)
            rc = zm_err_set(err, ZM_EIO, "weights %s: cannot read its %zu bytes (%s)", path, size,
                            ferror(fp) ? strerror(errno) : "shorter than when opened");
    }
    if (fclose(fp) != 0 && rc == 0)
        rc = zm_err_set(err, ZM_EIO, "weights %s: cannot close: %s", path, strerror(errno));
    if (rc == 0) {
        unsigned char want[ZM_NN_USERBLOCK];
        memcpy(want, *image, ZM_NN_USERBLOCK);
        seal_image(*image, size); /* what the writer would have put there for these bytes */
        if (get_le(want + HDR_CRC, 4) != get_le(*image + HDR_CRC, 4))
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: checksum mismatch over the file (corrupted file)", path);
        else if (memcmp(want, *image, ZM_NN_USERBLOCK) != 0)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: non-zero bytes in the user block after the header "
                            "(corrupted file)",
                            path);
    }
    if (rc) {
        free(*image);
        *image = NULL;
        return rc;
    }
    *n = size;
    return 0;
}

/* The checked file opened by HDF5 from memory (never from the disk, which could have
 * changed since). */
static hid_t open_checked(const char *path, zm_err *err)
{
    unsigned char *image;
    size_t n;
    int rc = read_checked(path, &image, &n, err);
    if (rc) return rc;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    ZM_CHECK_H5(fapl);
    ZM_CHECK_H5(H5Pset_fapl_core(fapl, 1 << 20, 0));
    ZM_CHECK_H5(H5Pset_file_image(fapl, image, n)); /* copied */
    free(image);
    /* the core driver refuses a name that exists on disk when given an image: "PATH/image"
     * never does (PATH is a regular file, read_checked made sure) */
    size_t len = strlen(path) + sizeof "/image";
    char *name = zm_malloc(len);
    snprintf(name, len, "%s/image", path);
    hid_t f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    free(name);
    ZM_CHECK_H5(H5Pclose(fapl));
    if (f < 0)
        return zm_err_set(err, ZM_EFORMAT,
                          "weights %s: header and checksum are right, but HDF5 cannot open the "
                          "file",
                          path);
    return f;
}

int zm_net_file_info(const char *path, zm_nn_file_info *info, zm_err *err)
{
    H5E_auto2_t fn;
    void *fd;
    H5Eget_auto2(H5E_DEFAULT, &fn, &fd);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = open_checked(path, err);
    int rc = (int)f;
    if (f >= 0) {
        rc = read_header(f, path, info, err);
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, fn, fd);
    return rc;
}

/* Reads every tensor into a scratch copy, checks, then commits. */
static int load_tensors(zm_net *net, hid_t f, const char *path, int flags, zm_err *err)
{
    hid_t g = H5Gopen2(f, "tensors", H5P_DEFAULT);
    if (g < 0) return zm_err_set(err, ZM_EFORMAT, "weights %s: no /tensors group", path);
    int head = net->n_blocks - 1, rc = 0;
    float *np = zm_malloc(sizeof(float) * (net->n_params ? net->n_params : 1));
    float *ns = zm_malloc(sizeof(float) * (net->n_state ? net->n_state : 1));
    memcpy(np, net->params, sizeof(float) * net->n_params);
    memcpy(ns, net->state, sizeof(float) * net->n_state);
    hsize_t expected = 0;
    for (int i = 0; i < net->n_pinfo && rc == 0; i++) {
        const zm_param *p = &net->pinfo[i];
        int skip = (flags & ZM_LOAD_SKIP_HEAD) && p->block == head;
        if (H5Lexists(g, p->name, H5P_DEFAULT) <= 0) {
            if (skip) continue;
            rc = zm_err_set(err, ZM_EFORMAT, "weights %s: tensor %s missing (architecture %s)",
                            path, p->name, net->arch);
            break;
        }
        expected++;
        if (skip) continue;
        hid_t d = H5Dopen2(g, p->name, H5P_DEFAULT);
        if (d < 0) {
            rc = zm_err_set(err, ZM_EFORMAT, "weights %s: cannot open tensor %s", path, p->name);
            break;
        }
        hid_t sp = H5Dget_space(d);
        hsize_t dims[8] = {0};
        int nd = H5Sget_simple_extent_ndims(sp);
        int ok = nd == p->ndim;
        if (ok && nd > 0) H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int k = 0; ok && k < nd; k++) ok = dims[k] == (hsize_t)p->shape[k];
        H5Sclose(sp);
        if (!ok) {
            char want[64] = "", got[64] = "";
            for (int k = 0; k < p->ndim; k++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", k ? "x" : "",
                         p->shape[k]);
            for (int k = 0; k < nd && k < 8; k++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", k ? "x" : "",
                         (unsigned long long)dims[k]);
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: tensor %s has shape %s, network %s (in_ch %d) needs %s",
                            path, p->name, got, net->arch, net->cfg.in_ch, want);
            H5Dclose(d);
            break;
        }
        float *dst = (p->is_state ? ns : np) + p->off;
        uint32_t crc = 0;
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: cannot read tensor %s (truncated or corrupted file)",
                            path, p->name);
        else if (get_attr(d, "crc32", H5T_NATIVE_UINT32, &crc) < 0)
            rc = zm_err_set(err, ZM_EFORMAT, "weights %s: tensor %s has no crc32", path,
                            p->name);
        else if (zm_crc32(0, dst, sizeof(float) * p->count) != crc)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: checksum mismatch in tensor %s (corrupted file)", path,
                            p->name);
        H5Dclose(d);
    }
    if (rc == 0) {
        H5G_info_t gi;
        if (H5Gget_info(g, &gi) < 0)
            rc = zm_err_set(err, ZM_EFORMAT, "weights %s: cannot list /tensors", path);
        else if (gi.nlinks != expected && !(flags & ZM_LOAD_SKIP_HEAD))
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: %llu tensors in the file, network %s has %llu", path,
                            (unsigned long long)gi.nlinks, net->arch,
                            (unsigned long long)expected);
    }
    if (rc == 0) {
        memcpy(net->params, np, sizeof(float) * net->n_params);
        memcpy(net->state, ns, sizeof(float) * net->n_state);
    }
    free(np);
    free(ns);
    H5Gclose(g);
    return rc;
}

int zm_net_load(zm_net *net, const char *path, int flags, zm_err *err)
{
    H5E_auto2_t fn;
    void *fd;
    H5Eget_auto2(H5E_DEFAULT, &fn, &fd);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    zm_nn_file_info info;
    hid_t f = open_checked(path, err);
    int rc = (int)f;
    if (f >= 0) {
        rc = read_header(f, path, &info, err);
        if (rc == 0 && strcmp(info.arch, net->arch) != 0)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: architecture %s, but the network is %s", path,
                            info.arch, net->arch);
        if (rc == 0 && info.in_ch != net->cfg.in_ch)
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: made for %d input channel(s), the network has %d", path,
                            info.in_ch, net->cfg.in_ch);
        if (rc == 0 && info.in_size != net->cfg.in_size && !(flags & ZM_LOAD_ANY_SIZE))
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: made for %dx%d input, the network takes %dx%d", path,
                            info.in_size, info.in_size, net->cfg.in_size, net->cfg.in_size);
        if (rc == 0 && info.n_out != net->cfg.n_out && !(flags & ZM_LOAD_SKIP_HEAD))
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: head has %d outputs, the network %d (load with "
                            "ZM_LOAD_SKIP_HEAD to fine-tune a new head)",
                            path, info.n_out, net->cfg.n_out);
        if (rc == 0 && info.head_hidden != net->cfg.head_hidden && !(flags & ZM_LOAD_SKIP_HEAD))
            rc = zm_err_set(err, ZM_EFORMAT,
                            "weights %s: head of width %d (0: linear), the network's %d", path,
                            info.head_hidden, net->cfg.head_hidden);
        if (rc == 0) rc = load_tensors(net, f, path, flags, err);
        if (rc == 0) memcpy(net->stamp_field, info.stamp_field, sizeof net->stamp_field);
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, fn, fd);
    return rc;
}
