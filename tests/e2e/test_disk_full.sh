#!/bin/bash
# A store that cannot grow (the file-size limit, as a full disk or quota would): the
# cutout stage says so before writing anything, exits 1, and the store still opens with
# what the plan wrote; with room again the stage completes.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir disk_full)
cd "$work"
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/make_test_survey.py" "$work/survey"
common=(--set survey.root="$work/survey" --set store.path="$work/s.h5" --set cutout.size=256
        --set cutout.channels=colour --set cutout.dtype=float16)
"$ZM_BIN" plan "${common[@]}" > plan.log 2>&1
set +e
# 10 MB: room for the stage marks (the store + 5 MB), not for the stamps
( ulimit -f 10240; "$ZM_BIN" cutout "${common[@]}" > full.log 2>&1 ); rc=$?
set -e
zt_expect_rc 1 $rc full.log "/cutouts/images needs"
grep -q "file-size limit (ulimit -f)" full.log
test ! -e s.h5.lock
$ZM_PYTHON -c "
import h5py
f = h5py.File('$work/s.h5', 'r')
assert f['meta/stages/plan'].attrs['status'] == b'complete' and 'cutouts' not in f
print('the store still opens; the plan is intact')"
"$ZM_BIN" cutout "${common[@]}" > ok.log 2>&1
grep -q "stamps written" ok.log
echo "e2e disk_full: ok"
