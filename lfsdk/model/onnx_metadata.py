"""The metadata block of an exported ONNX file (`metadata_props`): enough to run the model from the file alone.

Keys (all strings, prefixed `lfsdk.`): format, version, config (the full ModelConfig as JSON, the one source
`read_onnx_config` trusts), num_joints, skeleton, joint_names / bones (when the skeleton is known),
cube_size_mm, input_size, input_normalisation, outputs, precision, xyz, checkpoint_sha256. The scalar keys
duplicate the config for tools that only show metadata (Netron, `onnx.load(...).metadata_props`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._version import __version__
from ..skeletons import get_skeleton
from .checkpoint import file_sha256
from .network import ModelConfig

__all__ = ["ONNX_FORMAT", "INPUT_NORMALISATION", "write_metadata", "read_metadata", "read_onnx_config",
           "OnnxMetadataError", "sidecar_path", "write_sidecar"]

ONNX_FORMAT = "lfsdk-onnx/1"
INPUT_NORMALISATION = (
    "crops (B,1,S,S) float32: depth in a cube of cube_size_mm around the hand centre, cropped and resized "
    "to S×S, then (d − d_centre)/(cube_z/2) inside the cube and 1 outside it or where depth is missing "
    "(lfsdk.geometry.normalize_depth)")
OUTPUTS = ("joints (B,M,3) normalised cube [-1,1]^3 (x,y,z); branch_joints (B,3,M,3) for branches XY|Z, XZ|Y, "
           "YZ|X; fusion_weights (B,3); with xyz: joints_xyz (B,M,3) camera mm")


if TYPE_CHECKING:
    import onnx


def _is_model(x) -> bool:
    """An onnx.ModelProto, told without importing onnx (a second of start-up that `lfsdk info` need not pay)."""
    return hasattr(x, "graph") and hasattr(x, "metadata_props")


class OnnxMetadataError(ValueError):
    """An .onnx file without (valid) lfsdk metadata."""


def _skeleton_props(config: ModelConfig) -> dict[str, str]:
    """Joint names and bones when lfsdk.skeletons knows this layout with this joint count."""
    try:
        sk = get_skeleton(config.skeleton)
    except (KeyError, ValueError):
        return {}
    if sk.num_joints != config.num_joints:
        return {}
    return {"joint_names": json.dumps(list(sk.names)), "bones": json.dumps([list(b) for b in sk.bones])}


def write_metadata(model: onnx.ModelProto, config: ModelConfig, *, precision: str, xyz: bool,
                   checkpoint_sha256: str | None = None) -> onnx.ModelProto:
    """Replace the lfsdk.* entries of model.metadata_props (in place; returns the model)."""
    props = {
        "format": ONNX_FORMAT,
        "version": __version__,
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "num_joints": str(config.num_joints),
        "skeleton": config.skeleton,
        **_skeleton_props(config),
        "cube_size_mm": json.dumps(list(config.cube_size)),
        "input_size": str(config.input_size),
        "input_normalisation": INPUT_NORMALISATION,
        "outputs": OUTPUTS,
        "precision": precision,
        "xyz": "1" if xyz else "0",
        "checkpoint_sha256": checkpoint_sha256 or "",
    }
    keep = [p for p in model.metadata_props if not p.key.startswith("lfsdk.")]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in props.items():
        model.metadata_props.add(key=f"lfsdk.{key}", value=value)
    return model


def read_metadata(model: onnx.ModelProto | str | os.PathLike) -> dict[str, str]:
    """The lfsdk.* metadata of an ONNX model or file, keys without the prefix. Weights are not loaded."""
    if not _is_model(model):
        import onnx
        from google.protobuf.message import DecodeError

        try:
            model = onnx.load(os.fspath(model), load_external_data=False)
        except OSError as e:
            raise OnnxMetadataError(f"{model}: cannot read ONNX file ({e})") from None
        except DecodeError as e:
            raise OnnxMetadataError(f"{model}: not an ONNX file ({e})") from None
    return {p.key[len("lfsdk."):]: p.value for p in model.metadata_props if p.key.startswith("lfsdk.")}


def read_onnx_config(path: str | os.PathLike | onnx.ModelProto) -> ModelConfig:
    """The ModelConfig an lfsdk-exported ONNX file was made from. Raises OnnxMetadataError naming the file."""
    meta = read_metadata(path)
    where = "model" if _is_model(path) else os.fspath(path)
    if meta.get("format") != ONNX_FORMAT:
        raise OnnxMetadataError(f"{where}: no lfsdk metadata (lfsdk.format is {meta.get('format')!r}, expected "
                                f"{ONNX_FORMAT!r}); export it with lfsdk-export")
    try:
        return ModelConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, json.JSONDecodeError, TypeError, ValueError) as e:
        raise OnnxMetadataError(f"{where}: bad lfsdk.config metadata ({e})") from None


def sidecar_path(onnx_path: str | os.PathLike) -> Path:
    """hand.onnx → hand.onnx.json"""
    p = Path(onnx_path)
    return p.with_name(p.name + ".json")


def write_sidecar(onnx_path: str | os.PathLike, *, precision: str, opset: int, xyz: bool,
                  checkpoint: str | os.PathLike | None, checkpoint_sha256: str | None,
                  variants: dict[str, str | os.PathLike], parity: dict | None) -> Path:
    """`<model>.onnx.json`: provenance of one exported file (its sha256, the checkpoint's, lfsdk version,
    opset, precision), the sibling variants of the same export, and the parity report (None if skipped)."""
    data = {
        "format": ONNX_FORMAT,
        "lfsdk_version": __version__,
        "onnx": Path(onnx_path).name,
        "onnx_sha256": file_sha256(onnx_path),
        "precision": precision,
        "opset": opset,
        "xyz": xyz,
        "checkpoint": None if checkpoint is None else os.fspath(checkpoint),
        "checkpoint_sha256": checkpoint_sha256,
        "variants": {k: Path(v).name for k, v in variants.items()},
        "parity": parity,
    }
    out = sidecar_path(onnx_path)
    out.write_text(json.dumps(data, indent=2) + "\n")
    return out
