"""The Triton Python-backend models of the repository lfsdk.export.triton writes: preprocessing (hand centre +
crop) and postprocessing (back-projection), each the estimator's own pipeline function, cut the way the model
was trained (lfsdk.preprocess.PreprocessConfig.for_model), so the ensemble answers as the estimator does; and
the multi-hand model (HandsModel), which runs HandPoseEstimator.find_hands around the network itself."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..contract import Outputs
from ..estimator import HandPoseEstimator
from ..kernels.center import centers_from_uvd
from ..model.network import ModelConfig
from ..pipeline import postprocess, preprocess
from ..preprocess import PreprocessConfig
from ..serving.hands import find_hands_arrays
from ..serving.protocol import check_camera, hands_options

__all__ = ["preprocess_frames", "postprocess_frames", "PreprocessModel", "PostprocessModel", "HandsModel",
           "POST_INPUTS"]

#: postprocess inputs whose names would clash with its outputs → the name postprocess_frames takes
POST_INPUTS = {"raw_fusion_weights": "fusion_weights", "raw_centers_uvd": "centers_uvd"}


def _device(kind: str, device_id: int | str | None = 0):
    return torch.device(f"cuda:{device_id or 0}") if kind == "gpu" and torch.cuda.is_available() else \
        torch.device("cpu")


def preprocess_frames(depth: np.ndarray, camera: np.ndarray, config: ModelConfig, device=None) -> dict[str, np.ndarray]:
    """depth (B,H,W) mm, camera (B,4) → crops (B,1,S,S), centers_uvd (B,3), found (B,1) by
    lfsdk.pipeline.preprocess, cut the way the model was trained, as the in-process estimator does."""
    d = torch.from_numpy(np.ascontiguousarray(depth)).to(device or "cpu")
    cam = torch.from_numpy(np.ascontiguousarray(camera, dtype=np.float32)).to(d.device)
    crops, centers = preprocess(d, cam, PreprocessConfig.for_model(config))
    return {"crops": crops.cpu().numpy(), "centers_uvd": centers.uvd.cpu().numpy(),
            "found": centers.found[:, None].cpu().numpy()}


def postprocess_frames(a: dict[str, np.ndarray], config: ModelConfig, device=None) -> dict[str, np.ndarray]:
    """The network's joints, branch_joints, fusion_weights + the preprocess's centers_uvd, found + camera →
    the Result fields (NaN where no hand was found) by lfsdk.pipeline.postprocess."""
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device or "cpu") for k, v in a.items()}
    found = t["found"].reshape(-1).bool()
    cam = t["camera"].float()
    centers = centers_from_uvd(t["centers_uvd"].float(), found, cam)
    out = Outputs(t["joints"].float(), t["branch_joints"].float(), t["fusion_weights"].float())
    res = postprocess(out, centers, PreprocessConfig.for_model(config).cube, cam)
    return {k: v.cpu().numpy() for k, v in res.items()}


class _PythonModel:
    """Triton Python-backend adapter: requests with the same frame shape run as one batch; a request whose
    values are bad gets its own error response without failing the others in the batch."""

    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb  # only inside Triton's Python backend

        self.pb = pb
        cfg = json.loads(args["model_config"])
        self.config = ModelConfig.from_dict(json.loads(cfg["parameters"]["lfsdk_model_config"]["string_value"]))
        self.inputs = [i["name"] for i in cfg["input"]]
        self.out_dtypes = {o["name"]: pb.triton_string_to_numpy(o["data_type"]) for o in cfg["output"]}
        kind = "gpu" if args.get("model_instance_kind") == "GPU" else "cpu"
        self.device = _device(kind, args.get("model_instance_device_id"))

    def compute(self, arrays: dict[str, np.ndarray], options: tuple = ()) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def options(self, request) -> tuple:
        """The request's options (from its parameters) that compute takes; requests batch only with equal ones."""
        return ()

    def execute(self, requests: list) -> list:
        pb = self.pb
        arrays, options, errors = [], [], {}
        for i, r in enumerate(requests):
            a = {n: pb.get_input_tensor_by_name(r, n).as_numpy() for n in self.inputs}
            try:
                if "camera" in a:
                    check_camera(a["camera"])
                options.append(self.options(r))
            except ValueError as e:
                errors[i] = f"{type(e).__name__}: {e}"
                options.append(None)
            arrays.append(a)
        results: dict[int, Any] = dict(errors)
        groups: dict[tuple, list[int]] = {}
        for i, a in enumerate(arrays):
            if i not in errors:
                groups.setdefault((tuple(a[n].shape[1:] for n in self.inputs), options[i]), []).append(i)
        for (_, opts), idx in groups.items():
            batch = {n: np.concatenate([arrays[i][n] for i in idx]) for n in self.inputs}
            try:
                out = self.compute(batch, opts)
            except (ValueError, RuntimeError) as e:  # bad input the checks above missed: fail this group only
                results.update({i: str(e) for i in idx})
                continue
            start = 0
            for i in idx:
                n = len(arrays[i][self.inputs[0]])
                results[i] = {k: v[start:start + n] for k, v in out.items()}
                start += n
        responses = []
        for i in range(len(requests)):
            res = results[i]
            if isinstance(res, str):
                responses.append(pb.InferenceResponse(output_tensors=[], error=pb.TritonError(res)))
            else:
                responses.append(pb.InferenceResponse(output_tensors=[
                    pb.Tensor(k, np.ascontiguousarray(v, dtype=self.out_dtypes[k])) for k, v in res.items()
                    if k in self.out_dtypes]))
        return responses


class PreprocessModel(_PythonModel):
    def compute(self, arrays: dict[str, np.ndarray], options: tuple = ()) -> dict[str, np.ndarray]:
        return preprocess_frames(arrays["depth"], arrays["camera"], self.config, self.device)


class PostprocessModel(_PythonModel):
    def compute(self, arrays: dict[str, np.ndarray], options: tuple = ()) -> dict[str, np.ndarray]:
        renamed = {POST_INPUTS.get(k, k): v for k, v in arrays.items()}
        return postprocess_frames(renamed, self.config, self.device)


class HandsModel(_PythonModel):
    """The multi-hand call (HandPoseEstimator.find_hands) as one Python-backend model around the network.

    Finding hands is data-dependent: candidate regions per frame, a first network pass to re-centre each
    crop, a second on every crop and its mirror, then scoring. An ensemble's fixed steps cannot express
    that, so this model loads the model.onnx beside it with lfsdk's onnxruntime backend (hands.json beside
    it: the hand scorer fitted for the model) and calls the same lfsdk.hands.find_hands the in-process
    estimator does (lfsdk.serving.hands.find_hands_arrays). Request parameters max_hands and
    score_threshold as for `lfsdk serve` (lfsdk.serving.protocol.hands_options)."""

    def initialize(self, args: dict[str, str]) -> None:
        super().initialize(args)
        onnx = Path(args["model_repository"]) / str(args["model_version"]) / "model.onnx"
        self.estimator = HandPoseEstimator(onnx, backend="onnxruntime", device=self.device)

    def options(self, request) -> tuple:
        return hands_options(json.loads(request.parameters() or "{}"))

    def compute(self, arrays: dict[str, np.ndarray], options: tuple = ()) -> dict[str, np.ndarray]:
        return find_hands_arrays(self.estimator, arrays["depth"], arrays["camera"], *options)
