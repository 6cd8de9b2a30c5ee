/*
 * nn_file.h: network weight files (HDF5, serial API; any rank may read them).
 *
 * Layout (format version 2): an HDF5 file with a 512-byte user block whose first 44
 * bytes are a header (little-endian), the rest of the block zero:
 *   0   char[24]  magic "ZOOMORPH-NN-WEIGHTS", NUL-padded
 *   24  uint32    format version (2)
 *   28  uint32    user block size (512: HDF5's superblock starts there)
 *   32  uint64    length of the whole file in bytes
 *   40  uint32    zlib CRC-32 of every byte after the user block
 * Readers read the whole file and check magic, version, length and CRC before HDF5
 * parses a byte of it (HDF5 1.10 itself overruns buffers on some corrupt files); HDF5 then
 * opens the checked bytes from memory. Inside the HDF5 file:
 *   /                 attributes: format = "zoomorph-nn-weights", format_version = 2,
 *                     arch (string), in_ch, in_size, n_out (int), head_hidden (int,
 *                     absent = 0: the width of a fine-tuned MLP head, nn.h),
 *                     stamp_field (string, optional: the [cutout] field rule of the
 *                     stamps it was trained on, as zm_stamp_field_text writes it; the
 *                     stages that run the model on stamps refuse a different one)
 *   /tensors/<name>   float32 dataset per parameter and BN running statistic, named by
 *                     its PyTorch state-dict name ("features.1.0.block.0.0.weight"),
 *                     shaped as in PyTorch, with attribute crc32 (uint32, zlib's CRC-32
 *                     of the little-endian float32 bytes).
 * Loading checks the format, the version, the architecture, input channels and size,
 * head size (unless ZM_LOAD_SKIP_HEAD), every tensor's presence, shape and checksum, and
 * that the file has no tensors the network lacks. Every problem is a ZM_EFORMAT/ZM_EIO
 * error naming the file and what was expected; the network is left unchanged on error.
 * A version-1 file (HDF5 without the header) is refused with the way to upgrade it
 * (models/upgrade_weights.py). models/convert_torch.py writes this format from
 * torchvision/timm state dicts (the header by models/zm_weights.py).
 */
#ifndef ZOOMORPH_NN_FILE_H
#define ZOOMORPH_NN_FILE_H

#include <stdint.h>

#include "zoomorph/error.h"
#include "zoomorph/nn.h"

#define ZM_NN_FORMAT "zoomorph-nn-weights"
#define ZM_NN_FORMAT_VERSION 2
#define ZM_NN_MAGIC "ZOOMORPH-NN-WEIGHTS"  /* first bytes of the file, NUL-padded to 24 */
#define ZM_NN_USERBLOCK 512                 /* bytes before HDF5's superblock */
#define ZM_NN_HEADER_LEN 44                 /* bytes of the user block in use */

enum {
    ZM_LOAD_SKIP_HEAD = 1, /* leave the head block (dropout + linear) as initialised */
    ZM_LOAD_ANY_SIZE = 2   /* accept another input size (weights do not depend on it) */
};

typedef struct {
    char arch[32];
    int version, in_ch, in_size, n_out;
    int head_hidden; /* 0: dropout + linear head; > 0: the fine-tuning MLP head (nn.h) */
    char stamp_field[ZM_STAMP_FIELD_LEN]; /* optional attribute stamp_field; "" if absent */
} zm_nn_file_info;

int zm_net_save(const zm_net *net, const char *path, zm_err *err);
int zm_net_load(zm_net *net, const char *path, int flags, zm_err *err);
/* Header only (to build the matching network). */
int zm_net_file_info(const char *path, zm_nn_file_info *info, zm_err *err);
/* zlib-compatible CRC-32 of n bytes, continuing from crc (start with 0). */
uint32_t zm_crc32(uint32_t crc, const void *data, size_t n);

#endif
