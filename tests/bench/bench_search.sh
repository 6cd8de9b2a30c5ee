#!/bin/bash
# Exact and IVF k-nearest-neighbour search against faiss (Debian python3-faiss: IndexFlatL2,
# IndexIVFFlat with the same nlist, 10 k-means iterations and the same nprobe values) on the
# same synthetic vectors (1000 overlapping Gaussian clusters), one thread each, a batch of
# 1000 queries, k = 10; recall@10 of each IVF against its own exact search; IVF build time
# and memory; zoomorph's query throughput on 1 and 2 ranks. hnswlib is measured only when
# python3-hnswlib is installed.
# usage: tests/bench/bench_search.sh BUILD_DIR [CASES]   (CASES: "N:D:NLIST:NPROBES ...")
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
cases=${2:-"100000:40:256:4,16,64 100000:1280:256:1,4 1000000:40:1024:16,64,256"}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  OMPI_MCA_rmaps_base_oversubscribe=1
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 -c "import hnswlib" 2>/dev/null && echo "(hnswlib is installed but not yet measured here)" \
  || echo "(python3-hnswlib is not installed: no hnswlib figures)"
val() { grep "^$1 " | head -1 | awk '{print $2}'; }
probe() { grep "^$1 nprobe $2 " | awk '{print $5, $7}'; }
for c in $cases; do
  IFS=: read -r n d nlist nprobes <<< "$c"
  work="$build/tmp/bench_search/${n}x${d}"
  mkdir -p "$work"
  "$build/tests/bench_search" gen "$work" "$n" "$d"
  o1=$(mpirun -np 1 "$build/tests/bench_search" run "$work" "$n" "$d" "$nlist" "$nprobes" | tee "$work/ours1.txt")
  o2=$(mpirun -np 2 "$build/tests/bench_search" run "$work" "$n" "$d" "$nlist" "$nprobes" | tee "$work/ours2.txt")
  f=$(/usr/bin/python3 "$src/tests/bench/bench_search_faiss.py" "$work" "$n" "$d" "$nlist" "$nprobes" | tee "$work/faiss.txt")
  rm -f "$work/x.f32"
  echo
  echo "### $n vectors, d = $d, nlist $nlist (exact neighbours agree with faiss's: $(echo "$f" | val exact_agreement))"
  echo
  echo "| search | zoomorph QPS, 1 rank | recall@10 | faiss QPS, 1 thread | recall@10 | ratio | zoomorph QPS, 2 ranks | 1 -> 2 ranks |"
  echo "|---|---|---|---|---|---|---|---|"
  e1=$(echo "$o1" | val exact_qps); e2=$(echo "$o2" | val exact_qps); ef=$(echo "$f" | val faiss_flat_qps)
  printf "| exact (faiss IndexFlatL2) | %s | 1 | %s | 1 | %.2f | %s | %.2fx |\n" "$e1" "$ef" "$(echo "$e1 / $ef" | bc -l)" \
    "$e2" "$(echo "$e2 / $e1" | bc -l)"
  for p in ${nprobes//,/ }; do
    read -r q1 r1 <<< "$(echo "$o1" | probe ivf "$p")"
    read -r q2 r2 <<< "$(echo "$o2" | probe ivf "$p")"
    read -r qf rf <<< "$(echo "$f" | probe faiss_ivf "$p")"
    printf "| IVF nprobe %s (faiss IndexIVFFlat) | %s | %s | %s | %s | %.2f | %s | %.2fx |\n" "$p" "$q1" "$r1" "$qf" "$rf" \
      "$(echo "$q1 / $qf" | bc -l)" "$q2" "$(echo "$q2 / $q1" | bc -l)"
  done
  echo
  echo "IVF build (k-means, 10 iterations): zoomorph $(echo "$o1" | val ivf_build_s) s on 1 rank, $(echo "$o2" | val ivf_build_s) s on 2;" \
       "faiss $(echo "$f" | val faiss_ivf_build_s) s. Index per rank: $(echo "$o1" | val ivf_index_mb_per_rank) MiB on 1 rank," \
       "$(echo "$o2" | val ivf_index_mb_per_rank) MiB on 2; peak RSS per rank $(echo "$o1" | val rss_mb_per_rank_peak) MiB" \
       "(1 rank), $(echo "$o2" | val rss_mb_per_rank_peak) MiB (2 ranks); faiss process $(echo "$f" | val faiss_rss_mb_peak) MiB."
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
