#!/bin/bash
# Cutout throughput (galaxies per second per rank) on 3600x3600 bricks, 1 and 2 ranks:
#   real: the real DR5 z-band brick 1238p245 (two brick names pointing at it, so that two
#         ranks each get one), 2000 random galaxy positions each
#   grz:  3-band 3600x3600 bricks made by tests/bench/make_bench_survey.py
# and the time to read (decompress) one brick image: zoomorph's reader against
# cfitsio's own funpack on the same file.
# usage: tests/bench/bench_cutout.sh BUILD_DIR   (prints a markdown table)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "$src/../shared/data/real" && pwd)
py=/usr/bin/python3
Z="$build/zoomorph"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work="$build/tmp/bench_cutout"
mkdir -p "$work"
NGAL=${NGAL:-2000}       # galaxies per generated brick
# MAXPB (default 500): galaxies cut per brick in each run
[ -d "$work/real" ] || $py "$src/tests/bench/make_bench_survey.py" "$work/real" "$shared" real $NGAL 1238p245 1238p247
[ -d "$work/grz" ] || $py "$src/tests/bench/make_bench_survey.py" "$work/grz" "$shared" grz $NGAL 2000p000 2001p000

run() { # kind bands np size
  local kind=$1 bands=$2 np=$3 size=$4 s="$work/$1-$3.h5"
  local common=(--set survey.root="$work/$kind" --set survey.bands=$bands --set store.path=$s
                --set store.overwrite=true --set cutout.size=$size --set cutout.max_empty_fraction=1
                --set select.mag_band=none --set select.max_per_brick=${MAXPB:-500} --log-level warn)
  "$Z" plan "${common[@]}" >/dev/null
  local t0=$(date +%s.%N)
  if [ $np = 1 ]; then "$Z" cutout "${common[@]}" >/dev/null
  else mpirun --oversubscribe -np $np "$Z" cutout "${common[@]}" >/dev/null; fi
  local t1=$(date +%s.%N)
  local n=$($py -c "import h5py;print(h5py.File('$s')['galaxies/id'].shape[0])")
  echo "$n $(echo "$t1 - $t0" | bc -l)"
}
echo "| input | stamp | ranks | galaxies | cutout stage s | galaxies/s/rank | speed-up |"
echo "|---|---|---|---|---|---|---|"
for kind in real grz; do
  bands=z; [ $kind = grz ] && bands=g,r,z
  for size in 64 300; do
    read n1 t1 < <(run $kind $bands 1 $size)
    read n2 t2 < <(run $kind $bands 2 $size)
    printf "| %s (%s) | %d px | 1 | %d | %.2f | %.1f | |\n" $kind $bands $size $n1 $t1 $(echo "$n1/$t1" | bc -l)
    printf "| %s (%s) | %d px | 2 | %d | %.2f | %.1f | %.2fx |\n" $kind $bands $size $n2 $t2 $(echo "$n2/$t2/2" | bc -l) $(echo "$t1/$t2" | bc -l)
  done
done
f="$shared/legacysurvey-coadds/1238p245/legacysurvey-1238p245-image-z.fits.fz"
g="$work/grz/coadd/200/2000p000/legacysurvey-2000p000-image-g.fits.fz"
echo
echo "| file | zoomorph read s | funpack -S s | ratio (funpack / zoomorph) |"
echo "|---|---|---|---|"
for file in "$f" "$g"; do
  read tz mp < <("$build/tests/bench_fitsread" "$file" 3)
  best=$(for i in 1 2 3; do
    t0=$(date +%s.%N); funpack -S "$file" > /dev/null; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | sort -g | head -1)
  printf "| %s (%.1f Mpix) | %.3f | %.3f | %.2f |\n" "$(basename $file)" $mp $tz $best $(echo "$best/$tz" | bc -l)
done
