# report.html in headless Chromium (tests/e2e/report_browser.py does the browsing): the reports of
# a depth sweep, a training run and a chain run, at a desktop and a phone width. Screenshots stay
# in <build>/test-output/report_browser/ for a person to look at.
source "$(dirname "$0")/lib.sh"
cd "$T"
command -v chromium >/dev/null || { echo "FAIL: chromium missing (scripts/setup.sh installs it)"; exit 1; }
shots=$(dirname "$(realpath "$GRADLAB")")/test-output/report_browser
rm -rf "$shots"

cat > depth.json <<'JSON'
{ "name": "browser-depth", "seed": 2, "repeats": 2,
  "model": { "width": 32, "activation": "tanh" },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "probe": { "samples": 32, "histograms": true },
  "grid": { "model.init": ["glorot_normal", "he_normal", "lecun_normal"], "model.depth": [2, 4, 8, 16] } }
JSON
cat > train.json <<'JSON'
{ "name": "browser-train", "seed": 4,
  "model": { "depth": 4, "width": 32, "activation": "relu" },
  "data": { "name": "gaussian", "dim": 16, "classes": 4 },
  "train": { "steps": 400, "lr": 0.05 },
  "probe": { "samples": 64, "every": 50 },
  "grid": { "model.init": ["he_normal", "glorot_uniform"] } }
JSON
cat > chain.json <<'JSON'
{ "name": "browser-chain", "seed": 6, "repeats": 2,
  "model": { "type": "rnn", "width": 24, "activation": "tanh", "recurrent_init": "orthogonal",
             "input_init": "glorot_normal", "inputs": "first_step", "loss_at": "last" },
  "data": { "name": "gaussian", "dim": 8, "classes": 3 },
  "train": { "steps": 100, "lr": 0.01 },
  "probe": { "samples": 32, "every": 25 },
  "grid": { "model.length": [5, 20, 40] } }
JSON
for name in depth train chain; do
  expect_status 0 "run $name" "$GRADLAB" run $name.json --out $name --quiet
  expect_status 0 "plot $name" "$GRADLAB" plot $name
done
check "the training report has its final-error table" grep -q "<h2>Final test error</h2>" train/report.html
check "the chain report has the chain figures" grep -q 'id="rnn_dh_by_t"' chain/report.html
"$PY" "$SRC/tests/e2e/report_browser.py" "$shots" depth/report.html train/report.html chain/report.html
check "report.html in Chromium: every check above" test $? = 0
check "6 screenshots kept" test "$(ls "$shots"/*.png | wc -l)" = 6
finish
