#!/bin/bash
# Store write bandwidth against the disk's raw write bandwidth (dd, same bytes, same
# directory, both synced to disk), for the embed stage's rows (1280 float32: 5 KiB) and the
# cutout stage's (300 x 300 uint8: 88 KiB), on 1 and 2 ranks.
# usage: tests/bench/bench_store.sh BUILD_DIR [MIB] [DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
mib=${2:-2048}
dir=${3:-$build/tmp/bench_store}
mkdir -p "$dir"
export OMPI_MCA_rmaps_base_oversubscribe=1
dd_rate() {
  rm -f "$dir/dd.bin"; sync
  local t0 t1
  t0=$(date +%s.%N)
  dd if=/dev/zero of="$dir/dd.bin" bs=1M count="$mib" conv=fdatasync status=none
  t1=$(date +%s.%N)
  rm -f "$dir/dd.bin"
  echo "$mib / ($t1 - $t0)" | bc -l
}
echo "| rows | ranks | store MiB/s | dd MiB/s (just before) | fraction |"
echo "|---|---|---|---|---|"
for rowb in 5120 90000; do
  for np in 1 2; do
    dd=$(dd_rate)
    rm -f "$dir/s.h5"; sync
    out=$(mpirun -np $np "$build/tests/bench_store" "$dir/s.h5" $rowb "$mib")
    st=$(echo "$out" | awk '{print $2}')
    rm -f "$dir/s.h5" "$dir/s.h5.lock"
    printf "| %s B | %d | %.0f | %.0f | %.2f |\n" $rowb $np "$st" "$dd" "$(echo "$st / $dd" | bc -l)"
  done
done
