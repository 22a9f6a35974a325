"""HandPoseEstimator: depth frames → hand centres and crops → backend → joints in mm → Result.

    est = HandPoseEstimator.from_pretrained()                     # a shipped model ("auto": lite on FP32-only CPUs)
    est = HandPoseEstimator("hand.onnx", backend="onnxruntime", camera="icvl")
    res = est(depth)                                              # (H, W) or (B, H, W) mm, numpy or torch
    print(est.profile(depth, iters=100))                          # per-stage medians and p99

Pre- and post-processing are the lfsdk.kernels ops (Triton on CUDA tensors, torch elsewhere), wrapped here
as the pure functions lfsdk.pipeline.preprocess and postprocess; the network runs in one Backend (lfsdk.backends).

Thread safety: one estimator may be shared by threads. Input checks, preprocessing and postprocessing are
pure and run concurrently; the backend call is serialised by a lock, because backends hold per-model state
(CUDA-graph buffers, I/O bindings, infer requests). For throughput, batch frames into one call (or give
each thread its own estimator) rather than calling one estimator from many threads.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

import torch

from .backends.base import Backend, create
from .contract import InputError, Outputs
from .geometry import Camera
from .hands import Hands, find_hands, hands_at, scorer_for
from .inputs import as_camera, as_depth_batch, box_masked, given_centers
from .kernels import HandCenters
from .pipeline import finite_found, postprocess, preprocess
from .preprocess import PreprocessConfig, cube3
from . import pretrained
from .profiling import ProfileTable, StageTimer, table_from_times
from .result import Result

__all__ = ["HandPoseEstimator", "InputError"]

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
        self._scorer = None  # the hand scorer fitted for this model, loaded by the first find_hands
        self.config = self.backend.config
        self.camera = as_camera(camera) if camera is not None else self._default_camera()
        self.preprocessing = PreprocessConfig.for_model(self.config).with_overrides(
            cube=None if cube is None else cube3(cube), refine=refine, band=band, mode=crop_mode)
        self._lock = threading.Lock()

    # the crop settings in use (read-only views of self.preprocessing)
    cube = property(lambda self: self.preprocessing.cube)
    refine = property(lambda self: self.preprocessing.refine)
    band = property(lambda self: self.preprocessing.band)
    crop_mode = property(lambda self: self.preprocessing.mode)

    @classmethod
    def from_pretrained(cls, name: str = "auto", **kwargs) -> "HandPoseEstimator":
        """A model shipped inside the package (no download): "default", "lite", or "auto" — the lite model
        when the network runs on a CPU without native BF16, else the default (lfsdk.pretrained.pick_pretrained).
        kwargs as for the constructor."""
        if name == "auto":
            name = pretrained.pick_pretrained(kwargs.get("device"), kwargs.get("backend", "auto"))
            if name == "lite":  # a different model on different machines: say so, and how to choose
                print("lfsdk: this CPU has no native BF16, so from_pretrained() picked the lite model "
                      "(from_pretrained('default') for the full network)", file=sys.stderr)
        return cls(pretrained.model_path(name), **kwargs)

    @classmethod
    def from_name_or_path(cls, model: str | os.PathLike | None, **kwargs) -> "HandPoseEstimator":
        """A shipped model by name ("auto", "default", "lite"; None is "auto") or a model file, as the
        commands' --model takes it; kwargs as for the constructor."""
        if model is None or model == "auto" or model in pretrained.PRETRAINED:
            return cls.from_pretrained(model or "auto", **kwargs)
        return cls(model, **kwargs)

    def _default_camera(self) -> Camera:
        """The camera the model was trained for (config extra.camera), else its skeleton's preset, else NYU's."""
        cam = self.config.extra.get("camera") if isinstance(self.config.extra, dict) else None
        if cam is not None:
            try:
                return as_camera(cam)
            except InputError as e:
                raise InputError(f"model config extra.camera: {e}") from None
        try:
            return Camera.parse(self.config.skeleton)
        except InputError:
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
        cam = as_camera(camera, default=self.camera)
        d = d.to(self._work_device(d.device))
        b = d.shape[0]
        if centers is not None and boxes is not None:
            raise InputError("give centers or boxes, not both")
        given = given_centers(centers, center_space, b, cam, d.device) if centers is not None else None
        src = box_masked(d, boxes) if boxes is not None else d
        crops, found = preprocess(src, cam, self.preprocessing, centers=given)
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
        post, found = finite_found(postprocess(out, centers_, self.cube, cam), centers_.found)
        return Result(found=found, skeleton=self.config.skeleton, camera=cam, depth=d, **post)

    def find_hands(self, depth: Any, max_hands: int = 2, score_threshold: float | None = None, *,
                   camera: Camera | str | None = None, **options) -> Hands:
        """Every hand in (H, W) or (B, H, W) depth frames: up to max_hands per frame, each with joints, a
        calibrated score and its side (lfsdk.hands). Hands scoring below score_threshold (default 0.5) come
        back found=False. options: candidates=, config= (lfsdk.localize.LocalizeConfig), scorer=."""
        d, cam, scorer = self._hands_inputs(depth, camera, options)
        return find_hands(d, cam, self._network_all, self.preprocessing, scorer, self.config.skeleton,
                          self.config.num_joints, max_hands=max_hands, score_threshold=score_threshold, **options)

    def hands_at(self, depth: Any, centres_uvd: Any, score_threshold: float | None = None, *,
                 camera: Camera | str | None = None, **options) -> Hands:
        """find_hands on one (H, W) frame with the hand centres given instead of searched for (a tracker's
        predictions): one slot per row of centres_uvd (K, 3) u px, v px, d mm, in that order, with the same
        calibrated score and side (lfsdk.hands.hands_at). options: recenter=, config= (LocalizeConfig),
        scorer=."""
        d, cam, scorer = self._hands_inputs(depth, camera, options)
        if d.shape[0] != 1:
            raise InputError(f"hands_at takes one depth frame, got {d.shape[0]}")
        return hands_at(d, cam, self._network_all, self.preprocessing, scorer, self.config.skeleton,
                        self.config.num_joints, centres_uvd, score_threshold=score_threshold, **options)

    def _hands_inputs(self, depth: Any, camera: Camera | str | None, options: dict):
        """Checked frames on the work device, this call's camera and the hand scorer (options' scorer=, else
        the one fitted for this model, loaded once)."""
        d, _ = as_depth_batch(depth)
        if self._scorer is None:
            self._scorer = scorer_for(self.model_path)
        return d.to(self._work_device(d.device)), as_camera(camera, default=self.camera), \
            options.pop("scorer", None) or self._scorer

    def _network_all(self, crops: torch.Tensor) -> Outputs:
        return self._network(crops, torch.ones(len(crops), dtype=torch.bool, device=crops.device))

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
                    _, crops, centers_, cam = self._prepare(d, None, "uvd", None, None)
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
