# Helpers for the e2e tests (sourced).
zt_workdir() {
  local d="${ZM_BUILD_DIR:-.}/tmp/e2e_$1"
  rm -rf "$d" && mkdir -p "$d" && echo "$d"
}
# zt_mpi NP STAGE ARGS...: zoomorph under mpirun (-np 1 runs without mpirun)
zt_mpi() {
  local np=$1; shift
  if [ "$np" = 1 ]; then "$ZM_BIN" "$@"; else mpirun --oversubscribe -np "$np" "$ZM_BIN" "$@"; fi
}
# zt_expect_rc WANT GOT LOG TEXT: the exit status and a message in the log
zt_expect_rc() {
  if [ "$2" != "$1" ]; then echo "FAIL: exit status $2, expected $1"; cat "$3"; exit 1; fi
  if ! grep -qF -- "$(echo "$4" | sed 's/\\//g')" "$3"; then
    echo "FAIL: message not found: $4"; cat "$3"; exit 1
  fi
  echo "ok: exit $1 with: $4"
}
# skip (exit 77) when ../shared/data/real is absent
zt_need_shared() {
  if [ ! -d "${ZM_SHARED_DATA:-/nonexistent}" ]; then
    echo "SKIP: ../shared/data/real is absent"; exit 77
  fi
}
# the 240-galaxy test survey (4 bricks, split by brick into train/validation/test) simulated
# into $1/survey, planned, cut (72 px grey) and embedded with the shipped model into $1/s.h5
# on 2 ranks; sets `common`, the --set options that name them (logs in the current folder).
# Further arguments are more [simulate] options (--set simulate.bricks=8 ...), which win.
zt_embedded_survey() {
  local sim=(--set simulate.out="$1/survey" --set simulate.bricks=4 --set simulate.brick_size=1200 --set simulate.seed=3
             --set simulate.galaxies_per_brick=60 --set simulate.stars_per_brick=2 --set simulate.min_separation=10
             --set simulate.val_fraction=0.25 --set simulate.test_fraction=0.25 "${@:2}")
  zt_mpi 2 simulate "${sim[@]}" > sim.log 2>&1
  common=(--set survey.root="$1/survey" --set store.path="$1/s.h5" --set cutout.size=72 --set cutout.channels=grey
          --set embed.weights="$ZM_SOURCE_DIR/models/zoonet-gz-sim.h5" --set train.micro_batch=8)
  local st
  for st in plan cutout embed; do zt_mpi 2 $st "${common[@]}" > $st.log 2>&1; done
}
# zt_killed_store STORE STAGE ABSENT: after a killed run, the store still opens, STAGE is
# marked "running" (not complete) and the stage's result ABSENT is not in it
zt_killed_store() {
  $ZM_PYTHON - "$1" "$2" "$3" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")   # the store still opens
st = f["meta/stages/" + sys.argv[2]].attrs["status"].decode()
assert st == "running", "the killed run must not be marked complete: " + st
assert sys.argv[3] not in f, "no %s from the killed run" % sys.argv[3]
print("after the kill: the store opens,", sys.argv[2], "status", st)
PY
}
