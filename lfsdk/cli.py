"""The `lfsdk` command. Each subcommand is a (configure, run) pair registered in COMMANDS; the
`lfsdk-*` console scripts are thin aliases of the same entry points."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

__all__ = ["main", "COMMANDS", "command"]

#: name → (help, add_arguments(parser), run(args) -> exit code)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register `run(args) -> int` as `lfsdk NAME`."""
    def register(run):
        COMMANDS[name] = (help, add_arguments, run)
        return run
    return register


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="store_true", help="print the parameter/MAC table beside the paper's")
    p.add_argument("--joints", type=int, default=14, help="joint count M for --model (default 14, NYU)")


@command("info", "version, model table", _info_args)
def info(args: argparse.Namespace) -> int:
    from . import __version__
    from .model import LatentFusion, ModelConfig
    from .model.summary import format_summary

    print(f"lfsdk {__version__}")
    if args.model:
        print()
        print(format_summary(LatentFusion(ModelConfig(num_joints=args.joints))))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lfsdk", description="Latent Fusion hand pose estimation")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, add_arguments, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        add_arguments(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args._run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"lfsdk {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
