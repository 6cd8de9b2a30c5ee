#!/usr/bin/python3
"""Independent reference for the Galaxy Zoo DECaLS colour stretch (numpy + astropy).

Implements the published dr2_style_rgb recipe from its description (scales g 0.008,
r 0.014, z 0.019; planes z, r, g -> R, G, B; arcsinh; rescale between arcsinh(-0.5) and
arcsinh(300); clip) and writes the planar float32 RGB (3 x H x W, FITS row order) of a
cutout cube to a raw file for the C test to compare.

usage: gz_stretch.py cube.fits out.f32
"""
import sys

import numpy as np
from astropy.io import fits


def stretch(cube):
    scales = {0: 0.008, 1: 0.014, 2: 0.019}   # g, r, z
    planes = {0: 2, 1: 1, 2: 0}               # g -> B, r -> G, z -> R
    rgb = np.zeros((3,) + cube.shape[1:], dtype=np.float64)
    for b in range(3):
        band = np.nan_to_num(cube[b].astype(np.float64), nan=0.0)
        rgb[planes[b]] = band / scales[b]
    lo, hi = np.arcsinh(-0.5), np.arcsinh(300.0)
    rgb = (np.arcsinh(rgb) - lo) / (hi - lo)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def main():
    cube = fits.getdata(sys.argv[1])
    stretch(cube).tofile(sys.argv[2])


if __name__ == "__main__":
    main()
