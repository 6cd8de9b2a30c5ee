#!/bin/bash
# Every writing stage after cutout (e2e.disk_full covers cutout) on a full disk (the
# file-size limit, ulimit -f, as a full disk or quota would) and with an unwritable
# output directory (run as an unprivileged user, since root writes anywhere): the stage
# fails with a message that says why, the store still opens and every dataset an earlier
# stage wrote is unchanged, no partial output file is left, and with room the stage then
# completes.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir disk_full_stages)
chmod 755 "$work"
cd "$work"
# Open MPI's PMIx keeps its shared-memory store in files that a small ulimit -f forbids:
# its hash store instead, so the limit applies to zoomorph's files only
export PMIX_MCA_gds=hash
zt_mpi 1 simulate --set simulate.out="$work/survey" --set simulate.bricks=4 --set simulate.brick_size=600 \
  --set simulate.galaxies_per_brick=20 --set simulate.stars_per_brick=1 --set simulate.min_separation=8 > sim.log 2>&1
common=(--set survey.root="$work/survey" --set cutout.size=32 --set model.input_size=32
        --set labels.votes="$work/survey/votes.csv" --set model.output="$work/w.h5" --set embed.weights="$work/w.h5"
        --set train.epochs=1 --set train.batch=6 --set train.micro_batch=6 --set catalogue.path="$work/cat.fits"
        --set anomaly.output="$work/anomalies.csv")
zt_mpi 1 plan "${common[@]}" --set store.path="$work/s.h5" > plan.log 2>&1
zt_mpi 1 cutout "${common[@]}" --set store.path="$work/s.h5" > cutout.log 2>&1
# compare: every dataset and stage mark of BEFORE is in AFTER, byte for byte (the mark of
# STAGE, the one that failed, may say "running": a rerun then resumes)
check_intact() {
  $ZM_PYTHON - "$1" "$2" "${3:-}" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")   # the store still opens
n = 0
def visit(name, obj):
    global n
    if isinstance(obj, h5py.Dataset):
        assert name in b, f"{name} is gone"
        assert np.array_equal(obj[()], b[name][()], equal_nan=obj.dtype.kind == "f"), f"{name} changed"
        n += 1
a.visititems(visit)
for st, g in a["meta/stages"].items():
    now = b["meta/stages"][st].attrs["status"]
    assert now == g.attrs["status"] or (st == sys.argv[3] and now == b"running"), f"stage {st} mark changed"
print(f"  {sys.argv[2]}: opens, {n} datasets of the earlier stages unchanged")
PY
}
# full STAGE: the stage on a copy of s.h5 under a file-size limit just above the store's
# size (KB_MORE more); it must fail with MESSAGE and leave the store as it was
full() {
  local stage=$1 more=$2 msg=$3
  cp s.h5 before.h5
  local kb=$(( $(stat -c %s s.h5) / 1024 + more ))
  set +e
  ( ulimit -f $kb; "$ZM_BIN" $stage "${common[@]}" --set store.path="$work/s.h5" > full_$stage.log 2>&1 ); rc=$?
  set -e
  echo "$stage under ulimit -f $kb KB: exit $rc: $(grep -v ' INFO ' full_$stage.log | tail -1)"
  if [ $rc = 0 ] || [ $rc -gt 3 ]; then echo "FAIL: $stage: exit $rc"; cat full_$stage.log; exit 1; fi
  grep -qF -- "$msg" full_$stage.log || { echo "FAIL: $stage: message lacks '$msg'"; cat full_$stage.log; exit 1; }
  if ls "$work" | grep -q '\.part'; then echo "FAIL: $stage left a partial file"; ls "$work"; exit 1; fi
  rm -f s.h5.lock
  check_intact before.h5 s.h5 $stage
  "$ZM_BIN" $stage "${common[@]}" --set store.path="$work/s.h5" > ok_$stage.log 2>&1 \
    || { echo "FAIL: $stage with room"; cat ok_$stage.log; exit 1; }
}
room="needs 1.0 MB more, but the file-size limit (ulimit -f)"
full votes 1 "$room"
full pretrain 1 "$room"
# room for the store but not for the checkpoint (Adam moments: 4 x the weights); without
# the first run's checkpoint, which it would resume from
rm -f w.h5 w.h5.ckpt
full pretrain 6000 "checkpoint $work/w.h5.ckpt: write failed (disk full?)"
test -s w.h5
full embed 1 "$room"
full pca 1 "$room"
full index 1 "$room"
full anomaly 1 "$room"
# the catalogue: an earlier one stays as it was, no partial file
"$ZM_BIN" catalogue "${common[@]}" --set store.path="$work/s.h5" > cat0.log 2>&1
sum=$(md5sum < cat.fits)
set +e
( ulimit -f 16; "$ZM_BIN" catalogue "${common[@]}" --set store.path="$work/s.h5" --set catalogue.overwrite=true > catfull.log 2>&1 ); rc=$?
set -e
zt_expect_rc 1 $rc catfull.log "nothing written (disk full or file-size limit?)"
test "$(md5sum < cat.fits)" = "$sum"
if ls | grep -q '\.part'; then echo "FAIL: partial catalogue left"; exit 1; fi
# a store directory nobody may write in: as an unprivileged user
if ! command -v setpriv > /dev/null || ! id nobody > /dev/null 2>&1; then
  echo "e2e disk_full_stages: ok (unwritable directory: SKIPPED, no setpriv or nobody)"; exit 0
fi
as_nobody() { HOME=/tmp TMPDIR=/tmp setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
mkdir -p ro && cp s.h5 ro/s.h5 && chmod 755 ro && chmod 644 ro/s.h5 && chmod -R a+rX survey
cp ro/s.h5 before.h5
for stage in votes pca anomaly; do
  set +e
  as_nobody "$ZM_BIN" $stage "${common[@]}" --set store.path="$work/ro/s.h5" > ro_$stage.log 2>&1; rc=$?
  set -e
  echo "$stage with an unwritable store directory: exit $rc: $(grep -v ' INFO ' ro_$stage.log | tail -1)"
  test $rc = 1 || { echo "FAIL: exit $rc"; cat ro_$stage.log; exit 1; }
  grep -q "s.h5" ro_$stage.log
  check_intact before.h5 ro/s.h5
done
# outputs into an unwritable directory: the weights and the catalogue
set +e
as_nobody "$ZM_BIN" catalogue "${common[@]}" --set store.path="$work/s.h5" --set catalogue.path="$work/ro/cat.fits" > ro_cat.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc ro_cat.log "ro/cat.fits"
test ! -e ro/cat.fits
echo "e2e disk_full_stages: ok"
