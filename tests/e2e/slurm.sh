# scripts/slurm_sweep.sh on a real one-node SLURM cluster (docs/cluster.md, "Tested on a real
# cluster"): munged, slurmctld and slurmd from Debian's munge and slurm-wlm, started here as root
# with a generated munge key, their state, spool, logs and sockets under $T and non-default
# ports. (1) A sweep as an array of 3 shards + the dependent collect job gives tables
# byte-identical to a local --jobs 1 run. (2) A training sweep with checkpoints: one array task is
# scancel'ed mid-run; resubmitting the same command resumes it from its checkpoint and the tables
# are again identical. Every daemon is stopped by its pid at exit. Skips (exit 77) when not root.
source "$(dirname "$0")/lib.sh"
cd "$T"

if [ "$(id -u)" != 0 ]; then
  echo "SKIP: starting munged, slurmctld and slurmd needs root (this test runs as uid $(id -u))"
  exit 77
fi
# slurmd initializes its cgroup plugin at start and refuses to run without a cgroup filesystem
# (a chroot without /sys, some containers): no cluster can start there, whatever the recipe.
if ! [ -f /sys/fs/cgroup/cgroup.controllers ] && ! [ -d /sys/fs/cgroup/cpuset ]; then
  echo "SKIP: no cgroup filesystem at /sys/fs/cgroup (no /sys here?): slurmd cannot start without one"
  exit 77
fi
for tool in munged slurmctld slurmd sbatch squeue scancel scontrol sinfo; do
  command -v $tool >/dev/null || { echo "FAIL: $tool missing (scripts/setup.sh installs munge and slurm-wlm)"; exit 1; }
done

# ---- the cluster ----
pids=()
stop_cluster() {
  if [ ${#pids[@]} -gt 0 ]; then
    timeout 10 scancel --quiet --user=root 2>/dev/null
    until_within 10 queue_empty
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
      for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && { echo "FAIL: daemon $p ignored SIGTERM; killed"; kill -9 "$p"; }
      wait "$p" 2>/dev/null
    done
  fi
  cd / && rm -rf "$T"
}
trap stop_cluster EXIT

# until_within SECONDS command...: runs the command until it succeeds, at most SECONDS (wall).
until_within() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@"; do [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.2; done
}
queue_empty() { [ -z "$(timeout 10 squeue -h 2>/dev/null)" ]; }
node_idle() { [ "$(timeout 5 sinfo -h -o %T 2>/dev/null)" = idle ]; }
alive() { local p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done; }

started=$(date +%s.%N)
host=$(hostname -s)
port=$((20000 + ($$ % 2000) * 2))   # slurmctld; slurmd on port + 1 (defaults: 6817, 6818)
chmod 755 "$T"   # munged wants its socket's folders searchable by all
mkdir -m 700 key state spool log
mkdir -m 755 munge
dd if=/dev/urandom of=key/munge.key bs=1024 count=1 status=none
chmod 400 key/munge.key
munged -F --key-file="$T/key/munge.key" --socket="$T/munge/socket" --pid-file="$T/key/pid" \
  --log-file="$T/log/munged.log" --seed-file="$T/key/seed" > log/munged.out 2>&1 &
pids+=($!)
cat > slurm.conf <<CONF
ClusterName=gradlabtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/socket
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/state/slurmctld.pid
SlurmdPidFile=$T/spool/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 $(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$T/slurm.conf
until_within 10 test -S munge/socket
slurmctld -D -i -f "$SLURM_CONF" > log/slurmctld.out 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" > log/slurmd.out 2>&1 &
pids+=($!)
if ! until_within 30 node_idle || ! alive; then
  echo "FAIL: the cluster did not come up in 30 s"; tail -n 5 log/* | sed 's/^/  /'
  exit 1
fi
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
echo "cluster up in $(since "$started") s (slurmctld port $port)"

# wait_idle SECONDS: until no job is queued or running; fails after SECONDS.
wait_idle() {
  until_within "$1" queue_empty && return 0
  echo "  still queued after $1 s:"; timeout 10 squeue | sed 's/^/  /'; return 1
}
export GRADLAB
slurm=$SRC/scripts/slurm_sweep.sh

# ---- (1) a sweep: 3 shards + collect, identical to a local run ----
cat > sweep.json <<'JSON'
{ "name": "slurm-sweep", "seed": 11, "repeats": 2,
  "model": { "depth": 6, "width": 32, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "probe": { "samples": 32 },
  "grid": { "model.init": ["glorot_uniform", "he_normal"], "model.depth": [2, 4, 6] } }
JSON
expect_status 0 "local reference sweep" "$GRADLAB" run "$T/sweep.json" --out ref --jobs 1 --quiet
t0=$(date +%s.%N)
expect_status 0 "slurm_sweep.sh submits" bash "$slurm" sweep.json 3 --out sweep
check "submitted an array of 3 and a collect job" grep -q "submitted: array job [0-9]* (3 shards) and its collect job" last.err
check "the jobs finish" wait_idle 120
echo "sweep on SLURM: $(since "$t0") s from submission to the collect job's end"
check "3 shard logs" test "$(ls sweep/slurm/shard_*.out | wc -l)" = 3
check "the collect job found the sweep complete" grep -q "12 runs, 12 complete, 0 missing, 0 failed, 0 diverged" sweep/slurm/collect_*.out
check "SLURM sweep identical to the local --jobs 1 run" same_results ref sweep
check "nothing temporary left" no_temporaries sweep

# ---- (2) scancel one array task of a training sweep mid-run, resubmit: it resumes ----
cat > train.json <<'JSON'
{ "name": "slurm-train", "seed": 7,
  "model": { "depth": 6, "width": 64, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 32, "classes": 4 },
  "train": { "steps": 20000, "lr": 0.01, "checkpoint_every": 1000 },
  "probe": { "samples": 64, "every": 5000 },
  "grid": { "train.lr": [0.01, 0.02, 0.03] } }
JSON
t0=$(date +%s.%N)
expect_status 0 "submit the training sweep" bash "$slurm" train.json 3 --out train
array=$(sed -n 's/^submitted: array job \([0-9]*\) .*/\1/p' last.err)
# Task 1 runs the run of index 1 (lr=0.02): cancel it once it has written a checkpoint.
killed=0
if until_within 120 test -e "train/runs/.tmp-lr=0.02/checkpoint.bin"; then
  timeout 10 scancel "${array}_1" && killed=1
fi
check "task 1 was cancelled after its first checkpoint" test $killed = 1
check "the first submission's jobs end" wait_idle 180
check "the cancelled run is not complete" test ! -e "train/runs/lr=0.02"
check "its temporary folder keeps the checkpoint" test -e "train/runs/.tmp-lr=0.02/checkpoint.bin"
check "the first collect job reports it missing" grep -q "3 runs, 2 complete, 1 missing" train/slurm/collect_*.out
# A rerun keeps a dead run's folder only to resume from its checkpoint (a run without one starts
# over in a new folder): a file of ours in it proves the resume (the tasks are --quiet).
touch "train/runs/.tmp-lr=0.02/test-marker"
expect_status 0 "resubmit the same command" bash "$slurm" train.json 3 --out train
check "the resubmitted jobs end" wait_idle 180
check "the resubmitted task 1 resumed in the cancelled run's folder" test -e "train/runs/lr=0.02/test-marker"
rm -f "train/runs/lr=0.02/test-marker"
echo "training sweep on SLURM, cancel, resubmission: $(since "$t0") s"
expect_status 0 "local reference training sweep" \
  "$GRADLAB" run "$T/train.json" --out train-ref --jobs 1 --quiet
check "resumed SLURM sweep identical to the local --jobs 1 run" same_results train-ref train
check "nothing temporary left after the resume" no_temporaries train

stop_cluster_pids=("${pids[@]}")
trap - EXIT
stop_cluster
for p in "${stop_cluster_pids[@]}"; do
  check "daemon $p stopped" bash -c "! kill -0 $p 2>/dev/null"
done
check "the temporary folder is gone" test ! -e "$T"
finish
