#!/usr/bin/env python3
"""sim_check.py: independent check of a simulated survey with astropy/numpy.

usage: sim_check.py SURVEY_DIR N_GALAXIES_PER_BRICK N_STARS_PER_BRICK

Checks that every brick's images and inverse variances decompress (empty primary HDU +
RICE_1 compressed image, float32), that the TAN WCS (0.262"/pixel, CD1_1 < 0, CRVAL =
brick centre) puts the Tractor positions on the galaxies, that aperture fluxes agree
with the catalogue fluxes, that the pixel noise matches the inverse variance, and that
survey-bricks.fits, the Tractor catalogues and truth.fits have the expected columns.
Prints the figures; exits 1 on the first failure.
"""
import glob
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


# GZ DECaLS: question -> (answers, parent answer column or None), from DESIGN.md
TREE = {
    "smooth-or-featured": (["smooth", "featured-or-disk", "artifact"], None),
    "disk-edge-on": (["yes", "no"], "smooth-or-featured_featured-or-disk"),
    "has-spiral-arms": (["yes", "no"], "disk-edge-on_no"),
    "bar": (["strong", "weak", "no"], "disk-edge-on_no"),
    "bulge-size": (["dominant", "large", "moderate", "small", "none"], "disk-edge-on_no"),
    "how-rounded": (["round", "in-between", "cigar-shaped"], "smooth-or-featured_smooth"),
    "edge-on-bulge": (["boxy", "none", "rounded"], "disk-edge-on_yes"),
    "spiral-winding": (["tight", "medium", "loose"], "has-spiral-arms_yes"),
    "spiral-arm-count": (["1", "2", "3", "4", "more-than-4", "cant-tell"], "has-spiral-arms_yes"),
    "merging": (["none", "minor-disturbance", "major-disturbance", "merger"], None),
}


def check_votes(path, truth):
    import csv
    with open(path) as f:
        rows = list(csv.DictReader(f))
    ngal = int((np.char.strip(truth["class"]) != "star").sum())
    if len(rows) != ngal:
        fail(f"votes.csv has {len(rows)} rows, expected {ngal} galaxies")
    for r in rows:
        nv = int(r["volunteers"])
        if not 5 <= nv <= 40:
            fail(f"{nv} volunteers")
        for q, (answers, parent) in TREE.items():
            tot = int(r[f"{q}_total-votes"])
            if sum(int(r[f"{q}_{a}"]) for a in answers) != tot:
                fail(f"{q}: answer counts do not sum to total-votes")
            want = nv if parent is None else int(r[parent])
            if tot != want:
                fail(f"{q}: {tot} votes but its parent answer {parent} has {want}")
            for a in answers:
                fr = r[f"{q}_{a}_fraction"]
                if tot and abs(float(fr) - int(r[f"{q}_{a}"]) / tot) > 1e-3:
                    fail(f"{q}_{a}_fraction wrong")
        if int(r["rare-features_ring"]) > nv:
            fail("more ring votes than volunteers")
    # votes.fits: the same rows and values as votes.csv
    vf = fits.getdata(os.path.join(os.path.dirname(path), "votes.fits"), "VOTES")
    if len(vf) != len(rows):
        fail(f"votes.fits has {len(vf)} rows, votes.csv {len(rows)}")
    for c in rows[0].keys():
        if c not in vf.columns.names:
            fail(f"votes.fits lacks column {c}")
        a = vf[c]
        b = [r[c] for r in rows]
        if a.dtype.kind in "U S".split() or a.dtype.kind == "U":
            same = all(str(x).strip() == y for x, y in zip(a, b))
        else:
            same = np.allclose(a.astype(float), np.array(b, dtype=float), atol=1e-3, equal_nan=True)
        if not same:
            fail(f"votes.fits column {c} differs from votes.csv")
    # tags.csv and interest.csv: columns, known tags, scores 0..5, split
    import csv as _csv
    known = {"ring", "spiral", "bar", "merger", "tidal", "shell", "edge-on", "dust-lane",
             "overlapping", "elliptical", "boxy-bulge", "star", "artifact", "lens",
             "irregular", "clumpy", "diffuse", "flocculent"}
    with open(os.path.join(os.path.dirname(path), "tags.csv")) as f:
        tags = list(_csv.DictReader(f))
    for t in tags:
        if t["tag"] not in known or t["split"] not in ("train", "validation", "test"):
            fail(f"bad tags.csv row {t}")
    with open(os.path.join(os.path.dirname(path), "interest.csv")) as f:
        inter = list(_csv.DictReader(f))
    if len(inter) != len(rows) or not all(0 <= int(r["score"]) <= 5 for r in inter):
        fail("interest.csv: one score 0..5 per galaxy expected")
    print(f"votes.fits = votes.csv ({len(vf)} rows); tags.csv: {len(tags)} tags; "
          f"interest.csv: {len(inter)} scores")
    # rings.csv: the paper's rule applied to these votes
    with open(os.path.join(os.path.dirname(path), "rings.csv")) as f:
        rings = list(csv.DictReader(f))
    byid = {(r["brickname"], r["objid"]): r for r in rows}
    want = {}
    for r in rows:
        feat = float(r["smooth-or-featured_featured-or-disk_fraction"])
        face = r["disk-edge-on_no_fraction"]
        face = float(face) if face != "nan" else 0.0
        fr = int(r["rare-features_ring"]) / int(r["volunteers"])
        if feat > 0.5 and face > 0.5 and (fr > 0.25 or fr < 0.05):
            want[(r["brickname"], r["objid"])] = int(fr > 0.25)
    got = {(r["brickname"], r["objid"]): int(r["ring"]) for r in rings}
    if got != want or any((k not in byid) for k in got):
        fail(f"rings.csv ({len(got)} rows) does not follow the ring rule ({len(want)} expected)")
    gal = truth[np.char.strip(truth["class"]) != "star"]
    for q, (answers, parent) in TREE.items():
        tot = sum(gal[f"{q}_{a}_true_fraction"].astype(float) for a in answers)
        if np.abs(tot - 1).max() > 1e-4:
            fail(f"truth.fits: the true fractions of {q} do not sum to 1")
    print(f"votes.csv: {len(rows)} galaxies, 34 answer columns, totals follow the tree; "
          f"truth.fits true fractions sum to 1 per question; rings.csv: {len(got)} labelled, "
          f"{sum(got.values())} rings")


def main():
    root, ngal, nstar = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    bricks = fits.getdata(os.path.join(root, "survey-bricks.fits"))
    for c in ["brickname", "brickid", "ra", "dec", "ra1", "ra2", "dec1", "dec2"]:
        if c not in bricks.columns.names:
            fail(f"survey-bricks.fits lacks column {c}")
    truth = fits.getdata(os.path.join(root, "truth.fits"))
    if len(truth) != len(bricks) * (ngal + nstar):
        fail(f"truth.fits has {len(truth)} rows, expected {len(bricks) * (ngal + nstar)}")
    for c in ["brickname", "objid", "ra", "dec", "class", "split", "bulge_n", "disc_q",
              "arms_count", "bar_length", "ring_radius"]:
        if c not in truth.columns.names:
            fail(f"truth.fits lacks column {c}")
    if not set(np.char.strip(truth["split"])) <= {"train", "validation", "test"}:
        fail("bad split values")
    ratios, offsets, noise_ratios = [], [], []
    for b in bricks:
        name = b["brickname"].strip()
        d = os.path.join(root, "coadd", name[:3], name)
        cat = fits.getdata(os.path.join(root, "tractor", name[:3], f"tractor-{name}.fits"))
        need = ["release", "brickid", "brickname", "objid", "brick_primary", "type", "ra", "dec",
                "flux_g", "flux_r", "flux_z", "flux_ivar_g", "flux_ivar_r", "flux_ivar_z",
                "shape_r", "shape_e1", "shape_e2", "sersic"]
        for c in need:
            if c not in cat.columns.names:
                fail(f"tractor-{name}.fits lacks column {c}")
        types = np.char.strip(cat["type"])
        tb = truth[np.char.strip(truth["brickname"]) == name]
        cls = {int(o): str(c).strip() for o, c in zip(tb["objid"], tb["class"])}
        if (types == "PSF").sum() != nstar:
            fail(f"{name}: {(types == 'PSF').sum()} PSF sources, expected {nstar}")
        gal = types != "PSF"
        if gal.sum() != ngal:
            fail(f"{name}: {gal.sum()} galaxies, expected {ngal}")
        for band in "grz":
            hl = fits.open(os.path.join(d, f"legacysurvey-{name}-image-{band}.fits.fz"))
            if hl[0].header["NAXIS"] != 0 or not isinstance(hl[1], fits.CompImageHDU):
                fail(f"{name} {band}: expected an empty primary and a compressed image HDU")
            if hl[1].header.get("ZCMPTYPE", hl[1]._header.get("ZCMPTYPE")) != "RICE_1":
                fail(f"{name} {band}: compression is not RICE_1")
            img = hl[1].data
            h = hl[1].header
            if img.dtype != np.float32:
                fail(f"{name} {band}: dtype {img.dtype}")
            w = WCS(h)
            if not (h["CD1_1"] < 0 and abs(abs(h["CD1_1"]) * 3600 - 0.262) < 1e-6):
                fail(f"{name}: CD1_1 = {h['CD1_1']}")
            if abs(h["CRVAL1"] - b["ra"]) > 1e-9 or abs(h["CRVAL2"] - b["dec"]) > 1e-9:
                fail(f"{name}: CRVAL is not the brick centre")
            iv = fits.open(os.path.join(d, f"legacysurvey-{name}-invvar-{band}.fits.fz"))[1].data
            # noise from the pixels far from every source vs the inverse variance
            yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
            far = np.ones(img.shape, bool)
            x, y = w.world_to_pixel_values(cat["ra"], cat["dec"])
            for xi, yi, r in zip(x, y, cat["shape_r"]):
                rad = 10 + 8 * r / 0.262 if r > 0 else 40
                far &= (xx - xi) ** 2 + (yy - yi) ** 2 > rad * rad
            v = img[far]
            sig = 1.4826 * np.median(np.abs(v - np.median(v)))
            noise_ratios.append(sig * np.sqrt(np.median(iv)))
            # positions and aperture fluxes of the galaxies
            for k in np.where(gal)[0]:
                xi, yi = x[k], y[k]
                if band == "r":
                    offsets.append(np.hypot(xi - cat["bx"][k], yi - cat["by"][k]))
                rpx = cat["shape_r"][k] / 0.262
                rad = 3 * rpx + 8
                m = (xx - xi) ** 2 + (yy - yi) ** 2 < rad * rad
                # skip galaxies whose aperture another source enters
                other = [(j) for j in range(len(cat)) if j != k and
                         np.hypot(x[j] - xi, y[j] - yi) < rad + 2 * cat["shape_r"][j] / 0.262 + 6]
                if other or xi - rad < 0 or yi - rad < 0 or xi + rad > img.shape[1] or yi + rad > img.shape[0]:
                    continue
                ratios.append(img[m].sum() / cat[f"flux_{band}"][k])
                if band == "r" and cls[int(cat["objid"][k])] not in ("spiral", "merger", "disturbed", "lens", "irregular"):
                    # light-weighted (spirals, mergers and disturbed galaxies excluded: lopsided) centroid inside 2 r50 + 5 px
                    mm = (xx - xi) ** 2 + (yy - yi) ** 2 < (2 * rpx + 5) ** 2
                    v = img[mm]
                    cx, cy = (v * xx[mm]).sum() / v.sum(), (v * yy[mm]).sum() / v.sum()
                    offsets.append(np.hypot(cx - xi, cy - yi))
    check_votes(os.path.join(root, "votes.csv"), truth)
    ratios, offsets, noise_ratios = map(np.array, (ratios, offsets, noise_ratios))
    print(f"aperture/catalogue flux: {len(ratios)} isolated galaxy-bands, median {np.median(ratios):.4f}, "
          f"5-95%: {np.percentile(ratios, 5):.3f}..{np.percentile(ratios, 95):.3f}")
    print(f"WCS/centroid offsets of symmetric galaxies from catalogue positions: max {offsets.max():.3f} px, median {np.median(offsets):.3f} px")
    print(f"pixel noise x sqrt(invvar): {', '.join(f'{r:.3f}' for r in noise_ratios)}")
    if len(ratios) < 10:
        fail("too few isolated galaxies to check fluxes")
    if not (0.93 < np.median(ratios) < 1.02):
        fail("median aperture flux ratio out of [0.93, 1.02]")
    if offsets.max() > 0.5:
        fail("a galaxy's light is more than 0.5 px from its catalogue position")
    if np.any(np.abs(noise_ratios - 1) > 0.05):
        fail("pixel noise does not match the inverse variance within 5%")
    print("OK")


if __name__ == "__main__":
    main()
