#!/usr/bin/env bash
# Fuzzes every parser: builds the libFuzzer targets under fuzz/ with clang 14 (ASan + UBSan),
# builds seed corpora from ../shared/models and fuzz/seeds/, then runs each target for
# SECONDS_PER_TARGET seconds (default 60), two at a time. Prints, per target, the executions,
# exec/s, final coverage and what was found. Exits non-zero when any target found a crash, a hang
# (-timeout), an out-of-memory (-rss_limit_mb, or one allocation over -malloc_limit_mb) or a leak;
# the inputs that caused them are kept in build-fuzz/artifacts/ and the logs in build-fuzz/logs/.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2; }
start=$(date +%s)

# clang's fuzzer and sanitizer runtimes and OpenMP come on top of the usual packages.
bash scripts/setup.sh clang-14 libclang-rt-14-dev libomp-14-dev

B=build-fuzz
CC=clang-14 CXX=clang++-14 cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMIXPREC_FUZZ=ON -DMIXPREC_TESTS=OFF -DMIXPREC_BENCH=OFF >/dev/null
cmake --build $B --parallel "$(nproc)" --target fuzzers
built=$(date +%s)

# name:max_len. Seeds longer than max_len are truncated by libFuzzer.
targets=(symbol_json:16384 params:8192 npy:4096 attrs:256)
mkdir -p $B/corpus $B/artifacts $B/logs
$B/fuzz/fuzz_make_seeds ../shared/models $B/corpus
for spec in "${targets[@]}"; do
  t=${spec%%:*}
  mkdir -p $B/corpus/$t
  cp fuzz/seeds/$t/* $B/corpus/$t/
done

run() {  # target max_len
  local t=$1 len=$2 dict=()
  [[ -f fuzz/$t.dict ]] && dict=(-dict=fuzz/$t.dict)
  local rc=0
  # One allocation above 256 MB from an input of at most 16 KB is a size taken on trust.
  $B/fuzz/fuzz_$t $B/corpus/$t "${dict[@]}" -max_total_time="$secs" -max_len="$len" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1 -artifact_prefix=$B/artifacts/$t- \
    >$B/logs/$t.log 2>&1 || rc=$?
  echo $rc >$B/logs/$t.rc
}
# Two at a time (CI has 2 cores).
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pids=()
  for spec in "${targets[@]:i:2}"; do
    run "${spec%%:*}" "${spec##*:}" &
    pids+=($!)
  done
  wait "${pids[@]}"
done

failed=0
printf '\n%-12s %12s %8s %8s %8s  %s\n' target executions exec/s cov ft found
for spec in "${targets[@]}"; do
  t=${spec%%:*}
  log=$B/logs/$t.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$( (grep -oE 'cov: [0-9]+' "$log" || true) | tail -1 | cut -d' ' -f2)
  ft=$( (grep -oE 'ft: [0-9]+' "$log" || true) | tail -1 | cut -d' ' -f2)
  found=$( (grep -oE 'Test unit written to [^ ]+' "$log" || true) | sed 's/Test unit written to //' |
    xargs -r -n1 basename | tr '\n' ' ')
  rc=$(cat $B/logs/$t.rc)
  if [[ $rc != 0 || -n $found ]]; then
    failed=1
    [[ -n $found ]] || found="exit code $rc (see $log)"
  fi
  printf '%-12s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${found:-none}"
done
end=$(date +%s)
echo "build $((built - start)) s, total $((end - start)) s; logs in $B/logs, artifacts in $B/artifacts"
if ((failed)); then
  echo "FUZZING FOUND PROBLEMS: reproduce with $B/fuzz/fuzz_TARGET ARTIFACT" >&2
  exit 1
fi
