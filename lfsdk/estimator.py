"""HandPoseEstimator: depth frames → hand centres and crops → backend → joints in mm → Result.

    est = HandPoseEstimator.from_pretrained()                     # the embedded default model, backend="auto"
    est = HandPoseEstimator("hand.onnx", backend="onnxruntime", camera="icvl")
    res = est(depth)                                              # (H, W) or (B, H, W) mm, numpy or torch
    print(est.profile(depth, iters=100))                          # per-stage medians and p99

Pre- and post-processing are the lfsdk.kernels ops (Triton on CUDA tensors, torch elsewhere), wrapped here
as the pure functions `preprocess` and `postprocess`; the network runs in one Backend (lfsdk.backends).

Thread safety: one estimator may be shared by threads. Input checks, preprocessing and postprocessing are
pure and run concurrently; the backend call is serialised by a lock, because backends hold per-model state
(CUDA-graph buffers, I/O bindings, infer requests). For throughput, batch frames into one call (or give
each thread its own estimator) rather than calling one estimator from many threads.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .backends.base import Backend, Outputs, create
from .errors import InputError
from .geometry import Camera, crop_boxes, xyz_to_uvd
from .hands import Hands, crop_of, find_hands, scorer_for
from .kernels import HandCenters, backproject, crop_resize_normalize, hand_center
from .kernels.center import centers_from_uvd
from .profiling import ProfileTable, StageTimer, table_from_times
from .result import Result

__all__ = ["HandPoseEstimator", "InputError", "as_depth_batch", "preprocess", "postprocess", "trained_preprocess"]

#: integer depth dtypes (mm) and floating ones; uint8 is refused: 8 bits cannot hold depth in mm
_INT_DEPTH = (torch.uint16, torch.int16, torch.int32, torch.int64)
_FLOAT_DEPTH = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


# -- input checks ------------------------------------------------------------------------------------------

def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise InputError(f"{name}: numpy dtype {x.dtype} is not numeric (expected uint16 or float mm)")
        # torch.from_numpy takes uint16 since torch 2.3; np.ascontiguousarray would turn a 0-d array into 1-d
        return torch.from_numpy(x if x.flags.c_contiguous else np.ascontiguousarray(x))
    if isinstance(x, (list, tuple)):
        try:
            return torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as e:
            raise InputError(f"{name}: not a rectangular array of numbers ({e})") from None
    raise InputError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")


def as_depth_batch(depth: Any) -> tuple[torch.Tensor, bool]:
    """Check depth frames and return ((B, H, W) tensor, was_single_frame). Dtype and device are kept.

    Accepts (H, W) or (B, H, W) uint16/int/float millimetres (0 = missing), numpy or torch. Raises InputError
    for any other rank, dtype, an empty batch, NaN/inf or negative depth."""
    d = _as_tensor(depth, "depth")
    single = d.dim() == 2
    if d.dim() not in (2, 3):
        raise InputError(f"depth must be (H, W) or (B, H, W) millimetres, got shape {tuple(d.shape)}")
    if single:
        d = d[None]
    if d.dtype not in _INT_DEPTH + _FLOAT_DEPTH:
        hint = " (8-bit images hold no depth in mm: read the 16-bit depth map)" if d.dtype == torch.uint8 else ""
        raise InputError(f"depth dtype {d.dtype} is not supported: expected uint16 or float millimetres{hint}")
    if d.shape[0] == 0 or d.shape[1] < 2 or d.shape[2] < 2:
        raise InputError(f"depth must hold at least one frame of at least 2×2 pixels, got shape {tuple(d.shape)}")
    if d.is_floating_point():
        bad = int((~torch.isfinite(d)).sum())
        if bad:
            raise InputError(f"depth holds {bad} NaN/inf pixels: mark missing pixels with 0 "
                             "(e.g. np.nan_to_num(depth, nan=0, posinf=0, neginf=0))")
    if d.dtype != torch.uint16 and bool((d < 0).any()):
        raise InputError(f"depth holds negative values (min {float(d.min()):g}): expected millimetres ≥ 0, "
                         "0 for missing pixels")
    return d, single


def _points(x: Any, name: str, b: int, k: int, device: torch.device) -> torch.Tensor:
    """(k,) or (B, k) finite numbers → (B, k) float32 on device."""
    t = _as_tensor(x, name)
    if t.dtype == torch.bool or t.is_complex():
        raise InputError(f"{name} must be real numbers, got dtype {t.dtype}")
    if t.dim() == 1 and b == 1:
        t = t[None]
    if tuple(t.shape) != (b, k):
        raise InputError(f"{name} must be ({b}, {k}) for {b} frame(s), got shape {tuple(t.shape)}")
    t = t.to(device=device, dtype=torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name} holds NaN or inf")
    return t


def given_centers(centers: Any, space: str, b: int, camera: Camera, device: torch.device) -> HandCenters:
    """User-given hand centres, (3,) or (B, 3) in 'uvd' (px, px, mm) or 'xyz' (mm) → HandCenters."""
    if space not in ("uvd", "xyz"):
        raise InputError(f"center_space must be 'uvd' or 'xyz', got {space!r}")
    c = _points(centers, "centers", b, 3, device)
    if bool((c[:, 2] <= 0).any()):
        raise InputError(f"centers: depth (the {'d' if space == 'uvd' else 'z'} column) must be > 0 mm, "
                         f"got {c[:, 2].tolist()}")
    uvd = c if space == "uvd" else xyz_to_uvd(c, camera)
    return centers_from_uvd(uvd, torch.ones(b, dtype=torch.bool, device=device), camera)


def _box_masked(depth: torch.Tensor, boxes: Any) -> torch.Tensor:
    """Depth with every pixel outside each frame's box (u0, v0, u1, v1) set to 0 (missing)."""
    b, h, w = depth.shape
    bx = _points(boxes, "boxes", b, 4, depth.device)
    if bool(((bx[:, 2] <= bx[:, 0]) | (bx[:, 3] <= bx[:, 1])).any()):
        raise InputError(f"boxes must be (u0, v0, u1, v1) with u1 > u0 and v1 > v0 (pixels), got {bx.tolist()}")
    cols = torch.arange(w, device=depth.device)[None, None, :]
    rows = torch.arange(h, device=depth.device)[None, :, None]
    inside = ((cols >= bx[:, 0, None, None]) & (cols <= bx[:, 2, None, None])
              & (rows >= bx[:, 1, None, None]) & (rows <= bx[:, 3, None, None]))
    return torch.where(inside, depth, torch.zeros((), dtype=depth.dtype, device=depth.device))


# -- the pipeline as pure functions ---------------------------------------------------------------------

def preprocess(depth: Any, camera: Camera, cube: Sequence[float], size: int = 128, *,
               centers: HandCenters | None = None, refine: bool = False, band: float = 150.0,
               mode: str = "nearest") -> tuple[torch.Tensor, HandCenters]:
    """depth (B, H, W) mm → (crops (B, 1, size, size) in [-1, 1], HandCenters (B, 3)/(B, 3)/(B,)).

    Centres are found (centre of mass of the near depth band, optionally refined inside the cube) unless
    given. The defaults are lfsdk.data.dataset.PreprocessConfig's, what training uses."""
    if centers is None:
        centers = hand_center(depth, camera, band=band, refine=refine, cube=cube)
    crops = crop_resize_normalize(depth, centers.uvd, cube, camera, size=size, mode=mode)
    return crops, centers


def postprocess(out: Outputs, centers: HandCenters, cube: Sequence[float], camera: Camera) -> dict[str, torch.Tensor]:
    """Network outputs in the normalised cube → joints in uvd and mm; NaN for frames without a hand.

    out: joints (B, M, 3), branch_joints (B, 3, M, 3), fusion_weights (B, 3). Returns a dict of
    joints_uvd, joints_xyz (B, M, 3), branch_xyz (B, 3, M, 3), fusion_weights (B, 3), boxes (B, 4),
    centers_uvd, centers_xyz (B, 3) — every field of a Result that depends on the hand being found."""
    b, m = out.joints.shape[:2]
    # the fused joints and the three branches' joints back-projected in one call: (B, 4M, 3)
    norm = torch.cat((out.joints[:, None], out.branch_joints), dim=1).reshape(b, 4 * m, 3)
    uvd_all, xyz_all = backproject(norm, centers.uvd, cube, camera)
    uvd_all, xyz_all = uvd_all.reshape(b, 4, m, 3), xyz_all.reshape(b, 4, m, 3)
    missing = ~centers.found
    nan = float("nan")
    boxes = crop_boxes(torch.where(missing[:, None], 1.0, centers.uvd), torch.as_tensor(cube, device=norm.device),
                       camera)
    return {
        "joints_uvd": uvd_all[:, 0].masked_fill(missing[:, None, None], nan),
        "joints_xyz": xyz_all[:, 0].masked_fill(missing[:, None, None], nan),
        "branch_xyz": xyz_all[:, 1:].masked_fill(missing[:, None, None, None], nan),
        "fusion_weights": out.fusion_weights.masked_fill(missing[:, None], nan),
        "boxes": boxes.masked_fill(missing[:, None], nan),
        "centers_uvd": centers.uvd.masked_fill(missing[:, None], nan),
        "centers_xyz": centers.xyz.masked_fill(missing[:, None], nan),
    }


def trained_preprocess(config) -> dict:
    """How the model's training crops were cut — cube, refine, band, mode — from config.extra["preprocess"]
    (lfsdk.data.dataset.PreprocessConfig), falling back to its defaults: a model must see crops made the way
    it learned from."""
    extra = config.extra.get("preprocess", {}) if isinstance(config.extra, dict) else {}
    size = extra.get("size", config.input_size)
    if size != config.input_size:
        raise InputError(f"the model's preprocess size {size} differs from its input size {config.input_size}")
    return {"cube": _cube3(extra.get("cube", config.cube_size)), "refine": bool(extra.get("refine", False)),
            "band": float(extra.get("band", 150.0)), "mode": extra.get("mode", "nearest")}


def _cube3(cube: Any) -> tuple[float, float, float]:
    try:
        c = np.broadcast_to(np.asarray(cube, dtype=np.float64), (3,))
    except (TypeError, ValueError):
        raise InputError(f"cube must be a size in mm or three sizes (x, y, z), got {cube!r}") from None
    if not (np.isfinite(c).all() and (c > 0).all()):
        raise InputError(f"cube sizes must be finite and > 0 mm, got {cube!r}")
    return tuple(float(v) for v in c)


# -- the estimator -------------------------------------------------------------------------------------

class HandPoseEstimator:
    """Depth frames in, hand joints out.

    model: a checkpoint (directory or .safetensors), an .onnx exported by lfsdk-export (its metadata gives
    joints and cube) or a TensorRT .engine. backend: "auto" or a name in lfsdk.backends.REGISTRY, or a
    Backend instance. device: "cpu", "cuda", "cuda:N" (default: CUDA when available). precision: "fp32",
    "fp16", "bf16", "int8" (default: the backend's). camera: Camera, a preset name or "fx,fy,cx,cy"
    (default: the one the model was trained for, else the preset named by its skeleton). cube: crop cube
    in mm (default: the model's). refine/band/crop_mode: hand centring and cropping (lfsdk.kernels;
    default: as the model was trained, config.extra["preprocess"]).
    Further keyword arguments go to the backend's load (e.g. threads=, max_batch=, cuda_graphs=).
    """

    def __init__(self, model: str | os.PathLike | Backend, backend: str = "auto", *,
                 device: str | torch.device | None = None, precision: str | None = None,
                 camera: Camera | str | None = None, cube: float | Sequence[float] | None = None,
                 refine: bool | None = None, band: float | None = None, crop_mode: str | None = None,
                 **backend_options):
        if isinstance(model, Backend):
            self.backend = model
        else:
            path = Path(model)
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such model file or checkpoint directory")
            self.backend = create(backend, path, device=device, precision=precision, **backend_options)
        self.model_path = None if isinstance(model, Backend) else Path(model)
        self._scorer = None
        self.config = self.backend.config
        trained = trained_preprocess(self.config)
        self.camera = Camera.parse(camera) if camera is not None else self._default_camera()
        self.cube = _cube3(cube if cube is not None else trained["cube"])
        self.refine = bool(refine if refine is not None else trained["refine"])
        self.band = float(band if band is not None else trained["band"])
        self.crop_mode = crop_mode or trained["mode"]
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, **kwargs) -> "HandPoseEstimator":
        """The default model shipped inside the package (no download); kwargs as for the constructor."""
        from .pretrained import default_model_path

        return cls(default_model_path(), **kwargs)

    def _default_camera(self) -> Camera:
        cam = self.config.extra.get("camera") if isinstance(self.config.extra, dict) else None
        for spec in (cam, self.config.skeleton):
            if isinstance(spec, (list, tuple)) and len(spec) == 4:
                return Camera(*map(float, spec))
            if isinstance(spec, str):
                try:
                    return Camera.parse(spec)
                except ValueError:
                    pass
        return Camera.nyu()

    @property
    def device(self) -> torch.device:
        return self.backend.device

    def __repr__(self) -> str:
        return (f"HandPoseEstimator(backend={self.backend.describe()}, joints={self.config.num_joints} "
                f"({self.config.skeleton}), cube={self.cube} mm, camera={self.camera})")

    # -- running ------------------------------------------------------------------------------------------
    def _work_device(self, d: torch.device) -> torch.device:
        """Preprocess where the frames are when they are on a GPU, else where the network runs."""
        return d if d.type == "cuda" else self.backend.device

    def _prepare(self, depth: Any, centers: Any, center_space: str, boxes: Any,
                 camera: Camera | str | None) -> tuple[torch.Tensor, torch.Tensor, HandCenters, Camera]:
        d, _ = as_depth_batch(depth)
        cam = Camera.parse(camera) if camera is not None else self.camera
        d = d.to(self._work_device(d.device))
        b = d.shape[0]
        if centers is not None and boxes is not None:
            raise InputError("give centers or boxes, not both")
        given = given_centers(centers, center_space, b, cam, d.device) if centers is not None else None
        src = _box_masked(d, boxes) if boxes is not None else d
        crops, found = preprocess(src, cam, self.cube, self.config.input_size, centers=given, refine=self.refine,
                                  band=self.band, mode=self.crop_mode)
        return d, crops, found, cam

    def _network(self, crops: torch.Tensor, found: torch.Tensor) -> Outputs:
        """Run the backend on the frames with a hand only; the others get zeros (masked to NaN later)."""
        b, m = crops.shape[0], self.config.num_joints
        idx = found.nonzero().flatten()
        if len(idx) == b:
            with self._lock:
                out = self.backend(crops)
            return Outputs(*(t.to(crops.device) for t in out))
        full = Outputs(crops.new_zeros(b, m, 3), crops.new_zeros(b, 3, m, 3), crops.new_zeros(b, 3))
        if len(idx):
            with self._lock:
                part = self.backend(crops[idx])
            for dst, src in zip(full, part):
                dst[idx] = src.to(crops.device)
        return full

    def __call__(self, depth: Any, centers: Any = None, *, center_space: str = "uvd", boxes: Any = None,
                 camera: Camera | str | None = None) -> Result:
        """Estimate joints on (H, W) or (B, H, W) depth frames (uint16 or float mm; numpy or torch, CPU/CUDA).

        centers: optional (3,)/(B, 3) hand centres in `center_space` 'uvd' (px, px, mm) or 'xyz' (mm);
        boxes: optional (4,)/(B, 4) image boxes (u0, v0, u1, v1) px to look for the hand in; camera: this
        call's intrinsics (default: the estimator's). Frames with no hand: found False, joints NaN."""
        d, crops, centers_, cam = self._prepare(depth, centers, center_space, boxes, camera)
        out = self._network(crops, centers_.found)
        post = postprocess(out, centers_, self.cube, cam)
        return Result(found=centers_.found, skeleton=self.config.skeleton, camera=cam, depth=d, **post)

    def find_hands(self, depth: Any, max_hands: int = 2, score_threshold: float | None = None, *,
                   camera: Camera | str | None = None, **options) -> Hands:
        """Every hand in (H, W) or (B, H, W) depth frames: up to max_hands per frame, each with joints, a
        calibrated score and its side (lfsdk.hands). Hands scoring below score_threshold (default 0.5) come
        back found=False. options: candidates=, config= (lfsdk.localize.LocalizeConfig), scorer=."""
        d, _ = as_depth_batch(depth)
        d = d.to(self._work_device(d.device))
        cam = Camera.parse(camera) if camera is not None else self.camera
        if self._scorer is None:
            self._scorer = scorer_for(self.model_path)
        scorer = options.pop("scorer", None) or self._scorer
        crop = crop_of(self.cube, self.config.input_size, self.band, self.refine, self.crop_mode)
        run = lambda crops: self._network(crops, torch.ones(len(crops), dtype=torch.bool, device=crops.device))  # noqa: E731
        return find_hands(d, cam, run, crop, scorer, self.config.skeleton, self.config.num_joints,
                          max_hands=max_hands, score_threshold=score_threshold, **options)

    def profile(self, depth: Any, iters: int = 100, *, warmup: int = 5, stages: bool = True) -> ProfileTable:
        """Time the pipeline `iters` times on `depth`: preprocess, network, postprocess (and, when the
        backend can tell and stages=True, the network's features / heatmaps / decode+fusion from a second,
        instrumented pass). Medians and p99 in ms per call; CUDA events on the GPU."""
        if not isinstance(iters, int) or iters < 1:
            raise InputError(f"iters must be a positive int, got {iters!r}")
        d, _ = as_depth_batch(depth)
        dev = self._work_device(d.device)
        for _ in range(max(0, warmup)):
            self(d)
        timer = StageTimer(dev)
        for _ in range(iters):
            with timer.stage("total"):
                with timer.stage("preprocess"):
                    d_, crops, centers_, cam = self._prepare(d, None, "uvd", None, None)
                with timer.stage("network"):
                    out = self._network(crops, centers_.found)
                with timer.stage("postprocess"):
                    postprocess(out, centers_, self.cube, cam)
        times = timer.times()
        if stages:
            with self._lock:
                split = self.backend.stage_times(crops, iters)
            times.update({k: v if isinstance(v, (list, tuple)) else [float(v)] for k, v in split.items()})
        order = [("preprocess", 0), ("network", 0), ("features", 1), ("heatmaps", 1), ("decode+fusion", 1),
                 ("postprocess", 0), ("total", 0)]
        return table_from_times(times, order, backend=self.backend.name, device=str(self.backend.device),
                                precision=self.backend.precision, batch=int(d.shape[0]), iters=iters)
