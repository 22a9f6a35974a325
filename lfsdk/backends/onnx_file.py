"""The ONNX file an ONNX-consuming backend (onnxruntime, OpenVINO) runs, for any model file it is given.

    onnx_for("run/best", "fp32")     → exported once into the cache, reused after (keyed by the checkpoint's
                                       sha256, the precision and the lfsdk version)
    onnx_for("hand.onnx", None)      → hand.onnx itself (its metadata says the precision)
    onnx_for("hand.onnx", "int8")    → a cached INT8 copy, calibrated on generated frames

The cache lives under lfsdk.engine_cache.cache_dir()/onnx ($LFSDK_CACHE overrides). Files are written
to a temporary name and renamed, so concurrent processes never see half a file.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .. import __version__
from ..model.checkpoint import CheckpointError, file_sha256, resolve_checkpoint
from .base import BackendUnavailable

__all__ = ["onnx_for", "onnx_precision", "calibration_crops"]

#: precisions an ONNX file can carry; int8 is made from the fp32 one
EXPORTABLE = ("fp32", "fp16", "int8")
CALIBRATION_FRAMES = 64


def onnx_precision(path: Path) -> str:
    """The precision recorded in an lfsdk ONNX file's metadata; raises BackendUnavailable without it."""
    from ..export.metadata import OnnxMetadataError, read_metadata, read_onnx_config

    try:
        read_onnx_config(path)  # checks the format and the config
        return read_metadata(path).get("precision", "fp32")
    except OnnxMetadataError as e:
        raise BackendUnavailable(str(e)) from None


def _cache_root() -> Path:
    from ..engine_cache import cache_dir

    return cache_dir() / "onnx"


def _atomic(out: Path, make) -> Path:
    """Run make(tmp_path) and rename the result to `out` (skipped when `out` exists)."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.onnx")
    try:
        make(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def calibration_crops(config, n: int | None = None, seed: int = 12345) -> np.ndarray:
    """(n, 1, S, S) crops of generated hands (lfsdk.data.synthetic), cut the way the estimator cuts them;
    n defaults to CALIBRATION_FRAMES."""
    from ..data.synthetic import render_batch
    from ..estimator import preprocess, trained_preprocess

    batch = render_batch(n or CALIBRATION_FRAMES, seed=seed, camera="icvl", layout=config.skeleton if config.skeleton in
                         ("nyu", "icvl", "msra") else "nyu")
    how = trained_preprocess(config)
    crops, _ = preprocess(batch.depth, batch.camera, how["cube"], config.input_size, refine=how["refine"],
                          band=how["band"], mode=how["mode"])
    return crops.numpy()


def onnx_for(path: str | os.PathLike, precision: str | None) -> tuple[Path, str]:
    """(ONNX file, its precision) for model file `path` (checkpoint or .onnx) at `precision` (None: the
    file's own, fp32 for a checkpoint)."""
    p = Path(path)
    if precision is not None and precision not in EXPORTABLE:
        raise BackendUnavailable(f"an ONNX model runs {EXPORTABLE}, not {precision!r}")
    if p.suffix == ".onnx":
        if not p.is_file():
            raise BackendUnavailable(f"{p}: no such file")
        have = onnx_precision(p)
        if precision in (None, have):
            return p, have
        if precision == "int8" and have == "fp32":
            key = hashlib.sha256(f"{file_sha256(p)}/{__version__}".encode()).hexdigest()[:20]
            return _int8(p, _cache_root() / f"{key}-int8.onnx"), "int8"
        raise BackendUnavailable(f"{p} is a {have} model; {precision} needs the FP32 export or the checkpoint "
                                 f"(lfsdk-export --{precision})")
    try:
        weights, config = resolve_checkpoint(p)
    except CheckpointError as e:
        raise BackendUnavailable(f"expected an .onnx file or a checkpoint: {e}") from None
    precision = precision or "fp32"
    key = hashlib.sha256(f"{file_sha256(weights)}/{file_sha256(config)}/{__version__}".encode()).hexdigest()[:20]
    fp32 = _export(p, _cache_root() / f"{key}-fp32.onnx", fp16=False)
    if precision == "fp32":
        return fp32, "fp32"
    if precision == "fp16":
        return _export(p, _cache_root() / f"{key}-fp16.onnx", fp16=True), "fp16"
    return _int8(fp32, _cache_root() / f"{key}-int8.onnx"), "int8"


def _export(checkpoint: Path, out: Path, fp16: bool) -> Path:
    from ..export.onnx import export_onnx

    return _atomic(out, lambda tmp: export_onnx(checkpoint, tmp, fp16=fp16))


def _int8(fp32: Path, out: Path) -> Path:
    from ..export.metadata import read_onnx_config
    from ..export.quantize import quantize_int8

    return _atomic(out, lambda tmp: quantize_int8(fp32, tmp, calibration_crops(read_onnx_config(fp32))))
