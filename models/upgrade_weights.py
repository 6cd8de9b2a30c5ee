#!/usr/bin/python3
"""upgrade_weights.py: a zoomorph weight file of format version 1 -> format version 2.

    /usr/bin/python3 models/upgrade_weights.py OLD.h5 NEW.h5

Version 2 (include/zoomorph/nn_file.h) is version 1 in an HDF5 file with a 512-byte user
block holding a whole-file header (magic, version, length, CRC-32: models/zm_weights.py),
which zoomorph checks before HDF5 parses the file. zoomorph refuses version-1 files and
names this script. It checks OLD's per-tensor CRC-32s, copies every root attribute
(format_version set to 2) and every tensor with its attributes, bit for bit, writes NEW
(beside it, then renamed: NEW may be OLD), and reads NEW back to compare every tensor
with OLD's. Needs Debian's python3-h5py and python3-numpy.
"""
import os
import sys
import zlib

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zm_weights  # noqa: E402


def fail(msg):
    raise SystemExit("upgrade_weights: " + msg)


def read_v1(path):
    """({name: (value, dtype)} root attributes, {name: (array, {attr: (value, dtype)})})."""
    if zm_weights.check(path) is None:
        fail("%s is already a format-%d weight file" % (path, zm_weights.VERSION))
    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt != zm_weights.FORMAT:
            fail("%s: attribute format is %r, expected %r" % (path, fmt, zm_weights.FORMAT))
        if int(f.attrs.get("format_version", -1)) != 1:
            fail("%s: format_version %s, expected 1" % (path, f.attrs.get("format_version")))
        attrs = {k: (f.attrs[k], f.attrs.get_id(k).dtype) for k in f.attrs}
        if "tensors" not in f:
            fail("%s: no /tensors group" % path)
        tensors = {}
        for k, d in f["tensors"].items():
            a = d[()]
            if a.dtype != np.dtype("<f4"):
                fail("%s: tensor %s is %s, expected float32" % (path, k, a.dtype))
            crc = zlib.crc32(a.tobytes()) & 0xFFFFFFFF
            if "crc32" not in d.attrs or int(d.attrs["crc32"]) != crc:
                fail("%s: checksum mismatch in tensor %s (corrupted file)" % (path, k))
            tensors[k] = (a, {n: (d.attrs[n], d.attrs.get_id(n).dtype) for n in d.attrs})
    return attrs, tensors


def write_v2(path, attrs, tensors):
    with zm_weights.create(path) as f:
        for k, (v, t) in attrs.items():
            if k == "format_version":
                v = np.asarray(zm_weights.VERSION, dtype=t)
            f.attrs.create(k, v, dtype=t)
        g = f.create_group("tensors")
        for k, (a, at) in tensors.items():
            d = g.create_dataset(k, data=a, dtype="<f4")
            for n, (v, t) in at.items():
                d.attrs.create(n, v, dtype=t)
    zm_weights.seal(path)


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    old, new = argv
    attrs, tensors = read_v1(old)
    part = "%s.part%d" % (new, os.getpid())
    try:
        write_v2(part, attrs, tensors)
        why = zm_weights.check(part)
        if why:
            fail("%s: %s" % (part, why))
        with h5py.File(part, "r") as f:
            g = f["tensors"]
            if sorted(g) != sorted(tensors):
                fail("%s: the tensors written are not those read" % part)
            for k, (a, _) in tensors.items():
                b = g[k][()]
                if b.dtype != a.dtype or b.shape != a.shape or b.tobytes() != a.tobytes():
                    fail("%s: tensor %s differs from %s's" % (part, k, old))
        os.replace(part, new)
    finally:
        if os.path.exists(part):
            os.remove(part)
    print("%s -> %s: format 1 -> %d, %d tensors bit for bit the same" %
          (old, new, zm_weights.VERSION, len(tensors)))


if __name__ == "__main__":
    main(sys.argv[1:])
