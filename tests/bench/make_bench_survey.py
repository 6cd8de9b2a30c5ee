#!/usr/bin/python3
"""Survey bricks for the cutout benchmark (not a test fixture).

  real NAME...   bricks whose z image is the real 3600x3600 DR5 brick 1238p245 (symlinked,
                 never copied) with a Tractor catalogue of NGAL random galaxy positions
  grz NAME...    3-band 3600x3600 bricks (g, r, z, RICE-compressed, dithered, like
                 legacypipe) with NGAL exponential galaxies and noise

usage: make_bench_survey.py ROOT SHARED_DATA real|grz NGAL NAME [NAME...]
"""
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS


def tractor(root, name, w, nx, ngal, rng):
    x = rng.uniform(50, nx - 50, ngal)
    y = rng.uniform(50, nx - 50, ngal)
    ra, dec = w.all_pix2world(np.c_[x, y], 0).T
    r50 = rng.uniform(2.0, 8.0, ngal).astype(np.float32)
    mag = rng.uniform(14.0, 17.7, ngal)
    flux = (10 ** ((22.5 - mag) / 2.5)).astype(np.float32)
    t = Table()
    t["brickname"] = [name] * ngal
    t["objid"] = np.arange(ngal, dtype=np.int32)
    t["brick_primary"] = np.ones(ngal, bool)
    t["type"] = ["EXP"] * ngal
    t["ra"], t["dec"] = ra, dec
    for b, k in zip("grz", (0.6, 1.0, 1.4)):
        t[f"flux_{b}"] = flux * k
    t["shape_r"] = r50
    t["sersic"] = np.ones(ngal, np.float32)
    os.makedirs(f"{root}/tractor/{name[:3]}", exist_ok=True)
    t.write(f"{root}/tractor/{name[:3]}/tractor-{name}.fits", overwrite=True)
    return x, y, r50, flux


def main():
    root, shared, kind, ngal = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = np.random.default_rng(7)
    for name in sys.argv[5:]:
        d = f"{root}/coadd/{name[:3]}/{name}"
        os.makedirs(d, exist_ok=True)
        if kind == "real":
            src = f"{shared}/legacysurvey-coadds/1238p245/legacysurvey-1238p245-image-z.fits.fz"
            dst = f"{d}/legacysurvey-{name}-image-z.fits.fz"
            if not os.path.exists(dst):
                os.symlink(os.path.abspath(src), dst)
            w = WCS(fits.getheader(src, 1))
            tractor(root, name, w, 3600, ngal, rng)
            continue
        n = 3600
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [int(name[:4]) / 10.0, int(name[5:]) / 10.0 * (1 if name[4] == "p" else -1)]
        w.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
        w.wcs.cd = [[-0.262 / 3600, 0], [0, 0.262 / 3600]]
        x, y, r50, flux = tractor(root, name, w, n, ngal, rng)
        for b, k in zip("grz", (0.6, 1.0, 1.4)):
            img = rng.normal(0, 0.004, (n, n)).astype(np.float32)
            for xi, yi, ri, fi in zip(x, y, r50, flux):
                rp = ri / 0.262
                h = int(6 * rp) + 2
                x0, x1 = max(int(xi) - h, 0), min(int(xi) + h, n)
                y0, y1 = max(int(yi) - h, 0), min(int(yi) + h, n)
                yy, xx = np.mgrid[y0:y1, x0:x1]
                p = np.exp(-1.678 * np.hypot(xx - xi, yy - yi) / rp)
                img[y0:y1, x0:x1] += (fi * k * p / p.sum()).astype(np.float32)
            hdu = fits.CompImageHDU(img, header=w.to_header(), compression_type="RICE_1",
                                    quantize_level=16, quantize_method=1)
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(
                f"{d}/legacysurvey-{name}-image-{b}.fits.fz", overwrite=True)


if __name__ == "__main__":
    main()
