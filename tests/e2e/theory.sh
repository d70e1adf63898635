# `gradlab theory` from the command line: chains said on stderr with exit 0 (alone and in a mixed
# sweep), one block per distinct configuration, --only, and the JSON's numbers and notes.
source "$(dirname "$0")/lib.sh"
cd "$T"

cat > chain.json <<'JSON'
{ "name": "chain", "model": { "type": "rnn", "width": 8, "length": 5, "inputs": "first_step" },
  "data": { "name": "gaussian", "dim": 4, "outputs": 2 }, "loss": "mse", "probe": { "samples": 8 } }
JSON
expect_status 0 "theory on a chain exits 0" "$GRADLAB" theory chain.json
check "a chain: nothing on stdout" test ! -s "$T/last.out"
check "a chain: stderr says the theory is for MLPs and names the run" \
  grep -q "gradlab theory: mean-field theory here is for MLPs (these are chains, model.type rnn); no prediction for 1 run:" "$T/last.err"
check "a chain: the run named" grep -qx "    run" "$T/last.err"
expect_status 0 "theory --json on a chain" "$GRADLAB" theory chain.json --json
check "--json: applies false and the reason" $PY - "$T/last.out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"]
assert len(r) == 1 and r[0]["applies"] is False, r
assert r[0]["reason"] == "mean-field theory here is for MLPs", r
PY

cat > mixed.json <<'JSON'
{ "name": "mixed", "repeats": 2,
  "model": { "width": 8, "activation": "relu", "bias_init": 0.0 },
  "data": { "name": "gaussian", "dim": 4, "outputs": 2 }, "loss": "mse", "probe": { "samples": 8 },
  "grid": { "variants": [
      { "label": "chain", "model": { "type": "rnn", "length": 5, "inputs": "first_step" } },
      { "label": "mlp", "model": { "type": "mlp", "depth": 3, "init": { "name": "gaussian", "sigma_w2": 3 } } } ],
    "train.lr": [0.1, 0.01] } }
JSON
expect_status 0 "theory on a mixed sweep exits 0" "$GRADLAB" theory mixed.json
check "mixed: one block for the MLP's 2 lr x 2 repeats" test "$(grep -c '^== block' "$T/last.out")" = 1
check "mixed: the block lists its 4 runs" grep -q "^   4 runs: " "$T/last.out"
check "mixed: the chains' 4 runs on stderr" grep -q "no prediction for 4 runs:$" "$T/last.err"
check "mixed: the chain runs named" grep -q "^    variants=chain,lr=0.1,rep=0, " "$T/last.err"
check "mixed: relu at sigma_w2 3 has no finite q*, said in words" \
  grep -q "^q_star        = none: no finite fixed point: V(q) = 1.5\*q + 0" "$T/last.out"
check "mixed: no inf or nan printed as a value" bash -c "! grep -Eq '= -?(inf|nan)\\b' '$T/last.out'"

expect_status 0 "--only selects" "$GRADLAB" theory mixed.json --only train.lr=0.1 --json --out th
check "--only: 2 repeats of each variant at lr 0.1; notes and strings for inf/nan" $PY - "$T/last.out" th <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc == json.load(open(sys.argv[2] + "/theory.json")), "theory.json differs from --json"
runs = doc["runs"]
assert len(runs) == 4 and all("lr=0.1" in r["run"] for r in runs), [r["run"] for r in runs]
mlp = [r for r in runs if r["applies"]]
assert len(mlp) == 2 and all(r["block"] == 1 for r in mlp), mlp
r = mlp[0]
assert r["q_star"] == "inf" and r["c_star"] == "nan" and r["xi_q"] == "nan", r
assert r["notes"]["q_star"].startswith("no finite fixed point"), r["notes"]
assert set(r["notes"]) == {"q_star", "chi1", "xi_q", "xi_c", "c_star"}, r["notes"]
assert abs(r["chi1"] - 1.5) < 1e-12 and r["xi_grad"] < 0, r
PY
check "theory.csv: a row per layer of each MLP run" test "$(($(wc -l < th/theory.csv) - 1))" = 8

finish
