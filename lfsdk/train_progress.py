"""What a training run does besides training: its progress bar, stopping cleanly on a signal, tearing down."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

import torch

from lfsdk.train_config import TrainConfig

__all__ = ["progress_bar", "bar_update", "stop_on_signals", "teardown"]


def progress_bar(cfg: TrainConfig, main_proc: bool, total: int, initial: int):
    if not (main_proc and cfg.progress):
        return None
    from tqdm import tqdm
    return tqdm(total=min(total, cfg.max_steps or total), initial=initial, unit="step", dynamic_ncols=True,
                file=sys.stderr)


def bar_update(bar, last: dict, best: float) -> None:
    if bar is not None:
        bar.update(1)
        bar.set_postfix(loss=f"{last['loss']:.4f}", best=f"{best:.2f}", lr=f"{last['lr']:.2e}")


def teardown(bar, world: int) -> None:
    if bar is not None:
        bar.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


@contextlib.contextmanager
def stop_on_signals():
    """While training, SIGTERM/SIGINT set the yielded event: the run finishes its step, evaluates, checkpoints
    and returns (so `kill PID` stops a background run cleanly and `--resume` continues it)."""
    event = threading.Event()
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            saved[sig] = signal.signal(sig, lambda *_: event.set())
    try:
        yield event
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
