# Gated chains (model.type lstm, gru) from the command line: an rnn/lstm/gru sweep over two chain
# lengths at initialization (timesteps.csv's gate columns filled only where they apply, the
# summary's ratios, the console's per-step table), its figures (gradlab plot), the same bits on 1
# and 2 threads, a trained LSTM killed after a checkpoint and resumed to the uninterrupted bytes,
# and a chain too large for memory refused before it starts.
source "$(dirname "$0")/lib.sh"
cd "$T"

cat > sweep.json <<'JSON'
{ "name": "gated", "seed": 3,
  "model": { "width": 12, "bias_init": 0.0 },
  "data": { "name": "gaussian", "dim": 4, "outputs": 2 }, "loss": "mse",
  "probe": { "samples": 8 },
  "grid": { "variants": [ { "label": "rnn", "model": { "type": "rnn" } },
                          { "label": "lstm", "model": { "type": "lstm" } },
                          { "label": "gru", "model": { "type": "gru" } } ],
            "model.length": [5, 20] } }
JSON
expect_status 0 "rnn/lstm/gru sweep at initialization" "$GRADLAB" run sweep.json --out init --quiet
check "6 runs, all ok" test "$(column init/runs.csv status | sort -u)" = ok
check "timesteps.csv: the gated columns at the end, gate by gate" $PY - init <<'PY'
import csv, sys
h = next(csv.reader(open(sys.argv[1] + "/timesteps.csv")))
tail = ["dc_norm"] + [f"{p}{g}{s}" for g in "ifgorzn"
        for p, s in (("gate_", "_mean"), ("gate_", "_saturated_frac"), ("grad_whh_", "_contrib_norm"))]
assert h[-len(tail):] == tail, h
assert h[h.index("grad_w_contrib_norm") + 1] == "dc_norm", h
PY
check "gate columns filled where they apply, empty elsewhere" $PY - init <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1] + "/timesteps.csv")):
    kind = r["variants"]
    lstm, gru = [r[f"gate_{g}_mean"] != "" for g in "ifgo"], [r[f"gate_{g}_mean"] != "" for g in "rzn"]
    assert all(lstm) == (kind == "lstm") and not any(lstm) == (kind != "lstm"), r
    assert all(gru) == (kind == "gru") and not any(gru) == (kind != "gru"), r
    assert (r["dc_norm"] != "") == (kind == "lstm"), r
    assert (r["saturated_frac"] != "") == (kind == "rnn"), r
    if kind == "lstm":  # forget bias 1 at init: f = σ(1 + small) ≈ 0.73
        assert 0.6 < float(r["gate_f_mean"]) < 0.85, r
PY
check "summary: gradient_ratio from dh_norm, the LSTM's cell ratio" $PY - init <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/timesteps.csv")))
for kind in ("lstm", "gru"):
    run = f"variants={kind},length=20"
    s = json.load(open(f"{d}/runs/{run}/summary.json"))
    mine = [r for r in rows if r["run"] == run]
    ratio = float(mine[0]["dh_norm"]) / float(mine[-1]["dh_norm"])
    assert abs(s["gradient_ratio"] / ratio - 1) < 1e-12, (s["gradient_ratio"], ratio)
    if kind == "lstm":
        cell = float(mine[0]["dc_norm"]) / float(mine[-1]["dc_norm"])
        assert abs(s["cell_gradient_ratio"] / cell - 1) < 1e-12, (s["cell_gradient_ratio"], cell)
    else:
        assert s["cell_gradient_ratio"] is None, s
PY
expect_status 0 "plot the sweep" "$GRADLAB" plot init
for f in gated_ratio_by_length gated_cell_vs_hidden gated_gates_by_t rnn_dh_by_t; do
  check "figure $f" test -s init/figures/$f.png
done

# One run: the console's per-step table shows the gates.
cat > one.json <<'JSON'
{ "name": "one", "model": { "type": "gru", "width": 6, "length": 8 },
  "data": { "name": "gaussian", "dim": 3, "outputs": 2 }, "loss": "mse", "probe": { "samples": 4 } }
JSON
expect_status 0 "a single gru run" "$GRADLAB" run one.json --out one
check "console: per-step table with the gates" grep -q "r mean (sat%)" "$T/last.out"
check "console: verdict from |dh_1|/|dh_T|" grep -q "|dh_1|/|dh_T|" "$T/last.out"

# The same bits on 1 and 2 threads (float32, a batch split in two panels).
cat > th.json <<'JSON'
{ "name": "th", "precision": "float32",
  "model": { "type": "lstm", "width": 24 }, "data": { "name": "addition", "length": 20,
  "test_samples": 40 }, "loss": "mse",
  "train": { "steps": 6, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "clip_norm": 1 },
  "probe": { "samples": 16, "every": 3 } }
JSON
expect_status 0 "1 thread" "$GRADLAB" run th.json --out th1 --quiet --set threads=1
expect_status 0 "2 threads" "$GRADLAB" run th.json --out th2 --quiet --set threads=2
check "timesteps.csv and steps.csv: the same bytes on 1 and 2 threads" \
  bash -c "cmp -s th1/timesteps.csv th2/timesteps.csv && cmp -s th1/steps.csv th2/steps.csv"

# kill -9 a trained LSTM after its first checkpoint, rerun: it resumes to the same bytes.
cat > ckpt.json <<'JSON'
{ "name": "gckpt", "seed": 9,
  "model": { "type": "lstm", "width": 32 },
  "data": { "name": "temporal_order", "length": 30, "test_samples": 100 },
  "train": { "steps": 1500, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "clip_norm": 1.0,
             "checkpoint_every": 100 },
  "probe": { "samples": 16, "every": 300 } }
JSON
expect_status 0 "uninterrupted LSTM training run" "$GRADLAB" run ckpt.json --out cref --quiet
"$GRADLAB" run ckpt.json --out ckilled --quiet & pid=$!
for _ in $(seq 600); do
  test -e ckilled/runs/.tmp-run/checkpoint.bin && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check "a checkpoint was written before the kill" test -e ckilled/runs/.tmp-run/checkpoint.bin
expect_status 0 "rerun after kill -9" "$GRADLAB" run ckpt.json --out ckilled
check "the rerun resumes from the checkpoint" grep -q "run: resuming from its checkpoint" "$T/last.err"
check "resumed run identical in every file" same_results cref ckilled
check "checkpoint gone after completion" no_temporaries ckilled

# Memory is estimated before anything is allocated: exit 2, naming what to reduce.
cat > big.json <<'JSON'
{ "name": "big", "model": { "type": "lstm", "width": 100000, "length": 100000 },
  "data": { "name": "gaussian", "dim": 4, "outputs": 2 }, "loss": "mse" }
JSON
expect_status 2 "an LSTM too large for memory" "$GRADLAB" run big.json --out big
check "the refusal names the width and the chain length" grep -q "reduce the width, the chain length" "$T/last.err"

finish
