#!/usr/bin/env bash
# Installs what gradlab needs from Debian's packages, and only what `dpkg -s` says is missing.
# Idempotent: a second run installs nothing. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  g++ cmake make                      # build
  libeigen3-dev nlohmann-json3-dev libfmt-dev libcli11-dev zlib1g-dev
  libopenblas0-pthread                # large products (harness/nn/blas.h; loaded at run time)
  libgtest-dev libgmock-dev parallel  # tests
  libbenchmark-dev                    # benchmarks (tests/bench)
  python3 python3-numpy python3-matplotlib   # plots (python/gradlab, `gradlab plot`)
  python3-pandas python3-pytest       # the Python API (gradlab.load/run) and its tests
  python3-nbclient python3-nbformat python3-ipykernel   # runs examples/depth_study.ipynb headless
  slurm-wlm munge                     # tests/e2e/slurm.sh: a one-node SLURM cluster, for real
  chromium python3-websocket          # tests/e2e/report_browser.sh: report.html in a browser
  dataset-fashion-mnist               # data: Fashion-MNIST in IDX format
  git ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 3; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# munge and slurm-wlm come with services; gradlab needs none running (tests/e2e/slurm.sh starts its
# own daemons, on other sockets and ports). Unless the machine has a policy already, a
# policy-rc.d that refuses every service start holds for this install only.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# scripts/setup.sh: no service starts during its install\nexit 101\n' |
    "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  trap '"${sudo_cmd[@]}" rm -f "$policy"' EXIT
fi
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
