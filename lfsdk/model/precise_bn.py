"""Precise BatchNorm statistics: re-estimate every BatchNorm's running mean and variance with the weights
fixed, as plain averages over many batches, instead of the exponential average training leaves behind.

Training updates the running statistics with momentum 0.1, i.e. from the last ~10 batches, computed while the
weights were moving. At a high learning rate those lag the network they are used with: measured on the lite
model mid-run (lr 7.6e-4), its held-out error was 25.8 mm with the training's statistics and 16.7 mm after
re-estimating them on 100 batches — most of the swings between evaluations were the statistics, not the
weights. (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021, call this PreciseBN.)

    recompute_bn_stats(model, batches)     # batches: an iterable of (B, 1, S, S) input tensors
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

__all__ = ["batch_norms", "recompute_bn_stats"]


def batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, batches: Iterable[torch.Tensor], *, dtype: torch.dtype | None = None) -> int:
    """Replace every BatchNorm's running mean/var by the average of its batch statistics over `batches`
    (each a model input, already on the model's device and layout), the weights untouched; the model comes
    back in the mode it was in. dtype: autocast dtype of the forward passes (None: FP32). Returns the number
    of batches used; with none, the statistics are left as they were."""
    norms = batch_norms(model)
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone(), m.momentum) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches, not an exponential one
    was_training, n = model.training, 0
    model.train()
    try:
        for x in batches:
            with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                model(x)
            n += 1
    finally:
        model.train(was_training)
        for m, (mean, var, count, momentum) in zip(norms, saved):
            m.momentum = momentum
            if n == 0:
                m.running_mean.copy_(mean), m.running_var.copy_(var), m.num_batches_tracked.copy_(count)
    return n
