"""BatchNorm folding for export: every BN of the network goes into the convolution before it.

Folding happens in torch, in FP32, before any cast to half precision, so the FP16 graph gets weights
rounded once rather than a half-precision fold. Pure in the sense that the input model is not touched.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batchnorm"]


def _bn_scale(bn: nn.BatchNorm2d) -> torch.Tensor:
    return bn.weight / torch.sqrt(bn.running_var + bn.eps)


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """A deep copy of `model` (eval mode) with BatchNorm2d folded into the Conv2d it follows.

    Folds `Conv → BN` and `Conv → MaxPool → BN` (Fig. 4's fusion head) inside every nn.Sequential. The
    second is exact only when all of the BN's scales γ/√(σ²+ε) are positive (a per-channel increasing
    affine map commutes with max); otherwise that BN is left in place. Folded BNs become nn.Identity, so
    the module paths (and the ONNX node names derived from them) keep their indices.

    Returns (folded copy, number of BatchNorm2d left unfolded).
    """
    folded = copy.deepcopy(model).eval()
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        for i in range(1, len(seq)):
            bn = seq[i]
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            if isinstance(seq[i - 1], nn.Conv2d):
                conv_at = i - 1
            elif (i >= 2 and isinstance(seq[i - 1], nn.MaxPool2d) and isinstance(seq[i - 2], nn.Conv2d)
                  and bool((_bn_scale(bn) > 0).all())):
                conv_at = i - 2
            else:
                continue
            seq[conv_at] = fuse_conv_bn_eval(seq[conv_at], bn)
            seq[i] = nn.Identity()
    left = sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    return folded, left
