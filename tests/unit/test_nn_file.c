/*
 * test_nn_file.c: weight files (round trip and the user-block header; wrong architecture,
 * channels, size, head; truncated, corrupted, version-1, foreign and unknown-version
 * files, refused by the whole-file check before HDF5 parses them, and a corrupted tensor
 * behind a right whole-file checksum, refused by its own), NaN/inf detection with the
 * layer name, Monte-Carlo dropout, blocks and freezing, and the optimisers and schedules.
 * No PyTorch needed.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"
#include "zoomorph/nn_optim.h"

static zm_net *make(const char *arch, int in_ch, int size, int n_out, uint64_t seed)
{
    zm_net_config c = zm_net_config_default(arch);
    c.in_ch = in_ch;
    c.in_size = size;
    c.n_out = n_out;
    c.max_batch = 2;
    c.seed = seed;
    zm_net *net;
    zm_err err = {0};
    if (zm_net_create(&net, &c, &err) < 0) ZM_ABORT("%s", err.msg);
    return net;
}

static void fill(float *x, size_t n, uint64_t seed)
{
    zm_rng r;
    zm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)zm_rng_normal(&r);
}

static char saved[4400];

/* The whole file (read back by the tests that corrupt one), *n bytes. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    ck_assert_int_ge(len, 0);
    rewind(fp);
    unsigned char *b = zm_malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, fp), (size_t)len);
    ck_assert_int_eq(fclose(fp), 0);
    *n = (size_t)len;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

static uint64_t le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Rewrites the header's length and CRC for the file as it is now (after HDF5 edited it in
 * place), as a forger would: the checks behind the whole-file one are reached. */
static void reseal(const char *path)
{
    size_t n;
    unsigned char *b = slurp(path, &n);
    ck_assert_uint_gt(n, ZM_NN_USERBLOCK);
    for (int i = 0; i < 8; i++) b[32 + i] = (unsigned char)((uint64_t)n >> (8 * i));
    uint32_t crc = zm_crc32(0, b + ZM_NN_USERBLOCK, n - ZM_NN_USERBLOCK);
    for (int i = 0; i < 4; i++) b[40 + i] = (unsigned char)(crc >> (8 * i));
    spit(path, b, n);
    free(b);
}

static const char *saved_file(void)
{
    if (!saved[0]) {
        snprintf(saved, sizeof saved, "%s/zoonet.h5", zt_tmpdir("nn_file"));
        zm_net *a = make("zoonet", 1, 64, 5, 1);
        zm_err err = {0};
        ck_assert_msg(zm_net_save(a, saved, &err) == 0, "%s", err.msg);
        zm_net_free(a);
    }
    return saved;
}

START_TEST(round_trip)
{
    zm_net *a = make("zoonet", 1, 64, 5, 1), *b = make("zoonet", 1, 64, 5, 2);
    zm_err err = {0};
    ck_assert(memcmp(a->params, b->params, 4 * a->n_params) != 0);
    ck_assert_msg(zm_net_load(b, saved_file(), 0, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(a->params, b->params, 4 * a->n_params) == 0);
    ck_assert(memcmp(a->state, b->state, 4 * a->n_state) == 0);
    zm_nn_file_info info;
    ck_assert(zm_net_file_info(saved_file(), &info, &err) == 0);
    ck_assert_str_eq(info.arch, "zoonet");
    ck_assert_int_eq(info.in_ch, 1);
    ck_assert_int_eq(info.in_size, 64);
    ck_assert_int_eq(info.n_out, 5);
    ck_assert_int_eq(info.version, ZM_NN_FORMAT_VERSION);
    /* the header (nn_file.h): magic, version, user block, length, CRC of the rest, zeros */
    size_t n;
    unsigned char *h = slurp(saved_file(), &n);
    ck_assert_uint_gt(n, ZM_NN_USERBLOCK);
    ck_assert_int_eq(memcmp(h, "ZOOMORPH-NN-WEIGHTS\0\0\0\0\0", 24), 0);
    ck_assert_uint_eq(le(h + 24, 4), 2);
    ck_assert_uint_eq(le(h + 28, 4), ZM_NN_USERBLOCK);
    ck_assert_uint_eq(le(h + 32, 8), n);
    ck_assert_uint_eq(le(h + 40, 4), zm_crc32(0, h + ZM_NN_USERBLOCK, n - ZM_NN_USERBLOCK));
    for (int i = ZM_NN_HEADER_LEN; i < ZM_NN_USERBLOCK; i++) ck_assert_int_eq(h[i], 0);
    ck_assert_int_eq(memcmp(h + ZM_NN_USERBLOCK, "\x89HDF\r\n\x1a\n", 8), 0);
    free(h);
    float x[2 * 64 * 64];
    fill(x, 2 * 64 * 64, 5);
    ck_assert(zm_net_forward(a, x, 2, ZM_MODE_EVAL, &err) == 0);
    ck_assert(zm_net_forward(b, x, 2, ZM_MODE_EVAL, &err) == 0);
    ck_assert(memcmp(zm_net_output(a), zm_net_output(b), 4 * 10) == 0);
    zm_net_free(a);
    zm_net_free(b);
}
END_TEST

static void expect_error(zm_net *net, const char *path, int flags, const char *needle)
{
    zm_err err = {0};
    float *before = zm_malloc(4 * net->n_params);
    memcpy(before, net->params, 4 * net->n_params);
    int rc = zm_net_load(net, path, flags, &err);
    fprintf(stderr, "expected error: %s\n", err.msg);
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' lacks '%s'", err.msg, needle);
    ck_assert_msg(memcmp(before, net->params, 4 * net->n_params) == 0, "network changed");
    free(before);
}

START_TEST(wrong_network)
{
    zm_net *n = make("resnet18", 1, 64, 5, 1);
    expect_error(n, saved_file(), 0, "architecture zoonet");
    zm_net_free(n);
    n = make("zoonet", 3, 64, 5, 1);
    expect_error(n, saved_file(), 0, "input channel");
    zm_net_free(n);
    n = make("zoonet", 1, 96, 5, 1);
    expect_error(n, saved_file(), 0, "64x64 input");
    zm_err err = {0};
    ck_assert_msg(zm_net_load(n, saved_file(), ZM_LOAD_ANY_SIZE, &err) == 0, "%s", err.msg);
    zm_net_free(n);
    n = make("zoonet", 1, 64, 34, 1);
    expect_error(n, saved_file(), 0, "head has 5 outputs");
    size_t off, cnt;
    zm_net_block_params(n, n->n_blocks - 1, &off, &cnt);
    float head0 = n->params[off];
    ck_assert_msg(zm_net_load(n, saved_file(), ZM_LOAD_SKIP_HEAD, &err) == 0, "%s", err.msg);
    ck_assert(n->params[off] == head0);
    zm_net_free(n);
    n = make("zoonet", 1, 64, 5, 1);
    expect_error(n, "/nonexistent/w.h5", 0, "cannot open");
    /* an encoder-only file (as convert_torch.py writes for a checkpoint without a head) */
    char enc[4500];
    snprintf(enc, sizeof enc, "%s.encoder", saved_file());
    ck_assert(zt_run("cp '%s' '%s'", saved_file(), enc) == 0);
    hid_t f = H5Fopen(enc, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(H5Ldelete(f, "tensors/classifier.1.weight", H5P_DEFAULT) >= 0);
    ck_assert(H5Ldelete(f, "tensors/classifier.1.bias", H5P_DEFAULT) >= 0);
    hid_t a = H5Aopen(f, "n_out", H5P_DEFAULT);
    int zero = 0;
    H5Awrite(a, H5T_NATIVE_INT, &zero);
    H5Aclose(a);
    H5Fclose(f);
    reseal(enc);
    expect_error(n, enc, 0, "head has 0 outputs");
    ck_assert_msg(zm_net_load(n, enc, ZM_LOAD_SKIP_HEAD, &err) == 0, "%s", err.msg);
    zm_net_free(n);
}
END_TEST

/* Saving on a full disk (a file-size limit, as ulimit -f): an error, no partial file, and
 * the weights already there unchanged (it used to abort and leave a truncated file). */
START_TEST(save_on_full_disk)
{
    const char *d = zt_tmpdir("nn_full");
    char path[4200];
    snprintf(path, sizeof path, "%s/w.h5", d);
    zm_net *a = make("zoonet", 1, 64, 5, 1), *b = make("zoonet", 1, 64, 5, 2);
    zm_err err = {0};
    ck_assert_msg(zm_net_save(a, path, &err) == 0, "%s", err.msg);
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl0, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl0), 0);
    rl = rl0;
    rl.rlim_cur = 256 * 1024; /* the file is 3.4 MB */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    int rc = zm_net_save(b, path, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl0), 0);
    signal(SIGXFSZ, old);
    ck_assert_int_eq(rc, ZM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "(disk full or file-size limit?); nothing written"));
    ck_assert_int_eq(zt_run("ls '%s' | grep -q part", d) == 0, 0); /* no partial file */
    zm_net *c = make("zoonet", 1, 64, 5, 3);
    ck_assert_msg(zm_net_load(c, path, 0, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(c->params, a->params, 4 * a->n_params) == 0); /* still a's weights */
    zm_net_free(a);
    zm_net_free(b);
    zm_net_free(c);
}
END_TEST

/* A weight file of format version 1 (or any HDF5 file without the header), written
 * with userblock bytes of user block (0: none). */
static void write_plain_hdf5(const char *path, hsize_t userblock)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    ck_assert(fcpl >= 0);
    if (userblock) ck_assert(H5Pset_userblock(fcpl, userblock) >= 0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t ty = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    ck_assert(ty >= 0 && sp >= 0 && H5Tset_size(ty, sizeof ZM_NN_FORMAT) >= 0);
    hid_t a = H5Acreate2(f, "format", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0 && H5Awrite(a, ty, ZM_NN_FORMAT) >= 0 && H5Aclose(a) >= 0);
    int v = 1;
    a = H5Acreate2(f, "format_version", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0 && H5Aclose(a) >= 0);
    ck_assert(H5Tclose(ty) >= 0 && H5Sclose(sp) >= 0 && H5Pclose(fcpl) >= 0);
    ck_assert(H5Fclose(f) >= 0);
}

/* Refused by both readers with needle, before HDF5 parses the file. */
static void expect_refused(zm_net *net, const char *path, const char *needle)
{
    expect_error(net, path, 0, needle);
    zm_nn_file_info info;
    zm_err err = {0};
    ck_assert_int_eq(zm_net_file_info(path, &info, &err), ZM_EFORMAT);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' lacks '%s'", err.msg, needle);
}

START_TEST(bad_files)
{
    const char *src = saved_file();
    char path[4500];
    zm_net *n = make("zoonet", 1, 64, 5, 3);
    size_t size;
    unsigned char *good = slurp(src, &size), *b = zm_malloc(size + 16);
    /* truncated: after the header, inside it */
    snprintf(path, sizeof path, "%s.trunc", src);
    ck_assert(zt_run("head -c 200000 '%s' > '%s'", src, path) == 0);
    char needle[200];
    snprintf(needle, sizeof needle, "truncated: 200000 bytes, the header says %zu", size);
    expect_refused(n, path, needle);
    spit(path, good, 30);
    expect_refused(n, path, "truncated: 30 bytes, shorter than the 44-byte header");
    /* data appended */
    memcpy(b, good, size);
    memset(b + size, 0, 16);
    spit(path, b, size + 16);
    expect_refused(n, path, "data appended");
    /* one byte flipped anywhere after the user block (the superblock, tensors, the last
     * byte): the whole-file checksum refuses it before HDF5 opens the file */
    snprintf(path, sizeof path, "%s.flip", src);
    for (int k = 0; k <= 40; k++) {
        size_t at = ZM_NN_USERBLOCK + (size - 1 - ZM_NN_USERBLOCK) * (size_t)k / 40;
        memcpy(b, good, size);
        b[at] ^= (unsigned char)(1u << (k % 8));
        spit(path, b, size);
        zm_err err = {0};
        ck_assert_int_eq(zm_net_load(n, path, 0, &err), ZM_EFORMAT);
        ck_assert_msg(strstr(err.msg, "checksum mismatch over the file (corrupted file)"),
                      "byte %zu: %s", at, err.msg);
    }
    expect_refused(n, path, "checksum mismatch over the file (corrupted file)");
    /* ... and in the header's CRC, or the zero bytes of the user block after the header */
    memcpy(b, good, size);
    b[41] ^= 0x10;
    spit(path, b, size);
    expect_refused(n, path, "checksum mismatch over the file");
    memcpy(b, good, size);
    b[300] = 1;
    spit(path, b, size);
    expect_refused(n, path, "non-zero bytes in the user block after the header");
    /* the header's own version */
    memcpy(b, good, size);
    b[24] = 99;
    spit(path, b, size);
    expect_refused(n, path, "unknown format version 99 (this zoomorph reads 2)");
    /* a corrupted tensor behind a right whole-file checksum (a forged header): the
     * per-tensor checksum still catches it */
    snprintf(path, sizeof path, "%s.corrupt", src);
    ck_assert(zt_run("cp '%s' '%s'", src, path) == 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "tensors/features.3.0.block.0.0.weight", H5P_DEFAULT);
    haddr_t at = H5Dget_offset(d); /* relative to HDF5's base address: after the block */
    H5Dclose(d);
    H5Fclose(f);
    ck_assert(at != HADDR_UNDEF);
    memcpy(b, good, size);
    memcpy(b + ZM_NN_USERBLOCK + at + 40, "\x12\x34\x56\x78", 4);
    spit(path, b, size);
    expect_error(n, path, 0, "checksum mismatch over the file");
    reseal(path);
    expect_error(n, path, 0, "checksum mismatch in tensor features.3.0.block.0.0.weight");
    /* unknown format version in the HDF5 attribute (header resealed) */
    snprintf(path, sizeof path, "%s.v99", src);
    ck_assert(zt_run("cp '%s' '%s'", src, path) == 0);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int v = 99;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Fclose(f);
    expect_refused(n, path, "checksum mismatch over the file");
    reseal(path);
    expect_refused(n, path, "unknown format version 99");
    /* a version-1 file (HDF5, no header) and a foreign HDF5 file with a user block of its
     * own: refused unparsed, with the way to upgrade */
    snprintf(path, sizeof path, "%s.v1", src);
    write_plain_hdf5(path, 0);
    expect_refused(n, path, "an HDF5 file without the 'ZOOMORPH-NN-WEIGHTS' header: a weight "
                            "file of format version 1");
    expect_refused(n, path, "models/upgrade_weights.py");
    write_plain_hdf5(path, 2048);
    expect_refused(n, path, "an HDF5 file without the 'ZOOMORPH-NN-WEIGHTS' header");
    /* not an HDF5 file at all, and an empty one */
    snprintf(path, sizeof path, "%s.text", src);
    ck_assert(zt_run("echo hello > '%s'", path) == 0);
    expect_refused(n, path, "not a zoomorph weight file, nor an HDF5 file");
    spit(path, good, 0);
    expect_refused(n, path, "not a zoomorph weight file, nor an HDF5 file");
    free(good), free(b);
    zm_net_free(n);
}
END_TEST

/* A version-1 file (h5py, no user block: as zoomorph wrote them before format 2) is
 * refused with the hint, and models/upgrade_weights.py turns it into a version-2 file that
 * loads the same weights; models/zm_weights.py checks the C writer's header. */
START_TEST(upgrade_version1)
{
    const char *src = saved_file(), *py = zt_env("ZM_PYTHON", "/usr/bin/python3"),
               *dir = zt_env("ZM_SOURCE_DIR", ".");
    char v1[4500], v2[4500];
    snprintf(v1, sizeof v1, "%s.old-v1", src);
    snprintf(v2, sizeof v2, "%s.upgraded", src);
    ck_assert_int_eq(zt_run("%s '%s/models/zm_weights.py' '%s'", py, dir, src), 0);
    ck_assert_int_eq(
        zt_run("%s -c 'import sys, h5py, numpy as np\n"
               "s, d = h5py.File(sys.argv[1], \"r\"), h5py.File(sys.argv[2], \"w\")\n"
               "for k in s.attrs: d.attrs.create(k, s.attrs[k], dtype=s.attrs.get_id(k).dtype)\n"
               "d.attrs[\"format_version\"] = np.int32(1)\n"
               "s.copy(\"tensors\", d)' '%s' '%s'",
               py, src, v1),
        0);
    zm_net *n = make("zoonet", 1, 64, 5, 3), *a = make("zoonet", 1, 64, 5, 1);
    expect_error(n, v1, 0, "models/upgrade_weights.py");
    ck_assert_int_ne(zt_run("%s '%s/models/zm_weights.py' '%s'", py, dir, v1), 0);
    ck_assert_int_eq(zt_run("%s '%s/models/upgrade_weights.py' '%s' '%s'", py, dir, v1, v2), 0);
    zm_err err = {0};
    ck_assert_msg(zm_net_load(n, v2, 0, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(a->params, n->params, 4 * a->n_params) == 0);
    ck_assert(memcmp(a->state, n->state, 4 * a->n_state) == 0);
    /* a version-2 file is not upgraded again */
    ck_assert_int_ne(zt_run("%s '%s/models/upgrade_weights.py' '%s' '%s.again'", py, dir, v2, v2),
                     0);
    zm_net_free(n);
    zm_net_free(a);
}
END_TEST

START_TEST(nonfinite_detection)
{
    zm_net *n = make("zoonet", 1, 64, 5, 1);
    const zm_param *p = zm_net_param(n, "features.3.1.block.1.0.weight");
    ck_assert_ptr_nonnull(p);
    float x[2 * 64 * 64];
    fill(x, 2 * 64 * 64, 5);
    zm_err err = {0};
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    ck_assert_int_eq(zm_net_find_nonfinite(n, 2), -1);
    zm_net_param_data(n, p)[3] = NAN;
    int rc = zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err);
    fprintf(stderr, "expected error: %s\n", err.msg);
    ck_assert_int_eq(rc, ZM_EVALUE);
    ck_assert(strstr(err.msg, "layer features.3.1.block.1.0") != NULL);
    n->check_finite = 0;
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    int o = zm_net_find_nonfinite(n, 2);
    ck_assert_int_ge(o, 0);
    ck_assert_str_eq(n->ops[o].name, "features.3.1.block.1.0");
    zm_net_param_data(n, p)[3] = INFINITY;
    n->check_finite = 1;
    ck_assert_int_eq(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err), ZM_EVALUE);
    zm_net_free(n);
    zm_net_config c = zm_net_config_default("vgg16");
    ck_assert_int_eq(zm_net_create(&n, &c, &err), ZM_ECONFIG);
    fprintf(stderr, "expected error: %s\n", err.msg);
    c = zm_net_config_default("zoonet");
    c.in_ch = 2;
    ck_assert_int_eq(zm_net_create(&n, &c, &err), ZM_ECONFIG);
}
END_TEST

START_TEST(dropout_modes)
{
    zm_net_config c = zm_net_config_default("zoonet");
    c.in_size = 64;
    c.max_batch = 2;
    c.n_out = 5;
    c.dropout = 0.5f;
    zm_net *n;
    zm_err err = {0};
    ck_assert(zm_net_create(&n, &c, &err) == 0);
    float x[2 * 64 * 64], y1[10], y2[10];
    fill(x, 2 * 64 * 64, 9);
    /* realistic head weights so dropout matters */
    zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err);
    memcpy(y1, zm_net_output(n), sizeof y1);
    zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err);
    ck_assert(memcmp(y1, zm_net_output(n), sizeof y1) == 0);
    zm_net_forward(n, x, 2, ZM_MODE_MC, &err);
    memcpy(y2, zm_net_output(n), sizeof y2);
    ck_assert(memcmp(y1, y2, sizeof y1) != 0);
    zm_net_forward(n, x, 2, ZM_MODE_MC, &err);
    ck_assert(memcmp(y2, zm_net_output(n), sizeof y2) != 0);
    /* MC keeps running statistics (representation equal to EVAL's) */
    float r[2 * 512];
    zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err);
    memcpy(r, zm_net_repr(n), sizeof r);
    zm_net_forward(n, x, 2, ZM_MODE_MC, &err);
    ck_assert(memcmp(r, zm_net_repr(n), sizeof r) == 0);
    zm_net_free(n);
}
END_TEST

START_TEST(blocks_and_freezing)
{
    zm_net *n = make("efficientnet_b0", 1, 64, 5, 1);
    ck_assert_int_eq(n->n_blocks, 19);
    size_t total = 0, off, cnt;
    for (int b = 0; b < n->n_blocks; b++) {
        zm_net_block_params(n, b, &off, &cnt);
        ck_assert_uint_eq(off, total);
        total += cnt;
    }
    ck_assert_uint_eq(total, n->n_params);
    ck_assert_int_eq(zm_net_repr_dim(n), 1280);
    float x[2 * 64 * 64], dy[10];
    fill(x, 2 * 64 * 64, 1);
    fill(dy, 10, 2);
    zm_err err = {0};
    zm_net_set_trainable_from(n, n->n_blocks - 3);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    zm_net_zero_grad(n);
    zm_net_backward(n, dy, 2);
    zm_net_block_params(n, n->n_blocks - 3, &off, &cnt);
    for (size_t i = 0; i < off; i++) ck_assert(n->grads[i] == 0.0f);
    double s = 0;
    for (size_t i = off; i < n->n_params; i++) s += fabs(n->grads[i]);
    ck_assert(s > 0);
    /* per-block learning rates: frozen blocks do not move */
    zm_adam o;
    zm_adam_init(&o, ZM_OPT_ADAMW, n->n_params, 0.9f, 0.999f, 1e-8f, 0.05f);
    zm_adam_set_blocks(&o, n->n_blocks, n->block_off, NULL);
    zm_adam_layer_decay(&o, 3, 0.75f);
    ck_assert(o.group_mult[n->n_blocks - 1] == 1.0f && o.group_mult[n->n_blocks - 3] == 0.5625f);
    ck_assert(o.group_mult[n->n_blocks - 4] == 0.0f);
    float *before = zm_malloc(4 * n->n_params);
    memcpy(before, n->params, 4 * n->n_params);
    zm_adam_step(&o, n->params, n->grads, 1e-3f);
    ck_assert(memcmp(before, n->params, 4 * off) == 0);
    ck_assert(memcmp(before + off, n->params + off, 4 * (n->n_params - off)) != 0);
    free(before);
    zm_adam_free(&o);
    zm_net_free(n);
}
END_TEST

/* Backward after an EVAL forward (fine-tuning with frozen batch statistics) against a
 * central finite difference of L = sum(y * dy) along a random direction of all
 * parameters (the EVAL network is smooth: SiLU, no batch statistics). */
START_TEST(frozen_bn_backward)
{
    zm_net *n = make("zoonet", 1, 32, 3, 4);
    zm_rng r;
    zm_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < n->n_state; i++) /* non-trivial running statistics */
        n->state[i] = 0.5f + 0.5f * (float)zm_rng_uniform(&r);
    float x[2 * 32 * 32], dy[6];
    fill(x, 2 * 32 * 32, 21);
    fill(dy, 6, 22);
    zm_err err = {0};
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err) == 0);
    zm_net_zero_grad(n);
    zm_net_backward(n, dy, 2);
    float *v = zm_malloc(4 * n->n_params), *p0 = zm_malloc(4 * n->n_params);
    memcpy(p0, n->params, 4 * n->n_params);
    double gv = 0, vv = 0;
    for (size_t i = 0; i < n->n_params; i++) {
        v[i] = (float)zm_rng_normal(&r) * (fabsf(p0[i]) + 1e-2f);
        gv += (double)n->grads[i] * v[i];
        vv += (double)v[i] * v[i];
    }
    double h = 1e-3, L[2];
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < n->n_params; i++) n->params[i] = p0[i] + (k ? -h : h) * v[i];
        ck_assert(zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err) == 0);
        L[k] = 0;
        for (int j = 0; j < 6; j++) L[k] += (double)zm_net_output(n)[j] * dy[j];
    }
    double fd = (L[0] - L[1]) / (2 * h);
    fprintf(stderr, "frozen-BN backward: grad.v %.6g, finite difference %.6g, relative %.2g\n", gv,
            fd, fabs(gv - fd) / fabs(fd));
    ck_assert(fabs(gv - fd) <= 1e-2 * fabs(fd));
    free(v), free(p0);
    zm_net_free(n);
}
END_TEST

/* mode = top: the frozen blocks run in inference mode, as Keras/Zoobot freeze them. A
 * TRAIN forward with the lower blocks frozen leaves their batch-norm running statistics
 * unchanged and normalises with them (not with the batch's), so their outputs are those
 * of an EVAL pass; the trainable blocks still use batch statistics and update theirs. */
START_TEST(frozen_bn_running_stats)
{
    /* no stochastic depth: a frozen block's residual branches would be dropped at random
     * in TRAIN mode (it is noise, not state; Keras freezes only batch norm's mode) */
    zm_net_config c = zm_net_config_default("zoonet");
    c.in_size = 32;
    c.n_out = 3;
    c.max_batch = 2;
    c.seed = 4;
    c.drop_path = 0;
    zm_net *n = NULL;
    zm_err err = {0};
    ck_assert_int_eq(zm_net_create(&n, &c, &err), 0);
    zm_rng r;
    zm_rng_seed(&r, 12, 0);
    for (size_t i = 0; i < n->n_state; i++) n->state[i] = 0.5f + 0.5f * (float)zm_rng_uniform(&r);
    const int from = n->n_blocks - 2;
    zm_net_set_trainable_from(n, from);
    size_t fs = zm_net_frozen_state(n);
    ck_assert(fs > 0 && fs < n->n_state);
    /* the last op of the frozen blocks */
    int last = -1;
    for (int o = 0; o < n->n_ops; o++)
        if (n->ops[o].block < from) last = o;
    ck_assert(last >= 0);
    const zm_tensor *t = &n->t[n->ops[last].out];
    const size_t cnt = (size_t)t->c * t->h * t->w * 2;
    float x[2 * 32 * 32];
    fill(x, 2 * 32 * 32, 31);
    float *state0 = zm_malloc(4 * n->n_state), *ev = zm_malloc(4 * cnt);
    memcpy(state0, n->state, 4 * n->n_state);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_EVAL, &err) == 0);
    memcpy(ev, zm_net_tensor(n, n->ops[last].out), 4 * cnt);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    ck_assert_msg(memcmp(state0, n->state, 4 * fs) == 0, "running statistics of frozen blocks changed in TRAIN mode");
    ck_assert_msg(memcmp(state0 + fs, n->state + fs, 4 * (n->n_state - fs)) != 0,
                  "running statistics of trainable blocks not updated");
    ck_assert_msg(memcmp(ev, zm_net_tensor(n, n->ops[last].out), 4 * cnt) == 0,
                  "frozen blocks normalised with batch statistics in TRAIN mode");
    /* every block trainable: batch statistics again, running statistics move */
    zm_net_set_trainable_from(n, 0);
    ck_assert_uint_eq(zm_net_frozen_state(n), 0);
    memcpy(n->state, state0, 4 * n->n_state);
    ck_assert(zm_net_forward(n, x, 2, ZM_MODE_TRAIN, &err) == 0);
    ck_assert(memcmp(state0, n->state, 4 * fs) != 0);
    free(state0), free(ev);
    zm_net_free(n);
}
END_TEST

START_TEST(optimiser)
{
    /* one AdamW and one Adam(L2) step by hand */
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f}, q[2] = {1.0f, -2.0f};
    zm_adam o;
    zm_adam_init(&o, ZM_OPT_ADAMW, 2, 0.9f, 0.999f, 1e-8f, 0.1f);
    zm_adam_step(&o, p, g, 0.01f);
    for (int i = 0; i < 2; i++) {
        double m = 0.1 * g[i] / 0.1, v = 0.001 * g[i] * g[i] / 0.001;
        double want = q[i] * (1 - 0.01 * 0.1) - 0.01 * m / (sqrt(v) + 1e-8);
        ck_assert(fabs(p[i] - want) < 1e-6);
    }
    zm_adam_free(&o);
    float p2[2] = {1.0f, -2.0f};
    zm_adam_init(&o, ZM_OPT_ADAM, 2, 0.9f, 0.999f, 1e-8f, 0.1f);
    zm_adam_step(&o, p2, g, 0.01f);
    for (int i = 0; i < 2; i++) {
        double gg = g[i] + 0.1 * q[i];
        double want = q[i] - 0.01 * gg / (fabs(gg) + 1e-8);
        ck_assert(fabs(p2[i] - want) < 1e-6);
    }
    zm_adam_free(&o);
    /* clipping */
    float gr[2] = {3.0f, 4.0f};
    ck_assert(fabsf(zm_grad_clip(gr, 2, 1.0f) - 5.0f) < 1e-6f);
    ck_assert(fabsf(gr[0] - 0.6f) < 1e-5f && fabsf(gr[1] - 0.8f) < 1e-5f);
    /* schedules */
    zm_lr_schedule s = {ZM_LR_COSINE, 1e-3, 10, 110, 0, 0, 0};
    ck_assert(fabs(zm_lr_at(&s, 0) - 1e-4) < 1e-12);
    ck_assert(fabs(zm_lr_at(&s, 9) - 1e-3) < 1e-12);
    ck_assert(fabs(zm_lr_at(&s, 10) - 1e-3) < 1e-12);
    ck_assert(fabs(zm_lr_at(&s, 60) - 5e-4) < 1e-12);
    ck_assert(zm_lr_at(&s, 110) == 0.0);
    zm_lr_schedule st = {ZM_LR_STEP, 1e-2, 0, 0, 5, 0.5, 0};
    ck_assert(fabs(zm_lr_at(&st, 4) - 1e-2) < 1e-12 && fabs(zm_lr_at(&st, 12) - 2.5e-3) < 1e-12);
    zm_lr_schedule k = {ZM_LR_CONSTANT, 3e-4, 0, 0, 0, 0, 0};
    ck_assert(zm_lr_at(&k, 1000) == 3e-4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_file");
    TCase *tc = tcase_create("file");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, wrong_network);
    tcase_add_test(tc, save_on_full_disk);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, upgrade_version1);
    tcase_add_test(tc, nonfinite_detection);
    tcase_add_test(tc, dropout_modes);
    tcase_add_test(tc, blocks_and_freezing);
    tcase_add_test(tc, frozen_bn_backward);
    tcase_add_test(tc, frozen_bn_running_stats);
    tcase_add_test(tc, optimiser);
    suite_add_tcase(s, tc);
    return zt_run_suite(s);
}
