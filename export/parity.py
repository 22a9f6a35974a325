"""Parity between torch and the exported graphs, polygraphy-style: same inputs, every runner, per output
the largest and the mean difference.

    report = parity_report(model, {"fp32": "hand.onnx", "fp16": "hand.fp16.onnx"}, generated_inputs(cfg, 256))
    print(report.table()); report.passed

Units: joints and branch_joints differences are per-joint Euclidean distances in mm, after scaling each
normalised axis by half the cube size (mm = n · cube/2 per axis); joints_xyz is already mm; fusion_weights
is the raw absolute difference. The bars (BARS) apply to `joints` (and `joints_xyz`).

Runners hide the engine behind one call, `runner(inputs: dict[str, ndarray]) -> dict[str, ndarray]`. The
engines are lfsdk's own backends (`BackendRunner`: TensorRT by default), built from each exported file, so
parity checks exactly what inference runs; one that cannot run here adds a skipped note, never a pass.
Other runners plug in through `factories`: factory(onnx_path, precision) → Runner, or RunnerUnavailable.
"""
from __future__ import annotations

import copy
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol

import numpy as np
import torch
from tqdm import tqdm

from .. import geometry
from ..backends.base import Backend, BackendUnavailable, create
from ..data.synthetic import render_batch
from ..kernels.crop import crop_reference
from ..model.network import LatentFusion, ModelConfig

__all__ = ["BARS", "Runner", "RunnerUnavailable", "TorchRunner", "OnnxRuntimeRunner", "BackendRunner",
           "ParityRow", "ParityReport", "parity_report", "torch_reference", "compare", "generated_inputs"]

#: (mean, max) bars in mm on the fused joints, per precision; None = no bar.
BARS: dict[str, tuple[float, float | None]] = {"fp32": (0.01, 0.1), "fp16": (0.5, None), "int8": (1.0, None)}
#: the backends every report builds from each exported file, besides onnxruntime
ENGINES = ("tensorrt",)


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


class BackendRunner:
    """An lfsdk backend (lfsdk.backends.create) as a runner: crops in, its Outputs as float32 NumPy arrays."""

    def __init__(self, backend: Backend):
        self.backend, self.precision = backend, backend.precision
        self.name = f"{backend.name}-{backend.precision}"

    @classmethod
    def factory(cls, name: str) -> Callable[[Path, str], "BackendRunner"]:
        """factory(onnx_path, precision) for backend `name`; RunnerUnavailable when it cannot run here."""
        def make(path: Path, precision: str) -> BackendRunner:
            try:
                return cls(create(name, path))
            except BackendUnavailable as e:
                raise RunnerUnavailable(str(e)) from None
        return make

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if set(inputs) - {"crops", "source"}:
            raise RunnerUnavailable(f"{self.name} runs the crops-only graph, not one fed {sorted(inputs)}")
        out = self.backend(torch.from_numpy(np.ascontiguousarray(inputs["crops"], np.float32)))
        return {k: v.float().cpu().numpy() for k, v in out._asdict().items()}


# -- inputs ----------------------------------------------------------------------------------------------

def generated_inputs(config: ModelConfig, n: int, *, seed: int = 0, xyz: bool = False) -> dict[str, np.ndarray]:
    """n held-out frames as graph inputs: `crops` (n,1,S,S), and with xyz `centers` (n,3) mm, `camera` (4,),
    `cube` (n,3) mm: rendered hands (lfsdk.data.synthetic), cropped by lfsdk.kernels around the mean joint.
    The key `source` says where the frames came from."""
    if n < 1:
        raise ValueError(f"need at least one frame, got n={n}")
    cube = torch.tensor(config.cube_size).repeat(n, 1)
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


def _run_batched(runner: Runner, inputs: Mapping[str, np.ndarray], batch: int,
                 tick: Callable[[], None] = lambda: None) -> dict[str, np.ndarray]:
    n = len(inputs["crops"])
    parts = []
    for i in range(0, n, batch):
        parts.append(runner({k: (v if k == "camera" else v[i:i + batch]) for k, v in inputs.items()
                             if k != "source"}))
        tick()
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def torch_reference(model: LatentFusion, inputs: Mapping[str, np.ndarray], batch: int = 64) -> dict[str, np.ndarray]:
    """The eager model's outputs on `inputs` (+ joints_xyz when they carry centres), `batch` frames a call."""
    return _run_batched(TorchRunner(model), inputs, batch)


def parity_report(model: LatentFusion, files: Mapping[str, str | os.PathLike],
                  inputs: Mapping[str, np.ndarray], *, batch: int = 64, engines: bool = True,
                  factories: Mapping[str, Callable[[Path, str], Runner]] | None = None,
                  reference: Mapping[str, np.ndarray] | None = None, progress: bool = False) -> ParityReport:
    """Torch vs onnxruntime on every file of `files` (precision → .onnx), and, when `engines`, vs the
    ENGINES backends and the given `factories`' runners built from each file. `inputs` from
    generated_inputs(); `reference` = torch_reference(model, inputs) when already computed. `progress`:
    a bar on stderr, one step per batch of every runner."""
    n = len(inputs["crops"])
    half_cube = (inputs["cube"] / 2 if "cube" in inputs
                 else np.asarray(model.config.cube_size, np.float64) / 2)
    runners: list[Runner] = [OnnxRuntimeRunner(p, prec) for prec, p in files.items()]
    skipped = []
    if engines:
        every = {**{name: BackendRunner.factory(name) for name in ENGINES}, **(factories or {})}
        for name, factory in every.items():
            for prec, p in files.items():
                try:
                    runners.append(factory(Path(p), prec))
                except RunnerUnavailable as e:
                    skipped.append(f"{name} {prec}: {e}")
    rows = []
    bar = tqdm(total=(len(runners) + (reference is None)) * -(-n // batch), desc="parity", unit="batch",
               file=sys.stderr, disable=not progress)
    bar.set_postfix_str("torch reference")
    ref = reference if reference is not None else _run_batched(TorchRunner(model), inputs, batch, bar.update)
    for r in runners:
        bar.set_postfix_str(f"{r.name} {r.precision}")
        try:
            rows += compare(ref, _run_batched(r, inputs, batch, bar.update), half_cube, r.name, r.precision)
        except RunnerUnavailable as e:
            skipped.append(f"{r.name}: {e}")
    bar.close()
    source = str(inputs["source"]) if "source" in inputs else "given inputs"
    return ParityReport(n, source, tuple(rows), tuple(skipped))
