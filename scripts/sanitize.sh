#!/usr/bin/env bash
# Sets up (Debian packages), builds everything with AddressSanitizer + UndefinedBehaviorSanitizer
# (GCC, build-asan/) and runs every test (ctest). Any finding fails the run: errors are not
# recoverable, leaks are reported at each process's exit, and a finding aborts the process (so a
# `mixprec` child that a test expects to exit with 1 cannot pass by accident).
# Usage: scripts/sanitize.sh [extra ctest arguments, e.g. -R NoLoss]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)
# RelWithDebInfo (-O2 -g): compiles about as fast as -O1 and runs the tests faster than Debug.
cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER="${CXX:-g++}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMIXPREC_SANITIZE=ON -DMIXPREC_TESTS=ON -DMIXPREC_BENCH=OFF -DMIXPREC_ORACLE=OFF
cmake --build build-asan --parallel "$jobs"

supp="$PWD/scripts/lsan.supp"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}$([[ -f $supp ]] && echo "suppressions=$supp:print_suppressions=0")"
ctest --test-dir build-asan --output-on-failure --parallel "$jobs" --timeout 900 "$@"
