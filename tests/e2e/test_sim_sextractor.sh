#!/bin/bash
# test_sim_sextractor.sh: Source Extractor (Debian `source-extractor`), an independent
# reader, finds the simulated galaxies: a 2-brick survey of 1600 px with 60 galaxies
# each (every class, default mix; no artefacts) of GZ DECaLS sizes and magnitudes and
# 20 stars; each r-band image is decompressed with funpack and run through
# source-extractor (sky known to be zero: BACK_TYPE MANUAL; default deblending);
# tests/reference/sim_sextractor.py matches its detections to the Tractor catalogue and
# requires >= 95% of the galaxies (all brighter than the r < 17.77 selection limit)
# detected within 1 arcsec, and median FLUX_AUTO / catalogue flux within 10% of 1.
set -u
: "${ZM_BIN:?}" "${ZM_PYTHON:?}" "${ZM_SOURCE_DIR:?}"
SEX=$(command -v source-extractor || command -v sex) || { echo "SKIP: no source-extractor"; exit 77; }
command -v funpack >/dev/null || { echo "SKIP: no funpack (libcfitsio-bin)"; exit 77; }
"$ZM_PYTHON" -c "import numpy, astropy" 2>/dev/null || { echo "SKIP: $ZM_PYTHON lacks numpy/astropy"; exit 77; }
W="${ZM_BUILD_DIR:-.}/tmp/e2e_sim_sextractor"
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

cat > sim.ini <<INI
[simulate]
seed = 11
bricks = 2
brick_size = 1600
galaxies_per_brick = 60
stars_per_brick = 20
min_separation = 25
artefacts_per_brick = 0    ; galaxies only: the figures are about them
INI
"$ZM_BIN" simulate -c sim.ini --set simulate.out="$W/s" || fail "simulate"
imgs=$(find s/coadd -name '*-image-r.fits.fz' | sort) && [ -n "$imgs" ] || fail "no r image"
cat > zm.param <<P
NUMBER
X_IMAGE
Y_IMAGE
FLUX_AUTO
FLUXERR_AUTO
FLAGS
P
cats=""
for img in $imgs; do
    brick=$(basename "$(dirname "$img")")
    funpack -O "r-$brick.fits" "$img" || fail "funpack $img"
    "$SEX" "r-$brick.fits" -c /dev/null -CATALOG_NAME "r-$brick.cat" -CATALOG_TYPE ASCII_HEAD \
        -PARAMETERS_NAME zm.param -DETECT_THRESH 3 -ANALYSIS_THRESH 3 -DETECT_MINAREA 10 -FILTER N \
        -BACK_TYPE MANUAL -BACK_VALUE 0 -DEBLEND_NTHRESH 32 -DEBLEND_MINCONT 0.005 -MAG_ZEROPOINT 22.5 \
        -PIXEL_SCALE 0.262 -SATUR_LEVEL 1e20 -CHECKIMAGE_TYPE NONE -VERBOSE_TYPE QUIET >sex.log 2>&1 \
        || { cat sex.log; fail "source-extractor"; }
    cats="$cats r-$brick.cat $(find s/tractor -name "tractor-$brick.fits")"
done
"$ZM_PYTHON" "$ZM_SOURCE_DIR/tests/reference/sim_sextractor.py" 17.77 $cats || fail "Source Extractor check"
echo OK
