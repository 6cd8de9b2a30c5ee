#!/usr/bin/python3
"""Writes a small survey in the Legacy Surveys layout with astropy (independently of
zoomorph's own simulator), with deliberate defects, for the plan/cutout tests.

Bricks (600 x 600 pixels at 0.262"/pixel, TAN, RICE tile-compressed g/r/z images):
  1000p000  clean, DR8+ Tractor schema (shape_r, sersic), galaxies + stars + a
            too-faint galaxy + a non-primary source; one galaxy near the edge
  1001p000  clean, DR5-7 Tractor schema (shapeexp_r, shapedev_r, fracdev)
  1002p000  plain (uncompressed) .fits images with a NaN patch over one galaxy's
            outskirts and one galaxy on empty (zero) pixels
  1003p000  r-band image missing
  1004p000  Tractor catalogue without the 'dec' column
  1005p000  g-band image truncated (the file is cut short)
  1006p000  no galaxy passes the selection (stars only)
Also truth.csv: brick, objid, ra, dec, x, y of every source.

usage: make_test_survey.py OUTDIR
"""
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

PIX = 0.262 / 3600.0
N = 600


def brick_wcs(ra0, dec0):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra0, dec0]
    w.wcs.crpix = [(N + 1) / 2.0, (N + 1) / 2.0]
    w.wcs.cd = [[-PIX, 0.0], [0.0, PIX]]
    return w


def render(nx, ny, x, y, flux, r50, q=0.7, pa=0.5):
    yy, xx = np.mgrid[0:ny, 0:nx]
    dx, dy = xx - x, yy - y
    c, s = np.cos(pa), np.sin(pa)
    u, v = c * dx + s * dy, (-s * dx + c * dy) / q
    rpix = max(r50 / 0.262, 0.8)
    prof = np.exp(-1.678 * np.hypot(u, v) / rpix)
    return flux * prof / prof.sum()


def make_brick(root, name, rng, schema="dr8", sources=None, drop_band=None, nan_patch=None,
               zero_patch=None, drop_column=None, truncate_band=None):
    ra0 = int(name[:4]) / 10.0
    dec0 = (1 if name[4] == "p" else -1) * int(name[5:]) / 10.0
    w = brick_wcs(ra0, dec0)
    d = os.path.join(root, "coadd", name[:3], name)
    os.makedirs(d, exist_ok=True)
    os.makedirs(os.path.join(root, "tractor", name[:3]), exist_ok=True)
    rows = []
    images = {b: rng.normal(0, 0.003, (N, N)).astype(np.float32) for b in "grz"}
    for k, s in enumerate(sources):
        x, y, typ, mag_r, r50, prim = s
        ra, dec = w.all_pix2world([[x, y]], 0)[0]
        flux_r = 10 ** ((22.5 - mag_r) / 2.5)
        fl = {"g": 0.6 * flux_r, "r": flux_r, "z": 1.4 * flux_r}
        for b in "grz":
            images[b] += render(N, N, x, y, fl[b], r50 if typ != "PSF" else 0.3).astype(np.float32)
        rows.append(dict(objid=k, ra=ra, dec=dec, type=typ, brick_primary=prim, x=x, y=y,
                         flux_g=fl["g"], flux_r=fl["r"], flux_z=fl["z"], r50=r50))
    if nan_patch:
        x0, x1, y0, y1 = nan_patch
        for b in "grz":
            images[b][y0:y1, x0:x1] = np.nan
    if zero_patch:
        x0, x1, y0, y1 = zero_patch
        for b in "grz":
            images[b][y0:y1, x0:x1] = 0.0
    hdr = w.to_header()
    for b in "grz":
        if b == drop_band:
            continue
        if nan_patch or zero_patch:
            # exact zeros and NaN survive only without lossy quantisation: plain .fits
            path = os.path.join(d, f"legacysurvey-{name}-image-{b}.fits")
            fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(images[b], header=hdr)]).writeto(
                path, overwrite=True)
        else:
            path = os.path.join(d, f"legacysurvey-{name}-image-{b}.fits.fz")
            hdu = fits.CompImageHDU(images[b], header=hdr, compression_type="RICE_1",
                                    quantize_level=16, quantize_method=1)  # dithered, as legacypipe
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
        iv = fits.CompImageHDU(np.full((N, N), 1 / 0.003**2, np.float32), header=hdr,
                               compression_type="RICE_1")
        fits.HDUList([fits.PrimaryHDU(), iv]).writeto(
            os.path.join(d, f"legacysurvey-{name}-invvar-{b}.fits.fz"), overwrite=True)
        if b == truncate_band:
            size = os.path.getsize(path)
            with open(path, "r+b") as f:
                f.truncate(size // 2)
    t = Table()
    t["release"] = np.full(len(rows), 9010, np.int16)
    t["brickname"] = [name] * len(rows)
    t["objid"] = np.array([r["objid"] for r in rows], np.int32)
    t["brick_primary"] = np.array([r["brick_primary"] for r in rows], bool)
    t["type"] = [r["type"] for r in rows]
    t["ra"] = [r["ra"] for r in rows]
    t["dec"] = [r["dec"] for r in rows]
    for b in "grz":
        t[f"flux_{b}"] = np.array([r[f"flux_{b}"] for r in rows], np.float32)
        t[f"flux_ivar_{b}"] = np.full(len(rows), 100.0, np.float32)
    r50 = np.array([r["r50"] if r["type"] != "PSF" else 0 for r in rows], np.float32)
    if schema == "dr8":
        t["shape_r"] = r50
        t["shape_e1"] = np.zeros(len(rows), np.float32)
        t["shape_e2"] = np.zeros(len(rows), np.float32)
        t["sersic"] = np.ones(len(rows), np.float32)
    else:
        t["fracdev"] = np.zeros(len(rows), np.float32)
        t["shapeexp_r"] = r50
        t["shapedev_r"] = np.zeros(len(rows), np.float32)
    if drop_column:
        t.remove_column(drop_column)
    t.write(os.path.join(root, "tractor", name[:3], f"tractor-{name}.fits"), overwrite=True)
    return [(name, r["objid"], r["ra"], r["dec"], r["x"], r["y"], r["type"]) for r in rows]


def main():
    root = sys.argv[1]
    rng = np.random.default_rng(1234)
    gal = lambda x, y, m=16.0, r=4.0: (x, y, "EXP", m, r, True)
    truth = []
    truth += make_brick(root, "1000p000", rng, "dr8", [
        gal(300, 300), gal(220, 340, 15.5, 3.0), gal(380, 250, 17.0, 2.5),
        (250, 420, "PSF", 16.0, 0.0, True),         # a star: not selected
        (350, 350, "EXP", 19.5, 3.0, True),         # too faint: not selected
        (330, 200, "EXP", 16.5, 3.0, False),        # not brick_primary
        gal(520, 300, 16.0, 3.0),                   # near the edge: padded and flagged
        gal(585, 300, 16.0, 3.0),                   # mostly off the brick: rejected
    ])
    truth += make_brick(root, "1001p000", rng, "dr5", [gal(300, 310), gal(250, 250, 16.5, 3.0)])
    truth += make_brick(root, "1002p000", rng, "dr8", [gal(300, 300), gal(150, 450, 16.0, 3.0)],
                        nan_patch=(310, 320, 295, 305), zero_patch=(40, 260, 340, 560))
    truth += make_brick(root, "1003p000", rng, "dr8", [gal(300, 300)], drop_band="r")
    truth += make_brick(root, "1004p000", rng, "dr8", [gal(300, 300)], drop_column="dec")
    truth += make_brick(root, "1005p000", rng, "dr8", [gal(300, 300), gal(250, 250)],
                        truncate_band="g")
    truth += make_brick(root, "1006p000", rng, "dr8", [(300, 300, "PSF", 16.0, 0.0, True)])
    with open(os.path.join(root, "truth.csv"), "w") as f:
        f.write("brick,objid,ra,dec,x,y,type\n")
        for r in truth:
            f.write("%s,%d,%.10f,%.10f,%.3f,%.3f,%s\n" % r)


if __name__ == "__main__":
    main()
