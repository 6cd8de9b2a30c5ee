#!/bin/bash
# similar --image / --queries with a file column: a query image is cut like the stored
# stamps, embedded with the run's model (the shipped one) and projected on the run's PCA
# axes. A stored galaxy's own stamp written to a PNG finds that galaxy first at distance
# ~0 (PCA-10 and the full representation); a FITS cube cut from its brick (grz, with the
# brick's WCS) and cut at its position with the stamp's field finds it first, far closer
# than the next neighbour. Bad inputs: a missing file, a truncated FITS, a 2-D FITS image
# when three bands are wanted, a picture that is not square: exit 1 naming the file.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir similar_image)
cd "$work"
zt_mpi 2 simulate --set simulate.out="$work/survey" --set simulate.bricks=4 --set simulate.brick_size=900 \
  --set simulate.galaxies_per_brick=30 --set simulate.stars_per_brick=2 --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set store.path="$work/s.h5" --set cutout.size=72
        --set embed.weights="$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5" --set similar.gallery_dir="$work")
for s in plan cutout embed pca; do zt_mpi 2 $s "${common[@]}" > $s.log 2>&1; done
# the stored stamp of galaxy 17 as a PNG; a grz cube around it from its brick
$ZM_PYTHON - "$work" <<'PY'
import sys, glob, h5py, numpy as np
from PIL import Image
from astropy.io import fits
from astropy.wcs import WCS
from astropy.nddata import Cutout2D
from astropy.coordinates import SkyCoord
import astropy.units as u
work = sys.argv[1]
f = h5py.File(work + '/s.h5', 'r')
g = 17
img = f['cutouts/images'][g]                       # C x S x S uint8
assert img.dtype == np.uint8 and img.shape[0] == 1, img.shape
Image.fromarray(img[0]).save(work + '/q17.png')
Image.fromarray(img[0][:, :60]).save(work + '/narrow.png')
ra, dec = f['galaxies/ra'][g], f['galaxies/dec'][g]
brick = f['galaxies/brickname'][g].decode()
field = float(f['cutouts/pixscale'][g]) * img.shape[1]
planes, wcs = [], None
for b in 'grz':
    path = glob.glob('%s/survey/coadd/*/%s/legacysurvey-%s-image-%s.fits*' % (work, brick, brick, b))[0]
    h = fits.open(path)
    hdu = h[1] if len(h) > 1 and h[1].data is not None else h[0]
    w = WCS(hdu.header)
    n = int(field / 0.262 * 1.5) + 24
    c = Cutout2D(hdu.data, SkyCoord(ra * u.deg, dec * u.deg), (n, n), wcs=w, mode='partial', fill_value=np.nan)
    planes.append(c.data.astype(np.float32))
    wcs = c.wcs
hdr = wcs.to_header()
hdr['BANDS'] = 'grz'
fits.PrimaryHDU(np.stack(planes), header=hdr).writeto(work + '/q17.fits', overwrite=True)
fits.PrimaryHDU(planes[1], header=wcs.to_header()).writeto(work + '/flat.fits', overwrite=True)
open(work + '/q17fits.csv', 'w').write('file,ra,dec\nq17.fits,%.10f,%.10f\n' % (ra, dec))
open(work + '/field.txt', 'w').write('%.9g' % field)
PY
head -c 3000 q17.fits > truncated.fits
field=$(cat field.txt)
check() {  # CSV GALAXY MAXRATIO: the first neighbour is the galaxy, its distance < MAXRATIO x the second's
  $ZM_PYTHON - "$1" "$2" "$3" <<'PY'
import sys, csv
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
first, second = rows[0], rows[1]
assert first['query_id'] == '-1' and first['query_file'].endswith(('.png', '.fits')), first
assert int(first['id']) == int(sys.argv[2]), (first, 'expected galaxy', sys.argv[2])
d1, d2 = float(first['distance']), float(second['distance'])
assert d1 <= float(sys.argv[3]) * d2, (d1, d2)
print('ok: %s: neighbour 1 is galaxy %s at distance %.3g (neighbour 2 at %.3g)' % (sys.argv[1], first['id'], d1, d2))
PY
}
zt_mpi 2 similar "${common[@]}" --image "$work/q17.png" --set similar.output=png.csv > png.log 2>&1
check png.csv 17 1e-2
test -s similar-image-q17.png
zt_mpi 1 similar "${common[@]}" --image "$work/q17.png" --set similar.space=embedding --set similar.output=pngemb.csv > pngemb.log 2>&1
check pngemb.csv 17 1e-2
zt_mpi 3 similar "${common[@]}" --queries "$work/q17fits.csv" --set cutout.field_rule=fixed \
  --set cutout.fixed_arcsec="$field" --set similar.output=fits.csv > fits.log 2>&1
check fits.csv 17 0.1
# the same galaxy by id: the same neighbours after it as the PNG query's
zt_mpi 2 similar "${common[@]}" --id 17 --set similar.output=byid.csv > byid.log 2>&1
$ZM_PYTHON -c "
import csv
a = [r['id'] for r in csv.DictReader(open('byid.csv'))]
b = [r['id'] for r in csv.DictReader(open('png.csv'))]
assert b[0] == '17' and a[:5] == b[1:6], (a, b)
print('ok: the PNG query finds what --id 17 finds')"
bad() {  # FILE EXPECTED-TEXT
  set +e
  zt_mpi 2 similar "${common[@]}" --image "$1" --set similar.output=bad.csv > bad.log 2>&1; local rc=$?
  set -e
  zt_expect_rc 1 $rc bad.log "$2"
  grep -qF "$1" bad.log || { echo "FAIL: message does not name $1"; cat bad.log; exit 1; }
}
bad "$work/nothere.fits" "nothere.fits"
bad "$work/truncated.fits" "truncated.fits"
bad "$work/flat.fits" "1 planes and no BANDS keyword; expected 3"
bad "$work/narrow.png" "must be square"
echo "e2e similar_image: ok"
