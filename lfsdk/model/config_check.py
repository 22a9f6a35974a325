"""Checks of a ModelConfig's fields, each error naming the config key, so that a hand-edited or corrupt
config.json fails on load with one line instead of deep inside torch (a conv with 0 channels, a float joint
count) or, worse, loads and runs with a NaN cube."""
from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

from ..contract import InputError

__all__ = ["check_model_config"]


def _int(key: str, v: Any, low: int, high: int, multiple: int = 1) -> None:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not low <= v <= high or v % multiple:
        rule = f"an integer in {low}..{high}" + (f", a multiple of {multiple}" if multiple > 1 else "")
        raise InputError(f"model config {key} must be {rule}, got {v!r}")


def check_model_config(values: Mapping[str, Any]) -> None:
    """Raise InputError naming the first bad key of a ModelConfig's fields (num_joints, skeleton, cube_size,
    input_size, channels, fusion_channels, leaky_slope, extra)."""
    # upper bounds far above any real model, so that a corrupt value fails here, not allocating the network
    _int("num_joints", values["num_joints"], 1, 1024)
    _int("input_size", values["input_size"], 4, 4096, multiple=4)  # the heatmaps are input_size / 4
    _int("channels", values["channels"], 2, 4096, multiple=2)  # residual blocks run at channels / 2
    _int("fusion_channels", values["fusion_channels"], 1, 8192)
    if not isinstance(values["skeleton"], str) or not values["skeleton"]:
        raise InputError(f"model config skeleton must be a layout name (e.g. 'nyu'), got {values['skeleton']!r}")
    cube = values["cube_size"]
    if (isinstance(cube, (str, bytes)) or not hasattr(cube, "__len__") or len(cube) != 3
            or not all(isinstance(c, numbers.Real) and not isinstance(c, bool) and math.isfinite(c) and c > 0
                       for c in cube)):
        raise InputError(f"model config cube_size must be three finite sizes > 0 mm, got {cube!r}")
    slope = values["leaky_slope"]
    if isinstance(slope, bool) or not isinstance(slope, numbers.Real) or not math.isfinite(slope):
        raise InputError(f"model config leaky_slope must be a finite number, got {slope!r}")
    if not isinstance(values["extra"], Mapping):
        raise InputError(f"model config extra must be an object, got {values['extra']!r}")
