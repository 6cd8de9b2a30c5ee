#!/usr/bin/python3
"""convert_torch.py: a PyTorch state dict -> a zoomorph weight file (HDF5, format 2).

Reads a torchvision or timm EfficientNet-B0 (the encoders Zoobot publishes), a
torchvision ResNet-18, or a zoomorph zoonet saved by PyTorch, and writes the layout
described in include/zoomorph/nn_file.h: one float32 dataset per tensor under /tensors,
named by torchvision's state-dict name, each with its zlib CRC-32, and the whole-file
header in the HDF5 user block (models/zm_weights.py).

    /usr/bin/python3 models/convert_torch.py encoder.pt out.h5 [--in-ch 1] [--in-size 224]

The input may be a bare state dict, a checkpoint holding one under "state_dict" or
"model" (PyTorch Lightning, Zoobot), or a whole pickled nn.Module. Key prefixes such as
"encoder." / "model." are stripped. timm names (conv_stem, blocks.S.J.conv_dw, ...) are
renamed to torchvision's. A checkpoint with no classifier (an encoder only) is written
with n_out = 0: load it in C with ZM_LOAD_SKIP_HEAD to train a new head.
--in-ch 1 turns a 3-channel stem into a greyscale one by summing over the colour
channels (a grey image made by averaging the channels then gives nearly the same
features as the colour one). Needs Debian's python3-torch, python3-h5py, python3-numpy.
"""
import argparse
import os
import re
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zm_weights  # noqa: E402

FORMAT = zm_weights.FORMAT
VERSION = zm_weights.VERSION

HEAD_NAMES = {
    "efficientnet_b0": ("classifier.1.weight", "classifier.1.bias"),
    "zoonet": ("classifier.1.weight", "classifier.1.bias"),
    "resnet18": ("fc.weight", "fc.bias"),
}
STEM_NAMES = {"efficientnet_b0": "features.0.0.weight", "zoonet": "features.0.0.weight",
              "resnet18": "conv1.weight"}


def _timm_to_torchvision(key):
    """Rename one timm efficientnet_b0 key to torchvision's; None for keys to drop."""
    top = {"conv_stem.": "features.0.0.", "bn1.": "features.0.1.",
           "conv_head.": "features.8.0.", "bn2.": "features.8.1.",
           "classifier.": "classifier.1."}
    m = re.match(r"blocks\.(\d+)\.(\d+)\.(.*)$", key)
    if not m:
        for a, b in top.items():
            if key.startswith(a):
                return b + key[len(a):]
        return None
    s, j, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    if s == 0:  # DepthwiseSeparableConv
        table = {"conv_dw.": "block.0.0.", "bn1.": "block.0.1.", "se.conv_reduce.": "block.1.fc1.",
                 "se.conv_expand.": "block.1.fc2.", "conv_pw.": "block.2.0.", "bn2.": "block.2.1."}
    else:  # InvertedResidual
        table = {"conv_pw.": "block.0.0.", "bn1.": "block.0.1.", "conv_dw.": "block.1.0.",
                 "bn2.": "block.1.1.", "se.conv_reduce.": "block.2.fc1.",
                 "se.conv_expand.": "block.2.fc2.", "conv_pwl.": "block.3.0.", "bn3.": "block.3.1."}
    for a, b in table.items():
        if rest.startswith(a):
            return "features.%d.%d.%s%s" % (s + 1, j, b, rest[len(a):])
    return None


def normalise_state_dict(sd):
    """Plain {torchvision name: float32 ndarray}; drops num_batches_tracked."""
    if hasattr(sd, "state_dict") and callable(sd.state_dict):
        sd = sd.state_dict()
    for k in ("state_dict", "model"):
        if isinstance(sd, dict) and k in sd and isinstance(sd[k], dict):
            sd = sd[k]
    out = {}
    for k, v in sd.items():
        for p in ("module.", "encoder.", "model."):
            while k.startswith(p):
                k = k[len(p):]
        if k.endswith("num_batches_tracked"):
            continue
        out[k] = v.detach().cpu().numpy().astype(np.float32) if hasattr(v, "detach") else \
            np.asarray(v, dtype=np.float32)
    if "conv_stem.weight" in out:  # timm
        renamed = {}
        for k, v in out.items():
            n = _timm_to_torchvision(k)
            if n is None:
                raise SystemExit("convert_torch: unexpected timm key %s" % k)
            renamed[n] = v
        out = renamed
    return out


def guess_arch(sd):
    if "layer1.0.conv1.weight" in sd:
        return "resnet18"
    if "features.8.0.weight" in sd and sd["features.8.0.weight"].shape[0] == 1280:
        return "efficientnet_b0"
    if "features.7.0.weight" in sd:
        return "zoonet"
    raise SystemExit("convert_torch: cannot tell the architecture from the keys")


def write_weights(path, sd, arch, in_size, in_ch=None):
    """Write sd ({torchvision name: array}) as a zoomorph weight file."""
    sd = dict(sd)
    stem = STEM_NAMES[arch]
    c = sd[stem].shape[1]
    if in_ch is not None and in_ch != c:
        if in_ch == 1 and c == 3:
            sd[stem] = sd[stem].sum(axis=1, keepdims=True)
        else:
            raise SystemExit("convert_torch: cannot turn %d input channels into %d" % (c, in_ch))
        c = in_ch
    hw, hb = HEAD_NAMES[arch]
    n_out = int(sd[hw].shape[0]) if hw in sd else 0
    if n_out == 0:
        sd.pop(hb, None)
    with zm_weights.create(path) as f:
        f.attrs["format"] = np.bytes_(FORMAT)
        f.attrs["format_version"] = np.int32(VERSION)
        f.attrs["arch"] = np.bytes_(arch)
        f.attrs["in_ch"] = np.int32(c)
        f.attrs["in_size"] = np.int32(in_size)
        f.attrs["n_out"] = np.int32(n_out)
        g = f.create_group("tensors")
        for k, v in sd.items():
            a = np.ascontiguousarray(v, dtype="<f4")
            d = g.create_dataset(k, data=a)
            d.attrs["crc32"] = np.uint32(zlib.crc32(a.tobytes()) & 0xFFFFFFFF)
    zm_weights.seal(path)
    return n_out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="state dict / checkpoint / pickled module (.pt, .pth, .ckpt)")
    ap.add_argument("output", help="zoomorph weight file to write (.h5)")
    ap.add_argument("--arch", choices=sorted(HEAD_NAMES), help="default: guessed from the keys")
    ap.add_argument("--in-ch", type=int, choices=(1, 3), help="default: the stem's channels")
    ap.add_argument("--in-size", type=int, default=224, help="input size recorded (default 224)")
    a = ap.parse_args(argv)
    import torch
    sd = normalise_state_dict(torch.load(a.input, map_location="cpu"))
    arch = a.arch or guess_arch(sd)
    n_out = write_weights(a.output, sd, arch, a.in_size, a.in_ch)
    print("%s: %s, %d tensors, head %d outputs -> %s" % (a.input, arch, len(sd), n_out, a.output))


if __name__ == "__main__":
    main(sys.argv[1:])
