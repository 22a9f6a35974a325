"""How the torch backend runs its network: strict FP32 math, and torch.compile.

    with strict_fp32():                     # convolutions and matmuls in IEEE FP32, not TF32
        out = model(x)
    net = compile_network(model, "default") # inductor; the backend captures the CUDA graphs itself

cuDNN convolutions default to TF32 on Ampere and newer GPUs (torch.backends.cudnn.allow_tf32 is True), which
rounds their inputs to 10 mantissa bits: an "FP32" run would then be neither FP32 nor comparable across GPUs.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from .base import BadOption

__all__ = ["COMPILE_MODES", "strict_fp32", "compile_mode", "compile_network"]

#: torch.compile modes the backend takes: those without CUDA graphs of their own ("reduce-overhead" and
#: "max-autotune" capture their own, which would nest inside the backend's capture)
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")


@contextmanager
def strict_fp32() -> Iterator[None]:
    """TF32 off for cuDNN convolutions and CUDA matmuls inside the block; the caller's settings restored
    after. Process-wide flags: a thread running FP32 torch work meanwhile also gets IEEE FP32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def compile_mode(option: bool | str | None) -> str | None:
    """The backend's `compile=` option → a torch.compile mode, or None for eager. True means "default"."""
    if option is None or option is False:
        return None
    if option is True:
        return "default"
    if isinstance(option, str) and option in COMPILE_MODES:
        return option
    raise BadOption(f"compile must be True, False or one of {COMPILE_MODES}, got {option!r} (the backend "
                    "captures CUDA graphs itself; modes that add their own are refused)")


def compile_network(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """`model` wrapped by torch.compile with inductor (compiled lazily, on its first call). Shapes are static
    for the first batch size and turn dynamic on the second (dynamic=None), so a varying batch costs two
    compiles. TORCHDYNAMO_DISABLE=1 turns compiling off (the model runs eagerly), as for any torch.compile."""
    return torch.compile(model, mode=mode, dynamic=None, backend="inductor")
