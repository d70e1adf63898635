#!/usr/bin/env bash
# Installs what is missing, builds, runs the quickstart depth study and shows its results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
echo
echo "== gradlab run configs/quickstart.json"
./build/gradlab run configs/quickstart.json --out results/quickstart --force
echo
echo "== per-layer gradient norms at initialization (results/quickstart/layers.csv, deepest nets)"
/usr/bin/python3 scripts/quickstart_table.py results/quickstart
if ./build/gradlab plot results/quickstart; then
  echo
  echo "figures: results/quickstart/figures/"
  echo "report:  results/quickstart/report.html"
fi
