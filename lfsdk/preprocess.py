"""How a depth frame becomes a network input: one config for training, inference, export and serving.

A model must see crops cut the way it learned from, so the config travels with the model
(`PreprocessConfig.to_dict()` is stored in the checkpoint's config.extra["preprocess"]) and
`PreprocessConfig.for_model(config)` reads it back, falling back to these defaults for fields it lacks.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from .contract import InputError

__all__ = ["PreprocessConfig", "CROP_MODES", "cube3"]

CROP_MODES = ("nearest", "bilinear")


def cube3(cube: Any, what: str = "cube") -> tuple[float, float, float]:
    """A cube size in mm — one number or (x, y, z) — → three positive finite floats; InputError otherwise."""
    try:
        values = [float(cube)] * 3 if isinstance(cube, (int, float)) else [float(v) for v in cube]
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a size in mm or three sizes (x, y, z), got {cube!r}") from None
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(f"{what} must be one or three finite sizes > 0 mm, got {cube!r}")
    return tuple(values)


@dataclass(frozen=True)
class PreprocessConfig:
    """Hand centre and crop settings; identical at training and inference."""

    cube: tuple[float, float, float] = (250.0, 250.0, 250.0)  # crop cube, mm
    size: int = 128  # crop side, px (the network's input size)
    band: float = 150.0  # hand centre: centre of mass of the valid pixels within band mm of the nearest
    refine: bool = False  # second centre of mass inside the cube (lfsdk.kernels.hand_center refine)
    mode: str = "nearest"  # crop sampling, one of CROP_MODES

    def __post_init__(self):
        object.__setattr__(self, "cube", cube3(self.cube))
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 4:
            raise InputError(f"preprocess size must be an int ≥ 4 px, got {self.size!r}")
        if isinstance(self.band, bool) or not isinstance(self.band, (int, float)) or not (
                math.isfinite(self.band) and self.band > 0):
            raise InputError(f"preprocess band must be a finite size > 0 mm, got {self.band!r}")
        object.__setattr__(self, "band", float(self.band))
        if not isinstance(self.refine, bool):
            raise InputError(f"preprocess refine must be true or false, got {self.refine!r}")
        if self.mode not in CROP_MODES:
            raise InputError(f"preprocess mode must be one of {CROP_MODES}, got {self.mode!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cube"] = list(self.cube)
        return d

    def with_overrides(self, **overrides: Any) -> "PreprocessConfig":
        """This config with the given fields replaced; None values keep the current setting."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def for_model(cls, config: Any) -> "PreprocessConfig":
        """How `config`'s (a ModelConfig) training crops were cut: config.extra["preprocess"], the model's cube
        and input size for what it does not say. Raises InputError naming the key that is wrong."""
        extra = config.extra if isinstance(config.extra, Mapping) else {}
        stored = extra.get("preprocess", {})
        if not isinstance(stored, Mapping):
            raise InputError(f"model config extra.preprocess must be an object, got {stored!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(stored) - known)
        if unknown:
            raise InputError(f"model config extra.preprocess has unknown keys {unknown}: expected {sorted(known)}")
        values = {"cube": config.cube_size, "size": config.input_size, **stored}
        try:
            pre = cls(**values)
        except InputError as e:
            raise InputError(f"model config extra.preprocess: {e}") from None
        if pre.size != config.input_size:
            raise InputError(f"model config extra.preprocess.size {pre.size} differs from input_size "
                             f"{config.input_size}")
        return pre
