#!/bin/bash
# Load test of the embed stage (issue #11; not part of ctest): memory per rank and
# throughput as the survey grows.
#
#   tests/load/embed_load.sh OUTDIR SIZE [SIZE...]      e.g. /data/zm-load 50000 100000 200000
#
# OUTDIR (outside the git tree) caches the simulated survey: it is simulated once, with
# cheap settings, at the largest SIZE (SIZE / GPB bricks, rounded up) and reused by later
# runs that need no more bricks. Then, for each SIZE in turn, `plan` makes a store of the
# first SIZE/GPB bricks ([survey] bricks), and `embed` runs on NP ranks with no cutout
# stage (stamps cut from the bricks on the fly) and the shipped model, each rank under
# /usr/bin/time for its peak RSS. The table gives galaxies, peak RSS per rank, wall time,
# galaxies/s (the embed stage's own count and time) and CPU per galaxy; the last lines
# compare the largest size with the smallest: RSS growth (flat: within 10%) and
# throughput change (within -10%). Exit status 1 when either is exceeded.
#
# Environment: ZM_BIN (default build/zoomorph), NP (2), GPB (galaxies per brick, 500),
# BRICK_SIZE (1200), EMBED_BATCH (32), NICE (15), KEEP_STORES (0: each store is removed
# after its row), ZM_PYTHON (/usr/bin/python3, with astropy and h5py).
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

if [ $# -lt 2 ]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$1; shift
sizes=("$@")
ZM_BIN=${ZM_BIN:-$src/build/zoomorph}
NP=${NP:-2} GPB=${GPB:-500} BRICK_SIZE=${BRICK_SIZE:-1200} EMBED_BATCH=${EMBED_BATCH:-32} NICE=${NICE:-15}
KEEP_STORES=${KEEP_STORES:-0} ZM_PYTHON=${ZM_PYTHON:-/usr/bin/python3}
weights=$src/models/zoonet-gz-sim.h5
[ -x "$ZM_BIN" ] || { echo "embed_load: $ZM_BIN is not built (cmake --build build)"; exit 2; }
[ -x /usr/bin/time ] || { echo "embed_load: /usr/bin/time (GNU time) is needed for the peak RSS"; exit 2; }
for n in "${sizes[@]}"; do
  [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "embed_load: size '$n' is not a positive integer"; exit 2; }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
if git -C "$out" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  echo "embed_load: $out is inside a git work tree; give a directory outside git (the survey is large)"
  exit 2
fi
max=0
for n in "${sizes[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
need=$(( (max + GPB - 1) / GPB ))
log=$out/logs
mkdir -p "$log"

# each rank under GNU time: "rank peak_rss_kb wall_s user_s sys_s" into $1.<rank>
timed() {
  local prefix=$1; shift
  rm -f "$prefix".*
  nice -n "$NICE" mpirun --oversubscribe -np "$NP" sh -c \
    'r=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-0}}}; p=$1; shift
     exec /usr/bin/time -f "$r %M %e %U %S" -o "$p.$r" "$@"' sh "$prefix" "$@"
}

# ---- the survey: once, cheap settings (measured fastest per galaxy; docs/reliability.md) ----
survey=$out/survey
settings="gpb=$GPB brick_size=$BRICK_SIZE stars=0 artefacts=0 min_separation=8 supersample=1 max_stamp=32 r50_median=3 r50_max=5 seed=11"
have=0
if [ -s "$survey/survey-bricks.fits" ] && [ -s "$out/survey.settings" ] && [ "$(sed -n 1p "$out/survey.settings")" = "$settings" ]; then
  have=$(sed -n 2p "$out/survey.settings")
fi
if [ "$have" -ge "$need" ]; then
  echo "survey: reusing $survey ($have bricks of $GPB galaxies; $need needed)"
else
  echo "survey: simulating $need bricks of $GPB galaxies ($((need * GPB)) galaxies) into $survey on $NP ranks ..."
  rm -f "$out/survey.settings"
  t0=$(date +%s.%N)
  timed "$log/simulate.time" "$ZM_BIN" simulate --set simulate.out="$survey" --set simulate.overwrite=true \
    --set simulate.seed=11 --set simulate.bricks=$need --set simulate.brick_size=$BRICK_SIZE \
    --set simulate.galaxies_per_brick=$GPB --set simulate.stars_per_brick=0 --set simulate.artefacts_per_brick=0 \
    --set simulate.min_separation=8 --set simulate.supersample=1 --set simulate.max_stamp=32 \
    --set simulate.r50_median=3 --set simulate.r50_max=5 > "$log/simulate.log" 2>&1 \
    || { echo "embed_load: simulate failed"; tail -20 "$log/simulate.log"; exit 1; }
  t1=$(date +%s.%N)
  printf '%s\n%s\n' "$settings" "$need" > "$out/survey.settings"
  cat "$log"/simulate.time.* | awk -v n=$((need * GPB)) -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" -v np="$NP" '
    {cpu += $4 + $5; if ($2 > rss) rss = $2}
    END {printf "survey: %d galaxies in %.1f s wall on %d ranks (%.0f galaxies/s), %.2f ms CPU per galaxy, peak RSS %.0f MiB per rank\n",
         n, w, np, n / w, 1000 * cpu / n, rss / 1024}'
  du -sh "$survey" | awk '{print "survey: " $1 " on disk"}'
fi
mapfile -t bricks < <("$ZM_PYTHON" -c "
import sys
from astropy.table import Table
for b in Table.read(sys.argv[1])['brickname']: print(b.decode() if isinstance(b, bytes) else b)" "$survey/survey-bricks.fits")
[ "${#bricks[@]}" -ge "$need" ] || { echo "embed_load: the survey has ${#bricks[@]} bricks, $need needed"; exit 1; }

# ---- plan + embed at each size ----
rows=()
for n in "${sizes[@]}"; do
  k=$(( (n + GPB - 1) / GPB ))
  list=$out/bricks_$n.txt
  printf "%s\n" "${bricks[@]:0:$k}" > "$list"
  store=$out/embed_$n.h5
  rm -f "$store" "$store.lock"
  common=(--set survey.root="$survey" --set store.path="$store" --set store.overwrite=true --set survey.bricks="$list"
          --set cutout.size=72 --set cutout.channels=grey --set embed.weights="$weights" --set embed.batch=$EMBED_BATCH)
  tp0=$(date +%s.%N)
  nice -n "$NICE" mpirun --oversubscribe -np "$NP" "$ZM_BIN" plan "${common[@]}" > "$log/plan_$n.log" 2>&1 \
    || { echo "embed_load: plan ($n) failed"; tail -20 "$log/plan_$n.log"; exit 1; }
  tp1=$(date +%s.%N)
  timed "$log/embed_$n.time" "$ZM_BIN" embed "${common[@]}" > "$log/embed_$n.log" 2>&1 \
    || { echo "embed_load: embed ($n) failed"; tail -20 "$log/embed_$n.log"; exit 1; }
  grep -q "cutting them from the survey on the fly" "$log/embed_$n.log" \
    || { echo "embed_load: embed did not cut stamps on the fly"; exit 1; }
  # "plan: ... largest rank share on 2 ranks: 2500 galaxies (ideal 2500)": inputs (bricks) are
  # balanced whole, so an odd number of bricks leaves one rank more to do
  share=$(sed -n 's/.*largest rank share on [0-9]* ranks: \([0-9]*\) galaxies (ideal \([0-9]*\)).*/\1\/\2/p' "$log/plan_$n.log" | tail -1)
  # "embed: 5000 galaxies in 21.3s (234.7/s)" or "... in 1m25s (117.4/s)": the stage's rate
  read -r gal rate < <(sed -n 's/.*embed: \([0-9]*\) galaxies in [0-9hms.]* (\([0-9.]*\)\/s)$/\1 \2/p' "$log/embed_$n.log" | tail -1) \
    || { echo "embed_load: no 'embed: N galaxies in T (R/s)' line in $log/embed_$n.log"; exit 1; }
  secs=$(awk -v g="$gal" -v r="$rate" 'BEGIN {print g / r}')
  row=$(cat "$log"/embed_$n.time.* | sort -n | awk -v n="$n" -v k="$k" -v g="$gal" -v s="$secs" \
        -v p="$(awk -v a="$tp0" -v b="$tp1" 'BEGIN {print b - a}')" '
    {rss = rss (NR > 1 ? "," : "") sprintf("%.0f", $2 / 1024); if ($2 > mx) mx = $2; if ($3 > w) w = $3; cpu += $4 + $5}
    END {printf "%d %d %d %.1f %.1f %.1f %.1f %.2f %s %.0f\n", n, k, g, p, w, s, g / s, 1000 * cpu / g, rss, mx / 1024}')
  row="$row ${share:-?}"
  rows+=("$row")
  set -- $row
  echo "size $1: $3 galaxies in $2 bricks (largest rank share / ideal: ${11}); plan $4 s; embed $5 s wall ($6 s in the stage, $7 galaxies/s, $8 ms CPU/galaxy); peak RSS per rank $9 MiB"
  [ "$KEEP_STORES" = 1 ] || rm -f "$store"
done

echo
echo "embed on $NP ranks, stamps cut on the fly, $(basename "$weights"), embed.batch $EMBED_BATCH, $GPB galaxies per $BRICK_SIZE-px brick"
echo
echo "| galaxies | bricks | largest rank share / ideal | plan s | embed wall s | embed stage s | galaxies/s | CPU ms/galaxy | peak RSS per rank (MiB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
  set -- $r
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$3" "$2" "${11}" "$4" "$5" "$6" "$7" "$8" "${9//,/ \/ }"
done
echo
# the smallest and the largest size: RSS growth and throughput change
first=(${rows[0]}) last=(${rows[$((${#rows[@]} - 1))]})
verdict=$(awk -v r0="${first[9]}" -v r1="${last[9]}" -v t0="${first[6]}" -v t1="${last[6]}" -v n0="${first[2]}" -v n1="${last[2]}" 'BEGIN {
  dr = 100 * (r1 - r0) / r0; dt = 100 * (t1 - t0) / t0
  printf "from %d to %d galaxies: peak RSS per rank %.0f -> %.0f MiB (%+.1f%%), throughput %.1f -> %.1f galaxies/s (%+.1f%%)\n", n0, n1, r0, r1, dr, t0, t1, dt
  ok = (dr <= 10) && (dt >= -10)
  printf("%s: memory %s (limit +10%%), throughput %s (limit -10%%)\n", ok ? "PASS" : "FAIL", (dr <= 10) ? "flat" : "grows",
         (dt >= -10) ? "holds" : "falls")
  exit !ok }') && rc=0 || rc=$?
echo "$verdict"
exit $rc
