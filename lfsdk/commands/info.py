"""`lfsdk info`: version, the backends usable here (and why not the others), devices, the model table."""
from __future__ import annotations

import argparse
import importlib.metadata
import platform

import torch

from .._version import __version__
from ..backends.base import availability
from ..cpu import cpu_description
from ..model import LatentFusion, ModelConfig
from ..model.checkpoint import read_config, resolve_checkpoint
from ..model.summary import format_summary
from ..pretrained import PRETRAINED, model_path, pick_pretrained

__all__ = ["HELP", "add_arguments", "run"]

HELP = "version, backends usable here and why not the others, devices, model table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="store_true", help="print the parameter/MAC table beside the paper's")
    p.add_argument("--joints", type=int, default=14, help="joint count M for --model (default 14, NYU)")


def _version(distribution: str) -> str:
    """The installed version, read from the package metadata: importing OpenVINO or TensorRT only to print
    their versions would cost a second each."""
    for name in (distribution, f"{distribution}-gpu"):
        try:
            return importlib.metadata.version(name).split("-")[0]
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def run(args: argparse.Namespace) -> int:
    print(f"lfsdk {__version__}  (python {platform.python_version()}, torch {torch.__version__}, onnxruntime "
          f"{_version('onnxruntime')}, openvino {_version('openvino')}, tensorrt {_version('tensorrt')})")
    print("\ndevices")
    print(f"  cpu     {cpu_description()}")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            print(f"  cuda:{i}  {p.name}, {p.total_memory / 2**30:.0f} GiB, sm_{p.major}{p.minor}")
    else:
        print("  cuda    none (torch sees no CUDA device)")
    print("\nbackends")
    for dev in ("cpu", "cuda"):  # both, so a CPU-only machine says what the GPU backends would need
        for name, ok in availability(dev).items():
            status = "usable" if ok.ok else f"not usable: {ok.reason}"
            print(f"  {name:<12} {dev:<5} {status}")
    print(f"\nshipped models (auto picks {pick_pretrained()} here)")
    for name in PRETRAINED:
        path = model_path(name)
        try:
            cfg = read_config(resolve_checkpoint(path)[1])
            print(f"  {name:<8} {path}\n           {cfg.num_joints} joints ({cfg.skeleton}), cube {cfg.cube_size} mm, "
                  f"input {cfg.input_size}×{cfg.input_size}, {cfg.channels} channels")
        except (FileNotFoundError, ValueError) as e:
            print(f"  {name:<8} not available ({e})")
    if args.model:
        print()
        print(format_summary(LatentFusion(ModelConfig(num_joints=args.joints))))
    return 0
