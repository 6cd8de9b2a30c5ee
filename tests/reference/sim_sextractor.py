"""sim_sextractor.py: match a Source Extractor ASCII catalogue of a simulated r-band
brick to the brick's Tractor catalogue and check detection and flux.

usage: sim_sextractor.py MAG_LIMIT SEX.cat tractor.fits [SEX.cat tractor.fits ...]
Galaxies (type != PSF) brighter than MAG_LIMIT: >= 95% must have a detection within
1 arcsec (X_IMAGE/Y_IMAGE are 1-based, Tractor bx/by 0-based), and the median of
FLUX_AUTO / flux_r over the matched ones must be within 10% of 1 (the zero point
22.5 makes both nanomaggies). Prints the figures.
"""
import sys

import numpy as np
from astropy.io import fits

PIX = 0.262


def match(cat, tractor, maglim):
    names = [l.split()[2] for l in open(cat) if l.startswith("#")]
    s = np.atleast_2d(np.loadtxt(cat, comments="#"))
    col = {n: s[:, i] for i, n in enumerate(names)}
    sx, sy, sf = col["X_IMAGE"] - 1.0, col["Y_IMAGE"] - 1.0, col["FLUX_AUTO"]
    t = fits.getdata(tractor)
    typ = np.char.strip(t["type"].astype(str))
    mag = 22.5 - 2.5 * np.log10(np.clip(t["flux_r"], 1e-9, None))
    gal = (typ != "PSF") & (mag < maglim)
    d = np.hypot(t["bx"][gal][:, None] - sx[None, :], t["by"][gal][:, None] - sy[None, :]) * PIX
    j = d.argmin(axis=1)
    dmin = d[np.arange(int(gal.sum())), j]
    ratio = sf[j] / t["flux_r"][gal]
    return len(sx), dmin, ratio, t["objid"][gal], mag[gal], t["shape_r"][gal]


def main():
    maglim = float(sys.argv[1])
    parts = [match(sys.argv[i], sys.argv[i + 1], maglim) for i in range(2, len(sys.argv), 2)]
    ndet = sum(p[0] for p in parts)
    dmin, ratio, objid, mag, shape = (np.concatenate([p[k] for p in parts]) for k in range(1, 6))
    sx = np.zeros(ndet)
    ng = len(dmin)
    hit = dmin < 1.0
    ratio = ratio[hit]
    frac = hit.mean()
    med = float(np.median(ratio))
    print(f"Source Extractor: {len(sx)} detections; {ng} galaxies brighter than r = {maglim}")
    print(f"detected within 1 arcsec: {hit.sum()}/{ng} = {100 * frac:.1f}% "
          f"(median offset {np.median(dmin[hit]):.3f} arcsec)")
    print(f"FLUX_AUTO / catalogue flux_r: median {med:.3f}, 16-84% "
          f"{np.percentile(ratio, 16):.3f}-{np.percentile(ratio, 84):.3f}")
    for k in np.where(~hit)[0]:
        print(f"  missed: objid {objid[k]} r = {mag[k]:.2f} shape_r {shape[k]:.1f}\" "
              f"nearest {dmin[k]:.2f}\"")
    ok = frac >= 0.95 and abs(med - 1.0) <= 0.10
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
