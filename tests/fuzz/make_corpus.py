#!/usr/bin/python3
"""Seed corpora for the libFuzzer targets, made at run time (never stored in git).

usage: make_corpus.py OUT ZOOMORPH_BIN [REAL_DIR]

OUT/<target>/ gets small seeds: real survey files from REAL_DIR (../shared/data/real:
DECaLS cutout cubes, Legacy Surveys coadds and Tractor catalogues, DECam CCDs) cropped
to a few dozen pixels or rows with their headers kept, plain and tile-compressed; a tiny
simulated survey (zoomorph simulate) and a store made from it (plan, cutout, votes);
the shipped configs; weight files written by h5py in format 2 (models/zm_weights.py: the
whole-file header, so the fuzzer starts from files that pass it), and one of format 1.
Real files stay where they are.
"""
import glob
import io
import os
import subprocess
import sys
import zlib

import h5py
import numpy as np
from astropy.io import fits
from astropy.table import Table

out, zbin = sys.argv[1], sys.argv[2]
real = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
    os.path.dirname(__file__), "../../../shared/data/real")
src = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(src, "models"))
import zm_weights  # noqa: E402
T = {t: os.path.join(out, t) for t in
     ("fuzz_fits_image", "fuzz_table_csv", "fuzz_table_fits", "fuzz_params", "fuzz_nn_file",
      "fuzz_store")}
for d in T.values():
    os.makedirs(d, exist_ok=True)
count = {t: 0 for t in T}


def put(target, name, data):
    with open(os.path.join(T[target], name), "wb") as f:
        f.write(data)
    count[target] += 1


def hdul_bytes(hdul):
    b = io.BytesIO()
    hdul.writeto(b)
    return b.getvalue()


def crop_image(hdu, n):
    """The central n x n pixels (all planes), CRPIX moved so the WCS stays right."""
    data = hdu.data
    if data is None or data.ndim not in (2, 3):
        return None
    ny, nx = data.shape[-2:]
    y0, x0 = max(0, ny // 2 - n // 2), max(0, nx // 2 - n // 2)
    sub = data[..., y0:y0 + n, x0:x0 + n].astype(np.float32)
    h = hdu.header.copy()
    for k in ("CRPIX1", "CRPIX2"):
        if k in h:
            h[k] -= x0 if k == "CRPIX1" else y0
    for k in ("ZIMAGE", "ZBITPIX", "ZNAXIS", "ZNAXIS1", "ZNAXIS2", "ZTILE1", "ZTILE2",
              "ZCMPTYPE", "ZNAME1", "ZVAL1", "ZNAME2", "ZVAL2", "ZQUANTIZ", "ZDITHER0"):
        h.remove(k, ignore_missing=True)
    return sub, h


def image_seeds(path, tag):
    try:
        with fits.open(path) as hl:
            for hdu in hl:
                if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
                    continue
                c = crop_image(hdu, 48)
                if c is None:
                    continue
                sub, h = c
                plain = fits.HDUList([fits.PrimaryHDU(sub, header=h)])
                put("fuzz_fits_image", tag + ".fits", b"\x00" + hdul_bytes(plain))
                if sub.ndim == 2:
                    comp = fits.HDUList([fits.PrimaryHDU(),
                                         fits.CompImageHDU(sub, header=h, compression_type="RICE_1")])
                    put("fuzz_fits_image", tag + ".fits.fz", b"\x11" + hdul_bytes(comp))
                return
    except Exception as e:  # a seed less, not a failure
        print("skip", path, e)


def table_seeds(path, tag, nrows=12):
    try:
        t = Table.read(path, hdu=1)
    except Exception as e:
        print("skip", path, e)
        return
    t = t[:nrows]
    keep = [c for c in t.colnames if t[c].ndim == 1][:40]
    t = t[keep]
    b = io.BytesIO()
    t.write(b, format="fits")
    put("fuzz_table_fits", tag + ".fits", b.getvalue())
    s = io.StringIO()
    t.write(s, format="ascii.csv")
    put("fuzz_table_csv", tag + ".csv", s.getvalue().encode())


# ---- real files ---------------------------------------------------------------
if os.path.isdir(real):
    for p in sorted(glob.glob(real + "/decals-cutouts/*.fits")):
        image_seeds(p, "real-" + os.path.basename(p)[:-5])
    for p in sorted(glob.glob(real + "/legacysurvey-coadds/*/legacysurvey-*-*.fits.fz")):
        image_seeds(p, "real-" + os.path.basename(p)[:-8])
    for p in sorted(glob.glob(real + "/decam-ccds/*ooi*.fits")):
        image_seeds(p, "real-" + os.path.basename(p)[:-5])
    for p in sorted(glob.glob(real + "/legacysurvey-coadds/*/*.fits")):
        table_seeds(p, "real-" + os.path.basename(p)[:-5])
    table_seeds(real + "/decam-ccds/survey-bricks.fits.gz", "real-survey-bricks")
    # the truncated download as it is, cut shorter still
    inc = real + "/decals-cutouts/example_incomplete.fits"
    if os.path.exists(inc):
        with open(inc, "rb") as f:
            put("fuzz_fits_image", "real-incomplete-head", b"\x00" + f.read(8640))
else:
    print("no real files at", real, "- simulated seeds only")

# ---- a tiny simulated survey and a store from it -------------------------------
w = os.path.join(out, "_work")
os.makedirs(w, exist_ok=True)
with open(os.path.join(w, "sim.ini"), "w") as f:
    f.write("[simulate]\nseed = 3\nbricks = 1\nbrick_size = 256\ngalaxies_per_brick = 6\n"
            "stars_per_brick = 2\nmin_separation = 12\nr50_median = 2.0\nr50_min = 1.0\n"
            "r50_max = 3.0\n")
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
sim = os.path.join(w, "sim")
subprocess.run([zbin, "simulate", "-c", os.path.join(w, "sim.ini"), "--set",
                "simulate.out=" + sim], check=True, env=env, stdout=subprocess.DEVNULL)
for p in sorted(glob.glob(sim + "/coadd/*/*/*image-*.fits.fz")):
    image_seeds(p, "sim-" + os.path.basename(p)[:-8])
for p in sorted(glob.glob(sim + "/tractor/*/*.fits")) + sorted(glob.glob(sim + "/*.fits")):
    table_seeds(p, "sim-" + os.path.basename(p)[:-5], nrows=8)
for p in sorted(glob.glob(sim + "/*.csv")):
    with open(p, "rb") as f:
        put("fuzz_table_csv", "sim-" + os.path.basename(p), b"".join(f.readlines()[:9]))
store = os.path.join(w, "s.h5")
ini = os.path.join(w, "run.ini")
with open(ini, "w") as f:
    f.write(f"[store]\npath = {store}\n[survey]\nroot = {sim}\n[cutout]\nsize = 16\n"
            f"[labels]\nvotes = {sim}/votes.csv\n")
for stage in ("plan", "cutout", "votes"):
    r = subprocess.run([zbin, stage, "-c", ini], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode:
        print(stage, "failed:", r.stderr[-500:])
        break
    with open(store, "rb") as f:
        put("fuzz_store", "sim-store-after-" + stage, f.read())
with h5py.File(os.path.join(w, "plain.h5"), "w") as f:
    f.create_group("meta").attrs["format_version"] = 2
with open(os.path.join(w, "plain.h5"), "rb") as f:
    put("fuzz_store", "other-version", f.read())

# ---- configs --------------------------------------------------------------------
for p in sorted(glob.glob(src + "/config/*.ini")):
    with open(p, "rb") as f:
        put("fuzz_params", os.path.basename(p), f.read())
put("fuzz_params", "run.ini", open(ini, "rb").read())

# ---- weight files ---------------------------------------------------------------
def weights(name, attrs, tensors, version=zm_weights.VERSION):
    """A weight file of format version (2: with the header; 1: plain HDF5, refused)."""
    p = os.path.join(w, name)
    with (zm_weights.create(p) if version == 2 else h5py.File(p, "w")) as f:
        f.attrs["format_version"] = np.int32(version)
        for k, v in attrs.items():
            f.attrs[k] = v
        g = f.create_group("tensors")
        for k, a in tensors.items():
            d = g.create_dataset(k, data=a)
            d.attrs["crc32"] = np.uint32(zlib.crc32(a.astype("<f4").tobytes()))
    if version == 2:
        zm_weights.seal(p)
    put("fuzz_nn_file", name, open(p, "rb").read())


base = {"format": "zoomorph-nn-weights", "arch": "zoonet", "in_ch": 1, "in_size": 64,
        "n_out": 34}
weights("header-only.h5", base, {})
weights("one-tensor.h5", base, {"head.1.weight": np.ones((34, 8), np.float32)})
weights("other-arch.h5", dict(base, arch="resnet18"), {})
weights("version-9.h5", dict(base, format_version=np.int32(9)), {})  # in the attribute
weights("version-1.h5", base, {"head.1.weight": np.ones((34, 8), np.float32)}, version=1)
shipped = src + "/models/zoonet-gz-sim.h5"
if os.path.exists(shipped):
    with h5py.File(shipped) as f:  # the shipped model with its 8 smallest tensors
        small = sorted(f["tensors"], key=lambda k: f["tensors"][k].size)[:8]
        attrs = {k: f.attrs[k] for k in f.attrs if k != "format_version"}
        tensors = {k: f["tensors"][k][()] for k in small}
    weights("shipped-subset.h5", attrs, tensors)
    weights("shipped-subset-v9.h5", attrs, tensors)
    with open(os.path.join(T["fuzz_nn_file"], "shipped-subset-v9.h5"), "r+b") as f:
        f.seek(24)  # the header's version
        f.write(bytes([9]))
print("seeds:", ", ".join(f"{t} {n}" for t, n in count.items()))
