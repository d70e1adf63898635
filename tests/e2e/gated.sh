# Gated chains (model.type lstm, gru) from the command line: an rnn/lstm/gru sweep over two chain
# lengths at initialization (timesteps.csv's gate columns filled only where they apply, the
# summary's ratios, the console's per-step table), its figures (gradlab plot), the same bits on 1
# and 2 threads, a trained LSTM killed after a checkpoint and resumed to the uninterrupted bytes,
# probe.dump_tensors against an independent NumPy LSTM/GRU, and a chain too large for memory
# refused before it starts.
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

# dump_tensors: the shapes of docs/reference.md §5; an independent NumPy LSTM reproduces h, c,
# the gates and every gradient, and the dumped tensors give timesteps.csv's norms; a GRU's h.
cat > dump.json <<'JSON'
{ "name": "dump", "model": { "width": 5, "length": 4, "loss_at": "every_step", "bias_init": 0.1 },
  "data": { "name": "gaussian", "dim": 3, "outputs": 2 }, "loss": "mse",
  "probe": { "samples": 6, "dump_tensors": true },
  "grid": { "model.type": ["lstm", "gru"] } }
JSON
expect_status 0 "lstm and gru with dump_tensors" "$GRADLAB" run dump.json --out dump --quiet
check "gated tensors match a NumPy LSTM/GRU and the CSV norms" $PY - dump <<'PY'
import csv, glob, json, sys, numpy as np
d = sys.argv[1]
sig = lambda v: 1 / (1 + np.exp(-v))
N, T, H, G = 6, 4, 5, {"lstm": 4, "gru": 3}
for run in sorted(glob.glob(d + "/runs/*/")):
    kind = json.load(open(run + "config.json"))["model"]["type"]
    t = run + "tensors/step_0/"
    names = "W_ih W_hh b_ih b_hh V c dW_ih dW_hh db_ih db_hh dV dc x y h dh gate da"
    L = {k: np.load(t + k + ".npy") for k in (names + (" cell dcell" if kind == "lstm" else "")).split()}
    g = G[kind]
    assert L["W_ih"].shape == (g * H, 3) and L["W_hh"].shape == (g * H, H), kind
    assert L["gate"].shape == (N, T, g * H) and L["h"].shape == (N, T, H) and L["x"].shape == (N, T, 3)
    Wi, Wh, bi, bh, V, c, x, y = (L[k] for k in "W_ih W_hh b_ih b_hh V c x y".split())
    h, cs, gates, pre = [np.zeros((N, H))], [np.zeros((N, H))], [], []
    for s in range(T):
        a = x[:, s] @ Wi.T + bi; r = h[-1] @ Wh.T + bh
        if kind == "lstm":
            z = a + r; pre.append(z)
            i, f, gg, o = sig(z[:, :H]), sig(z[:, H:2*H]), np.tanh(z[:, 2*H:3*H]), sig(z[:, 3*H:])
            cs.append(f * cs[-1] + i * gg); gates.append(np.hstack([i, f, gg, o]))
            h.append(o * np.tanh(cs[-1]))
        else:
            rr = sig(a[:, :H] + r[:, :H]); zz = sig(a[:, H:2*H] + r[:, H:2*H])
            n = np.tanh(a[:, 2*H:] + rr * r[:, 2*H:]); gates.append(np.hstack([rr, zz, n]))
            h.append((1 - zz) * n + zz * h[-1])
    assert np.allclose(L["h"], np.stack(h[1:], 1), rtol=1e-10, atol=1e-12), kind
    assert np.allclose(L["gate"], np.stack(gates, 1), rtol=1e-10, atol=1e-12), kind
    rows = [r for r in csv.DictReader(open(run + "timesteps.csv"))]
    rms = lambda m: np.sqrt((m ** 2).sum(1).mean())
    for s in range(T):
        assert abs(rms(L["dh"][:, s]) / float(rows[s]["dh_norm"]) - 1) < 1e-9, (kind, s)
    if kind != "lstm":
        continue
    assert np.allclose(L["cell"], np.stack(cs[1:], 1), rtol=1e-10, atol=1e-12)
    for s in range(T):
        assert abs(rms(L["dcell"][:, s]) / float(rows[s]["dc_norm"]) - 1) < 1e-9, s
    # BPTT by hand: ℓ_i = Σ_t ½‖V h_t + c − y_t‖², L = mean_i ℓ_i
    dy = [h[s + 1] @ V.T + c - y[:, s] for s in range(T)]
    dW, dU, db = np.zeros_like(Wh), np.zeros_like(Wi), np.zeros_like(bi)
    dh_next, dc_next, dhs, dcs, das = np.zeros((N, H)), np.zeros((N, H)), [None] * T, [None] * T, [None] * T
    for s in reversed(range(T)):
        i, f, gg, o = (gates[s][:, k * H:(k + 1) * H] for k in range(4))
        dh = dy[s] @ V + dh_next
        tc = np.tanh(cs[s + 1])
        dcell = dh * o * (1 - tc ** 2) + dc_next
        dz = np.hstack([dcell * gg * i * (1 - i), dcell * cs[s] * f * (1 - f),
                        dcell * i * (1 - gg ** 2), dh * tc * o * (1 - o)])
        dhs[s], dcs[s], das[s] = dh, dcell, dz
        dW += dz.T @ h[s]; dU += dz.T @ x[:, s]; db += dz.sum(0)
        dh_next, dc_next = dz @ Wh, dcell * f
    assert np.allclose(L["dh"], np.stack(dhs, 1), rtol=1e-9, atol=1e-12)
    assert np.allclose(L["dcell"], np.stack(dcs, 1), rtol=1e-9, atol=1e-12)
    assert np.allclose(L["da"], np.stack(das, 1), rtol=1e-9, atol=1e-12)
    for k, v in (("dW_hh", dW / N), ("dW_ih", dU / N), ("db_ih", db / N), ("db_hh", db / N),
                 ("dV", sum(dy[s].T @ h[s + 1] for s in range(T)) / N),
                 ("dc", sum(dy[s].sum(0) for s in range(T)) / N)):
        assert np.allclose(L[k], v, rtol=1e-9, atol=1e-12), k
PY

# Memory is estimated before anything is allocated: exit 2, naming what to reduce.
cat > big.json <<'JSON'
{ "name": "big", "model": { "type": "lstm", "width": 100000, "length": 100000 },
  "data": { "name": "gaussian", "dim": 4, "outputs": 2 }, "loss": "mse" }
JSON
expect_status 2 "an LSTM too large for memory" "$GRADLAB" run big.json --out big
check "the refusal names the width and the chain length" grep -q "reduce the width, the chain length" "$T/last.err"

finish
