#!/bin/bash
# The README demo: simulate a small survey (config/sim-demo.ini), then plan and cut it
# (config/demo.ini) on 2 MPI ranks. Run from the repository root: bash tests/e2e/demo.sh [BUILD]
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
t1=$(date +%s)
echo
echo "demo finished in $((t1 - t0)) s on $np ranks:"
echo "  simulated survey: $out/demo-survey (Legacy Surveys layout, truth.fits)"
echo "  store:            $out/demo.h5  (h5py: h5py.File('$out/demo.h5')['cutouts/images'])"
echo "  stamps gallery:   $out/demo-gallery.png"
