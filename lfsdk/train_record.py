"""Bookkeeping of a training run: its mutable state (what resume.json carries) and the recorder that
evaluates on the held-out set, appends to log.jsonl and writes best/, last/ and the resume state."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lfsdk.data.palm import palm_weights
from lfsdk.model import save_checkpoint
from lfsdk.train_eval import held_out_mm
from lfsdk.train_state import save_resume

__all__ = ["RunState", "Recorder"]


@dataclass
class RunState:
    """Mutable state of a run; what resume.json carries."""

    step: int = 0
    epoch: int = 0
    samples: int = 0
    best: float = math.inf
    seconds: float = 0.0  # wall-clock of earlier sessions
    history: list = field(default_factory=list)


class Recorder:
    """Evaluates on the held-out set (and a second pass when val_depth is given), appends to log.jsonl,
    writes best/, last/ and the resume state. refresh_bn(step), when given, runs first: the precise BatchNorm
    statistics the evaluation and the checkpoints then carry."""

    def __init__(self, out: Path, model, val_set, val_depth, layout: str | None, device, amp_dtype, extra: dict,
                 refresh_bn: Callable[[int], object] | None = None):
        self.out, self.model, self.val_set, self.val_depth = out, model, val_set, val_depth
        self.refresh_bn = refresh_bn
        self.device, self.amp_dtype, self.extra = device, amp_dtype, extra
        self.palm_w = palm_weights(layout) if val_depth is not None else None
        self.mark = (time.time(), 0)  # (wall time, samples) at the last record: the samples/s interval

    def record(self, run: RunState, loss: float | None, lr: float, elapsed: float, optimizer, gen) -> dict:
        t_eval = time.time()
        if self.refresh_bn is not None:
            self.refresh_bn(run.step)
        val = held_out_mm(self.model, self.val_set, self.device, self.amp_dtype, self.val_depth, self.palm_w)
        rec = {"step": run.step, "epoch": run.epoch, "samples": run.samples, "loss": loss, "val_mm": val["single"],
               "lr": lr, "seconds": round(elapsed, 1)}
        if "two_pass" in val:
            rec["val_two_pass_mm"] = val["two_pass"]
        seconds = t_eval - self.mark[0]
        if run.samples > self.mark[1] and seconds > 0:
            rec["samples_per_s"] = round((run.samples - self.mark[1]) / seconds, 2)
        run.history.append(rec)
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        meta = {**self.extra, "step": run.step, "epoch": run.epoch, "samples": run.samples, "val_mm": rec["val_mm"]}
        if "val_two_pass_mm" in rec:
            meta["val_two_pass_mm"] = rec["val_two_pass_mm"]
        if rec["val_mm"] < run.best:
            run.best = rec["val_mm"]
            save_checkpoint(self.model, self.out / "best", **meta)
        save_checkpoint(self.model, self.out / "last", **meta)
        state = {"step": run.step, "epoch": run.epoch, "samples": run.samples, "best_val_mm": run.best,
                 "seconds": elapsed, "history": run.history}
        save_resume(self.out, optimizer, state, {"generator": gen.get_state()})
        self.mark = (time.time(), run.samples)
        return rec
