#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GoogleTest suites, end-to-end CLI tests —
# among them a one-node SLURM cluster started for real, as root, and report.html in headless
# Chromium — the plot tests and the Python package's pytest tests). Exit status non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 900
