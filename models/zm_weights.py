#!/usr/bin/python3
"""zm_weights.py: the whole-file header of zoomorph weight files (format version 2).

The one Python copy of the header logic, used by every Python writer of weight files
(models/convert_torch.py, models/upgrade_weights.py, tests/fuzz/make_corpus.py); the C
copy is in src/nn/nnfile.c, the layout in include/zoomorph/nn_file.h:

    an HDF5 file made with a 512-byte user block (h5py: userblock_size=512), whose first
    44 bytes are, little-endian:
      0   char[24]  b"ZOOMORPH-NN-WEIGHTS", NUL-padded
      24  uint32    format version (2)
      28  uint32    user block size (512)
      32  uint64    length of the whole file in bytes
      40  uint32    zlib CRC-32 of every byte after the user block
    and the rest of the block zero.

Write the HDF5 file with create(path), close it, then seal(path). zoomorph checks the
header before HDF5 parses the file, and refuses a file without it.

    /usr/bin/python3 models/zm_weights.py FILE...    # checks each file's header
"""
import struct
import sys
import zlib

FORMAT = "zoomorph-nn-weights"  # the root attribute "format"
VERSION = 2                     # the header's version and the attribute format_version
MAGIC = b"ZOOMORPH-NN-WEIGHTS"
USERBLOCK = 512
_HEADER = struct.Struct("<24sIIQI")


def create(path):
    """An h5py.File for writing a weight file at path (with room for the header)."""
    import h5py
    return h5py.File(path, "w", userblock_size=USERBLOCK)


def _header(body):
    """The 512-byte user block for a file whose bytes after the block are body."""
    h = _HEADER.pack(MAGIC, VERSION, USERBLOCK, USERBLOCK + len(body),
                     zlib.crc32(body) & 0xFFFFFFFF)
    return h + bytes(USERBLOCK - len(h))


def seal(path):
    """Writes the header into the user block of the closed HDF5 file at path."""
    with open(path, "r+b") as f:
        data = f.read()
        if len(data) <= USERBLOCK or data[USERBLOCK:USERBLOCK + 8] != b"\x89HDF\r\n\x1a\n":
            raise SystemExit("%s: not an HDF5 file with a %d-byte user block (write it with "
                             "zm_weights.create)" % (path, USERBLOCK))
        f.seek(0)
        f.write(_header(data[USERBLOCK:]))
        f.flush()


def check(path):
    """None if path has a valid header for its bytes, else what is wrong (a string)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _HEADER.size or not data.startswith(MAGIC):
        return "no %s header" % MAGIC.decode()
    magic, version, ub, length, crc = _HEADER.unpack_from(data)
    if version != VERSION:
        return "format version %d, expected %d" % (version, VERSION)
    if ub != USERBLOCK or length != len(data) or len(data) <= USERBLOCK:
        return "%d bytes, the header says %d (user block %d)" % (len(data), length, ub)
    if data[:USERBLOCK] != _header(data[USERBLOCK:]):
        return "checksum mismatch over the file (or a damaged header)"
    return None


if __name__ == "__main__":
    bad = 0
    for p in sys.argv[1:]:
        why = check(p)
        print("%s: %s" % (p, why or "header, length and checksum right (format %d)" % VERSION))
        bad += why is not None
    sys.exit(1 if bad else 0)
