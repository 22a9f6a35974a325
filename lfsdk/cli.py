"""The `lfsdk` command: one subcommand per module, each exposing HELP, add_arguments(parser) and run(args) → exit
code, listed in COMMANDS. The `lfsdk-*` console scripts are thin aliases of the same entry points.

    lfsdk demo                       the default model on the sample frames shipped in the package
    lfsdk estimate a.png b.npy -o out.json [--camera icvl] [--backend onnxruntime]
    lfsdk info [--model]             version, backends usable here (and why not the others), devices
    lfsdk serve [--model M]          the estimator over Triton's HTTP/gRPC protocol (the [serve] extra)
    lfsdk track SOURCE -o hands.jsonl  tracked, smoothed hands from a depth camera, recording or folder
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType

from .commands import demo, estimate, info, track
from .commands.common import run_reporting_errors
from .depth_io import read_depth_file
from .commands.demo import montage
from .serving import cli as serve

__all__ = ["main", "COMMANDS", "build_parser", "read_depth_file", "montage"]

#: name → the module that implements `lfsdk NAME`
COMMANDS: dict[str, ModuleType] = {"demo": demo, "estimate": estimate, "info": info, "serve": serve, "track": track}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lfsdk", description="Latent Fusion hand pose estimation")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(f"lfsdk {args.command}", args._run, args)


if __name__ == "__main__":
    sys.exit(main())
