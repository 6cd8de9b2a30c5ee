#!/bin/bash
# The README demo: `zoomorph run -c config/demo.ini` on 2 MPI ranks in build/demo: simulate
# a small survey, plan and cut it, embed it with the shipped model, reduce it, find the
# look-alikes of two galaxies, rank anomalies against the simulated researcher's interests,
# write the catalogue and the report. Run again, it skips every stage (complete in the
# store). Run from the repository root: bash tests/e2e/demo.sh [BUILD [run flags]]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
shift || true
Z="$build/zoomorph"
out="$build/demo"
mkdir -p "$out"
cd "$out"
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
np=${ZM_DEMO_RANKS:-2}
t0=$(date +%s)
mpirun -np $np "$Z" run -c "$src/config/demo.ini" --set embed.weights="$src/models/zoonet-gz-sim.h5" "$@"
t1=$(date +%s)
echo
echo "demo finished in $((t1 - t0)) s on $np ranks:"
echo "  report:           $out/demo-report.html  (open it in a browser)"
echo "  catalogue:        $out/demo-catalogue.fits"
echo "  store:            $out/demo.h5  (h5py: h5py.File('$out/demo.h5')['cutouts/images'])"
echo "  simulated survey: $out/demo-survey (Legacy Surveys layout, truth.fits)"
echo "  look-alikes:      $out/similar.csv, $out/similar-0.png, $out/similar-1.png"
echo "  anomalies:        $out/demo-anomalies.csv, $out/anomalies.png (top 50), $out/anomaly-eval.png (evaluation curve)"
