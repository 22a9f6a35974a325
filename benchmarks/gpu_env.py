"""First step of benchmarks/gpu.sh: what this machine has, and whether lfsdk imports from where it should.

    python benchmarks/gpu_env.py --site DIR [--dry-run]

Prints one JSON object (Python, torch, CUDA, the GPU, triton, onnxruntime and its providers, TensorRT,
TF32 defaults, and where lfsdk, lfsdk.kernels and lfsdk.export were imported from). Exits 1 when lfsdk or
one of its subpackages does not import from DIR (the import site gpu.sh builds: imported from anywhere else,
the results would not be this checkout's), or, without --dry-run, when torch sees no CUDA device.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except Exception as e:  # noqa: BLE001 — a broken optional install is a fact to report, not a crash
        return None if isinstance(e, ImportError) else f"broken: {type(e).__name__}: {e}"


def facts(site: Path) -> tuple[dict, list[str]]:
    """(facts, problems) about this machine and the lfsdk import."""
    import torch

    out: dict = {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
                 "torch_cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
                 "triton": _version("triton"), "onnxruntime": _version("onnxruntime"),
                 "tensorrt": _version("tensorrt"), "onnx": _version("onnx"), "onnxslim": _version("onnxslim"),
                 "cudnn_allow_tf32_default": torch.backends.cudnn.allow_tf32,
                 "matmul_allow_tf32_default": torch.backends.cuda.matmul.allow_tf32}
    if out["cuda_available"]:
        out["gpu"] = torch.cuda.get_device_name(0)
        out["capability"] = list(torch.cuda.get_device_capability(0))
        out["gpu_count"] = torch.cuda.device_count()
    if out["onnxruntime"] and not out["onnxruntime"].startswith("broken"):
        import onnxruntime

        out["onnxruntime_providers"] = onnxruntime.get_available_providers()
    problems = []
    for name in ("lfsdk", "lfsdk.kernels", "lfsdk.export", "lfsdk.estimator", "lfsdk.bench"):
        try:
            origin = Path(importlib.import_module(name).__file__)
        except Exception as e:  # noqa: BLE001 — the point of this step is to say which import fails and why
            problems.append(f"{name} does not import: {type(e).__name__}: {e}")
            continue
        out[f"{name}_from"] = str(origin)
        if site not in origin.parents:
            problems.append(f"{name} imported from {origin}, not from the import site {site}")
    return out, problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--site", type=Path, required=True, help="the folder gpu.sh put first on PYTHONPATH")
    p.add_argument("--dry-run", action="store_true", help="a CPU run: no CUDA device needed")
    args = p.parse_args(argv)
    out, problems = facts(args.site.absolute())
    if not args.dry_run and not out["cuda_available"]:
        problems.append("torch sees no CUDA device")
    out["problems"] = problems
    print(json.dumps(out, indent=2))
    for line in problems:
        print(f"gpu_env: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
