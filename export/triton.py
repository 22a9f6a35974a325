"""A model repository for Triton Inference Server: `lfsdk-export --triton-repo DIR` (or `lfsdk-triton-repo`).

    write_model_repository("hand.onnx", "repo")                          # network as model.onnx
    write_model_repository("hand.onnx", "repo", engine="hand.engine")    # network as model.plan

DIR/
  latent_fusion/              ensemble, what clients call: depth (B,H,W) uint16 + camera (B,4) → joints in mm
  latent_fusion_preprocess/   Python backend: hand centre + crop (lfsdk.kernels) → crops (B,1,S,S)
  latent_fusion_network/      onnxruntime_onnx (model.onnx) or tensorrt_plan (model.plan)
  latent_fusion_postprocess/  Python backend: back-projection (lfsdk.kernels) → uvd, xyz mm
  latent_fusion_hands/        Python backend: every hand (HandPoseEstimator.find_hands around model.onnx, run
                              by onnxruntime in the model: the two network passes per hand are data-dependent)

The ensemble speaks the same protocol as `lfsdk serve` (lfsdk.serving), so lfsdk.serving.Client works
unchanged against one machine or a fleet of Triton replicas. Tensor names, dtypes and dims of the network are
read from the ONNX file; max_batch_size from the engine's sidecar profile (or `max_batch`). Every
config.pbtxt is parsed with the model-config protobuf that tritonclient ships before the call returns.
The Python-backend models need lfsdk installed in the server's Python (see the README).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import OUTPUT_NAMES
from ..engine_cache import SidecarError, read_sidecar
from ..model.checkpoint import file_sha256
from ..model.network import ModelConfig
from ..model.onnx_metadata import read_onnx_config
from ..hands import SCORER_FILE
from ..serving.protocol import HANDS_SUFFIX, MODEL_NAME, TensorSpec, hands_outputs, request_inputs, response_outputs

__all__ = ["RepositoryConfig", "RepositoryError", "write_model_repository", "parse_config", "onnx_io", "main"]

NETWORK_OUTPUTS = OUTPUT_NAMES
_ONNX_TO_NP = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}


class RepositoryError(ValueError):
    """An input the repository cannot be made from (wrong ONNX, missing sidecar, bad option)."""


@dataclass(frozen=True)
class RepositoryConfig:
    """What the repository's configs declare. kind: where instances run ('gpu' or 'cpu')."""

    max_batch: int | None = None  # None: the engine profile's max, else 64
    preferred_batch_sizes: tuple[int, ...] | None = None  # None: powers of two from 4 up to max_batch
    max_queue_delay_us: int = 500
    instances: int = 1
    kind: str = "gpu"
    name: str = MODEL_NAME

    def __post_init__(self):
        if self.kind not in ("gpu", "cpu"):
            raise RepositoryError(f"kind must be 'gpu' or 'cpu', got {self.kind!r}")
        for key in ("instances", "max_queue_delay_us"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if key == "instances" else 0):
                raise RepositoryError(f"{key} must be a non-negative int (instances ≥ 1), got {v!r}")
        if self.max_batch is not None and (isinstance(self.max_batch, bool) or not isinstance(self.max_batch, int)
                                           or self.max_batch < 1):
            raise RepositoryError(f"max_batch must be a positive int, got {self.max_batch!r}")


# -- config.pbtxt -----------------------------------------------------------------------------------------

class _Enum(str):
    """A protobuf enum value: written without quotes."""


def _pbtxt(obj: dict, indent: int = 0) -> str:
    """A dict as protobuf text format: lists repeat the field, dicts are messages, _Enum unquoted."""
    pad, lines = "  " * indent, []
    for key, value in obj.items():
        for v in (value if isinstance(value, list) else [value]):
            if isinstance(v, dict):
                lines.append(f"{pad}{key} {{\n{_pbtxt(v, indent + 1)}{pad}}}")
            elif isinstance(v, _Enum):
                lines.append(f"{pad}{key}: {v}")
            elif isinstance(v, bool):
                lines.append(f"{pad}{key}: {'true' if v else 'false'}")
            elif isinstance(v, (int, float)):
                lines.append(f"{pad}{key}: {v}")
            else:
                lines.append(f"{pad}{key}: {json.dumps(str(v))}")
    return "".join(line + "\n" for line in lines)


def _tensor(spec: TensorSpec) -> dict:
    return {"name": spec.name, "data_type": _Enum("TYPE_" + spec.triton_dtype), "dims": list(spec.dims)}


def parse_config(text: str):
    """config.pbtxt text → tritonclient's ModelConfig protobuf; RepositoryError with the parser's message."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError as e:
        raise RepositoryError(f"validating config.pbtxt needs tritonclient ({e}); pip install 'lfsdk[serve]'") from None
    try:
        return text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as e:
        raise RepositoryError(f"config.pbtxt does not parse as Triton's ModelConfig: {e}") from None


def onnx_io(path: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The graph's inputs and outputs with dims after the (dynamic) batch dimension; weights not loaded."""
    import onnx

    try:
        g = onnx.load(str(path), load_external_data=False).graph
    except Exception as e:  # onnx raises DecodeError, OSError, ... for a file that is not ONNX
        raise RepositoryError(f"{path}: not a readable ONNX file ({e})") from None
    weights = {i.name for i in g.initializer}

    def spec(v) -> TensorSpec:
        t = v.type.tensor_type
        if t.elem_type not in _ONNX_TO_NP:
            raise RepositoryError(f"{path}: tensor {v.name} has ONNX element type {t.elem_type}, not supported")
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        if not dims or dims[0] != -1:
            raise RepositoryError(f"{path}: tensor {v.name} has no dynamic batch dimension (dims {dims}); "
                                  "export it with lfsdk-export, which makes the batch dynamic")
        return TensorSpec(v.name, _ONNX_TO_NP[t.elem_type], tuple(dims[1:]))

    return [spec(v) for v in g.input if v.name not in weights], [spec(v) for v in g.output]


def _engine_max_batch(engine: Path, onnx_path: Path) -> int:
    """The batch profile's max from the engine's sidecar, after checking the engine was built from this ONNX."""
    try:
        sidecar = read_sidecar(engine)
    except SidecarError as e:
        raise RepositoryError(str(e)) from None
    if sidecar.onnx_sha256 != file_sha256(onnx_path):
        raise RepositoryError(f"{engine} was built from another ONNX than {onnx_path} (sha256 differs); "
                              "pass the ONNX it was built from, or rebuild with lfsdk-build")
    return sidecar.profile.max


def _preferred(max_batch: int, given: tuple[int, ...] | None) -> list[int]:
    sizes = list(given) if given is not None else [s for s in (4, 8, 16, 32, 64, 128) if s <= max_batch]
    bad = [s for s in sizes if not isinstance(s, int) or s < 1 or s > max_batch]
    if bad:
        raise RepositoryError(f"preferred batch sizes {bad} are outside 1..max_batch={max_batch}")
    return sizes or [max_batch]


def _configs(net_in: list[TensorSpec], net_out: list[TensorSpec], platform: str, model: ModelConfig,
             cfg: RepositoryConfig, max_batch: int) -> dict[str, dict]:
    """model name → config dict for the five models of the repository."""
    n, m = cfg.name, model.num_joints
    kind = _Enum("KIND_GPU" if cfg.kind == "gpu" else "KIND_CPU")
    batching = {"preferred_batch_size": _preferred(max_batch, cfg.preferred_batch_sizes),
                "max_queue_delay_microseconds": cfg.max_queue_delay_us}
    groups = {"count": cfg.instances, "kind": kind}
    params = {"key": "lfsdk_model_config", "value": {"string_value": json.dumps(model.to_dict(), sort_keys=True)}}
    crops = net_in[0]
    outs = {s.name: s for s in net_out}
    requests, responses = request_inputs(), {s.name: s for s in response_outputs(m)}
    centers_uvd = responses["centers_uvd"]
    pre_out = [TensorSpec("crops", crops.dtype, crops.dims), centers_uvd, responses["found"]]
    post_in = [outs["joints"], outs["branch_joints"],
               TensorSpec("raw_fusion_weights", outs["fusion_weights"].dtype, outs["fusion_weights"].dims),
               TensorSpec("raw_centers_uvd", np.float32, (3,)), responses["found"], requests[1]]
    post_out = [s for s in response_outputs(m) if s.name != "found"]

    def python(name: str, ins, outs_):
        return {"name": name, "backend": "python", "max_batch_size": max_batch,
                "input": [_tensor(s) for s in ins], "output": [_tensor(s) for s in outs_],
                "dynamic_batching": batching, "instance_group": groups, "parameters": params}

    def step(model_name: str, ins: dict[str, str], outs_: dict[str, str]) -> dict:
        return {"model_name": model_name, "model_version": -1,
                "input_map": [{"key": k, "value": v} for k, v in ins.items()],
                "output_map": [{"key": k, "value": v} for k, v in outs_.items()]}

    pre, net, post = f"{n}_preprocess", f"{n}_network", f"{n}_postprocess"
    return {
        f"{n}{HANDS_SUFFIX}": python(f"{n}{HANDS_SUFFIX}", requests, hands_outputs(m)),
        pre: python(pre, requests, pre_out),
        net: {"name": net, "platform": platform, "max_batch_size": max_batch,
              "input": [_tensor(s) for s in net_in], "output": [_tensor(s) for s in net_out],
              "dynamic_batching": batching, "instance_group": groups},
        post: python(post, post_in, post_out),
        n: {"name": n, "platform": "ensemble", "max_batch_size": max_batch,
            "input": [_tensor(s) for s in requests], "output": [_tensor(s) for s in response_outputs(m)],
            "ensemble_scheduling": {"step": [
                step(pre, {"depth": "depth", "camera": "camera"},
                     {"crops": "crops", "centers_uvd": "pre_centers_uvd", "found": "found"}),
                step(net, {crops.name: "crops"},
                     {"joints": "joints", "branch_joints": "branch_joints", "fusion_weights": "net_fusion_weights"}),
                step(post, {"joints": "joints", "branch_joints": "branch_joints",
                            "raw_fusion_weights": "net_fusion_weights", "raw_centers_uvd": "pre_centers_uvd",
                            "found": "found", "camera": "camera"},
                     {s.name: s.name for s in post_out}),
            ]}},
    }


_MODEL_PY = '''"""Written by lfsdk-export --triton-repo. Runs in Triton's Python backend; lfsdk must be installed in the
server's Python (pip install lfsdk). The code lives in lfsdk.export.triton_models."""
from lfsdk.export.triton_models import {cls} as TritonPythonModel  # noqa: F401
'''


def write_model_repository(onnx_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                           engine: str | os.PathLike | None = None, config: RepositoryConfig = RepositoryConfig(),
                           model_config: ModelConfig | None = None, overwrite: bool = False) -> Path:
    """Write the repository for the network in `onnx_path` (an lfsdk-exported ONNX; with `engine`, the
    TensorRT engine built from it serves instead). Returns out_dir. Every config.pbtxt is parsed back with
    tritonclient's ModelConfig protobuf; RepositoryError on any inconsistency."""
    onnx_path, out = Path(onnx_path), Path(out_dir)
    if not onnx_path.is_file():
        raise RepositoryError(f"{onnx_path}: no such ONNX file")
    if model_config is None:
        model_config = read_onnx_config(onnx_path)
    net_in, net_out = onnx_io(onnx_path)
    names = [s.name for s in net_out]
    if len(net_in) != 1 or any(k not in names for k in NETWORK_OUTPUTS):
        raise RepositoryError(f"{onnx_path}: expected one input (crops) and outputs {NETWORK_OUTPUTS}, got inputs "
                              f"{[s.name for s in net_in]} and outputs {names} (export without --xyz)")
    s = model_config.input_size
    if net_in[0].dims != (1, s, s):
        raise RepositoryError(f"{onnx_path}: input {net_in[0].name} has dims {net_in[0].dims}, the model's config "
                              f"needs (1, {s}, {s})")
    net_out = [o for o in net_out if o.name in NETWORK_OUTPUTS]
    if engine is not None:
        engine = Path(engine)
        if not engine.is_file():
            raise RepositoryError(f"{engine}: no such engine file")
        profile_max = _engine_max_batch(engine, onnx_path)
        if config.max_batch is not None and config.max_batch > profile_max:
            raise RepositoryError(f"max_batch {config.max_batch} exceeds the engine profile's max {profile_max}")
        max_batch, platform = config.max_batch or profile_max, "tensorrt_plan"
    else:
        max_batch, platform = config.max_batch or 64, "onnxruntime_onnx"
    configs = _configs(net_in, net_out, platform, model_config, config, max_batch)
    texts = {name: _pbtxt(c) for name, c in configs.items()}
    for name, text in texts.items():  # validate everything before touching the disk
        parsed = parse_config(text)
        if parsed.name != name:
            raise RepositoryError(f"config.pbtxt of {name} parsed with name {parsed.name!r}")
    if out.exists():
        if not overwrite and any(out.iterdir()):
            raise RepositoryError(f"{out}: exists and is not empty (pass overwrite=True / --overwrite)")
        for name in configs:
            shutil.rmtree(out / name, ignore_errors=True)
    n = config.name
    for name, text in texts.items():
        (out / name / "1").mkdir(parents=True, exist_ok=True)
        (out / name / "config.pbtxt").write_text(text)
    shutil.copyfile(engine if engine is not None else onnx_path,
                    out / f"{n}_network" / "1" / ("model.plan" if engine is not None else "model.onnx"))
    for name, cls in ((f"{n}_preprocess", "PreprocessModel"), (f"{n}_postprocess", "PostprocessModel"),
                      (f"{n}{HANDS_SUFFIX}", "HandsModel")):
        (out / name / "1" / "model.py").write_text(_MODEL_PY.format(cls=cls))
    _write_hands_files(onnx_path, out / f"{n}{HANDS_SUFFIX}" / "1")
    return out


def _write_hands_files(onnx_path: Path, version_dir: Path) -> None:
    """The multi-hand model runs the ONNX itself (onnxruntime, also when the ensemble serves a TensorRT
    engine) with the hand scorer fitted for it: hands.json beside the ONNX, else the model falls back to the
    default model's scorer (lfsdk.hands.scorer_for warns)."""
    shutil.copyfile(onnx_path, version_dir / "model.onnx")
    scorer = onnx_path.parent / SCORER_FILE
    if scorer.is_file():
        shutil.copyfile(scorer, version_dir / SCORER_FILE)


# -- command line --------------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("onnx", type=Path, help="the network exported by lfsdk-export (FP32 or FP16, without --xyz)")
    p.add_argument("--triton-repo", "-o", type=Path, required=True, help="output model repository directory")
    p.add_argument("--engine", type=Path, help="serve this TensorRT engine (lfsdk-build, sidecar beside it) "
                                               "as model.plan instead of the ONNX")
    p.add_argument("--max-batch", type=int, help="max_batch_size (default: the engine profile's max, else 64)")
    p.add_argument("--preferred-batch", type=int, nargs="+", help="dynamic batching preferred sizes")
    p.add_argument("--queue-delay-us", type=int, default=500, help="dynamic batching max queue delay (µs)")
    p.add_argument("--instances", type=int, default=1, help="instances of each model per device")
    p.add_argument("--kind", choices=("gpu", "cpu"), default="gpu", help="instance group kind")
    p.add_argument("--overwrite", action="store_true", help="replace the repository's models if present")


def run(args: argparse.Namespace) -> int:
    cfg = RepositoryConfig(max_batch=args.max_batch, max_queue_delay_us=args.queue_delay_us,
                           preferred_batch_sizes=tuple(args.preferred_batch) if args.preferred_batch else None,
                           instances=args.instances, kind=args.kind)
    out = write_model_repository(args.onnx, args.triton_repo, engine=args.engine, config=cfg, overwrite=args.overwrite)
    for p in sorted(out.glob("*/config.pbtxt")):
        print(f"wrote {p} (parsed with tritonclient's model_config protobuf)")
    print(f"serve with: tritonserver --model-repository={out.resolve()}   (clients call model {cfg.name!r})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`lfsdk-triton-repo ONNX --triton-repo DIR`; lfsdk-export --triton-repo can call run() the same way."""
    p = argparse.ArgumentParser(prog="lfsdk-triton-repo", description="Triton Inference Server model repository")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as e:
        print(f"lfsdk-triton-repo: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
