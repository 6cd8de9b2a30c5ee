#!/bin/bash
# Every shipped config parses with no unknown key or bad value (zoomorph params),
# docs/config.md matches the parameter table, and the
# Slurm submit script refuses clearly where sbatch is missing.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
n=0
for f in "$ZM_SOURCE_DIR"/config/*.ini; do
  "$ZM_BIN" params -c "$f" > /dev/null
  echo "ok: $(basename "$f")"
  n=$((n + 1))
done
test $n -ge 3
# docs/config.md is the generated reference: it must match the code's parameter table
"$ZM_BIN" params --markdown > config.md.now
if ! diff -q config.md.now "$ZM_SOURCE_DIR/docs/config.md" > /dev/null; then
  echo "FAIL: docs/config.md is out of date: run 'make docs' (zoomorph params --markdown > docs/config.md)"
  diff config.md.now "$ZM_SOURCE_DIR/docs/config.md" | head -20
  exit 1
fi
echo "ok: docs/config.md matches the parameter table"
if ! command -v sbatch > /dev/null; then
  set +e
  PATH=/usr/bin:/bin bash "$ZM_SOURCE_DIR/jobs/submit.sh" "$ZM_SOURCE_DIR/config/demo.ini" > out.log 2>&1; rc=$?
  set -e
  zt_expect_rc 2 $rc out.log "sbatch is not available"
fi
echo "e2e configs: ok"
