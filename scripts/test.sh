#!/usr/bin/env bash
# Sets up (Debian packages, and a venv with the pinned Python peers), builds everything and runs
# every test (GoogleTest and the oracle tests against real MXNet), then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (scripts/sanitize.sh, build-asan/), then every
# parser's fuzzer for MIXPREC_FUZZ_SECONDS seconds each (scripts/fuzz.sh, default 60).
# Usage: scripts/test.sh            (MIXPREC_QUICK=1 skips the sanitizer and fuzzing stages)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIXPREC_TESTS=ON -DMIXPREC_BENCH=ON
cmake --build build --parallel "$(nproc)"
bash scripts/python_env.sh build/venv  # the oracle tests' peers (MXNet 1.9.1), pinned
ctest --test-dir build --output-on-failure --parallel "$(nproc)"
if [[ ${MIXPREC_QUICK:-0} != 1 ]]; then
  bash scripts/sanitize.sh
  bash scripts/fuzz.sh "${MIXPREC_FUZZ_SECONDS:-60}"
fi
