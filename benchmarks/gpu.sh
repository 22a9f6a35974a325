#!/usr/bin/env bash
# The whole GPU benchmark in one command, for a bare GPU machine with torch (CUDA), triton and onnxruntime
# present and TensorRT possibly absent:
#
#   bash benchmarks/gpu.sh                # writes benchmarks/results/<date>-<gpu>.{json,md,png} + kernels
#   WHEELS=.whl bash benchmarks/gpu.sh    # first install missing pure wheels from a folder (no network there)
#   OUT=/some/dir bash benchmarks/gpu.sh  # also copy the results there
#
# lfsdk is used from this checkout without touching the machine's torch: PYTHONPATH gets a small folder
# that maps lfsdk, lfsdk.export and lfsdk.kernels onto the repo (the wheel layout of setup.py).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
site=$(mktemp -d)
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$WHEELS"/*.whl
fi
# lfsdk/ is a real package; export/ and kernels/ become lfsdk.export and lfsdk.kernels through links in a
# copy of the package folder's top level (no install, no build isolation, nothing downloaded).
mkdir -p "$site/lfsdk"
for f in "$repo"/lfsdk/*; do ln -s "$f" "$site/lfsdk/$(basename "$f")"; done
ln -s "$repo/export" "$site/lfsdk/export"
ln -s "$repo/kernels" "$site/lfsdk/kernels"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
cd "$repo"
python3 - <<'PY'
import torch
assert torch.cuda.is_available(), "benchmarks/gpu.sh needs a CUDA device"
print("GPU:", torch.cuda.get_device_name(), "torch", torch.__version__)
PY
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv || true
results="$repo/benchmarks/results"
# 1) the whole pipeline, every backend × precision here, default GPU batches 1,8,32,128,512
python3 -m lfsdk.bench --device cuda -o "$results" "$@"
# 2) the pre/post-processing kernels against their torch reference (issue 6 targets)
python3 "$repo/benchmarks/gpu_kernels.py"
if [ -n "${OUT:-}" ]; then cp "$results"/"$(date +%Y-%m-%d)"-* "$OUT"/ 2>/dev/null || true; fi
