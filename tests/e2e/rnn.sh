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
want="run,model.activation,repeat,seed,step,t,h_norm,dh_norm,dz_norm,dh_last_norm,saturated_frac,dead_frac,grad_w_contrib_norm,dc_norm"
check "timesteps.csv columns are docs/reference.md §4.2's (the gated chains' after dc_norm)" \
  test "$(head -1 init/timesteps.csv | cut -d, -f1-14)" = "$want"
check "timesteps.csv: T rows per run" test "$(($(wc -l < init/timesteps.csv) - 1))" = 1200
# A table only where a run has rows for it (docs/reference.md §5): chains write no layers.csv,
# neither in the result folder nor in a run folder.
check "no layers.csv for chains" test ! -e init/layers.csv -a ! -e init/runs/activation=tanh/layers.csv
check "nor histograms.csv" test ! -e init/histograms.csv
check "NaN/inf is neither saturated nor dead: empty cells where the chain overflowed" $PY - init <<'PY'
import csv, math, sys
rows = [r for r in csv.DictReader(open(sys.argv[1] + "/timesteps.csv")) if r["run"] == "activation=relu"]
bad = [r for r in rows if not math.isfinite(float(r["h_norm"]))]
assert bad, "the relu chain was expected to overflow"
assert all(r["saturated_frac"] == r["dead_frac"] == "" for r in bad), bad[0]
assert all(r["saturated_frac"] != "" for r in rows if r["t"] == "1"), rows[0]
PY
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

# dump_tensors: shapes of docs/reference.md §5, and an independent NumPy BPTT reproduces every gradient.
cat > dump.json <<'JSON'
{ "name": "dump", "model": { "type": "rnn", "width": 7, "length": 5, "activation": "tanh",
    "recurrent_init": { "name": "gaussian", "spectral_norm": 1.3 }, "bias_init": 0.1,
    "inputs": "every_step", "loss_at": "every_step" },
  "data": { "name": "gaussian", "dim": 3, "outputs": 2 }, "loss": "mse",
  "probe": { "samples": 6, "dump_tensors": true } }
JSON
expect_status 0 "run with dump_tensors" "$GRADLAB" run dump.json --out d
# A single chain run prints its per-time-step table and what its verdict's ratio compares.
check "single rnn run: per-step table with |dh_last|, T rows per step" $PY - "$T/last.out" d <<'PY'
import csv, sys
out = open(sys.argv[1]).read().splitlines()
head = [i for i, l in enumerate(out)
        if l.split()[:5] == ["t", "h_norm", "dh_norm", "dz_norm", "dh_last_norm"]]
assert len(head) == 1 and out[head[0] - 1] == "step 0", out  # at initialization: one table
rows = [l.split() for l in out[head[0] + 1:head[0] + 6]]
assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"], rows
csvrows = list(csv.DictReader(open(sys.argv[2] + "/timesteps.csv")))
for r, c in zip(rows, csvrows):
    for k, col in ((1, "h_norm"), (2, "dh_norm"), (3, "dz_norm"), (4, "dh_last_norm")):
        assert abs(float(r[k]) / float(c[col]) - 1) < 1e-3, (r, c)
    assert abs(float(r[5]) - 100 * float(c["saturated_frac"])) < 0.06, (r, c)
assert "rows elided" not in "\n".join(out)
PY
check "single rnn run: the verdict names the ratio of docs/reference.md §4.4" \
  grep -qE "^initial verdict \(step 0\): [a-z]+ \(gradient_ratio \|dz_1\|/\|dz_T\| = [0-9.e+-]+, a norm ratio, from the last step's loss; per_layer_factor [0-9.e+-]+, the squared-norm factor per time step\)$" "$T/last.out"
check "single rnn run without training: no final verdict" bash -c "! grep -q '^final verdict' '$T/last.out'"
check "tensors match a NumPy BPTT and the CSV norms" $PY - d <<'PY'
import csv, sys, numpy as np
d = sys.argv[1]; t = d + "/runs/run/tensors/step_0/"
L = {k: np.load(t + k + ".npy") for k in
     "W_rec U b V c dW_rec dU db dV dc x y dh h z".split()}
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
assert L["h"].shape == L["z"].shape == (N, T, H)
assert np.allclose(L["h"], np.stack(h[1:], axis=1), rtol=1e-12, atol=1e-15)
assert np.allclose(L["z"], np.stack([h[s] @ W.T + x[:, s] @ U.T + b for s in range(T)], axis=1),
                   rtol=1e-12, atol=1e-15)
rows = list(csv.DictReader(open(d + "/timesteps.csv")))
assert len(rows) == T
for s, r in enumerate(rows):
    assert abs(np.sqrt((L["dh"][:, s] ** 2).sum(1).mean()) / float(r["dh_norm"]) - 1) < 1e-12
    assert abs(np.sqrt((h[s + 1] ** 2).sum(1).mean()) / float(r["h_norm"]) - 1) < 1e-12
step0 = next(csv.DictReader(open(d + "/steps.csv")))
loss = np.mean(sum(0.5 * (dy[s] ** 2).sum(1) for s in range(T)))
assert abs(float(step0["probe_loss"]) / loss - 1) < 1e-12
PY
# A long chain's table shows both ends and every k-th step in between, and says so.
cat > long.json <<'JSON'
{ "name": "long", "model": { "type": "rnn", "width": 8, "length": 400, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 2, "classes": 2, "test_samples": 8 },
  "train": { "steps": 2, "batch_size": 4 }, "probe": { "samples": 8 } }
JSON
expect_status 0 "single long chain" "$GRADLAB" run long.json --out long
check "long chain: elision note, t = 1..5, every 20th, 396..400, at steps 0 and 2" $PY - "$T/last.out" <<'PY'
import sys
out = open(sys.argv[1]).read().splitlines()
assert out[0] == ("T = 400: rows elided, showing t = 1..5, every 20 steps, t = 396..400 "
                  "(timesteps.csv has every row)"), out[0]
want = [1, 2, 3, 4, 5] + list(range(20, 400, 20)) + [396, 397, 398, 399, 400]
for step in ("0", "2"):
    i = out.index("step " + step)
    assert out[i + 1].split() == ["t", "h_norm", "dh_norm", "dz_norm", "saturated_frac%",
                                  "dead_frac%"], out[i + 1]
    ts = []
    for l in out[i + 2:]:
        if not l.split() or not l.split()[0].isdigit(): break
        ts.append(int(l.split()[0]))
    assert ts == want, (step, ts)
assert any(l.startswith("initial verdict (step 0): ") and "|dz_1|/|dz_T|" in l for l in out), out[-3:]
assert any(l.startswith("final verdict (step 2): ") and "|dz_1|/|dz_T|" in l for l in out), out[-3:]
PY
# gradlab data for the sequence tasks: x (N, T, channels), y, a readable CSV of the first 20
# sequences, a preview; the markers sit where Pascanu's generators put them (tasks.h).
expect_status 0 "gradlab data temporal_order" "$GRADLAB" data temporal_order --out to --n 64 --seed 3
check "temporal_order samples follow the generator" $PY - to <<'PY'
import csv, sys, numpy as np
d = sys.argv[1]
x, y = np.load(d + "/x.npy"), np.load(d + "/y.npy")
assert x.shape == (64, 50, 6) and x.dtype == np.float32 and y.shape == (64,) and y.dtype == np.int64
assert (x.sum(2) == 1).all()  # one symbol per step
for i in range(64):
    ab = np.nonzero(x[i, :, :2].sum(1))[0]  # the steps holding A or B
    assert len(ab) == 2 and 5 <= ab[0] < 10 and 25 <= ab[1] < 30, ab
    v0, v1 = x[i, ab[0], :2].argmax(), x[i, ab[1], :2].argmax()
    assert y[i] == v0 + 2 * v1
rows = list(csv.DictReader(open(d + "/sequences.csv")))
assert len(rows) == 20 * 50 and list(rows[0]) == ["example", "t", "A", "B", "c", "d", "e", "f", "target"]
names = ["AA", "BA", "AB", "BB"]
for r in rows:
    i, t = int(r["example"]), int(r["t"])
    assert [float(r[k]) for k in "ABcdef"] == list(x[i, t - 1]), r
    assert r["target"] == (names[y[i]] if t == 50 else ""), r
assert open(d + "/preview.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
PY
expect_status 0 "gradlab data addition" "$GRADLAB" data addition --out add --n 32
check "addition samples follow the generator" $PY - add <<'PY'
import csv, sys, numpy as np
d = sys.argv[1]
x, y = np.load(d + "/x.npy"), np.load(d + "/y.npy")
n, l, f = x.shape
assert n == 32 and 50 <= l < 55 and f == 2 and y.shape == (32, 1), (x.shape, y.shape)
for i in range(n):
    m = np.nonzero(x[i, :, 0])[0]
    assert len(m) == 2 and m[0] < l // 10 <= m[1] < l // 10 + 4 * l // 10, m
    assert abs(y[i, 0] - x[i, m, 1].mean()) < 1e-6
rows = list(csv.DictReader(open(d + "/sequences.csv")))
assert len(rows) == 20 * l and list(rows[0]) == ["example", "t", "marker", "value", "target"]
assert abs(float(rows[l - 1]["target"]) - y[0, 0]) < 1e-6 and rows[0]["target"] == ""
PY
check "gradlab data addition says what it wrote" grep -q "^addition: 32 training sequences of length 5[0-4], data seed 0$" "$T/last.out"

# A sweep mixing an MLP and a chain (docs/reference.md §5): layers.csv holds the MLP's rows only,
# timesteps.csv the chain's; each run folder holds only the tables it has rows for; collect and
# --shard give the same bytes.
cat > mixed.json <<'JSON'
{ "name": "mixed", "model": { "depth": 2, "width": 6, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 3, "classes": 2, "test_samples": 8 },
  "train": { "steps": 2, "batch_size": 4 }, "probe": { "samples": 5 },
  "grid": { "variants": [ { "label": "mlp" },
                          { "label": "chain", "model": { "type": "rnn", "length": 4, "depth": null } } ] } }
JSON
expect_status 0 "mixed sweep" "$GRADLAB" run mixed.json --out mixed --quiet
check "mixed: layers.csv has the MLP rows only" $PY - mixed <<'PY'
import csv, sys
d = sys.argv[1]
runs = {r["run"] for r in csv.DictReader(open(d + "/layers.csv"))}
assert runs == {"variants=mlp"}, runs
runs = {r["run"] for r in csv.DictReader(open(d + "/timesteps.csv"))}
assert runs == {"variants=chain"}, runs
PY
check "mixed: the chain's folder has no layers.csv" test ! -e mixed/runs/variants=chain/layers.csv
check "mixed: the MLP's folder has no timesteps.csv" test ! -e mixed/runs/variants=mlp/timesteps.csv
cp -r mixed mixed.before
expect_status 0 "collect the mixed sweep" "$GRADLAB" collect mixed
check "collect: the same files and bytes" same_results mixed.before mixed
expect_status 0 "mixed shard 0/2" "$GRADLAB" run mixed.json --out mshard --quiet --shard 0/2
expect_status 0 "mixed shard 1/2" "$GRADLAB" run mixed.json --out mshard --quiet --shard 1/2
check "shards: the same files and bytes" same_results mixed mshard

finish
