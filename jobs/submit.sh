#!/bin/bash
# Submits a zoomorph run as a chain of Slurm jobs, each stage after the previous one
# succeeded (--dependency=afterok), and prints the job ids.
#   jobs/submit.sh CONFIG [STAGE ...]       default stages: plan cutout embed pca catalogue
#   jobs/submit.sh CONFIG run               the whole chain as one job (zoomorph run)
#   ZM_NTASKS=64 ZM_TIME=02:00:00 ZM_PARTITION=regular jobs/submit.sh run.ini simulate plan cutout
# Each stage is submitted with its own script, jobs/<stage>.sbatch (time limit and the
# signal's lead time for that stage; ZM_TIME overrides the time), which runs
# jobs/stage.sbatch.
# The config is checked (zoomorph params) and the inputs it names (zoomorph run --check)
# before anything is submitted. Jobs run in the current directory (relative paths of the
# config are relative to it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
config=$(readlink -f "${1:?usage: jobs/submit.sh CONFIG [STAGE ...]}")
shift
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(plan cutout embed pca catalogue)
ZM_BIN=${ZM_BIN:-$(command -v zoomorph || echo "$here/../build/zoomorph")}
if ! command -v sbatch > /dev/null; then
  echo "submit: sbatch is not available: Slurm is not installed or not on PATH here." >&2
  echo "Run the stages directly instead, e.g.: mpirun -np 4 $ZM_BIN plan -c $config" >&2
  exit 2
fi
"$ZM_BIN" params -c "$config" > /dev/null   # unknown keys and bad values stop here
# the inputs the config names (survey root, votes, weights...) must exist: checked here,
# before any job is submitted (zoomorph run --check, for the stages of the chain)
only=()
for s in "${stages[@]}"; do
  case "$s" in
    run) only=(); break ;;
    gallery|params) ;;
    *) only+=("$s") ;;
  esac
done
if [[ " ${stages[*]} " == *" run "* ]]; then
  "$ZM_BIN" run --check -c "$config" --log-level warn
elif [ ${#only[@]} -gt 0 ]; then
  "$ZM_BIN" run --check --only "$(IFS=,; echo "${only[*]}")" -c "$config" --log-level warn
fi
opts=(--ntasks="${ZM_NTASKS:-2}" --parsable)
[ -n "${ZM_TIME:-}" ] && opts+=(--time="$ZM_TIME")   # otherwise each stage's script sets its own
[ -n "${ZM_PARTITION:-}" ] && opts+=(--partition="$ZM_PARTITION")
[ -n "${ZM_OVERCOMMIT:-}" ] && opts+=(--overcommit)
dep=""
for s in "${stages[@]}"; do
  script="$here/$s.sbatch"   # one script per stage (its time and signal defaults)
  [ -f "$script" ] || script="$here/stage.sbatch"
  id=$(sbatch "${opts[@]}" ${dep:+--dependency=afterok:$dep} --job-name="zm-$s" \
        --export=ALL,ZM_STAGE="$s",ZM_CONFIG="$config",ZM_BIN="$ZM_BIN",ZM_JOBS="$here" "$script")
  echo "$s $id"
  dep=$id
done
