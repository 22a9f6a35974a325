#!/usr/bin/env bash
# The whole GPU benchmark in one command, for a bare GPU machine with torch (CUDA) and triton, maybe
# onnxruntime and TensorRT, no network and no lfsdk installed:
#
#   OUT=/some/dir bash benchmarks/gpu.sh      # on the GPU: ≤ 8 minutes, everything lands in $OUT
#   bash benchmarks/gpu.sh --dry-run          # the same steps on the CPU at tiny sizes (the test suite runs it)
#   MODEL=run/best WHEELS=.whl PYTHON=python3 bash benchmarks/gpu.sh   # another checkpoint, extra wheels
#   STEPS="bench summary" BENCH_ARGS="--batches 1,512" bash benchmarks/gpu.sh   # a short rerun of some steps
#
# $OUT (default benchmarks/results/gpu-<UTC time>) gets, each as soon as its step writes it (at most 8 files
# come back from a lent machine): gpu.log (every step's output and exit status), kernels.json/.md (rewritten
# after every batch size), bench.json/.md (rewritten after every row) and bench.png, summary.md (the targets,
# the paper per stage, torch.compile's compile time and parity).
#
# It cannot fail on import: lfsdk is imported the way setup.py installs it (lfsdk, lfsdk.export ← export/,
# lfsdk.kernels ← kernels/) from a folder of links outside the repo, with PYTHONSAFEPATH=1 and the working
# directory outside the repo, so no stray repo folder shadows it. No `set -e`: every step runs under its own
# `timeout`, a failing step is logged and the next one runs.
set -u -o pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benchmarks/gpu_lib.sh
. "$repo/benchmarks/gpu_lib.sh"
setup_run gpu.sh "$repo/benchmarks/results/gpu-$(date -u +%Y%m%d-%H%M%S)" gpu.log "$@"

say "gpu.sh $(date -u +%FT%TZ) repo=$repo out=$out dry_run=${dry:-0}" \
  "python=$($py -c 'import sys; print(sys.executable)' 2>&1)"
lfsdk_site "$site"
if [ -n "${WHEELS:-}" ]; then  # pure wheels the machine lacks, installed beside lfsdk (no index, no network)
  step wheels 120 "$py" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$WHEELS"/*.whl
fi
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONSAFEPATH=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export TQDM_DISABLE=1
cd "$work" || exit 2

model=()
[ -n "${MODEL:-}" ] && model=(--model "$MODEL")
read -r -a bench_extra <<<"${BENCH_ARGS:-}"  # after the defaults below: argparse keeps the last value given
if [ -n "$dry" ]; then
  export TIMEOUT_SCALE=${TIMEOUT_SCALE:-10}  # timeouts are sized for the GPU machine, not a busy CPU
  # CPU, tiny sizes; the Triton interpreter; torch.compile's plumbing without its ~20 s compile on this CPU
  export TRITON_INTERPRET=1 TORCHDYNAMO_DISABLE=1
  env_args=(--dry-run)
  kernel_args=(--dry-run)
  bench_args=(--device cpu --frame-size 128x96 --batches 1,2 --iters 2 --warmup 1 --backends torch --precisions fp32)
else
  query=name,driver_version,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu,memory.used,memory.total
  step nvidia-smi 20 bash -c "nvidia-smi; nvidia-smi --format=csv --query-gpu=$query"
  env_args=()
  kernel_args=(--batches 1 64 512)
  bench_args=(--device cuda --frame-size 640x480 --batches 1,8,32,128,512 --iters 30 --warmup 3
              --precisions fp32,fp16)
fi

# 1) what this machine has, and lfsdk imported from the site above (exit 1 if not)
step env 45 "$py" "$repo/benchmarks/gpu_env.py" --site "$site" "${env_args[@]}"
# 2) preprocessing and postprocessing kernels, Triton against torch (batch up to 512 of 640x480 frames)
step kernels 90 "$py" "$repo/benchmarks/gpu_kernels.py" --out "$out" --name kernels "${kernel_args[@]}"
# 3) the whole pipeline from raw frames: torch FP32 (eager, TF32 off) and FP16 (CUDA graphs), torch.compile
#    FP16, and onnxruntime / TensorRT where this machine has them; parity with FP32 in mm per row
step bench 290 "$py" -m lfsdk.bench "${bench_args[@]}" "${model[@]}" --compile --name bench -o "$out" \
  "${bench_extra[@]}"
# 4) one page: targets, the paper per stage, compile time and parity
step summary 20 "$py" "$repo/benchmarks/gpu_summary.py" "$out" --steps "$work/steps"
say "gpu.sh done $(date -u +%FT%TZ): $(ls "$out" | tr '\n' ' ')"
rm -rf "$work"
