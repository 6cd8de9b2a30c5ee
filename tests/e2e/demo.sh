#!/bin/bash
# The README demo: simulate a small survey (config/sim-demo.ini), plan and cut it
# (config/demo.ini) on 2 MPI ranks, then with the shipped model embed it, reduce it, write
# the catalogue, find look-alikes of two galaxies and rank anomalies against the simulated
# researcher's interests. Run from the repository root: bash tests/e2e/demo.sh [BUILD]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
Z="$build/zoomorph"
out="$build/demo"
mkdir -p "$out"
cd "$out"
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
np=${ZM_DEMO_RANKS:-2}
t0=$(date +%s)
mpirun -np $np "$Z" simulate -c "$src/config/sim-demo.ini" --set simulate.overwrite=true
mpirun -np $np "$Z" plan -c "$src/config/demo.ini"
mpirun -np $np "$Z" cutout -c "$src/config/demo.ini"
"$Z" gallery -c "$src/config/demo.ini" --out "$out/demo-gallery.png" --count 64
model="$src/models/zoonet-gz-sim.h5"
if [ -f "$model" ]; then
  mpirun -np $np "$Z" embed -c "$src/config/demo.ini" --set embed.weights="$model"
  mpirun -np $np "$Z" pca -c "$src/config/demo.ini"
  "$Z" catalogue -c "$src/config/demo.ini"
  mpirun -np $np "$Z" similar -c "$src/config/demo.ini" --id 0 --id 1
  mpirun -np $np "$Z" anomaly -c "$src/config/demo.ini" --evaluate demo-survey/interest.csv --budget 100
fi
t1=$(date +%s)
echo
echo "demo finished in $((t1 - t0)) s on $np ranks:"
echo "  simulated survey: $out/demo-survey (Legacy Surveys layout, truth.fits)"
echo "  store:            $out/demo.h5  (h5py: h5py.File('$out/demo.h5')['cutouts/images'])"
echo "  stamps gallery:   $out/demo-gallery.png"
if [ -f "$model" ]; then
  echo "  catalogue:        $out/demo-catalogue.fits"
  echo "  look-alikes:      $out/similar.csv, $out/similar-0.png, $out/similar-1.png"
  echo "  anomalies:        $out/demo-anomalies.csv, $out/anomalies.png (top 50), $out/anomaly-eval.png (evaluation curve)"
fi
