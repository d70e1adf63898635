# gradlab run / validate / list / --version on tiny configs: reproducible bytes, the columns of
# docs/reference.md §4.1, dump_tensors that NumPy loads and that match the CSV norms, and exit statuses.
source "$(dirname "$0")/lib.sh"
cd "$T"

cat > tiny.json <<'JSON'
{ "name": "tiny", "seed": 3, "repeats": 2,
  "model": { "depth": 4, "width": 16, "activation": "tanh", "init": "glorot_uniform" },
  "data": { "name": "gaussian", "dim": 12, "classes": 5 },
  "probe": { "samples": 20, "histograms": true, "bins": 8 },
  "grid": { "model.activation": ["tanh", "relu"], "model.depth": [1, 3] } }
JSON

expect_status 0 "run tiny" "$GRADLAB" run tiny.json --out a --quiet
expect_status 0 "run tiny again" "$GRADLAB" run tiny.json --out b --quiet --jobs 1
expect_status 0 "run tiny, 2 jobs" "$GRADLAB" run tiny.json --out c --quiet --jobs 2
for f in runs.csv layers.csv steps.csv histograms.csv manifest.json; do
  check "$f identical across runs" cmp -s a/$f b/$f
  check "$f identical for --jobs 1 and 2" cmp -s b/$f c/$f
done
check "every file of every run folder identical for --jobs 1 and 2" same_results b c
check "and for the default --jobs" same_results a b
check "8 runs" test "$(ls a/runs | wc -l)" = 8
check "runs.csv has 8 rows" test "$(($(wc -l < a/runs.csv) - 1))" = 8

want="run,model.activation,model.depth,repeat,seed,step,layer,fan_in,fan_out,preact_mean,preact_std,preact_ms,act_mean,act_std,act_p98,dphi_mean,saturated_frac,dead_frac,stuck_frac,zero_grad_frac,delta_norm,delta_factor,grad_w_norm,grad_b_norm,w_norm,grad_w_ratio,nonfinite,jac_sv_mean,theory_q,theory_delta_factor,act_absmax,stream_grad_norm,prenorm_mean,prenorm_std,grad_gamma_norm,grad_beta_norm,update_ratio,update_ratio_mean,effective_lr"
check "layers.csv columns are docs/reference.md §4.1's" test "$(head -1 a/layers.csv)" = "$want"
check "run folder has the same header" test "$(head -1 a/runs/activation=tanh,depth=3,rep=0/layers.csv)" = "$want"
check "rows: layers 1..L+1 per run" test "$(grep -c '^"activation=relu,depth=3,rep=1",' a/layers.csv)" = 4
check "no -nan anywhere" bash -c "! grep -q -- '-nan' a/*.csv"

# A resumed run skips complete runs: nothing is rerun, bytes unchanged.
cp a/layers.csv layers.before
expect_status 0 "rerun skips" "$GRADLAB" run tiny.json --out a
check "rerun leaves layers.csv" cmp -s a/layers.csv layers.before

# A different experiment into the same folder is refused (exit 2) and changes nothing.
expect_status 2 "foreign manifest refused" "$GRADLAB" run tiny.json --out a --set seed=4
check "foreign manifest message names the folder" grep -q "different experiment" "$T/last.err"

# dump_tensors: NumPy loads every file, and they reproduce the CSV norms.
cat > dump.json <<'JSON'
{ "name": "dump", "model": { "hidden": [7, 5, 6], "activation": "relu", "init": "he_normal" },
  "data": { "name": "gaussian", "dim": 9, "outputs": 4 }, "loss": "mse",
  "probe": { "samples": 11, "dump_tensors": true } }
JSON
expect_status 0 "run with dump_tensors" "$GRADLAB" run dump.json --out d
check "single run prints its initial verdict" grep -q "^initial verdict (step 0): " "$T/last.out"
check "the per-layer table has layers.csv's names" \
  grep -qE "^ +layer +delta_norm +grad_w_norm +saturated_frac% +dead_frac% +delta_factor +theory_delta_factor$" "$T/last.out"
check "tensors match the CSV norms" $PY - d <<'PY'
import csv, os, sys, numpy as np
d = sys.argv[1]; t = d + "/runs/run/tensors/step_0/"
rows = {int(r["layer"]): r for r in csv.DictReader(open(d + "/layers.csv"))}
x, y = np.load(t + "x.npy"), np.load(t + "y.npy")
assert x.shape == (11, 9) and y.shape == (11, 4) and x.dtype == np.float64, (x.shape, y.shape)
for l in range(1, 5):
    W, b = np.load(t + f"W_{l}.npy"), np.load(t + f"b_{l}.npy")
    dW, db = np.load(t + f"dW_{l}.npy"), np.load(t + f"db_{l}.npy")
    assert W.shape == dW.shape and b.shape == db.shape == (W.shape[0],)
    r = rows[l]
    assert abs(np.linalg.norm(dW) / float(r["grad_w_norm"]) - 1) < 1e-12
    assert abs(np.linalg.norm(W) / float(r["w_norm"]) - 1) < 1e-12
    assert int(r["fan_in"]) == W.shape[1] and int(r["fan_out"]) == W.shape[0]
    if l < 4:
        delta = np.load(t + f"delta_{l}.npy")
        assert delta.shape == (11, W.shape[0])
        dn = np.sqrt((delta ** 2).sum(axis=1).mean())
        assert abs(dn / float(r["delta_norm"]) - 1) < 1e-12, (dn, r["delta_norm"])
        # ∂L/∂W_l = mean_i δ_l,i a_{l-1,i}ᵀ: recompute a from the dumped weights
# recompute the forward pass in NumPy and check dW_1 = δ_1ᵀ x / N
delta1 = np.load(t + "delta_1.npy")
assert np.allclose(delta1.T @ x / 11, np.load(t + "dW_1.npy"), rtol=1e-12, atol=1e-15)
a = x
for l in range(1, 4):
    z = a @ np.load(t + f"W_{l}.npy").T + np.load(t + f"b_{l}.npy")
    a = np.maximum(z, 0)
    assert np.allclose(z, np.load(t + f"z_{l}.npy"), rtol=1e-12, atol=1e-15), l
    assert np.array_equal(np.load(t + f"a_{l}.npy"), np.maximum(np.load(t + f"z_{l}.npy"), 0)), l
yhat = a @ np.load(t + "W_4.npy").T + np.load(t + "b_4.npy")
assert np.allclose((yhat - y).T @ a / 11, np.load(t + "dW_4.npy"), rtol=1e-10, atol=1e-14)
assert not os.path.exists(t + "z_4.npy")  # the output layer: ŷ, not a hidden layer
PY

# A training run: initial and final verdicts in summary.json, run.csv/runs.csv and the console
# (docs/reference.md §4.4); progress inside the run on stderr (§2): with stderr not a terminal,
# a line per GRADLAB_PROGRESS_INTERVAL seconds; none with --quiet.
cat > train.json <<'JSON'
{ "name": "train", "seed": 4,
  "model": { "depth": 3, "width": 64, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "train": { "steps": 4000, "batch_size": 32, "lr": 0.05 }, "probe": { "samples": 16, "every": 2000 } }
JSON
GRADLAB_PROGRESS_INTERVAL=0.05 expect_status 0 "training run" "$GRADLAB" run train.json --out tr
check "training run: initial and final verdict lines" $PY - "$T/last.out" tr <<'PY'
import csv, json, re, sys
out = open(sys.argv[1]).read().splitlines()
sm = json.load(open(sys.argv[2] + "/runs/run/summary.json"))
num = r"([0-9.e+-]+|nan|inf|-inf)"
for prefix, step, label in (("", 0, "initial"), ("final_", 4000, "final")):
    line = [l for l in out if l.startswith(f"{label} verdict (step {step}): ")]
    assert len(line) == 1, out[-4:]
    m = re.match(rf"{label} verdict \(step {step}\): (\w+) \(gradient_ratio \|delta_1\|/\|delta_L\| = {num}, "
                 rf"a norm ratio; per_layer_factor {num}, the squared-norm factor per layer", line[0])
    assert m, line[0]
    assert m.group(1) == sm[prefix + "verdict"], (m.group(1), sm)
    assert abs(float(m.group(2)) / sm[prefix + "gradient_ratio"] - 1) < 1e-3, (line, sm)
    assert abs(float(m.group(3)) / sm[prefix + "per_layer_factor"] - 1) < 1e-3, (line, sm)
assert "theory" in [l for l in out if l.startswith("initial verdict")][0]
runs = list(csv.DictReader(open(sys.argv[2] + "/runs.csv")))
assert list(runs[0])[-3:] == ["final_gradient_ratio", "final_per_layer_factor", "final_verdict"], list(runs[0])
assert runs[0]["final_verdict"] == sm["final_verdict"] and runs[0]["verdict"] == sm["verdict"]
assert sm["final_gradient_ratio"] != sm["gradient_ratio"]
PY
check "training run: periodic progress lines on stderr" \
  grep -qE "^  run: step [0-9]+/4000, loss [0-9.e+-]+, [0-9.e+-]+ steps/s, ETA [0-9.hms]+$" "$T/last.err"
check "training run: a run's line per finished run" grep -q "^\[1/1\] run: ok, " "$T/last.err"
GRADLAB_PROGRESS_INTERVAL=0.05 expect_status 0 "training run, --quiet" "$GRADLAB" run train.json --out trq --quiet --force
check "--quiet: no progress" test ! -s "$T/last.err"
check "progress changes no output file" same_results tr trq
GRADLAB_PROGRESS_INTERVAL=0.05 expect_status 0 "training sweep" "$GRADLAB" run train.json --out ts \
  --set 'grid.model.depth=[1,2]' --set train.steps=50 --set probe.every=25
check "training sweep: the summary table has runs.csv's names and the final ones" \
  grep -qE "^run +status +verdict +gradient_ratio +per_layer_factor +final_verdict +final_gradient_ratio +final_loss +final_test_error$" "$T/last.out"
expect_status 0 "at-init sweep" "$GRADLAB" run tiny.json --out a
check "at-init sweep: no final columns" \
  grep -qE "^run +status +verdict +gradient_ratio +per_layer_factor$" "$T/last.out"
# dump_tensors over training: each listed probe step in tensors/step_<k>/, whose δ_l, z_l, a_l
# reproduce that step's layers.csv row and whose W differs from the other step's; the other probe
# steps dump nothing. "all" dumps every probe step.
cat > dumptrain.json <<'JSON'
{ "name": "dumptrain", "model": { "hidden": [7, 5], "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 6, "classes": 3, "test_samples": 20 },
  "train": { "steps": 6, "batch_size": 4, "lr": 0.5 },
  "probe": { "samples": 10, "every": 2, "dump_tensors": [2, 6] } }
JSON
expect_status 0 "run with dump_tensors [2, 6]" "$GRADLAB" run dumptrain.json --out dt --quiet
check "tensors of the listed steps only" test "$(ls dt/runs/run/tensors | tr '\n' ' ')" = "step_2 step_6 "
check "step tensors match that step's layers.csv row" $PY - dt <<'PY'
import csv, sys, numpy as np
d = sys.argv[1]
rows = {(int(r["step"]), int(r["layer"])): r for r in csv.DictReader(open(d + "/layers.csv"))}
for k in (2, 6):
    t = f"{d}/runs/run/tensors/step_{k}/"
    for l in (1, 2):
        r = rows[(k, l)]
        delta, z, a = (np.load(t + f"{q}_{l}.npy") for q in ("delta", "z", "a"))
        assert delta.shape == z.shape == a.shape == (10, int(r["fan_out"]))
        dn = np.sqrt((delta ** 2).sum(axis=1).mean())
        assert abs(dn / float(r["delta_norm"]) - 1) < 1e-12, (k, l, dn, r["delta_norm"])
        assert abs((z ** 2).mean() / float(r["preact_ms"]) - 1) < 1e-12, (k, l)
        assert abs(a.mean() - float(r["act_mean"])) < 1e-14, (k, l)
        assert np.allclose(a, np.tanh(z), rtol=1e-14, atol=1e-15)
        W = np.load(t + f"W_{l}.npy")
        assert abs(np.linalg.norm(W) / float(r["w_norm"]) - 1) < 1e-12
w2, w6 = (np.load(f"{d}/runs/run/tensors/step_{k}/W_1.npy") for k in (2, 6))
assert not np.array_equal(w2, w6), "W_1 did not change between steps 2 and 6"
PY
expect_status 0 "run with dump_tensors all" "$GRADLAB" run dumptrain.json --out dta --quiet --set 'probe.dump_tensors="all"'
check "all: every probe step" test "$(ls dta/runs/run/tensors | sort -t_ -k2 -n | tr '\n' ' ')" = "step_0 step_2 step_4 step_6 "
check "all: the same tensors at the listed steps" cmp -s dt/runs/run/tensors/step_6/a_2.npy dta/runs/run/tensors/step_6/a_2.npy
expect_status 2 "a listed step that is not probed" "$GRADLAB" validate dumptrain.json --set 'probe.dump_tensors=[3]'
check "names the step and the probe steps" grep -qF "dumptrain.json: /probe/dump_tensors/0: expected a probe step (0, 2, 4, 6), found 3" "$T/last.err"

expect_status 0 "validate" "$GRADLAB" validate tiny.json
check "validate prints the verdict thresholds" \
  grep -q '"vanishing_factor": 0.25' "$T/last.out"
check "validate counts runs" grep -q "8 runs" "$T/last.out"
expect_status 0 "validate --json" "$GRADLAB" validate tiny.json --json
check "validate --json is JSON" $PY -c "import json,sys; json.load(open('$T/last.out'))"
# Common random numbers (docs/reference.md §3 Seeds): two learning rates start from the same
# weights (same seed, same step-0 rows) and part ways when trained; without the key they differ
# from the start. The manifest records the --set arguments.
cat > crn.json <<'JSON'
{ "name": "crn", "seed": 5,
  "model": { "depth": 3, "width": 8, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 6, "classes": 3 },
  "train": { "steps": 20, "batch_size": 4 },
  "probe": { "samples": 10, "every": 20 },
  "grid": { "train.lr": [0.01, 0.5] },
  "common_random_numbers": ["train.lr"] }
JSON
expect_status 0 "run with common random numbers" "$GRADLAB" run crn.json --out crn --quiet
expect_status 0 "run without them" "$GRADLAB" run crn.json --out nocrn --quiet --set 'common_random_numbers=[]'
crn_compare() {  # crn_compare DIR: prints "<same seed> <same step-0 rows> <same step-20 rows>" of the two lr runs
  $PY - "$1" <<'PY'
import csv, sys
d = sys.argv[1]
runs = list(csv.DictReader(open(f"{d}/runs.csv")))
rows = list(csv.DictReader(open(f"{d}/layers.csv")))
def at(run, step):
    got = [{k: v for k, v in r.items() if k not in ("run", "train.lr", "seed")}
           for r in rows if r["run"] == run and r["step"] == step]
    assert len(got) == 4, (run, step, len(got))
    return got
a, b = runs[0]["run"], runs[1]["run"]
print(runs[0]["seed"] == runs[1]["seed"], at(a, "0") == at(b, "0"), at(a, "20") == at(b, "20"))
PY
}
check "common random numbers: equal seeds and step-0 rows, different after training" test "$(crn_compare crn)" = "True True False"
check "without them: seeds and step-0 rows differ" test "$(crn_compare nocrn)" = "False False False"
check "the manifest records --set" $PY -c "import json,sys; sys.exit(json.load(open('nocrn/manifest.json'))['set'] != ['common_random_numbers=[]'])"
check "no --set: an empty list" $PY -c "import json,sys; sys.exit(json.load(open('crn/manifest.json'))['set'] != [])"

expect_status 0 "list" "$GRADLAB" list
check "list names activations" grep -q "leaky_relu" "$T/last.out"
expect_status 0 "--version" "$GRADLAB" --version
check "--version prints gradlab" grep -q "^gradlab " "$T/last.out"
finish
