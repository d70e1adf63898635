# Weight-shared chains from the command line: a float32 sweep in which one point (a ReLU chain
# with Gaussian W at spectral radius 1.5, T = 400) overflows — recorded at initialization, diverged
# when trained — while the other points complete; timesteps.csv and steps.csv columns; clipping
# in steps.csv; dump_tensors that NumPy loads and that an independent NumPy BPTT reproduces.
source "$(dirname "$0")/lib.sh"
cd "$T"

cat > sweep.json <<'JSON'
{ "name": "chains", "precision": "float32",
  "model": { "type": "rnn", "width": 32, "length": 400, "activation": "tanh",
             "recurrent_init": { "name": "gaussian", "spectral_radius": 1.5 }, "inputs": "first_step" },
  "data": { "name": "gaussian", "dim": 8, "outputs": 4 }, "loss": "mse",
  "probe": { "samples": 16 },
  "grid": { "model.activation": ["tanh", "sigmoid", "relu"] } }
JSON

# At initialization the overflow is a measurement: every run ok, the ReLU run names where.
expect_status 0 "sweep at initialization" "$GRADLAB" run sweep.json --out init --quiet
check "3 runs, all ok" $PY - init <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/runs.csv")))
assert len(rows) == 3 and all(r["status"] == "ok" for r in rows), rows
PY
check "relu names its first non-finite t; tanh and sigmoid stay finite" $PY - init <<'PY'
import json, sys
d = sys.argv[1] + "/runs/"
f = json.load(open(d + "activation=relu/summary.json"))["first_nonfinite"]
assert f["step"] == 0 and isinstance(f["t"], int) and 1 <= f["t"] <= 400, f
assert f["quantity"] in ("preact", "act", "dh", "delta", "grad_w"), f
for a in ("tanh", "sigmoid"):
    s = json.load(open(d + f"activation={a}/summary.json"))
    assert s["first_nonfinite"] is None and s["verdict"] in ("vanishing", "stable"), (a, s)
PY
want="run,model.activation,repeat,seed,step,t,h_norm,dh_norm,dz_norm,dh_last_norm,saturated_frac,dead_frac,grad_w_contrib_norm"
check "timesteps.csv columns are design §4.2's" test "$(head -1 init/timesteps.csv)" = "$want"
check "timesteps.csv: T rows per run" test "$(($(wc -l < init/timesteps.csv) - 1))" = 1200
check "steps.csv has the spectra" $PY - init <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1] + "/steps.csv")):
    assert abs(float(r["spectral_radius"]) - 1.5) < 1e-5, r
    assert float(r["sigma_max"]) > 2, r  # a Gaussian matrix: σ_max ≈ 2ρ
PY
check "no -nan anywhere" bash -c "! grep -q -- '-nan' init/*.csv"

# Trained, the overflowing chain diverges (exit 1); the others train to the end.
expect_status 1 "trained sweep: one point diverges" "$GRADLAB" run sweep.json --out train --quiet \
  --set train.steps=5 --set train.lr=0.001 --set probe.every=5
check "relu diverged, tanh and sigmoid ok" $PY - train <<'PY'
import csv, json, sys
st = {r["model.activation"]: r["status"] for r in csv.DictReader(open(sys.argv[1] + "/runs.csv"))}
assert st == {"tanh": "ok", "sigmoid": "ok", "relu": "diverged"}, st
f = json.load(open(sys.argv[1] + "/runs/activation=relu/summary.json"))["first_nonfinite"]
assert f["step"] == 0, f
PY

# Clipping: grad_norm is the norm before clipping; clipped = 1 exactly when it exceeds the threshold.
cat > clip.json <<'JSON'
{ "name": "clip", "model": { "type": "rnn", "width": 16, "activation": "tanh",
    "recurrent_init": { "name": "orthogonal", "gain": 1.2 } },
  "data": { "name": "temporal_order", "length": 20, "test_samples": 50 },
  "train": { "steps": 40, "batch_size": 5, "lr": 0.01, "clip_norm": 0.05 },
  "probe": { "samples": 20, "every": 5 } }
JSON
expect_status 0 "training with clipping" "$GRADLAB" run clip.json --out clip --quiet
check "clipped follows grad_norm > clip_norm" $PY - clip <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1] + "/steps.csv")) if r["step"] != "0"]
assert len(rows) == 8
for r in rows:
    assert r["clipped"] == ("1" if float(r["grad_norm"]) > 0.05 else "0"), r
assert any(r["clipped"] == "1" for r in rows)
assert all(r["test_error"] != "" for r in rows)
PY

# dump_tensors: shapes of design §5, and an independent NumPy BPTT reproduces every gradient.
cat > dump.json <<'JSON'
{ "name": "dump", "model": { "type": "rnn", "width": 7, "length": 5, "activation": "tanh",
    "recurrent_init": { "name": "gaussian", "spectral_norm": 1.3 }, "bias_init": 0.1,
    "inputs": "every_step", "loss_at": "every_step" },
  "data": { "name": "gaussian", "dim": 3, "outputs": 2 }, "loss": "mse",
  "probe": { "samples": 6, "dump_tensors": true } }
JSON
expect_status 0 "run with dump_tensors" "$GRADLAB" run dump.json --out d
check "tensors match a NumPy BPTT and the CSV norms" $PY - d <<'PY'
import csv, sys, numpy as np
d = sys.argv[1]; t = d + "/runs/run/tensors/"
L = {k: np.load(t + k + ".npy") for k in
     "W_rec U b V c dW_rec dU db dV dc x y dh".split()}
N, T, H = 6, 5, 7
assert L["x"].shape == (N, T, 3) and L["dh"].shape == (N, T, H) and L["y"].shape == (N, T, 2)
assert L["W_rec"].shape == (H, H) and L["U"].shape == (H, 3) and L["V"].shape == (2, H)
W, U, b, V, c, x, y = (L[k] for k in "W_rec U b V c x y".split())
h = [np.zeros((N, H))]
for s in range(T):
    h.append(np.tanh(h[-1] @ W.T + x[:, s] @ U.T + b))
yhat = [h[s + 1] @ V.T + c for s in range(T)]
dy = [yhat[s] - y[:, s] for s in range(T)]
dh = [None] * T; dz = [None] * T
for s in reversed(range(T)):
    dh[s] = dy[s] @ V + (dz[s + 1] @ W if s + 1 < T else 0)
    dz[s] = dh[s] * (1 - h[s + 1] ** 2)
g = {"dW_rec": sum(dz[s].T @ h[s] for s in range(T)) / N,
     "dU": sum(dz[s].T @ x[:, s] for s in range(T)) / N,
     "db": sum(dz[s].sum(0) for s in range(T)) / N,
     "dV": sum(dy[s].T @ h[s + 1] for s in range(T)) / N,
     "dc": sum(dy[s].sum(0) for s in range(T)) / N}
for k, v in g.items():
    assert np.allclose(L[k], v, rtol=1e-10, atol=1e-13), k
assert np.allclose(L["dh"], np.stack(dh, axis=1), rtol=1e-10, atol=1e-13)
rows = list(csv.DictReader(open(d + "/timesteps.csv")))
assert len(rows) == T
for s, r in enumerate(rows):
    assert abs(np.sqrt((L["dh"][:, s] ** 2).sum(1).mean()) / float(r["dh_norm"]) - 1) < 1e-12
    assert abs(np.sqrt((h[s + 1] ** 2).sum(1).mean()) / float(r["h_norm"]) - 1) < 1e-12
step0 = next(csv.DictReader(open(d + "/steps.csv")))
loss = np.mean(sum(0.5 * (dy[s] ** 2).sum(1) for s in range(T)))
assert abs(float(step0["probe_loss"]) / loss - 1) < 1e-12
PY
finish
