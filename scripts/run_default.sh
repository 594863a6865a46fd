#!/usr/bin/env bash
# The main job on the bundled default model: sets up, builds, generates ResNet-50 v1 (FP32, seeded
# weights) with the tool itself, converts it to float16 with MXNet's AMP rules, shows what changed,
# checks the conversion against FP32 with accuracy limits, and times both.
# Usage: scripts/run_default.sh [float16|bfloat16]
set -euo pipefail
cd "$(dirname "$0")/.."
dtype=${1:-float16}
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null  # keeps the build's test options; builds only the CLI
cmake --build build --parallel "$(nproc)" --target mixprec
mkdir -p out
./build/mixprec zoo resnet50_v1 --out-prefix out/resnet50_v1
./build/mixprec convert --symbol out/resnet50_v1-symbol.json --params out/resnet50_v1-0000.params \
  --out-prefix "out/resnet50_v1_$dtype" --target-dtype "$dtype" --cast-params-offline
echo
echo "== FP32 model =="
./build/mixprec inspect out/resnet50_v1-symbol.json out/resnet50_v1-0000.params --shape data=1,3,224,224
echo
echo "== $dtype model =="
./build/mixprec inspect "out/resnet50_v1_$dtype-symbol.json" "out/resnet50_v1_$dtype-0000.params" --shape data=1,3,224,224
echo
echo "== $dtype model against FP32, same 4 seeded inputs (engine: per-node $dtype rounding); exit 3 if a limit fails =="
./build/mixprec compare --reference out/resnet50_v1 --candidate "out/resnet50_v1_$dtype" --shape data=4,3,224,224 \
  --max-nmse 1e-3 --min-cosine 0.999 --min-top1 100
echo
echo "== latency, FP32 then $dtype =="
./build/mixprec bench --prefix out/resnet50_v1 --shape data=1,3,224,224 --runs 5
./build/mixprec bench --prefix "out/resnet50_v1_$dtype" --shape data=1,3,224,224 --runs 5
