"""ONNX export with the decode in the graph: crops (B,1,128,128) → joints, never heatmaps. `lfsdk-export`.

    export_onnx("run/best", "hand.onnx")                    # FP32, BN folded, dynamic batch, opset 18
    export_onnx(model, "hand.fp16.onnx", fp16=True)         # FP16 convs, FP32 decode/fusion via Casts
    export_onnx(model, "hand.xyz.onnx", xyz=True)           # + centers/camera/cube → joints_xyz (mm)

Why the legacy TorchScript exporter (dynamo=False): it names every node by its module path
(`/features/features.0/…/Conv`, `/branches.1/…`, `/decode/Softmax`, `/fusion/…`), which is what
lfsdk.stages maps onto profiler stages; the dynamo exporter names nodes `node_conv2d_3` and keeps the
scope only in metadata. The network's forward only calls submodules, so no node is left without a path.
onnxslim keeps those names (tested). FP16 is made in torch: the convolutional stages are cast to half
after BN folding in FP32, and the network's own `.float()` calls become explicit Cast nodes before the
decode and the fusion's pooling/sigmoid/L1 norm — the graph a strongly typed TensorRT build needs,
without an extra dependency, and with the cast boundaries exactly where the network's code puts them
(nvidia-modelopt's AutoCast, the issue's other route, was not tried here).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn

from .. import geometry
from ..contract import INPUT_NAME, OUTPUT_NAMES, XYZ_OUTPUT
from ..model.checkpoint import CheckpointError, file_sha256, load_model, resolve_checkpoint
from ..model.network import LatentFusion, ModelConfig
from ..model.onnx_metadata import write_metadata, write_sidecar
from .fold import fold_batchnorm
from .parity import generated_inputs, parity_report
from .quantize import quantize_int8
from .triton import write_model_repository

__all__ = ["ExportConfig", "Postprocess", "export_module", "export_onnx", "input_names", "output_names", "main"]

MIN_OPSET = 17


@dataclass(frozen=True)
class ExportConfig:
    """What `export_onnx` makes; serialised into the sidecar."""

    opset: int = 18
    fp16: bool = False
    xyz: bool = False
    simplify: bool = True

    def __post_init__(self):
        if not isinstance(self.opset, int) or self.opset < MIN_OPSET:
            raise ValueError(f"opset must be an int ≥ {MIN_OPSET}, got {self.opset!r}")

    @property
    def precision(self) -> str:
        return "fp16" if self.fp16 else "fp32"


def input_names(xyz: bool) -> list[str]:
    return [INPUT_NAME, "centers", "camera", "cube"] if xyz else [INPUT_NAME]


def output_names(xyz: bool) -> list[str]:
    return list(OUTPUT_NAMES) + ([XYZ_OUTPUT] if xyz else [])


class Postprocess(nn.Module):
    """Normalised cube → camera mm in the graph: lfsdk.geometry.cube_to_xyz, nothing re-derived.

    joints (B,M,3), centers (B,3) mm, camera (4,) (fx, fy, cx, cy), cube (B,3) mm → (B,M,3) mm.
    """

    def forward(self, joints: torch.Tensor, centers: torch.Tensor, camera: torch.Tensor,
                cube: torch.Tensor) -> torch.Tensor:
        return geometry.cube_to_xyz(joints, centers, cube, camera)


class _LatentFusionXYZ(LatentFusion):
    """LatentFusion + Postprocess as a sibling of features/branches/decode/fusion, so its nodes are
    named `/postprocess/…` at the same depth as the rest."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.postprocess = Postprocess()

    def forward(self, crops, centers, camera, cube):  # type: ignore[override]
        out = super().forward(crops)
        return (*out, self.postprocess(out.joints, centers, camera, cube))


def export_module(model: LatentFusion, *, fp16: bool = False, xyz: bool = False) -> nn.Module:
    """The module that is traced: a BN-folded copy of `model` (eval, CPU), FP16 convolutions if asked,
    with the in-graph post-processing if `xyz`. `model` itself is not modified."""
    src = model
    if xyz:
        src = _LatentFusionXYZ(model.config)
        src.load_state_dict(model.state_dict())
    net, left = fold_batchnorm(src)
    net = net.cpu()
    if left:
        warnings.warn(f"{left} BatchNorm layer(s) could not be folded (negative scale after a MaxPool); "
                      "they stay in the graph as BatchNormalization", stacklevel=2)
    if fp16:
        # only the convolutional stages: ω, the decode and the fusion's normalisation stay FP32
        net.features.half()
        net.branches.half()
        net.fusion.half()
    return net


def _example_inputs(config: ModelConfig, xyz: bool, batch: int = 2) -> tuple[torch.Tensor, ...]:
    s = config.input_size
    crops = torch.rand(batch, 1, s, s) * 2 - 1
    if not xyz:
        return (crops,)
    centers = torch.tensor([[0.0, 0.0, 500.0]]).repeat(batch, 1)
    camera = geometry.Camera.nyu().tensor()
    cube = torch.tensor([config.cube_size]).repeat(batch, 1)
    return crops, centers, camera, cube


def _as_model(model_or_checkpoint) -> tuple[LatentFusion, str | None]:
    if isinstance(model_or_checkpoint, LatentFusion):
        return model_or_checkpoint, None
    if isinstance(model_or_checkpoint, (str, os.PathLike)):
        weights, _ = resolve_checkpoint(model_or_checkpoint)
        return load_model(model_or_checkpoint), file_sha256(weights)
    raise TypeError(f"expected a LatentFusion or a checkpoint path, got {type(model_or_checkpoint).__name__}")


def export_onnx(model_or_checkpoint: LatentFusion | str | os.PathLike, path: str | os.PathLike, *,
                fp16: bool = False, xyz: bool = False, opset: int = 18, simplify: bool = True,
                checkpoint_sha256: str | None = None) -> Path:
    """Export a LatentFusion (or a checkpoint path) to `path`; returns the path.

    Inputs `crops (B,1,S,S)` [+ `centers (B,3)` mm, `camera (4,)`, `cube (B,3)` mm with xyz]; outputs
    `joints (B,M,3)`, `branch_joints (B,3,M,3)`, `fusion_weights (B,3)` [+ `joints_xyz (B,M,3)` mm]; B is
    dynamic; all I/O is float32. The file passes onnx.checker and carries lfsdk metadata.
    """
    cfg = ExportConfig(opset=opset, fp16=fp16, xyz=xyz, simplify=simplify)
    model, sha = _as_model(model_or_checkpoint)
    checkpoint_sha256 = checkpoint_sha256 or sha
    net = export_module(model, fp16=fp16, xyz=xyz)
    ins, outs = input_names(xyz), output_names(xyz)
    dynamic = {n: {0: "batch"} for n in ins + outs if n != "camera"}
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    try:
        with warnings.catch_warnings():
            # the tracer's notes about Python-side shape checks in decode_latent_heatmaps, and the
            # legacy exporter's deprecation notice: both expected, neither actionable
            warnings.simplefilter("ignore")
            with torch.no_grad():
                torch.onnx.export(net, _example_inputs(model.config, xyz), str(tmp), dynamo=False,
                                  opset_version=cfg.opset, input_names=ins, output_names=outs,
                                  dynamic_axes=dynamic, do_constant_folding=True)
        proto = onnx.load(str(tmp))
    finally:
        tmp.unlink(missing_ok=True)
    if simplify:
        import onnxslim

        proto = onnxslim.slim(proto)
    write_metadata(proto, model.config, precision=cfg.precision, xyz=xyz, checkpoint_sha256=checkpoint_sha256)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    return Path(path)


# -- lfsdk-export ---------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lfsdk-export",
        description="Export a Latent Fusion checkpoint to ONNX (decode in the graph), optionally FP16 and "
                    "INT8 variants, and report torch-vs-onnxruntime parity on held-out generated frames.")
    p.add_argument("checkpoint", help="checkpoint directory (model.safetensors + config.json) or .safetensors")
    p.add_argument("-o", "--output", default="model.onnx", help="FP32 ONNX path (default: model.onnx); "
                   "variants go beside it as <stem>.fp16.onnx / <stem>.int8.onnx")
    p.add_argument("--fp16", action="store_true", help="also write the FP16 variant")
    p.add_argument("--int8", action="store_true", help="also write the static INT8 (QDQ) variant")
    p.add_argument("--xyz", action="store_true", help="add centers/camera/cube inputs and a joints_xyz output")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--frames", type=int, default=256, help="held-out frames for the parity report")
    p.add_argument("--calibration-frames", type=int, default=256, help="frames to calibrate INT8 on")
    p.add_argument("--no-parity", action="store_true", help="skip the parity report")
    p.add_argument("--triton-repo", metavar="DIR", help="also write a Triton Inference Server model repository "
                   "(ensemble: preprocessing → network → back-projection) for the FP32 ONNX into DIR; "
                   "needs the [serve] extra (tritonclient) to validate its configs")
    return p


def _check_writable(path: Path) -> None:
    parent = path.resolve().parent
    if not parent.is_dir():
        raise OSError(f"{path}: output folder {parent} does not exist")
    if path.is_dir():
        raise OSError(f"{path}: is a folder, expected an .onnx file path")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OSError(f"{path}: not writable")


def variant_path(fp32_path: Path, precision: str) -> Path:
    """hand.onnx → hand.fp16.onnx / hand.int8.onnx (fp32 → itself)."""
    return fp32_path if precision == "fp32" else fp32_path.with_name(f"{fp32_path.stem}.{precision}.onnx")


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix != ".onnx":
        raise ValueError(f"{out}: output must end in .onnx")
    if args.frames < 1 or args.calibration_frames < 1:
        raise ValueError("--frames and --calibration-frames must be ≥ 1")
    precisions = ["fp32"] + (["fp16"] if args.fp16 else []) + (["int8"] if args.int8 else [])
    for prec in precisions:
        _check_writable(variant_path(out, prec))
    weights, _ = resolve_checkpoint(args.checkpoint)
    model, sha = load_model(args.checkpoint), file_sha256(weights)
    cfg = ExportConfig(opset=args.opset, xyz=args.xyz)
    files = {"fp32": export_onnx(model, out, xyz=args.xyz, opset=cfg.opset, checkpoint_sha256=sha)}
    if args.fp16:
        files["fp16"] = export_onnx(model, variant_path(out, "fp16"), fp16=True, xyz=args.xyz, opset=cfg.opset,
                                    checkpoint_sha256=sha)
    if args.int8:
        print(f"lfsdk-export: calibrating INT8 on {args.calibration_frames} generated frames", file=sys.stderr)
        calib = generated_inputs(model.config, args.calibration_frames, seed=1, xyz=args.xyz)
        files["int8"] = quantize_int8(files["fp32"], variant_path(out, "int8"), calib)
    report = None
    if not args.no_parity:
        report = parity_report(model, files, generated_inputs(model.config, args.frames, seed=2, xyz=args.xyz),
                               progress=True)
        print(report.table())
    for prec, f in files.items():
        side = write_sidecar(f, precision=prec, opset=cfg.opset, xyz=args.xyz, checkpoint=args.checkpoint,
                             checkpoint_sha256=sha, variants=files,
                             parity=None if report is None else report.to_dict())
        print(f"wrote {f} and {side.name}")
    if args.triton_repo:
        print(f"wrote Triton model repository {write_model_repository(files['fp32'], args.triton_repo)}")
    if report is not None and not report.passed:
        print("lfsdk-export: parity outside the bars (see table)", file=sys.stderr)
        return 3
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (CheckpointError, OSError, ValueError) as e:
        print(f"lfsdk-export: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
