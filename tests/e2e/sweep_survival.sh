# Sweeps that survive (docs/reference.md §5 crash safety): kill -9 in the middle of a sweep and of a
# checkpointed training run, then rerun; stale and live leases; failed runs retried, diverged
# runs kept; --force; progress lines in a log; --quiet.
source "$(dirname "$0")/lib.sh"
cd "$T"

# ~30 short training runs (~0.1 s each): long enough to be killed in the middle.
cat > sweep.json <<'JSON'
{ "name": "survival", "seed": 7, "repeats": 3,
  "model": { "depth": 4, "width": 64, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 32, "classes": 4 },
  "train": { "steps": 400, "batch_size": 16, "lr": 0.01 },
  "probe": { "samples": 64, "every": 100 },
  "grid": { "model.init": ["glorot_uniform", "he_normal"], "model.depth": [2, 3, 4, 5, 6] } }
JSON
complete_runs() { find "$1/runs" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | wc -l; }


expect_status 0 "uninterrupted sweep" "$GRADLAB" run sweep.json --out ref --quiet --jobs 2

# ---- kill -9 in the middle of a sweep, rerun ----
"$GRADLAB" run sweep.json --out killed --quiet --jobs 2 & pid=$!
at_least_6() { [ "$(complete_runs killed)" -ge 6 ]; }
wait_for $pid at_least_6
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
n_before=$(complete_runs killed)
check "the kill landed mid-sweep ($n_before of 30 runs complete)" test "$n_before" -ge 1 -a "$n_before" -lt 30
check "no combined tables before the sweep is complete" test ! -e killed/runs.csv
expect_status 0 "rerun after kill -9" "$GRADLAB" run sweep.json --out killed --jobs 2
check "rerun skips the complete runs" grep -q "30 runs, $n_before complete, $((30 - n_before)) to run" "$T/last.err"
check "resumed sweep is identical to the uninterrupted one" same_results ref killed
check "runs.csv: 30 rows" test "$(($(wc -l < killed/runs.csv) - 1))" = 30
check "runs.csv: no duplicate run" test -z "$(column killed/runs.csv run | sort | uniq -d)"
check "layers.csv: no duplicate row" test -z "$(sort killed/layers.csv | uniq -d)"
check "no temporary folder or file left" no_temporaries killed

# ---- stale temporary folders are cleaned; live leases are respected ----
id='init=he_normal,depth=3,rep=1'
host=$(hostname)
start_of() { cut -d' ' -f22 < /proc/$1/stat; }   # a process's start time, as gradlab records it
sleep 0 & dead=$!; wait $dead                      # a pid that is no longer running
make_stale() {  # make_stale LEASE-JSON: the run of $id is missing and its temporary folder holds LEASE
  rm -rf "killed/runs/$id" "killed/runs/.tmp-$id"
  mkdir "killed/runs/.tmp-$id"
  echo "half-written" > "killed/runs/.tmp-$id/layers.csv"
  printf '%s\n' "$1" > "killed/runs/.tmp-$id/lease.json"
}
now=$(date +%s)

make_stale "{\"host\": \"$host\", \"pid\": $dead, \"time\": $now}"
expect_status 0 "dead pid on this host: stale, the run is redone" "$GRADLAB" run sweep.json --out killed --quiet
check "dead pid: folder cleaned and run redone" same_results ref killed
check "dead pid: nothing temporary left" no_temporaries killed

make_stale "{\"host\": \"elsewhere\", \"pid\": 1, \"time\": $((now - 600))}"
expect_status 0 "another host's lease 10 min old: stale" "$GRADLAB" run sweep.json --out killed --quiet
check "old lease from another host: run redone" same_results ref killed

sleep 60 & live=$!
make_stale "{\"host\": \"$host\", \"pid\": $live, \"start\": 1, \"time\": $now}"
expect_status 0 "a live pid with another start time (pid reused): stale" "$GRADLAB" run sweep.json --out killed --quiet
check "reused pid: run redone" same_results ref killed

make_stale "{\"host\": \"$host\", \"pid\": $live, \"start\": $(start_of $live), \"time\": $now}"
expect_status 0 "a live process's run is left alone" "$GRADLAB" run sweep.json --out killed
check "live lease: the sweep says another process runs it" grep -q "being run by another process" "$T/last.err"
check "live lease: its folder is untouched" grep -q "half-written" "killed/runs/.tmp-$id/layers.csv"
check "live lease: the run is not done here" test ! -e "killed/runs/$id"
expect_status 1 "collect while a run is missing: exit 1" "$GRADLAB" collect killed
check "collect names the missing run as running" grep -q "missing: $id (running)" "$T/last.err"

make_stale "{\"host\": \"elsewhere\", \"pid\": 1, \"time\": $now}"
expect_status 0 "another host's fresh lease is respected" "$GRADLAB" run sweep.json --out killed --quiet
check "fresh lease from another host: run not done here" test ! -e "killed/runs/$id"
kill $live; wait $live 2>/dev/null
make_stale "{\"host\": \"$host\", \"pid\": $live, \"start\": 1, \"time\": $now}"
expect_status 0 "after the leaseholder died, the rerun completes the sweep" "$GRADLAB" run sweep.json --out killed --quiet
check "complete and identical again" same_results ref killed

# ---- kill -9 a training run after its first checkpoint, rerun: it resumes ----
cat > ckpt.json <<'JSON'
{ "name": "ckpt", "seed": 5,
  "model": { "depth": 3, "width": 128, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "train": { "steps": 3000, "batch_size": 32, "lr": 0.01, "checkpoint_every": 200 },
  "probe": { "samples": 32, "every": 250, "dump_tensors": [0, 1500, 3000] } }
JSON
expect_status 0 "uninterrupted training run" "$GRADLAB" run ckpt.json --out cref --quiet
check "tensors of the listed probe steps" test -e cref/runs/run/tensors/step_1500/a_3.npy
"$GRADLAB" run ckpt.json --out ckilled --quiet & pid=$!
wait_for $pid test -e ckilled/runs/.tmp-run/checkpoint.bin
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check "a checkpoint was written before the kill" test -e ckilled/runs/.tmp-run/checkpoint.bin
check "the run was not complete when killed" test ! -e ckilled/runs/run
expect_status 0 "rerun after kill -9 of a training run" "$GRADLAB" run ckpt.json --out ckilled
check "the rerun resumes from the checkpoint" grep -q "run: resuming from its checkpoint" "$T/last.err"
check "resumed layers.csv = uninterrupted bytes" cmp -s cref/layers.csv ckilled/layers.csv
check "resumed steps.csv = uninterrupted bytes" cmp -s cref/steps.csv ckilled/steps.csv
check "resumed run identical in every file (tensors/ too)" same_results cref ckilled
check "checkpoint and lease gone after completion" no_temporaries ckilled

# --force starts over, even from a stale checkpoint.
"$GRADLAB" run ckpt.json --out ckilled --quiet --force & pid=$!
wait_for $pid test -e ckilled/runs/.tmp-run/checkpoint.bin
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
expect_status 0 "--force after a killed --force" "$GRADLAB" run ckpt.json --out ckilled --force
check "--force does not resume" bash -c "! grep -q resuming '$T/last.err'"
check "--force result identical" same_results cref ckilled

# ---- the same for an RNN chain (momentum, clipping, a task's data stream) ----
cat > rckpt.json <<'JSON'
{ "name": "rckpt", "seed": 9,
  "model": { "type": "rnn", "width": 48, "activation": "tanh" },
  "data": { "name": "addition", "length": 30, "test_samples": 200 },
  "loss": "mse",
  "train": { "steps": 2000, "batch_size": 16, "lr": 0.01, "momentum": 0.9, "clip_norm": 1.0,
             "checkpoint_every": 100 },
  "probe": { "samples": 32, "every": 150 } }
JSON
expect_status 0 "uninterrupted RNN training run" "$GRADLAB" run rckpt.json --out rref --quiet
"$GRADLAB" run rckpt.json --out rkilled --quiet & pid=$!
wait_for $pid test -e rkilled/runs/.tmp-run/checkpoint.bin
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check "RNN: a checkpoint was written before the kill" test -e rkilled/runs/.tmp-run/checkpoint.bin
check "RNN: the run was not complete when killed" test ! -e rkilled/runs/run
expect_status 0 "RNN: rerun after kill -9 of a training run" "$GRADLAB" run rckpt.json --out rkilled
check "RNN: the rerun resumes from the checkpoint" grep -q "run: resuming from its checkpoint" "$T/last.err"
check "RNN: resumed timesteps.csv = uninterrupted bytes" cmp -s rref/timesteps.csv rkilled/timesteps.csv
check "RNN: resumed steps.csv = uninterrupted bytes" cmp -s rref/steps.csv rkilled/steps.csv
check "RNN: resumed run identical in every file" same_results rref rkilled
check "RNN: checkpoint and lease gone after completion" no_temporaries rkilled

# A checkpoint from a gradlab before format version 2 (no magic, the run key first) is refused,
# not misread: the run fails naming the file and both versions (exit 1), the checkpoint goes,
# and the next run starts over.
"$GRADLAB" run rckpt.json --out rold --quiet & pid=$!
wait_for $pid test -e rold/runs/.tmp-run/checkpoint.bin
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
$PY -c 'import sys; p = sys.argv[1]; b = open(p, "rb").read(); open(p, "wb").write(b[20:])' \
  rold/runs/.tmp-run/checkpoint.bin
expect_status 1 "an unversioned checkpoint: the run fails" "$GRADLAB" run rckpt.json --out rold --quiet
check "refusal names the file and the versions" grep -q \
  "checkpoint.bin: checkpoint format version 1 (unversioned: an older gradlab), this gradlab reads version 2" \
  rold/runs/run/summary.json
expect_status 0 "the next run starts over" "$GRADLAB" run rckpt.json --out rold
check "started over, not resumed" bash -c "! grep -q resuming '$T/last.err'"
check "started over: identical to the uninterrupted run" same_results rref rold

# ---- failure containment: one diverging point, one failing point; the sweep goes on ----
cat > mixed.json <<'JSON'
{ "name": "mixed", "seed": 2,
  "model": { "depth": 3, "width": 16, "activation": "relu", "init": "he_normal" },
  "loss": "mse",
  "train": { "steps": 50, "batch_size": 8 },
  "probe": { "samples": 16, "every": 10 },
  "grid": {
    "variants": [
      { "label": "gauss", "data": { "name": "gaussian", "dim": 8, "outputs": 3 } },
      { "label": "idx", "loss": "cross_entropy",
        "data": { "name": "idx", "train_images": "idx/train-images", "train_labels": "idx/train-labels",
                  "test_images": "idx/test-images", "test_labels": "idx/test-labels" } } ],
    "train.lr": [0.001, 1e6] } }
JSON
status_of() { cell "$1/runs.csv" "$2" status; }
# Empty data files pass the check before the sweep (they exist and are readable) and fail the
# runs that read them.
mkdir idx
touch idx/train-images idx/train-labels idx/test-images idx/test-labels
expect_status 1 "sweep with a diverging and a failing run: exit 1" "$GRADLAB" run mixed.json --out mixed --jobs 2
check "all 4 runs recorded" test "$(($(wc -l < mixed/runs.csv) - 1))" = 4
check "lr=0.001 ok" test "$(status_of mixed variants=gauss,lr=0.001)" = ok
check "huge lr diverged" test "$(status_of mixed variants=gauss,lr=1000000.0)" = diverged
check "diverged run has its reason" grep -q "non-finite" <<<"$(cell mixed/runs.csv variants=gauss,lr=1000000.0 reason)"
check "diverged run keeps its partial rows" test "$(column mixed/steps.csv run | grep -c '^variants=gauss,lr=1000000.0$')" -ge 2
check "unreadable data: failed" test "$(status_of mixed variants=idx,lr=0.001)" = failed
check "failed run has its reason" grep -qE "idx/[a-z-]+: truncated" <<<"$(cell mixed/runs.csv variants=idx,lr=0.001 reason)"
check "the summary counts them" grep -q "0 missing, 2 failed, 1 diverged" "$T/last.err"
check "nothing temporary left" no_temporaries mixed

# The rerun retries the failed runs (now that their data are whole), and keeps the divergence.
$PY - <<'PY'
import struct, random
random.seed(1)
for split, n in (("train", 40), ("test", 20)):
    with open(f"idx/{split}-images", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 4, 4) + bytes(random.randrange(256) for _ in range(n * 16)))
    with open(f"idx/{split}-labels", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(random.randrange(3) for _ in range(n)))
PY
expect_status 1 "rerun: a diverged run stays diverged (exit 1)" "$GRADLAB" run mixed.json --out mixed
check "rerun retries only the 2 failed runs" grep -q "4 runs, 2 complete, 2 to run" "$T/last.err"
check "retried run now ok" test "$(status_of mixed variants=idx,lr=0.001)" = ok
check "diverged run kept" test "$(status_of mixed variants=gauss,lr=1000000.0)" = diverged

# ---- progress: one line per finished run in a log; nothing with --quiet ----
short=(--set train.steps=20 --jobs 2)
expect_status 0 "sweep into a log" "$GRADLAB" run sweep.json --out logged "${short[@]}"
check "log: one line per finished run" test "$(grep -cE '^\[[0-9]+/30\] ' "$T/last.err")" = 30
check "log: the last line counts 30/30" grep -qE '^\[30/30\] .*: ok, ' "$T/last.err"
check "log: each run once" test "$(grep -E '^\[[0-9]+/30\] ' "$T/last.err" | cut -d' ' -f2 | sort -u | wc -l)" = 30
check "log: no terminal control characters" bash -c "! grep -q $'\r' '$T/last.err'"
check "summary table on stdout" grep -q "^init=he_normal,depth=6,rep=2 .* ok " "$T/last.out"
expect_status 0 "--quiet sweep" "$GRADLAB" run sweep.json --out quiet --quiet "${short[@]}"
check "--quiet: nothing on stderr" test ! -s "$T/last.err"
check "--quiet: nothing on stdout" test ! -s "$T/last.out"
# Needs a pseudo-terminal: skipped where none can be made (a chroot without /dev/pts).
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "'$GRADLAB' run sweep.json --out tty ${short[*]} >/dev/null" /dev/null > tty.txt
  check "terminal: one line rewritten in place" grep -q $'\r\033\\[K\\[30/30\\] runs done, 0 failed, elapsed' tty.txt
  check "terminal: no per-run lines" bash -c "! grep -qE '^\[[0-9]+/30\] init=' tty.txt"
else
  echo "SKIP: terminal progress line (no pseudo-terminal here)"
fi

# --force reruns every run (same bytes).
expect_status 0 "--force" "$GRADLAB" run sweep.json --out killed --force --jobs 2
check "--force reruns all 30" grep -q "30 runs, 0 complete, 30 to run" "$T/last.err"
check "--force: identical results" same_results ref killed
finish
