"""Conversions a backend asks for (lfsdk.backends.model_file): a checkpoint → its ONNX at a precision, an FP32
ONNX → its INT8 copy. Results are cached under lfsdk.engine_cache.cache_dir()/onnx ($LFSDK_CACHE overrides),
keyed by the source's sha256, the precision and the lfsdk version, and written to a temporary name and
renamed, so concurrent processes never see half a file.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from .._version import __version__
from ..backends.base import BackendUnavailable
from ..data.synthetic import render_batch
from ..engine_cache import cache_dir
from ..model.checkpoint import CheckpointError, file_sha256, resolve_checkpoint
from ..model.onnx_metadata import read_onnx_config
from ..pipeline import preprocess
from ..preprocess import PreprocessConfig
from .onnx import export_onnx
from .quantize import quantize_int8

__all__ = ["convert", "calibration_crops", "CALIBRATION_FRAMES"]

CALIBRATION_FRAMES = 64


def _cache_root() -> Path:
    return cache_dir() / "onnx"


def _atomic(out: Path, make, what: str) -> Path:
    """Run make(tmp_path) and rename the result to `out` (skipped when `out` exists)."""
    if out.is_file():
        return out
    print(f"lfsdk: {what} once (seconds; later loads reuse it), cached as {out}", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.onnx")
    try:
        make(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def calibration_crops(config, n: int | None = None, seed: int = 12345) -> np.ndarray:
    """(n, 1, S, S) crops of generated hands (lfsdk.data.synthetic), cut the way the estimator cuts them for
    this model (a ModelConfig); n defaults to CALIBRATION_FRAMES."""
    layout = config.skeleton if config.skeleton in ("nyu", "icvl", "msra") else "nyu"
    batch = render_batch(n or CALIBRATION_FRAMES, seed=seed, camera="icvl", layout=layout)
    crops, _ = preprocess(batch.depth, batch.camera, PreprocessConfig.for_model(config))
    return crops.numpy()


def convert(path: Path, precision: str) -> tuple[Path, str]:
    """(cached ONNX, precision) for a checkpoint at 'fp32'/'fp16'/'int8', or for an FP32 .onnx at 'int8'."""
    if path.suffix == ".onnx":
        key = hashlib.sha256(f"{file_sha256(path)}/{__version__}".encode()).hexdigest()[:20]
        return _int8(path, _cache_root() / f"{key}-int8.onnx"), "int8"
    try:
        weights, config = resolve_checkpoint(path)
    except CheckpointError as e:
        raise BackendUnavailable(f"expected an .onnx file or a checkpoint: {e}") from None
    key = hashlib.sha256(f"{file_sha256(weights)}/{file_sha256(config)}/{__version__}".encode()).hexdigest()[:20]
    if precision == "fp16":
        return _export(path, _cache_root() / f"{key}-fp16.onnx", fp16=True), "fp16"
    fp32 = _export(path, _cache_root() / f"{key}-fp32.onnx", fp16=False)
    if precision == "fp32":
        return fp32, "fp32"
    return _int8(fp32, _cache_root() / f"{key}-int8.onnx"), "int8"


def _export(checkpoint: Path, out: Path, fp16: bool) -> Path:
    what = f"exporting {checkpoint} to ONNX ({'fp16' if fp16 else 'fp32'})"
    return _atomic(out, lambda tmp: export_onnx(checkpoint, tmp, fp16=fp16), what)


def _int8(fp32: Path, out: Path) -> Path:
    return _atomic(out, lambda tmp: quantize_int8(fp32, tmp, calibration_crops(read_onnx_config(fp32))),
                   f"quantising {fp32.name} to INT8")
