#!/usr/bin/python3
"""Independent reference for pixel <-> sky mapping (astropy.wcs).

For each FITS file given, takes the first HDU with an image, and for a grid of 0-based
pixel positions spanning the image (beyond its edges too) writes
    file,x,y,ra,dec
with astropy's all_pix2world (TAN, TPV distortions included) to the CSV named first.

usage: wcs_points.py out.csv file1.fits [file2.fits.fz ...]
"""
import sys
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning


def image_hdu(hdul):
    for h in hdul:
        if h.header.get("NAXIS", 0) >= 2 and h.is_image:
            return h
    raise ValueError("no image HDU")


def main():
    out = open(sys.argv[1], "w")
    out.write("file,x,y,ra,dec\n")
    for path in sys.argv[2:]:
        with fits.open(path) as hdul:
            h = image_hdu(hdul)
            hdr = h.header
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                w = WCS(hdr, naxis=2)
            nx, ny = hdr["NAXIS1"], hdr["NAXIS2"]
            xs = np.linspace(-0.1 * nx, 1.1 * nx, 9)
            ys = np.linspace(-0.1 * ny, 1.1 * ny, 9)
            gx, gy = np.meshgrid(xs, ys)
            ra, dec = w.all_pix2world(gx.ravel(), gy.ravel(), 0)
            for x, y, r, d in zip(gx.ravel(), gy.ravel(), ra, dec):
                out.write(f"{path},{x:.6f},{y:.6f},{r:.12f},{d:.12f}\n")
    out.close()


if __name__ == "__main__":
    main()
