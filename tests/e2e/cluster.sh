# Sweeps shared by several processes (docs/reference.md §2 --shard, §5 collect): shards as separate
# processes, one after another and at once; the GNU parallel recipe of docs/cluster.md, for real;
# scripts/slurm_sweep.sh (syntax, the sbatch commands it submits, its array tasks); --only
# selections that add up to one sweep.
source "$(dirname "$0")/lib.sh"
cd "$T"

cat > sweep.json <<'JSON'
{ "name": "cluster", "seed": 11, "repeats": 3,
  "model": { "depth": 10, "width": 32, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "probe": { "samples": 32 },
  "grid": { "model.init": ["glorot_uniform", "he_normal"], "model.depth": [2, 4, 6, 8, 10] } }
JSON
expect_status 0 "unsharded sweep" "$GRADLAB" run sweep.json --out ref --quiet

# ---- shards 0/3, 1/3, 2/3 as separate processes, one after another ----
expect_status 0 "shard 0/3" "$GRADLAB" run sweep.json --out seq --shard 0/3
check "shard 0/3 takes every third run" grep -q "10 runs in shard 0/3, 0 complete, 10 to run" "$T/last.err"
check "shard 0/3 wrote only its runs" test "$(ls seq/runs | wc -l)" = 10
check "no combined tables while shards are missing" test ! -e seq/runs.csv
expect_status 1 "collect with 2 shards missing: exit 1" "$GRADLAB" collect seq
check "collect counts the missing runs" grep -q "30 runs, 10 complete, 20 missing" "$T/last.err"
expect_status 0 "shard 1/3" "$GRADLAB" run sweep.json --out seq --shard 1/3 --quiet
expect_status 0 "shard 2/3 (the last: it collects)" "$GRADLAB" run sweep.json --out seq --shard 2/3 --quiet
check "the last shard collected: identical to the unsharded sweep" same_results ref seq
expect_status 0 "collect of a complete sweep: exit 0" "$GRADLAB" collect seq
check "collect is idempotent" same_results ref seq
rm seq/layers.csv seq/runs.csv
expect_status 0 "collect rebuilds deleted tables" "$GRADLAB" collect seq --quiet
check "rebuilt tables identical" same_results ref seq

# ---- the same shards at once ----
for k in 0 1 2; do "$GRADLAB" run sweep.json --out conc --shard $k/3 --quiet --jobs 1 & done
wait
expect_status 0 "collect after concurrent shards" "$GRADLAB" collect conc
check "concurrent shards identical to the unsharded sweep" same_results ref conc
check "concurrent shards: nothing temporary left" no_temporaries conc

expect_status 0 "more shards than runs: an empty shard is fine" "$GRADLAB" run sweep.json --out many --shard 40/50

# ---- the GNU parallel recipe (docs/cluster.md), for real ----
if command -v parallel >/dev/null; then
  check "GNU parallel runs 3 shards" parallel "$GRADLAB" run sweep.json --out par --shard {}/3 --quiet ::: 0 1 2 </dev/null
  expect_status 0 "collect after GNU parallel" "$GRADLAB" collect par
  check "GNU parallel recipe identical to the unsharded sweep" same_results ref par
else
  echo "FAIL: GNU parallel missing (scripts/setup.sh installs it)"; failures=$((failures + 1))
fi

# ---- scripts/slurm_sweep.sh ----
slurm=$SRC/scripts/slurm_sweep.sh
check "slurm_sweep.sh: bash syntax" bash -n "$slurm"
export GRADLAB
SLURM_DRY_RUN=1 bash "$slurm" sweep.json 3 --out slurm-out --set seed=11 > dry.txt 2> dry.err
check "dry run exits 0" test $? = 0
check "dry run: two sbatch commands" test "$(grep -c '^sbatch ' dry.txt)" = 2
check "dry run: an array of 3 tasks" grep -q -- "^sbatch --parsable --array=0-2 " dry.txt
check "dry run: the tasks run this script on the config, with the out folder and options" \
  grep -q -- " $slurm $T/sweep.json 3 --out $T/slurm-out --set seed=11\$" dry.txt
check "dry run: the binary is exported to the tasks" grep -q -- "--export=ALL,GRADLAB=$(realpath "$GRADLAB")" dry.txt
check "dry run: logs under the out folder" grep -q -- "--output=$T/slurm-out/slurm/shard_%A_%a.out" dry.txt
check "dry run: collect after the array ends (afterany)" \
  grep -q -- "^sbatch --parsable --dependency=afterany:ARRAY_JOB_ID .*--wrap=.*collect $T/slurm-out" dry.txt
check "dry run: nothing written" test ! -e slurm-out
SLURM_DRY_RUN=1 SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 bash "$slurm" sweep.json 3 --out o > task.txt
check "a task runs its shard" grep -qx -- "$GRADLAB run sweep.json --out o --shard 1/3 --quiet" task.txt

# The tasks for real (as SLURM would start them), then the collect job's command.
for k in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$k SLURM_ARRAY_TASK_COUNT=3 bash "$slurm" sweep.json 3 --out slurm-real
done
expect_status 0 "collect after the array tasks" "$GRADLAB" collect slurm-real
check "SLURM tasks identical to the unsharded sweep" same_results ref slurm-real

# Submission with a stand-in sbatch that records its arguments and answers a job id.
mkdir bin
cat > bin/sbatch <<'SH'
#!/bin/bash
printf '%s\n' "$*" >> "$SBATCH_LOG"
echo "4242;cluster"
SH
chmod +x bin/sbatch
PATH=$T/bin:$PATH SBATCH_LOG=$T/sbatch.log bash "$slurm" sweep.json 3 --out submitted 2>/dev/null
check "submission calls sbatch twice" test "$(wc -l < sbatch.log)" = 2
check "the collect job depends on the array's job id" grep -q -- "--dependency=afterany:4242 " sbatch.log
check "the log folder exists for SLURM" test -d submitted/slurm
rm -f sbatch.log
PATH=$T/bin:$PATH SBATCH_LOG=$T/sbatch.log bash "$slurm" nope.json 3 > /dev/null 2> bad.err
check "a bad config is refused with exit 2" test $? = 2
check "a bad config submits nothing" test ! -e sbatch.log
bash "$slurm" sweep.json 0 2> /dev/null
check "N = 0 is refused with exit 2" test $? = 2

# ---- --only selections add up to one sweep ----
expect_status 0 "--only depth=2" "$GRADLAB" run sweep.json --out only --only model.depth=2 --quiet
check "--only: the manifest lists its 6 runs" test "$($PY -c "import json; print(len(json.load(open('only/manifest.json'))['runs']))")" = 6
expect_status 0 "then the whole sweep" "$GRADLAB" run sweep.json --out only
check "the rest: 24 runs to run" grep -q "30 runs, 6 complete, 24 to run" "$T/last.err"
check "--only then all: identical to the unsharded sweep" same_results ref only
finish
