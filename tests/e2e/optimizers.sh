# Optimizers and training-time rules from the command line (docs/reference.md §3 train, §3.3):
# for every optimizer, a training run killed (kill -9) after its first checkpoint and rerun
# resumes to the same bytes as an uninterrupted run (moments, step counts and the gradient-noise
# stream included); the update-ratio columns are filled after step 0 and empty at step 0.
source "$(dirname "$0")/lib.sh"
cd "$T"

resume_case() {  # NAME TRAIN-KEYS [MODEL DATA]
  local name=$1 train=$2
  local model=${3:-'"depth": 3, "width": 96, "activation": "tanh"'}
  local data=${4:-'"name": "gaussian", "dim": 16, "classes": 4'}
  cat > "$name.json" <<JSON
{ "name": "$name", "seed": 5, "model": { $model }, "data": { $data },
  "train": { "steps": 3000, "batch_size": 16, "checkpoint_every": 200, $train },
  "probe": { "samples": 32, "every": 500 } }
JSON
  expect_status 0 "$name: uninterrupted run" "$GRADLAB" run "$name.json" --out "$name-ref" --quiet
  "$GRADLAB" run "$name.json" --out "$name-killed" --quiet & local pid=$!
  wait_for $pid test -e "$name-killed/runs/.tmp-run/checkpoint.bin"
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  check "$name: killed before completion" test ! -e "$name-killed/runs/run"
  expect_status 0 "$name: rerun" "$GRADLAB" run "$name.json" --out "$name-killed"
  check "$name: the rerun resumes" grep -q "run: resuming from its checkpoint" "$T/last.err"
  check "$name: resumed run identical in every file" same_results "$name-ref" "$name-killed"
}
resume_case sgd '"lr": 0.05, "momentum": 0.9, "nesterov": true, "weight_decay": 1e-4, "grad_noise": { "eta": 0.01 }'
resume_case adagrad '"optimizer": "adagrad", "lr": 0.05, "clip_value": 0.5, "lr_layers": { "ramp": 1.5 }'
resume_case rmsprop '"optimizer": "rmsprop", "momentum": 0.5, "centered": true, "max_norm": 3, "warmup": 300'
resume_case adam '"optimizer": "adam", "grad_noise": { "eta": 0.01 }, "schedule": { "name": "cosine" }'
resume_case adamw '"optimizer": "adamw", "lars": { "eta": 0.01 }, "schedule": { "name": "step", "step_size": 500 }'
resume_case rnn_adam '"optimizer": "adam", "clip_norm": 1.0, "grad_noise": { "eta": 0.001 }' \
  '"type": "rnn", "width": 32, "activation": "tanh"' '"name": "addition", "length": 20, "test_samples": 100'

# update_ratio, effective_lr: empty at step 0, filled at every later probe (7 probes × 4 layers).
filled_after_0() {  # FILE COLUMN ROWS
  $PY -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ok = all((r[sys.argv[2]] == "") == (r["step"] == "0") for r in rows)
sys.exit(0 if ok and len(rows) == int(sys.argv[3]) else 1)' "$@"
}
check "adam: update_ratio empty at step 0 only" filled_after_0 adam-ref/layers.csv update_ratio 28
check "adam: update_ratio_mean empty at step 0 only" filled_after_0 adam-ref/layers.csv update_ratio_mean 28
check "adam: effective_lr empty at step 0 only" filled_after_0 adam-ref/layers.csv effective_lr 28
check "chain: update_ratio_rec in steps.csv" filled_after_0 rnn_adam-ref/steps.csv update_ratio_rec 7
check "chain: effective_lr_in in steps.csv" filled_after_0 rnn_adam-ref/steps.csv effective_lr_in 7
finish
