"""What the `lfsdk` subcommands share: frames from depth files, the backend options, building the estimator."""
from __future__ import annotations

import argparse
import sys
from typing import Iterator

import numpy as np
import torch

from ..backends.base import PRECISIONS, REGISTRY
from ..depth_io import DEPTH_SUFFIXES, read_depth_file
from ..estimator import HandPoseEstimator
from ..pretrained import PRETRAINED
from ..skeletons import get_skeleton

__all__ = ["run_reporting_errors", "DEPTH_SUFFIXES", "read_depth_file", "frames", "add_backend_arguments", "add_model_argument", "make_estimator", "joint_names"]

def frames(files: list[str]) -> Iterator[tuple[str, int, np.ndarray]]:
    """(file, index within the file, (H, W) frame) for every frame of every file, read one file at a time."""
    for f in files:
        a = read_depth_file(f)
        for i, frame in enumerate(a if a.ndim == 3 else a[None]):
            yield f, i, frame


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=["auto", *REGISTRY],
                   help="inference backend (default: auto, the fastest usable here)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--precision", default=None, choices=PRECISIONS, help="default: the backend's")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads for the CPU pre/post-processing (and the torch backend); "
                        "default 1: these ops are small, and more threads than free cores slow them down")


def make_estimator(args: argparse.Namespace, **kw):
    if args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be ≥ 1, got {args.torch_threads}")
    torch.set_num_threads(args.torch_threads)  # the command owns its process: a global setting is fine here

    opts = dict(backend=args.backend, device=args.device, precision=args.precision, **kw)
    return HandPoseEstimator.from_name_or_path(getattr(args, "model", None), **opts)


def add_model_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="auto",
                   help=f"a shipped model ({', '.join(PRETRAINED)}), or a checkpoint, .onnx or .engine (default: "
                        "auto, the lite model when the network runs on a CPU without native BF16, else the default)")


def joint_names(skeleton: str, m: int) -> list[str]:
    """The layout's joint names when lfsdk.skeletons knows `skeleton` with m joints, else joint0…joint{m-1}."""
    try:
        sk = get_skeleton(skeleton)
    except ValueError:
        sk = None
    return list(sk.names) if sk is not None and sk.num_joints == m else [f"joint{j}" for j in range(m)]


def run_reporting_errors(prog: str, run, args: argparse.Namespace) -> int:
    """run(args), with every error a user can cause — bad input, a missing or unreadable file, a backend that
    cannot run here — printed as one line after `prog` and exit status 2 instead of a traceback."""
    try:
        return run(args)
    except (ValueError, OSError, RuntimeError) as e:  # InputError, BackendUnavailable, CheckpointError, files
        print(f"{prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
