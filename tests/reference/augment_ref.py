#!/usr/bin/python3
"""Independent reference for the training augmentation: scipy.ndimage.map_coordinates
(order 1, mode 'reflect') on the same rotation, flips and crop.

usage: augment_ref.py IN.f32 SIZE CROP ANGLE FLIPX FLIPY X0 Y0 OUT.f32   (1 channel)
"""
import sys

import numpy as np
from scipy import ndimage


def main():
    src, size, crop, angle, fx, fy, x0, y0, out = sys.argv[1:]
    size, crop, fx, fy, x0, y0 = map(int, (size, crop, fx, fy, x0, y0))
    angle = float(angle)
    img = np.fromfile(src, dtype=np.float32).reshape(size, size).astype(np.float64)
    c0 = (size - 1) / 2.0
    r, c = np.mgrid[0:crop, 0:crop]
    x, y = x0 + c - c0, y0 + r - c0
    if fx:
        x = -x
    if fy:
        y = -y
    xs = np.cos(angle) * x - np.sin(angle) * y + c0
    ys = np.sin(angle) * x + np.cos(angle) * y + c0
    res = ndimage.map_coordinates(img, [ys, xs], order=1, mode="reflect")
    res.astype(np.float32).tofile(out)


if __name__ == "__main__":
    main()
