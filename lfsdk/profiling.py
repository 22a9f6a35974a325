"""Stage timers and the per-stage table `HandPoseEstimator.profile` prints.

One `StageTimer` per measurement: `with timer.stage("preprocess"): ...` records one duration per entry.
On CUDA it records a pair of CUDA events around the work (no synchronisation inside the loop; `times()`
synchronises once at the end), on the CPU `time.perf_counter`. Stage names follow lfsdk.stages.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch

__all__ = ["StageTimer", "StageStats", "ProfileTable", "summarize", "table_from_times"]


class StageTimer:
    """Collect durations per stage name. CUDA events on a CUDA device, perf_counter elsewhere."""

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self._events: dict[str, list] = {}
        self._open: dict[str, object] = {}

    def start(self, name: str) -> None:
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record(torch.cuda.current_stream(self.device))
            self._open[name] = ev
        else:
            self._open[name] = time.perf_counter()

    def stop(self, name: str) -> None:
        begin = self._open.pop(name)
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record(torch.cuda.current_stream(self.device))
            self._events.setdefault(name, []).append((begin, end))
        else:
            self._events.setdefault(name, []).append(time.perf_counter() - begin)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.start(name)
        try:
            yield
        finally:
            self.stop(name)

    def times(self) -> dict[str, list[float]]:
        """Stage → durations in milliseconds, in the order recorded."""
        if self.cuda:
            torch.cuda.synchronize(self.device)
            return {k: [b.elapsed_time(e) for b, e in v] for k, v in self._events.items()}
        return {k: [s * 1e3 for s in v] for k, v in self._events.items()}


@dataclass(frozen=True)
class StageStats:
    stage: str
    median_ms: float
    p99_ms: float
    samples: int
    level: int = 0  # 1 = a part of the row above it (network sub-stages)
    mean_ms: float = float("nan")  # means add up across stages (medians need not): used for checks


def summarize(stage: str, ms: Sequence[float], level: int = 0) -> StageStats:
    a = np.asarray(ms, dtype=np.float64)
    return StageStats(stage, float(np.median(a)), float(np.percentile(a, 99)), int(a.size), level,
                      float(a.mean()))


@dataclass(frozen=True)
class ProfileTable:
    """Per-stage medians and p99 of one `profile` run; `print(table)` shows it, `to_dict()` for JSON.

    `rows` in pipeline order; sub-stage rows (level 1) come from a separate instrumented pass of the
    network, so they add up to roughly, not exactly, the `network` row."""

    rows: tuple[StageStats, ...]
    backend: str
    device: str
    precision: str
    batch: int
    iters: int

    def __getitem__(self, stage: str) -> StageStats:
        for r in self.rows:
            if r.stage == stage:
                return r
        raise KeyError(f"no stage {stage!r} in this profile (stages: {[r.stage for r in self.rows]})")

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(r.stage for r in self.rows)

    def to_dict(self) -> dict:
        return {"backend": self.backend, "device": self.device, "precision": self.precision,
                "batch": self.batch, "iters": self.iters,
                "stages": {r.stage: {"median_ms": r.median_ms, "p99_ms": r.p99_ms, "mean_ms": r.mean_ms,
                                     "samples": r.samples}
                           for r in self.rows}}

    def __str__(self) -> str:
        total = self["total"].median_ms if "total" in self.stages else sum(
            r.median_ms for r in self.rows if r.level == 0)
        lines = [f"backend {self.backend} ({self.device}, {self.precision}), batch {self.batch}, "
                 f"{self.iters} iterations",
                 f"{'stage':<18}{'median ms':>11}{'p99 ms':>10}{'share':>8}"]
        for r in self.rows:
            name = ("  " * r.level + r.stage)
            share = f"{100 * r.median_ms / total:7.1f}%" if total > 0 and r.stage != "total" else ""
            lines.append(f"{name:<18}{r.median_ms:>11.3f}{r.p99_ms:>10.3f}{share:>8}")
        if total > 0:
            lines.append(f"→ {1e3 * self.batch / total:,.0f} frames/s ({total / self.batch:.3f} ms per frame)")
        return "\n".join(lines)

    __repr__ = __str__


def table_from_times(times: Mapping[str, Sequence[float]], order: Sequence[tuple[str, int]], **meta) -> ProfileTable:
    """Build a ProfileTable from StageTimer.times(); `order` lists (stage, level) rows to show if present."""
    return ProfileTable(rows=tuple(summarize(s, times[s], lvl) for s, lvl in order if times.get(s)), **meta)
