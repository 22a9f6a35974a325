"""Parity between torch and the exported graphs, polygraphy-style: same inputs, every runner, per output
the largest and the mean difference.

    report = parity_report(model, {"fp32": "hand.onnx", "fp16": "hand.fp16.onnx"}, generated_inputs(cfg, 256))
    print(report.table()); report.passed

Units: joints and branch_joints differences are per-joint Euclidean distances in mm, after scaling each
normalised axis by half the cube size (mm = n · cube/2 per axis); joints_xyz is already mm; fusion_weights
is the raw absolute difference. The bars (issue 5) apply to `joints` (and `joints_xyz`).

Runners hide the engine behind one call, `runner(inputs: dict[str, ndarray]) -> dict[str, ndarray]`.
Other engines plug in with `register_runner("tensorrt", factory)`: factory(onnx_path, precision) returns a
Runner or raises RunnerUnavailable (e.g. no GPU); `parity_report` then adds its rows, or a skipped note.
"""
from __future__ import annotations

import copy
import importlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol

import numpy as np
import torch

from .. import geometry
from ..model.network import LatentFusion, ModelConfig

__all__ = ["BARS", "Runner", "RunnerUnavailable", "TorchRunner", "OnnxRuntimeRunner", "register_runner",
           "RUNNER_FACTORIES", "ParityRow", "ParityReport", "parity_report", "torch_reference", "compare", "generated_inputs"]

#: (mean, max) bars in mm on the fused joints, per precision; None = no bar.
BARS: dict[str, tuple[float, float | None]] = {"fp32": (0.01, 0.1), "fp16": (0.5, None), "int8": (1.0, None)}
#: Modules that may register runner factories when imported (the TensorRT one is optional).
RUNNER_MODULES = ("lfsdk.export.tensorrt",)


class RunnerUnavailable(RuntimeError):
    """This runner cannot run here; the message says why."""


class Runner(Protocol):
    name: str
    precision: str

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class TorchRunner:
    """The reference: the eager model, plus lfsdk.geometry.cube_to_xyz when the inputs carry centres.

    Runs a CPU copy in channels_last, oneDNN's native layout: the same maths, half the time of NCHW."""

    name, precision = "torch", "fp32"

    def __init__(self, model: LatentFusion):
        self.model = copy.deepcopy(model).float().cpu().eval().to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self.model(torch.from_numpy(inputs["crops"]).contiguous(memory_format=torch.channels_last))
        res = {k: v.contiguous().numpy() for k, v in out._asdict().items()}
        if "centers" in inputs:
            res["joints_xyz"] = geometry.cube_to_xyz(out.joints, torch.from_numpy(inputs["centers"]),
                                                     torch.from_numpy(inputs["cube"]),
                                                     torch.from_numpy(inputs["camera"])).numpy()
        return res


class OnnxRuntimeRunner:
    """An .onnx file on onnxruntime's CPU provider; feeds the inputs the graph declares."""

    def __init__(self, path: str | os.PathLike, precision: str = "fp32", threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(os.fspath(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.name, self.precision = f"onnxruntime-{precision}", precision

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [n for n in self.inputs if n not in inputs]
        if missing:
            raise ValueError(f"{self.name}: the graph needs inputs {missing}, got {sorted(inputs)}")
        res = self.session.run(self.outputs, {n: np.ascontiguousarray(inputs[n], np.float32) for n in self.inputs})
        return dict(zip(self.outputs, res))


RUNNER_FACTORIES: dict[str, Callable[[Path, str], Runner]] = {}


def register_runner(name: str, factory: Callable[[Path, str], Runner]) -> None:
    """Add an engine to every parity report: factory(onnx_path, precision) → Runner, or RunnerUnavailable."""
    RUNNER_FACTORIES[name] = factory


def _load_runner_modules() -> None:
    for mod in RUNNER_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError:  # optional engine not installed/written: no rows, noted as skipped
            pass


# -- inputs ----------------------------------------------------------------------------------------------

def _procedural_crops(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Fallback crops when lfsdk.data.synthetic is absent: a palm ellipse and five finger bars at random
    angles and depths, background 1 (outside the cube), σ = 0.01 noise. (n, 1, size, size) float32."""
    g = (np.arange(size) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(g, g, indexing="ij")
    crops = np.ones((n, 1, size, size), np.float32)
    for k in range(n):
        depth = np.ones((size, size))
        a = rng.uniform(0, 2 * np.pi)
        ca, sa = np.cos(a), np.sin(a)
        xr, yr = ca * x + sa * y, -sa * x + ca * y
        palm = (xr / 0.35) ** 2 + (yr / 0.3) ** 2
        depth = np.where(palm < 1, rng.uniform(-0.3, 0.1) - 0.3 * np.sqrt(np.clip(1 - palm, 0, 1)), depth)
        for f in range(5):
            fa = a + np.pi / 2 + (f - 2) * 0.35 + rng.normal(0, 0.1)
            dx, dy = np.cos(fa), np.sin(fa)
            along, across = x * dx + y * dy, -x * dy + y * dx
            length = rng.uniform(0.4, 0.9)
            finger = (along > 0.2) & (along < 0.2 + length) & (np.abs(across - (f - 2) * 0.05) < 0.06)
            depth = np.where(finger & (depth == 1), rng.uniform(-0.6, 0.4) + 0.3 * along, depth)
        crops[k, 0] = np.clip(depth + rng.normal(0, 0.01, depth.shape) * (depth < 1), -1, 1)
    return crops


def generated_inputs(config: ModelConfig, n: int, *, seed: int = 0, xyz: bool = False) -> dict[str, np.ndarray]:
    """n held-out frames as graph inputs: `crops` (n,1,S,S), and with xyz `centers` (n,3) mm, `camera` (4,),
    `cube` (n,3) mm. Rendered hands (lfsdk.data.synthetic, cropped by lfsdk.kernels around the mean joint)
    when that package is present, else procedural crops. The key `source` says which."""
    if n < 1:
        raise ValueError(f"need at least one frame, got n={n}")
    cube = torch.tensor(config.cube_size).repeat(n, 1)
    try:
        from ..data.synthetic import render_batch
        from ..kernels.crop import crop_reference
    except ImportError:
        rng = np.random.default_rng(seed)
        crops = _procedural_crops(n, config.input_size, rng)
        camera = geometry.Camera.nyu()
        uvd = np.stack([rng.uniform(200, 440, n), rng.uniform(150, 330, n), rng.uniform(300, 700, n)], 1)
        centers_uvd, source = torch.from_numpy(uvd.astype(np.float32)), "procedural crops"
    else:
        frames = render_batch(n, seed=seed)  # joints only give the crop centre, so any layout does
        camera = frames.camera
        centers_uvd = torch.from_numpy(frames.joints_uvd.mean(axis=1))
        crops = crop_reference(torch.from_numpy(frames.depth.astype(np.float32)), centers_uvd, cube, camera,
                               config.input_size).numpy()
        source = "rendered hands (lfsdk.data.synthetic)"
    out = {"crops": np.ascontiguousarray(crops, np.float32), "source": np.array(source)}
    if xyz:
        out["centers"] = geometry.uvd_to_xyz(centers_uvd, camera).numpy().astype(np.float32)
        out["camera"] = camera.tensor().numpy()
        out["cube"] = cube.numpy().astype(np.float32)
    return out


# -- comparison ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParityRow:
    runner: str
    precision: str
    output: str
    max: float
    mean: float
    unit: str
    bar_mean: float | None = None
    bar_max: float | None = None

    @property
    def passed(self) -> bool:
        return ((self.bar_mean is None or self.mean <= self.bar_mean)
                and (self.bar_max is None or self.max <= self.bar_max))


@dataclass(frozen=True)
class ParityReport:
    frames: int
    source: str
    rows: tuple[ParityRow, ...]
    skipped: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def table(self) -> str:
        lines = [f"parity vs torch on {self.frames} held-out frames ({self.source})",
                 f"{'runner':<22}{'output':<16}{'max':>11}{'mean':>11}  unit  bar (mean/max)"]
        for r in self.rows:
            bar = "" if r.bar_mean is None else f"{r.bar_mean:g}/{'-' if r.bar_max is None else f'{r.bar_max:g}'} " \
                                                 f"{'ok' if r.passed else 'FAIL'}"
            lines.append(f"{r.runner:<22}{r.output:<16}{r.max:>11.5f}{r.mean:>11.5f}  {r.unit:<4}  {bar}")
        lines += [f"skipped: {s}" for s in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"frames": self.frames, "source": self.source, "passed": self.passed,
                "rows": [{**asdict(r), "passed": r.passed} for r in self.rows], "skipped": list(self.skipped)}


def compare(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], half_cube: np.ndarray,
            runner: str, precision: str) -> list[ParityRow]:
    """Rows for every output both share. half_cube: (B,3) or (3,) mm, cube/2 per axis."""
    bar_mean, bar_max = BARS.get(precision, (None, None))
    rows = []
    for name in ("joints", "branch_joints", "fusion_weights", "joints_xyz"):
        if name not in ref or name not in got:
            continue
        if ref[name].shape != got[name].shape:
            raise ValueError(f"{runner}: output {name} has shape {got[name].shape}, torch gives {ref[name].shape}")
        diff = got[name].astype(np.float64) - ref[name].astype(np.float64)
        if name == "fusion_weights":
            err, unit = np.abs(diff), "raw"
        else:
            if name != "joints_xyz":  # normalised → mm per axis; half_cube broadcasts over the batch dim
                hc = half_cube.reshape((-1,) + (1,) * (diff.ndim - 2) + (3,)) if half_cube.ndim == 2 else half_cube
                diff = diff * hc
            err, unit = np.linalg.norm(diff, axis=-1), "mm"
        barred = name in ("joints", "joints_xyz")
        rows.append(ParityRow(runner, precision, name, float(err.max()), float(err.mean()), unit,
                              bar_mean if barred else None, bar_max if barred else None))
    return rows


def _run_batched(runner: Runner, inputs: Mapping[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    n = len(inputs["crops"])
    parts = []
    for i in range(0, n, batch):
        parts.append(runner({k: (v if k == "camera" else v[i:i + batch]) for k, v in inputs.items()
                             if k != "source"}))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def torch_reference(model: LatentFusion, inputs: Mapping[str, np.ndarray], batch: int = 64) -> dict[str, np.ndarray]:
    """The eager model's outputs on `inputs` (+ joints_xyz when they carry centres), `batch` frames a call."""
    return _run_batched(TorchRunner(model), inputs, batch)


def parity_report(model: LatentFusion, files: Mapping[str, str | os.PathLike],
                  inputs: Mapping[str, np.ndarray], *, batch: int = 64, engines: bool = True,
                  reference: Mapping[str, np.ndarray] | None = None) -> ParityReport:
    """Torch vs onnxruntime on every file of `files` (precision → .onnx), and vs every registered engine
    (TensorRT when importable) built from each file when `engines`. `inputs` from generated_inputs();
    `reference` = torch_reference(model, inputs) when already computed."""
    ref = reference if reference is not None else torch_reference(model, inputs, batch)
    n = len(inputs["crops"])
    half_cube = (inputs["cube"] / 2 if "cube" in inputs
                 else np.asarray(model.config.cube_size, np.float64) / 2)
    runners: list[Runner] = [OnnxRuntimeRunner(p, prec) for prec, p in files.items()]
    skipped = []
    if engines:
        _load_runner_modules()
        for name, factory in RUNNER_FACTORIES.items():
            for prec, p in files.items():
                try:
                    runners.append(factory(Path(p), prec))
                except RunnerUnavailable as e:
                    skipped.append(f"{name} {prec}: {e}")
    rows = []
    for r in runners:
        rows += compare(ref, _run_batched(r, inputs, batch), half_cube, r.name, r.precision)
    source = str(inputs["source"]) if "source" in inputs else "given inputs"
    return ParityReport(n, source, tuple(rows), tuple(skipped))
