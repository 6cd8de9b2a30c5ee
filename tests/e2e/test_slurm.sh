#!/bin/bash
# A real Slurm on this machine (Debian's slurm-wlm and munge; the recipe of
# docs/tutorial.md): munged, slurmctld and slurmd started with a private configuration
# (ports, spool and state in the test's directory), the demo config (a smaller survey)
# submitted through jobs/submit.sh as a chain simulate -> plan -> cutout -> run with
# --dependency=afterok. The cutout job is signalled mid-run from outside (scancel
# --signal=USR1, as Slurm's --signal does before a time limit): zoomorph saves its
# progress and exits 75, the job requeues itself, the requeued job resumes, the chain goes
# on, and the store and catalogue equal those of a clean run without Slurm. Also: a config
# naming a missing input is refused before any job is submitted; a job whose store was
# deleted fails with a clear message. Skips (77) where Slurm or munge is not installed or
# when not root.
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
for p in slurmctld slurmd munged sbatch scontrol; do
  if ! command -v $p > /dev/null && [ ! -x /usr/sbin/$p ]; then
    echo "SKIP: $p is not installed (apt-get install slurm-wlm munge; .ci/debian-packages.txt tag test)"; exit 77
  fi
done
if [ "$(id -u)" != 0 ]; then echo "SKIP: the Slurm test starts daemons as root"; exit 77; fi
work=$(zt_workdir slurm)
cd "$work"
export PATH="$PATH:/usr/sbin"
base=$((20000 + ($$ % 2000) * 2))
mkdir -p state spool log
cat > slurm.conf <<CONF
ClusterName=zmtest
SlurmctldHost=localhost
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
SchedulerParameters=sched_interval=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
started_munge=""
cleanup() {
  local j
  for j in $(squeue -h -o %i 2> /dev/null); do scancel "$j" 2> /dev/null || true; done
  for j in $(seq 30); do [ -z "$(squeue -h 2> /dev/null)" ] && break; sleep 0.5; done
  for f in slurmd.pid slurmctld.pid; do [ -s "$work/$f" ] && kill "$(cat "$work/$f")" 2> /dev/null || true; done
  [ -n "$started_munge" ] && [ -s /run/munge/munged.pid ] && kill "$(cat /run/munge/munged.pid)" 2> /dev/null || true
}
trap cleanup EXIT
if ! munge -n 2> /dev/null | unmunge > /dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  su -s /bin/sh munge -c /usr/sbin/munged
  started_munge=1
  sleep 1
fi
slurmctld -i
slurmd -N localhost
for i in $(seq 60); do
  [ "$(sinfo -h -o %T 2> /dev/null)" = idle ] && break
  sleep 1
done
if [ "$(sinfo -h -o %T)" != idle ]; then
  echo "FAIL: the Slurm node did not come up"; sinfo; tail -20 log/slurmctld.log log/slurmd.log; exit 1
fi
echo "ok: slurmctld and slurmd up on localhost (ports $base, $((base + 1)))"

export OPENBLAS_NUM_THREADS=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sed -e "s|^bricks = 10|bricks = 4|" -e "s|^galaxies_per_brick = 100|galaxies_per_brick = 30|" \
    -e "s|^brick_size = 1800 .*|brick_size = 1200|" -e "s|^budget = 100|budget = 20|" \
    -e "s|^weights = models/|weights = $ZM_SOURCE_DIR/models/|" "$ZM_SOURCE_DIR/config/demo.ini" > run.ini
cat >> run.ini <<'INI'
[cutout]
batch = 16
[anomaly]
eval_seeds = 1
INI
# bad input first: a missing weight file is named before anything is submitted
sed "s|^weights = .*|weights = $work/no-such-model.h5|" run.ini > bad.ini
set +e
ZM_BIN="$ZM_BIN" bash "$ZM_SOURCE_DIR/jobs/submit.sh" "$work/bad.ini" simulate plan cutout run > bad.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bad.log "config key [embed] weights: weight file $work/no-such-model.h5 does not exist"
test -z "$(squeue -h)"
echo "ok: nothing was submitted"

mkdir clean && (cd clean && mpirun -np 2 "$ZM_BIN" run -c ../run.ini > run.log 2>&1) || { cat clean/run.log; exit 1; }
mkdir chain && cd chain
# rank 0 of the first cutout job waits after its 3rd round (of 4; its first brick done) for a
# stop signal from outside
ids=$(ZM_FAULT_WAIT=cutout:3:0 ZM_NTASKS=2 ZM_BIN="$ZM_BIN" bash "$ZM_SOURCE_DIR/jobs/submit.sh" "$work/run.ini" simulate plan cutout run)
echo "$ids"
cut=$(echo "$ids" | awk '$1 == "cutout" {print $2}')
last=$(echo "$ids" | awk '$1 == "run" {print $2}')
for i in $(seq 240); do
  grep -qs "ZM_FAULT_WAIT: rank 0 of stage cutout" zoomorph-zm-cutout-$cut.out && break
  sleep 0.5
done
grep -q "ZM_FAULT_WAIT" zoomorph-zm-cutout-$cut.out || { echo "FAIL: cutout did not reach round 3"; squeue; cat zoomorph-*.out; exit 1; }
scancel --signal=USR1 "$cut"
echo "ok: cutout job $cut signalled (USR1) mid-run"
state() { scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true; }
for i in $(seq 360); do
  s=$(state "$last")
  case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
  sleep 0.5
done
for j in $(echo "$ids" | awk '{print $2}'); do scontrol show job "$j" | grep -oE 'JobName=[^ ]+|JobState=[A-Z_]+|Restarts=[0-9]+|ExitCode=[0-9:]+' | tr '\n' ' '; echo; done
if [ "$(state "$last")" != COMPLETED ]; then echo "FAIL: the chain did not complete"; tail -n 30 zoomorph-*.out; exit 1; fi
scontrol show job "$cut" | grep -q "Restarts=1" || { echo "FAIL: the cutout job was not requeued once"; scontrol show job "$cut"; exit 1; }
grep -q "stopped with its progress saved: requeueing job $cut" zoomorph-zm-cutout-$cut.out
grep -E "resuming an interrupted run: [1-9]" zoomorph-zm-cutout-$cut.out
grep -qE "^  cutout +skipped" zoomorph-zm-run-$last.out
grep -qE "^  catalogue +ran" zoomorph-zm-run-$last.out
echo "ok: the cutout job stopped (75), requeued itself, resumed; the run job skipped what was done and finished the chain"
$ZM_PYTHON - <<'PY'
import h5py, numpy as np
from astropy.io import fits
a, b = h5py.File("../clean/demo.h5", "r"), h5py.File("demo.h5", "r")
for name in ["cutouts/images", "cutouts/flags", "labels/votes", "representation/embedding", "pca/coords_10",
             "anomaly/iforest_score"]:
    assert np.array_equal(a[name][()], b[name][()], equal_nan=True), name
ca, cb = fits.open("../clean/demo-catalogue.fits")[1].data, fits.open("demo-catalogue.fits")[1].data
assert len(ca) == len(cb) == a["galaxies/id"].shape[0]
for c in ca.columns.names:
    assert np.array_equal(ca[c], cb[c]) or np.allclose(ca[c], cb[c], equal_nan=True, rtol=0, atol=0), c
print(f"ok: the Slurm chain's store and catalogue ({len(cb)} rows) equal the clean run's")
PY
test -s demo-report.html
# a requeued job whose store was deleted: a clear error, no crash
rm demo.h5
jid=$(sbatch --parsable --ntasks=2 --export=ALL,ZM_STAGE=pca,ZM_CONFIG="$work/run.ini",ZM_BIN="$ZM_BIN" "$ZM_SOURCE_DIR/jobs/stage.sbatch")
for i in $(seq 120); do
  case "$(state "$jid")" in COMPLETED|FAILED|CANCELLED) break ;; esac
  sleep 0.5
done
test "$(state "$jid")" = FAILED
scontrol show job "$jid" | grep -q "ExitCode=1:0"
grep -q "zoomorph pca: .*demo.h5" zoomorph-zm-pca-$jid.out 2>/dev/null || grep -q "zoomorph pca: .*demo.h5" zoomorph-zoomorph-$jid.out
echo "ok: a job whose store was deleted fails with exit 1 and names the store"
echo "e2e slurm: ok"
