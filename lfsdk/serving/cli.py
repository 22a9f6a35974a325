"""`lfsdk serve` (listed in lfsdk.cli), also runnable as `python -m lfsdk.serving.cli serve ...`."""
from __future__ import annotations

import argparse
import sys

from ..commands.common import run_reporting_errors
from .server import ServeConfig, serve

__all__ = ["HELP", "add_arguments", "run", "main"]

HELP = "serve the estimator over Triton's HTTP/gRPC protocol (PyTriton; pip install 'lfsdk[serve]')"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="default, lite, auto (lite on a CPU without native BF16), or a checkpoint dir, .onnx or .engine (default: auto)")
    p.add_argument("--backend", default="auto", help="backend running the network (default auto)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002, help="Prometheus metrics at /metrics")
    p.add_argument("--max-batch", type=int, default=64, help="largest batch the dynamic batcher forms")
    p.add_argument("--preferred-batch", type=int, nargs="*",
                   help="dynamic batching preferred sizes (default 8 16 32, those ≤ --max-batch)")
    p.add_argument("--queue-delay-us", type=int, default=2000,
                   help="how long a request may wait for others to batch with (µs)")
    p.add_argument("--instances", type=int, default=1, help="model instances (parallel batches)")
    p.add_argument("--exit-timeout", type=int, default=30, help="seconds in-flight requests get on SIGTERM")


def run(args: argparse.Namespace) -> int:
    cfg = ServeConfig(model=args.model, backend=args.backend, host=args.host, http_port=args.http_port,
                      grpc_port=args.grpc_port, metrics_port=args.metrics_port, max_batch=args.max_batch,
                      preferred_batch_sizes=None if args.preferred_batch is None else tuple(args.preferred_batch), max_queue_delay_us=args.queue_delay_us,
                      instances=args.instances, exit_timeout_s=args.exit_timeout)
    return serve(cfg)


def main(argv: list[str] | None = None) -> int:
    """`python -m lfsdk.serving.cli [serve] ARGS`: the same as `lfsdk serve ARGS`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="lfsdk serve", description=HELP)
    add_arguments(parser)
    return run_reporting_errors("lfsdk serve", run, parser.parse_args(argv[1:] if argv[:1] == ["serve"] else argv))


if __name__ == "__main__":
    sys.exit(main())
