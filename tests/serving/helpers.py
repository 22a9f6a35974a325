"""Shared by the serving tests and benchmarks/bench_serving.py: free ports, test frames, and `lfsdk serve` run
as a child process on 127.0.0.1 (the way a user runs it), stopped by signal."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np


def free_ports(n: int) -> tuple[int, ...]:
    """n distinct free TCP ports on 127.0.0.1 (bound together, so the OS hands out different ones)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return tuple(s.getsockname()[1] for s in socks)
    finally:
        for s in socks:
            s.close()


def synthetic_frames(n: int, seed: int = 0, size: tuple[int, int] = (240, 320)):
    """n rendered hand depth frames (uint16 mm) with their camera (lfsdk.data.synthetic, ICVL intrinsics)."""
    from lfsdk.data.synthetic import render_batch

    return render_batch(n, seed=seed, camera="icvl", size=size)


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout_s} s")
        time.sleep(0.1)


class ServeProcess:
    """`python -m lfsdk.serving.cli serve ...` on 127.0.0.1 with its own free ports."""

    def __init__(self, model: Path, log: Path, *, ports: tuple[int, int, int] | None = None, backend: str = "torch",
                 extra: tuple[str, ...] = (), threads: int | None = 1):
        self.ports = ports or free_ports(3)
        self.http, self.grpc, self.metrics = self.ports
        self.log = log
        self.args = [sys.executable, "-m", "lfsdk.serving.cli", "serve", "--model", str(model), "--backend", backend,
                     "--http-port", str(self.http), "--grpc-port", str(self.grpc), "--metrics-port", str(self.metrics),
                     *extra]
        self.proc: subprocess.Popen | None = None
        # one intra-op thread by default: the server shares this 2-core machine with the test process, and
        # oversubscribed OpenMP threads made torch several times slower here; None inherits the environment
        self.env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}

    def start(self) -> "ServeProcess":
        # a session of its own: killing the server's group also ends its tritonserver and stubs
        self.proc = subprocess.Popen(self.args, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env)
        return self

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        from lfsdk.serving import HANDS_MODEL_NAME, Client

        # both models: PyTriton loads them one after the other
        with Client(f"127.0.0.1:{self.http}") as c, Client(f"127.0.0.1:{self.http}", model=HANDS_MODEL_NAME) as h:
            def ready() -> bool:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"lfsdk serve exited with {self.proc.returncode}:\n{self.tail()}")
                return c.is_ready() and h.is_ready()
            wait_until(ready, timeout_s, f"lfsdk serve ready on {self.http}")

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the server and everything it started (no chance to drain)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout_s: float = 60.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9


def two_hand_scenes(n: int, seed: int = 0):
    """n rendered two-hand scenes (lfsdk.data.scenes, class two_hands): depth (n, 240, 320) uint16 mm, camera."""
    from lfsdk.data.scenes import render_scene

    frames = [render_scene((seed, i), "two_hands") for i in range(n)]
    return np.stack([f.depth for f in frames]), frames[0].camera


def assert_same_hands(got, ref, atol: float) -> None:
    """A served lfsdk Hands equals the in-process one: booleans exactly, the rest to atol (NaN where NaN)."""
    from lfsdk.hands import HAND_FIELDS

    assert got.skeleton == ref.skeleton and got.camera == ref.camera
    for f in HAND_FIELDS:
        g, r = getattr(got, f), getattr(ref, f)
        assert g.shape == r.shape and g.dtype == r.dtype, (f, g.shape, r.shape, g.dtype, r.dtype)
        if g.dtype == bool:
            np.testing.assert_array_equal(g, r, err_msg=f)
        else:
            np.testing.assert_allclose(g, r, atol=atol, rtol=0, err_msg=f)
