"""`lfsdk serve`: the estimator behind PyTriton, which embeds Triton Inference Server and speaks its HTTP/gRPC
protocol (health, readiness, model metadata, Prometheus metrics) with Triton's dynamic batcher in front.

Two things PyTriton 0.7 needs that this module arranges, so nobody does them by hand:
- its Python-backend stub links libpython dynamically; the loader must find the running interpreter's
  (sysconfig LIBDIR), not a system libpython of another patch release, or the stub dies in multiprocessing.
  `ensure_libpython()` puts LIBDIR on LD_LIBRARY_PATH before PyTriton spawns tritonserver, which copies
  os.environ for its children; the loader reads it at their start, so no re-exec of this process is needed.
- it pins numpy<2: `import_pytriton()` says so in one line instead of an ABI traceback.
"""
from __future__ import annotations

import logging
import os
import signal
import sysconfig
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..estimator import HandPoseEstimator
from ..geometry import Camera
from .hands import find_hands_arrays
from .protocol import (BATCH_REJECTED, HANDS_MODEL_NAME, MODEL_NAME, REQUEST_ID, check_camera, hands_options,
                       hands_outputs, request_inputs, response_outputs)

__all__ = ["ServeConfig", "ServeUnavailable", "ensure_libpython", "import_pytriton", "BatchRejected",
           "check_request", "reject_malformed", "result_arrays", "make_infer", "make_hands_infer", "serve"]

log = logging.getLogger("lfsdk.serve")

INSTALL_HINT = "pip install 'lfsdk[serve]'"


class ServeUnavailable(RuntimeError):
    """`lfsdk serve` cannot run here (PyTriton missing or numpy too new); the message says what to install."""


class BatchRejected(ValueError):
    """Some requests of a dynamic batch were malformed; the message names them and says why."""


@dataclass(frozen=True)
class ServeConfig:
    model: str | None = None  # default, lite, auto, or a checkpoint dir, .onnx or .engine; None → auto
    backend: str = "auto"
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    max_batch: int = 64
    preferred_batch_sizes: tuple[int, ...] | None = None  # None: 8, 16, 32 where ≤ max_batch
    max_queue_delay_us: int = 2000
    instances: int = 1
    exit_timeout_s: int = 30  # SIGTERM: in-flight requests get this long to finish (and Triton as long again)

    @property
    def preferred(self) -> list[int]:
        if self.preferred_batch_sizes is not None:
            return list(self.preferred_batch_sizes)
        return [s for s in (8, 16, 32) if s <= self.max_batch]

    def __post_init__(self):
        for key in ("http_port", "grpc_port", "metrics_port"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 65536:
                raise ValueError(f"{key} must be a TCP port 1..65535, got {v!r}")
        if len({self.http_port, self.grpc_port, self.metrics_port}) != 3:
            raise ValueError("http, grpc and metrics ports must differ")
        if not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {self.max_batch!r}")
        bad = [s for s in self.preferred_batch_sizes or () if not isinstance(s, int) or not 1 <= s <= self.max_batch]
        if bad:
            raise ValueError(f"preferred batch sizes {bad} are outside 1..max_batch={self.max_batch}")
        if self.instances < 1 or self.max_queue_delay_us < 0 or self.exit_timeout_s < 0:
            raise ValueError("instances must be ≥ 1, max_queue_delay_us and exit_timeout_s ≥ 0")


def ensure_libpython() -> str | None:
    """Put this interpreter's libpython directory first on LD_LIBRARY_PATH (for children); returns it."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if not libdir or not Path(libdir).is_dir():
        return None
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        log.warning("this Python has no shared libpython; PyTriton's stub will load the system's, which works only "
                    "if it is the same release (build Python with --enable-shared, e.g. pyenv's PYTHON_CONFIGURE_OPTS)")
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    if not paths or paths[0] != libdir:
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join([libdir] + [p for p in paths if p != libdir])
    return libdir


def import_pytriton():
    """The pytriton.triton module, or ServeUnavailable naming what to install."""
    if int(np.__version__.split(".")[0]) >= 2:
        raise ServeUnavailable(f"lfsdk serve needs numpy<2 (nvidia-pytriton pins it), this Python has numpy "
                               f"{np.__version__}; use a separate environment with {INSTALL_HINT}")
    try:
        import pytriton.triton
    except ImportError as e:
        raise ServeUnavailable(f"lfsdk serve needs nvidia-pytriton ({e}); {INSTALL_HINT}") from None
    return pytriton.triton


def check_request(depth: np.ndarray, camera: np.ndarray) -> None:
    """Values Triton's shape and dtype checks cannot see; ValueError says what is wrong."""
    if depth.shape[0] != camera.shape[0]:
        raise ValueError(f"depth has {depth.shape[0]} frames but camera has {camera.shape[0]} rows")
    if depth.shape[1] < 2 or depth.shape[2] < 2:
        raise ValueError(f"depth frames must be at least 2×2 pixels, got {depth.shape[1:]}")
    check_camera(camera)


def result_arrays(res) -> dict[str, np.ndarray]:
    """An lfsdk Result → the protocol's output arrays (found as (B, 1))."""
    r = res.to_numpy()
    out = {s.name: getattr(r, s.name) for s in response_outputs(r.num_joints)}
    out["found"] = out["found"].reshape(-1, 1)
    return out


def reject_malformed(requests, check: Callable = lambda r: None) -> None:
    """BatchRejected naming every request of the batch that fails check_request or `check(request)`."""
    bad = []
    for i, r in enumerate(requests):
        try:
            check_request(r["depth"], r["camera"])
            check(r)
        except ValueError as e:
            rid = (r.parameters or {}).get(REQUEST_ID, f"#{i}")
            bad.append(f"{rid}: {e}")
    if bad:
        other = " (the other requests of this batch were not run)" if len(bad) < len(requests) else ""
        raise BatchRejected(f"{BATCH_REJECTED}: malformed request(s) {'; '.join(bad)}{other}")


def make_infer(estimator):
    """PyTriton inference callable: one list of requests (one dynamic batch) → one list of responses.

    Requests with equal frame size and camera run as one estimator call. PyTriton answers a failed call with
    one error for every request in it, so a malformed request is named (by the Client's request id) in that
    error: the others were not run, and the Client retries them."""
    def infer(requests):
        reject_malformed(requests)
        groups: dict[tuple, list[tuple[int, int]]] = {}  # (frame shape, camera) → [(request, frame)]
        for i, r in enumerate(requests):
            for j, cam in enumerate(r["camera"].tolist()):
                groups.setdefault((r["depth"].shape[1:], tuple(cam)), []).append((i, j))
        parts: list[dict[int, dict]] = [{} for _ in requests]
        for (_, cam), frames in groups.items():
            depth = np.stack([requests[i]["depth"][j] for i, j in frames])
            out = result_arrays(estimator(depth, camera=Camera(*cam)))
            for k, (i, j) in enumerate(frames):
                parts[i][j] = {name: v[k] for name, v in out.items()}
        return [{name: np.stack([p[j][name] for j in range(len(p))]) for name in p[0]} for p in parts]

    return infer


def make_hands_infer(estimator):
    """PyTriton inference callable of the multi-hand model: requests with equal frame size and options
    (max_hands, score_threshold parameters) run as one find_hands_arrays call; malformed ones as make_infer."""
    def infer(requests):
        reject_malformed(requests, lambda r: hands_options(r.parameters))
        groups: dict[tuple, list[int]] = {}  # (frame shape, (max_hands, score_threshold)) → requests
        for i, r in enumerate(requests):
            groups.setdefault((r["depth"].shape[1:], hands_options(r.parameters)), []).append(i)
        answers: list[dict] = [{} for _ in requests]
        for (_, (n, thr)), idx in groups.items():
            out = find_hands_arrays(estimator, np.concatenate([requests[i]["depth"] for i in idx]),
                                    np.concatenate([requests[i]["camera"] for i in idx]), n, thr)
            start = 0
            for i in idx:
                b = len(requests[i]["depth"])
                answers[i] = {k: v[start:start + b] for k, v in out.items()}
                start += b
        return answers

    return infer


class _Drain:
    """Graceful SIGTERM: wait until nothing is queued (Triton's pending-request gauge) or running (counted
    here) before stopping Triton. Stopping Triton first is not enough: its HTTP endpoint spends the exit
    timeout waiting for clients' keep-alive connections to close, and requests still queued then are cut."""

    def __init__(self, metrics_url: str):
        self.metrics_url = metrics_url
        self.running = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def wrap(self, infer):
        def counted(requests):
            with self.lock:
                self.running += 1
            try:
                return infer(requests)
            finally:
                with self.lock:
                    self.running -= 1
        return counted

    def pending(self) -> float:
        """Requests queued for the model, from Triton's metrics (inf when they cannot be read)."""
        try:
            text = urllib.request.urlopen(self.metrics_url, timeout=2).read().decode()
        except OSError:
            return float("inf")
        models = (f'model="{MODEL_NAME}"', f'model="{HANDS_MODEL_NAME}"')
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("nv_inference_pending_request_count") and any(m in line for m in models))

    def wait_idle(self, timeout_s: float) -> bool:
        """True once idle twice in a row 50 ms apart (a request between queue and execution is seen)."""
        deadline, quiet = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            with self.lock:
                busy = self.running > 0
            quiet = 0 if busy or self.pending() > 0 else quiet + 1
            if quiet >= 2:
                return True
            time.sleep(0.05)
        return False


def serve(config: ServeConfig, *, on_ready: Callable[[], None] | None = None) -> int:
    """Run until SIGTERM/SIGINT; in-flight requests finish (up to exit_timeout_s). Returns an exit code."""
    ensure_libpython()
    pt = import_pytriton()
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    est = HandPoseEstimator.from_name_or_path(config.model, backend=config.backend)
    m = est.config.num_joints
    triton_config = pt.TritonConfig(
        http_address=config.host, http_port=config.http_port, grpc_address=config.host,
        grpc_port=config.grpc_port, metrics_address=config.host, metrics_port=config.metrics_port,
        exit_timeout_secs=config.exit_timeout_s, allow_gpu_metrics=False)
    batcher = DynamicBatcher(max_queue_delay_microseconds=config.max_queue_delay_us,
                             preferred_batch_size=config.preferred or None)
    local = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    drain = _Drain(f"http://{local}:{config.metrics_port}/metrics")
    infer = drain.wrap(make_infer(est))

    # PyTriton guards the admin endpoints with a token by default; statistics (read-only: request counts
    # and the batch sizes formed) stays open so clients and the load test can read it
    security = pt.TritonSecurityConfig(restricted_endpoints=["shared-memory", "model-repository", "trace", "logging"])
    with pt.Triton(config=triton_config, security_config=security) as triton:
        triton.bind(MODEL_NAME, [infer] * config.instances,
                    inputs=[Tensor(name=s.name, dtype=s.dtype, shape=s.dims) for s in request_inputs()],
                    outputs=[Tensor(name=s.name, dtype=s.dtype, shape=s.dims) for s in response_outputs(m)],
                    config=ModelConfig(max_batch_size=config.max_batch, batcher=batcher), strict=True)
        hands_infer = drain.wrap(make_hands_infer(est))
        triton.bind(HANDS_MODEL_NAME, [hands_infer] * config.instances,
                    inputs=[Tensor(name=s.name, dtype=s.dtype, shape=s.dims) for s in request_inputs()],
                    outputs=[Tensor(name=s.name, dtype=s.dtype, shape=s.dims) for s in hands_outputs(m)],
                    config=ModelConfig(max_batch_size=config.max_batch, batcher=batcher), strict=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: drain.stop.set())
        triton.run()  # starts the server and loads the model
        print(f"lfsdk serve: models {MODEL_NAME!r}, {HANDS_MODEL_NAME!r} ready on http://{config.host}:{config.http_port} "
              f"grpc {config.host}:{config.grpc_port} metrics http://{config.host}:{config.metrics_port}/metrics",
              flush=True)
        if on_ready is not None:
            on_ready()
        while not drain.stop.wait(1.0):
            if not triton.is_alive():
                log.error("tritonserver or the model proxy died; exiting")
                return 1
        print(f"lfsdk serve: stopping: letting in-flight requests finish (up to {config.exit_timeout_s} s)", flush=True)
        if not drain.wait_idle(config.exit_timeout_s):
            print("lfsdk serve: exit timeout reached with requests still in flight", flush=True)
    return 0  # leaving the with-block stops Triton and cleans PyTriton's workspace
