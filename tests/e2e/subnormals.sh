# probe.flush_subnormals does what it says: float32 flushes subnormals by default (FTZ/DAZ) and
# records it in summary.json; "flush_subnormals": false keeps them; float64 keeps them by default.
# A tanh chain with small recurrent weights shrinks ∂ℓ/∂h_t by ~10x per step backwards in time,
# so its dumped dh passes through float32's subnormal range (below 1.18e-38).
source "$(dirname "$0")/lib.sh"
cd "$T"

cat > chain.json <<'JSON'
{ "name": "subnormals", "precision": "float32",
  "model": { "type": "rnn", "width": 16, "length": 80, "activation": "tanh",
             "recurrent_init": { "name": "gaussian", "std": 0.03 }, "inputs": "first_step" },
  "data": { "name": "gaussian", "dim": 4, "outputs": 2 }, "loss": "mse",
  "probe": { "samples": 8, "dump_tensors": true } }
JSON

expect_status 0 "float32, default" "$GRADLAB" run chain.json --out f32 --quiet
expect_status 0 "float32, flush_subnormals false" "$GRADLAB" run chain.json --out keep --quiet \
  --set probe.flush_subnormals=false
expect_status 0 "float64, default" "$GRADLAB" run chain.json --out f64 --quiet \
  --set precision=float64

# subnormal_count DIR: flushed flag in summary.json, then the number of subnormal entries of dh
# and of exact zeros.
counts() {
  $PY - "$1" <<'PY'
import json, sys
import numpy as np
d = sys.argv[1] + "/runs/run/"
s = json.load(open(d + "summary.json"))
dh = np.abs(np.load(d + "tensors/step_0/dh.npy"))
tiny = np.finfo(dh.dtype).tiny
print(s["provenance"]["flush_subnormals"], int(((dh > 0) & (dh < tiny)).sum()), int((dh == 0).sum()))
PY
}
read -r flag sub zero <<<"$(counts f32)"
check "float32 default: flush recorded as true" [ "$flag" = True ]
check "float32 default: no subnormal in dh ($sub), the tail flushed to 0 ($zero zeros)" \
  [ "$sub" = 0 -a "$zero" -gt 0 ]
read -r flag sub zero <<<"$(counts keep)"
check "flush_subnormals false: recorded as false" [ "$flag" = False ]
check "flush_subnormals false: subnormals kept in dh ($sub)" [ "$sub" -gt 0 ]
read -r flag sub zero <<<"$(counts f64)"
check "float64 default: flush recorded as false" [ "$flag" = False ]
finish
