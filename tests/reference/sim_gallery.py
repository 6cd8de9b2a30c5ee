#!/usr/bin/env python3
"""sim_gallery.py: a PNG contact sheet per simulated class, for a person to look at.

usage: sim_gallery.py SURVEY_DIR OUT_DIR [N_PER_CLASS]

For each class in truth.fits (elliptical, lenticular, spiral, edge-on, and the
sub-samples barred and ringed), the N brightest galaxies (default 8) are cut from their
brick at 4 half-light radii + 10 px and shown with the Galaxy Zoo stretch of DESIGN.md
(g 0.008, r 0.014, z 0.019; z,r,g -> R,G,B; arcsinh between -0.5 and 300). A stand-in
until the C gallery (picture.h) takes over in phase 2; not a test.
"""
import os
import sys

import matplotlib
import numpy as np
from astropy.io import fits

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def stretch(planes):
    lo, hi = np.arcsinh(-0.5), np.arcsinh(300.0)
    out = [(np.arcsinh(p / s) - lo) / (hi - lo) for p, s in zip(planes, (0.019, 0.014, 0.008))]
    return np.clip(np.dstack(out), 0, 1)


def main():
    root, outdir = sys.argv[1], sys.argv[2]
    nper = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    os.makedirs(outdir, exist_ok=True)
    t = fits.getdata(os.path.join(root, "truth.fits"))
    cls = np.char.strip(t["class"])
    samples = {c: cls == c for c in ("elliptical", "lenticular", "spiral", "edge-on")}
    samples["barred"] = t["bar_present"] > 0
    samples["ringed"] = t["ring_present"] > 0
    cache = {}
    for name, m in samples.items():
        idx = np.where(m)[0]
        idx = idx[np.argsort(t["mag_r"][idx])][:nper]
        if len(idx) == 0:
            continue
        fig, axs = plt.subplots(1, len(idx), figsize=(2 * len(idx), 2.3), squeeze=False)
        for ax, i in zip(axs[0], idx):
            b = t["brickname"][i].strip()
            if b not in cache:
                d = os.path.join(root, "coadd", b[:3], b)
                cache = {b: [fits.getdata(os.path.join(d, f"legacysurvey-{b}-image-{c}.fits.fz"))
                             for c in "zrg"]}
            x, y = int(round(t["x"][i])), int(round(t["y"][i]))
            h = int(4 * t["r50"][i] / 0.262) + 10
            planes = [p[max(0, y - h):y + h + 1, max(0, x - h):x + h + 1] for p in cache[b]]
            ax.imshow(stretch(planes), origin="lower")
            ax.set_title(f"{b}/{t['objid'][i]} r={t['mag_r'][i]:.1f}", fontsize=7)
            ax.axis("off")
        fig.suptitle(name)
        fig.tight_layout()
        path = os.path.join(outdir, f"gallery-{name}.png")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print("wrote", path)


if __name__ == "__main__":
    main()
