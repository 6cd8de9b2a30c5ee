#!/bin/bash
# Exact and IVF k-nearest-neighbour search against faiss (Debian python3-faiss: IndexFlatL2,
# IndexIVFFlat with the same nlist, 10 k-means iterations and the same nprobe values) on the
# same synthetic vectors (1000 overlapping Gaussian clusters), one thread each, a batch of
# 1000 queries, k = 10; recall@10 of each IVF against its own exact search; IVF build time
# and memory; zoomorph's query throughput on 1 and 2 ranks; hnswlib (Debian python3-hnswlib:
# HNSW, M 16, ef_construction 200, built on one thread) at each ef of HNSW_EFS, its build time,
# and the fastest setting of each with recall@10 >= 0.95 (equal recall) as a ratio.
# usage: tests/bench/bench_search.sh BUILD_DIR [CASES]   (CASES: "N:D:NLIST:NPROBES ...", or
#        "store=STORE=DATASET:NLIST:NPROBES" for a store's own vectors, e.g.
#        "store=sim20k.h5=/pca/coords_10:128:4,8,16": 1000 of its rows query the rest,
#        tests/bench/store_vectors.py)
#        HNSW_EFS=10,20,... to change hnswlib's ef sweep
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
cases=${2:-"100000:40:256:4,16,32,48,64 100000:1280:256:1,4 1000000:40:1024:8,12,16,64,256"}
efs=${HNSW_EFS:-10,20,30,40,50,60,80,100,200,400}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  OMPI_MCA_rmaps_base_oversubscribe=1
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
hnsw=1
/usr/bin/python3 -c "import hnswlib" 2>/dev/null || { hnsw=0; echo "(python3-hnswlib is not installed: no hnswlib figures)"; }
val() { grep "^$1 " | head -1 | awk '{print $2}'; }
probe() { grep "^$1 nprobe $2 " | awk '{print $5, $7}'; }
# fastest line "NAME PARAM V qps Q recall R" with R >= 0.95: "PARAM V: Q QPS (recall R)" and Q; "none" if none
pick() { awk -v n="$1" '$1 == n && $7 >= 0.95 && $5 > q { q = $5; s = $2 " " $3 ": " $5 " QPS (recall " $7 ")" }
                        END { if (q) print q, s; else print 0, "none reaches 0.95" }'; }
for c in $cases; do
  if [[ $c == store=* ]]; then
    IFS=: read -r spec nlist nprobes <<< "$c"
    IFS== read -r _ store dset <<< "$spec"
    work="$build/tmp/bench_search/store$(echo "$dset" | tr / _)"
    read -r n d <<< "$(/usr/bin/python3 "$src/tests/bench/store_vectors.py" "$store" "$dset" "$work")"
    echo "($store $dset: $n rows of d = $d, 1000 other rows as queries)"
  else
    IFS=: read -r n d nlist nprobes <<< "$c"
    work="$build/tmp/bench_search/${n}x${d}"
    mkdir -p "$work"
    "$build/tests/bench_search" gen "$work" "$n" "$d"
  fi
  o1=$(mpirun -np 1 "$build/tests/bench_search" run "$work" "$n" "$d" "$nlist" "$nprobes" | tee "$work/ours1.txt")
  o2=$(mpirun -np 2 "$build/tests/bench_search" run "$work" "$n" "$d" "$nlist" "$nprobes" | tee "$work/ours2.txt")
  f=$(/usr/bin/python3 "$src/tests/bench/bench_search_faiss.py" "$work" "$n" "$d" "$nlist" "$nprobes" | tee "$work/faiss.txt")
  h=""
  [ $hnsw = 1 ] && h=$(/usr/bin/python3 "$src/tests/bench/bench_search_hnsw.py" "$work" "$n" "$d" "$efs" | tee "$work/hnsw.txt")
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
  [ $hnsw = 1 ] || continue
  echo
  echo "| hnswlib (M 16, ef_construction 200), 1 thread | QPS | recall@10 |"
  echo "|---|---|---|"
  echo "$h" | awk '$1 == "hnsw" { printf "| ef %s | %s | %s |\n", $3, $5, $7 }'
  echo
  echo "hnswlib build (1 thread): $(echo "$h" | val hnsw_build_s) s; process peak RSS $(echo "$h" | val hnsw_rss_mb_peak) MiB" \
       "($(echo "$h" | val hnsw_rss_mb_data) MiB with the vectors loaded, before the build)."
  echo
  read -r z1 s1 <<< "$(echo "$o1" | pick ivf)"; read -r z2 s2 <<< "$(echo "$o2" | pick ivf)"
  read -r zf sf <<< "$(echo "$f" | pick faiss_ivf)"; read -r zh sh <<< "$(echo "$h" | pick hnsw)"
  ratio() { [ "$(echo "$1 > 0 && $2 > 0" | bc)" = 1 ] && printf "%.2f" "$(echo "$1 / $2" | bc -l)" || echo "-"; }
  echo "| at recall@10 >= 0.95, fastest setting | zoomorph IVF, 1 rank | zoomorph IVF, 2 ranks | faiss IndexIVFFlat | hnswlib | zoomorph (1 rank) / hnswlib | zoomorph (1 rank) / faiss IVF |"
  echo "|---|---|---|---|---|---|---|"
  echo "| $n x $d | $s1 | $s2 | $sf | $sh | $(ratio "$z1" "$zh") | $(ratio "$z1" "$zf") |"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
