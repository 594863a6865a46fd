#!/usr/bin/env bash
# Installs the Debian packages mixprec builds against, plus any named as arguments (fuzz.sh adds
# clang's). Idempotent: installs only what is missing. Usage: scripts/setup.sh [EXTRA_PACKAGE...]
set -euo pipefail
pkgs=(build-essential cmake ninja-build nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev
      libbenchmark-dev zlib1g-dev libdnnl-dev "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
