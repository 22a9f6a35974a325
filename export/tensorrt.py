"""`lfsdk-build MODEL.onnx -o hand.engine`: a TensorRT engine and its sidecar from an exported ONNX.

    lfsdk-build model_fp16.onnx -o hand.engine --batch 1,32,128 --workspace 1024
    lfsdk-build model_fp16.onnx -o hand.engine --print-trtexec     # the equivalent trtexec line, no build

The build itself is lfsdk.backends.tensorrt_build (the backend builds ONNX files it is given the same way).
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from ..backends.onnx_info import OnnxParseError, inspect_onnx
from ..backends.tensorrt_build import BuildConfig, build_engine, trtexec_command
from ..engine_cache import (DEFAULT_PROFILE, BatchProfile, MachineInfo, TensorRTMissing, import_tensorrt,
                            parse_profile, timing_cache_path)

__all__ = ["add_arguments", "run", "main"]


def _profile_arg(text: str) -> BatchProfile:
    try:
        return parse_profile(text)
    except ValueError as e:  # argparse would replace a ValueError's message with "invalid value"
        raise argparse.ArgumentTypeError(str(e)) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("onnx", type=Path, help="ONNX from lfsdk-export (use --fp16 there for an FP16 engine)")
    p.add_argument("-o", "--output", type=Path, help="engine file (default: the ONNX path with .engine)")
    p.add_argument("--batch", type=_profile_arg, default=DEFAULT_PROFILE, metavar="MIN,OPT,MAX",
                   help=f"batch optimisation profile, or one static size (default {DEFAULT_PROFILE})")
    p.add_argument("--workspace", type=int, default=BuildConfig.workspace_mib, metavar="MIB",
                   help="builder workspace limit in MiB (default %(default)s)")
    p.add_argument("--timing-cache", metavar="FILE",
                   help="timing cache to load and save (default: one per GPU and TensorRT under $LFSDK_CACHE)")
    p.add_argument("--no-timing-cache", action="store_true", help="build without a timing cache")
    p.add_argument("--print-trtexec", action="store_true",
                   help="print the equivalent trtexec command and exit without building")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="TensorRT's verbose log")


def _default_timing_cache() -> Path | None:
    """This machine's per-GPU timing cache, when TensorRT and a GPU are here to name it."""
    try:
        trt = import_tensorrt()
        return timing_cache_path(MachineInfo.current(trt.__version__)) if torch.cuda.is_available() else None
    except TensorRTMissing:
        return None


def run(args: argparse.Namespace) -> int:
    engine = args.output or args.onnx.with_suffix(".engine")
    timing = "" if args.no_timing_cache else args.timing_cache
    config = BuildConfig(profile=args.batch, workspace_mib=args.workspace, timing_cache=timing,
                         progress=not args.no_progress, verbose=args.verbose)
    if args.print_trtexec:  # needs neither TensorRT nor a GPU: a machine with only trtexec can use it
        info = inspect_onnx(args.onnx)
        cache = timing if timing is not None else _default_timing_cache()
        print(shlex.join(trtexec_command(info.path, engine, info.batched_inputs(), config, cache or None)))
        return 0
    sidecar = build_engine(args.onnx, engine, config)
    print(f"wrote {engine} and {engine.name}.json ({sidecar.precision}, batch {sidecar.profile}, "
          f"{sidecar.machine.describe()})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lfsdk-build", description="Build a TensorRT engine from an lfsdk ONNX")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except TensorRTMissing as e:
        print(f"lfsdk-build: {e}", file=sys.stderr)
        return 3
    except (OnnxParseError, ValueError, FileNotFoundError, RuntimeError) as e:  # UnsupportedOnnx is a ValueError
        print(f"lfsdk-build: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lfsdk-build: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
