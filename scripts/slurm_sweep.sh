#!/usr/bin/env bash
# Runs a gradlab sweep on a SLURM cluster: a job array of N shards, then a collect job.
#
#   scripts/slurm_sweep.sh CONFIG N [--out DIR] [gradlab run options: --set, --only, --jobs, --force]
#
# Submits (1) an array job of N tasks, task K running `gradlab run CONFIG --out DIR --shard K/N`
# (this same script, in worker mode), and (2) a job that runs `gradlab collect DIR` once the array
# has ended (afterany: it also reports what failed or is missing). DIR must be on a filesystem
# every node sees. Logs go to DIR/slurm/. Resubmitting the same command resumes: complete runs
# are skipped, killed ones redone (or resumed from their checkpoints).
#
# Environment:
#   GRADLAB=/path/to/gradlab   the binary (default: `gradlab` on PATH); exported to the jobs
#   SLURM_DRY_RUN=1            print the sbatch commands (or, in a task, the gradlab command)
#                              instead of running them
#   SLURM_SWEEP_OPTS="--cpus-per-task=4 --time=2:00:00 --partition=short"
#                              more sbatch options for the shard tasks (split on spaces)
#   SBATCH_PARTITION, SBATCH_TIMELIMIT, SBATCH_ACCOUNT, ...   read by sbatch itself, for both jobs
# A task runs as many runs at once as it has CPUs (SLURM's --cpus-per-task; default 1, the
# #SBATCH line below) unless --jobs says otherwise.
#
# Exit status: 0 submitted (or, in a task, the shard's gradlab status), 2 usage or config error.
#SBATCH --job-name=gradlab
#SBATCH --cpus-per-task=1
set -euo pipefail

usage() {
  echo "usage: $0 CONFIG N [--out DIR] [--set KEY=VALUE]... [--only KEY=VALUE]... [--jobs J] [--force]" >&2
  exit 2
}

# The words, each quoted for the shell only when it needs it, joined by spaces.
quote() {
  local w out=()
  for w in "$@"; do
    if [[ $w =~ ^[A-Za-z0-9_./=:,%@+-]+$ ]]; then out+=("$w"); else out+=("'${w//\'/\'\\\'\'}'"); fi
  done
  echo "${out[*]}"
}

# Prints a command under SLURM_DRY_RUN=1, runs it otherwise.
run_or_print() {
  if [ "${SLURM_DRY_RUN:-0}" = 1 ]; then quote "$@"; else "$@"; fi
}

[ $# -ge 2 ] || usage
config=$1 n=$2
shift 2
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "$0: N must be a positive integer, found '$n'" >&2; exit 2; }

out=""
forward=()   # options for `gradlab run`
sets=()      # the --set options, also for `gradlab validate`
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --set|--only|--jobs) [ $# -ge 2 ] || usage
      forward+=("$1" "$2"); [ "$1" = --set ] && sets+=("$1" "$2"); shift 2 ;;
    --force) forward+=("$1"); shift ;;
    *) echo "$0: unknown option '$1'" >&2; usage ;;
  esac
done

gradlab=${GRADLAB:-$(command -v gradlab || true)}
[ -n "$gradlab" ] && [ -x "$gradlab" ] || {
  echo "$0: no gradlab binary: set GRADLAB=/path/to/gradlab or put gradlab on PATH" >&2; exit 2; }

# ---- worker mode: one array task runs one shard ----
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  [ -n "$out" ] || usage
  run_or_print "$gradlab" run "$config" --out "$out" \
    --shard "$SLURM_ARRAY_TASK_ID/${SLURM_ARRAY_TASK_COUNT:-$n}" --quiet ${forward[@]+"${forward[@]}"}
  exit $?
fi

# ---- submit mode ----
# Check the config before anything is queued (gradlab prints every error; exit 2).
"$gradlab" validate "$config" ${sets[@]+"${sets[@]}"} >/dev/null
name=$("$gradlab" validate "$config" --json ${sets[@]+"${sets[@]}"} | sed -n '2s/^  "name": "\(.*\)",$/\1/p')
[ -n "$out" ] || out="results/${name:-$(basename "$config" .json)}"
config=$(realpath -m -- "$config")
out=$(realpath -m -- "$out")
gradlab=$(realpath -- "$gradlab")
self=$(realpath -- "$0")

[ "${SLURM_DRY_RUN:-0}" = 1 ] || mkdir -p "$out/slurm"
read -r -a opts <<<"${SLURM_SWEEP_OPTS:-}"
array=(sbatch --parsable --array="0-$((n - 1))" --job-name="gradlab-$name"
       --output="$out/slurm/shard_%A_%a.out" --export="ALL,GRADLAB=$gradlab" ${opts[@]+"${opts[@]}"}
       "$self" "$config" "$n" --out "$out" ${forward[@]+"${forward[@]}"})
if [ "${SLURM_DRY_RUN:-0}" = 1 ]; then
  run_or_print "${array[@]}"
  jobid=ARRAY_JOB_ID
else
  jobid=$("${array[@]}")
  jobid=${jobid%%;*}   # --parsable prints "jobid[;cluster]"
fi
run_or_print sbatch --parsable --dependency="afterany:$jobid" --job-name="gradlab-$name-collect" \
  --output="$out/slurm/collect_%j.out" --wrap="$(quote "$gradlab" collect "$out")"
[ "${SLURM_DRY_RUN:-0}" = 1 ] || echo "submitted: array job $jobid ($n shards) and its collect job; results in $out" >&2
