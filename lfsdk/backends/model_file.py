"""The ONNX file an ONNX-consuming backend (onnxruntime, OpenVINO) runs, for any model file it is given.

    onnx_for("hand.onnx", None)      → hand.onnx itself (its metadata says the precision)
    onnx_for("run/best", "fp32")     → exported once into the cache (lfsdk.export.convert), reused after
    onnx_for("hand.onnx", "int8")    → a cached INT8 copy, calibrated on generated frames

`onnx_for` is the package's one upward import: converting a checkpoint is export's job, and a backend asked
to run a checkpoint asks export for the ONNX here and nowhere else.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..model.onnx_metadata import OnnxMetadataError, read_metadata, read_onnx_config
from .base import BackendUnavailable

__all__ = ["onnx_for", "onnx_precision", "EXPORTABLE"]

#: precisions an ONNX file can carry; int8 is made from the fp32 one
EXPORTABLE = ("fp32", "fp16", "int8")


def onnx_precision(path: Path) -> str:
    """The precision recorded in an lfsdk ONNX file's metadata; raises BackendUnavailable without it."""
    try:
        read_onnx_config(path)  # checks the format and the config
        return read_metadata(path).get("precision", "fp32")
    except OnnxMetadataError as e:
        raise BackendUnavailable(str(e)) from None


def onnx_for(path: str | os.PathLike, precision: str | None) -> tuple[Path, str]:
    """(ONNX file, its precision) for model file `path` (checkpoint or .onnx) at `precision` (None: the
    file's own, fp32 for a checkpoint). Raises BackendUnavailable when it cannot be had."""
    p = Path(path)
    if precision is not None and precision not in EXPORTABLE:
        raise BackendUnavailable(f"an ONNX model runs {EXPORTABLE}, not {precision!r}")
    if p.suffix == ".onnx":
        if not p.is_file():
            raise BackendUnavailable(f"{p}: no such file")
        have = onnx_precision(p)
        if precision in (None, have):
            return p, have
        if not (precision == "int8" and have == "fp32"):
            raise BackendUnavailable(f"{p} is a {have} model; {precision} needs the FP32 export or the checkpoint "
                                     f"(lfsdk-export --{precision})")
    from ..export.convert import convert  # the one upward import (see the module docstring)

    return convert(p, precision or "fp32")
