# Residual blocks and norm layers end to end (docs/reference.md §3, "Residual blocks and norm
# layers"): a small sweep with residual + BatchNorm through `gradlab run` and `gradlab plot`, the
# new layers.csv columns, and a checkpointed residual + BatchNorm training run killed with -9 and
# resumed to the same bytes (γ, β, α, running statistics in the checkpoint).
source "$(dirname "$0")/lib.sh"
cd "$T"

cat > sweep.json <<'JSON'
{ "name": "remedies", "seed": 3,
  "model": { "depth": 5, "width": 32, "activation": "relu", "init": "he_normal",
             "norm": { "kind": "batch" } },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "train": { "steps": 40, "batch_size": 16, "lr": 0.01, "momentum": 0.9 },
  "probe": { "samples": 64, "every": 20 },
  "grid": { "variants": [ { "label": "plain" },
                          { "label": "res", "model": { "residual": { "block": 2, "alpha": "rezero" } } } ],
            "model.depth": [3, 5, 7] } }
JSON
expect_status 0 "residual + BatchNorm sweep runs" "$GRADLAB" run sweep.json --out out --quiet
header=$(head -1 out/layers.csv)
for col in stream_grad_norm prenorm_mean prenorm_std grad_gamma_norm grad_beta_norm; do
  check "layers.csv has $col" grep -q ",$col" <<<"$header"
done
check "resolved config keeps model.residual" grep -q '"rezero"' "out/runs/variants=res,depth=5/config.json"
check "resolved config gives probe.norm_batch" grep -q '"norm_batch": 16' "out/runs/variants=res,depth=5/config.json"
expect_status 0 "gradlab plot draws the sweep" "$GRADLAB" plot out
check "a gradient-ratio figure" test -e out/figures/gradient_ratio_vs_depth.png

cat > ckpt.json <<'JSON'
{ "name": "ckpt", "seed": 5,
  "model": { "depth": 5, "width": 128, "activation": "tanh",
             "residual": { "block": 2, "alpha": "rezero" }, "norm": { "kind": "batch", "placement": "after" } },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "train": { "steps": 3000, "batch_size": 32, "lr": 0.01, "momentum": 0.9, "checkpoint_every": 200 },
  "probe": { "samples": 32, "every": 250 } }
JSON
expect_status 0 "uninterrupted training run" "$GRADLAB" run ckpt.json --out cref --quiet
"$GRADLAB" run ckpt.json --out ckilled --quiet & pid=$!
for _ in $(seq 600); do
  test -e ckilled/runs/.tmp-run/checkpoint.bin && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check "a checkpoint was written before the kill" test -e ckilled/runs/.tmp-run/checkpoint.bin
expect_status 0 "rerun after kill -9" "$GRADLAB" run ckpt.json --out ckilled
check "the rerun resumes from the checkpoint" grep -q "run: resuming from its checkpoint" "$T/last.err"
check "resumed layers.csv = uninterrupted bytes" cmp -s cref/layers.csv ckilled/layers.csv
check "resumed steps.csv = uninterrupted bytes" cmp -s cref/steps.csv ckilled/steps.csv
finish
