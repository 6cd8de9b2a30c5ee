#!/usr/bin/python3
"""Checks zoomorph stores with h5py alone (no zoomorph code): the layout of
docs/store-format.md, attributes on every dataset, stage marks, and optionally that
several stores hold identical data (written by different rank counts).

usage: check_store.py STORE [STORE ...]        layout checks on each, equality of all
Prints what it compared; exits 1 on the first difference.
"""
import sys

import h5py
import numpy as np


def datasets(f):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("meta"):
            out[name] = obj

    f.visititems(visit)
    return out


def check_layout(path):
    with h5py.File(path, "r") as f:
        meta = f["meta"].attrs
        assert int(meta["format_version"]) == 1, "format_version"
        for k in ("zoomorph_version", "git_revision", "created", "creator"):
            assert k in meta, f"/meta lacks {k}"
        for stage in ("plan", "cutout"):
            if stage in f["meta/stages"]:
                a = f["meta/stages"][stage].attrs
                assert a["status"] == b"complete", f"{stage} status {a['status']}"
                assert b"[store]" in a["config"], f"{stage} config not stored"
        for name, d in datasets(f).items():
            assert "units" in d.attrs and "description" in d.attrs, f"{name} lacks units/description"
            assert d.attrs["description"], f"{name}: empty description"
        n = f["galaxies/id"].shape[0]
        assert (f["galaxies/id"][:] == np.arange(n)).all(), "ids are not 0..N-1"
        for name in ("ra", "dec", "brickname", "objid", "source_file"):
            assert f["galaxies/" + name].shape[0] == n, name
        if "cutouts" in f:
            assert f["cutouts/images"].shape[0] == n
            assert f["cutouts/flags"].shape == (n,)
        print(f"{path}: layout ok, {n} galaxies, datasets: {', '.join(sorted(datasets(f)))}")


def compare(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = datasets(fa), datasets(fb)
        assert sorted(da) == sorted(db), f"different datasets: {sorted(set(da) ^ set(db))}"
        for name in sorted(da):
            x, y = da[name][()], db[name][()]
            if x.dtype.kind == "f":
                same = x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
            else:
                same = x.shape == y.shape and np.array_equal(x, y)
            assert same, f"{name} differs between {a} and {b}"
            assert x.tobytes() == y.tobytes() or x.dtype.kind == "f", f"{name} bytes differ"
        print(f"{a} == {b}: {len(da)} datasets identical")


def main():
    paths = sys.argv[1:]
    try:
        for p in paths:
            check_layout(p)
        for p in paths[1:]:
            compare(paths[0], p)
    except AssertionError as e:
        print("FAIL:", e)
        sys.exit(1)


if __name__ == "__main__":
    main()
