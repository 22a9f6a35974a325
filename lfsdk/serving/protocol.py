"""The wire protocol of lfsdk's serving: the model name, the request and response tensors, the camera check.

It imports neither pytriton nor tritonclient, so the exporter (lfsdk.export.triton) uses it too."""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..geometry import Camera

__all__ = ["MODEL_NAME", "HANDS_MODEL_NAME", "HANDS_SUFFIX", "REQUEST_ID", "BATCH_REJECTED", "MAX_HANDS", "MAX_HANDS_LIMIT", "SCORE_THRESHOLD",
           "TensorSpec", "check_camera", "request_inputs", "response_outputs", "hands_outputs", "hands_options"]

#: the name clients call, in `lfsdk serve` and in the exported repository's ensemble alike
MODEL_NAME = "latent_fusion"
#: the multi-hand model (HandPoseEstimator.find_hands): the same inputs, per-hand-slot outputs
HANDS_SUFFIX = "_hands"
HANDS_MODEL_NAME = MODEL_NAME + HANDS_SUFFIX
#: request parameters of the multi-hand model: hand slots per frame (default 2), and the score below which a
#: hand comes back found=False (absent: the model's hand scorer's threshold)
MAX_HANDS, SCORE_THRESHOLD = "max_hands", "score_threshold"
#: request parameter the Client sets, so an error caused by another request of the same dynamic batch can
#: name the culprit and the innocent requests can be retried (PyTriton fails a batch as a whole)
REQUEST_ID = "lfsdk_request_id"
#: marker in the error message of a batch failed by a malformed request
BATCH_REJECTED = "lfsdk: batch rejected"


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of the protocol: dims exclude the batch dimension (-1 = any size)."""

    name: str
    dtype: type  # numpy scalar type
    dims: tuple[int, ...]

    @property
    def triton_dtype(self) -> str:
        """Triton's name for the dtype, e.g. 'UINT16' (tritonclient and config.pbtxt's TYPE_ prefix)."""
        return _TRITON_DTYPES[np.dtype(self.dtype)]


_TRITON_DTYPES = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "UINT8", np.dtype(np.uint16): "UINT16",
                  np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64", np.dtype(np.float16): "FP16",
                  np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64"}


def request_inputs() -> tuple[TensorSpec, ...]:
    """depth: raw sensor frames in mm (0 = missing); camera: per-frame intrinsics (fx, fy, cx, cy) in px."""
    return (TensorSpec("depth", np.uint16, (-1, -1)), TensorSpec("camera", np.float32, (4,)))


def response_outputs(num_joints: int) -> tuple[TensorSpec, ...]:
    """Per frame, named and laid out as lfsdk.Result's fields (NaN where no hand was found). found is (1,) on
    the wire (Triton needs a dim per tensor); the Client squeezes it to (B,)."""
    m = num_joints
    return (TensorSpec("joints_xyz", np.float32, (m, 3)), TensorSpec("joints_uvd", np.float32, (m, 3)),
            TensorSpec("branch_xyz", np.float32, (3, m, 3)), TensorSpec("fusion_weights", np.float32, (3,)),
            TensorSpec("centers_xyz", np.float32, (3,)), TensorSpec("centers_uvd", np.float32, (3,)),
            TensorSpec("boxes", np.float32, (4,)), TensorSpec("found", np.bool_, (1,)))


def hands_outputs(num_joints: int) -> tuple[TensorSpec, ...]:
    """Per frame and hand slot (N = max_hands, the first -1), named and laid out as lfsdk.Hands' fields."""
    m = num_joints
    return (TensorSpec("joints_xyz", np.float32, (-1, m, 3)), TensorSpec("joints_uvd", np.float32, (-1, m, 3)),
            TensorSpec("branch_xyz", np.float32, (-1, 3, m, 3)), TensorSpec("fusion_weights", np.float32, (-1, 3)),
            TensorSpec("centers_xyz", np.float32, (-1, 3)), TensorSpec("centers_uvd", np.float32, (-1, 3)),
            TensorSpec("boxes", np.float32, (-1, 4)), TensorSpec("regions", np.float32, (-1, 4)),
            TensorSpec("score", np.float32, (-1,)), TensorSpec("left", np.bool_, (-1,)),
            TensorSpec("left_prob", np.float32, (-1,)), TensorSpec("found", np.bool_, (-1,)))


#: most hand slots one request may ask for (each slot is a network pass per frame and (B, N, ...) outputs)
MAX_HANDS_LIMIT = 16


def hands_options(parameters: dict | None) -> tuple[int, float | None]:
    """A multi-hand request's parameters → (max_hands, score_threshold or None); ValueError names a bad one.
    Numbers given as strings are accepted too (some clients send every parameter as a string)."""
    params = dict(parameters or {})
    n, thr = params.get(MAX_HANDS, 2), params.get(SCORE_THRESHOLD)
    if not _is_number(n, int) or not 1 <= int(n) <= MAX_HANDS_LIMIT:
        raise ValueError(f"request parameter {MAX_HANDS} must be an int in 1..{MAX_HANDS_LIMIT}, got {n!r}")
    if thr is not None and (not _is_number(thr, float) or not 0.0 <= float(thr) <= 1.0):
        raise ValueError(f"request parameter {SCORE_THRESHOLD} must be a probability in [0, 1], got {thr!r}")
    return int(n), None if thr is None else float(thr)


def _is_number(value, kind: type) -> bool:
    """value is an int (kind=int) or an int or float (kind=float), or a string of one; never a bool."""
    if isinstance(value, str):
        try:
            value = kind(value)
        except ValueError:
            return False
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, Integral if kind is int else Real)


def check_camera(camera: np.ndarray) -> None:
    """(B, 4) intrinsics: ValueError unless every row is a valid lfsdk Camera (finite, positive focal lengths)."""
    if camera.ndim != 2 or camera.shape[1] != 4:
        raise ValueError(f"camera must be (B, 4) (fx, fy, cx, cy), got shape {camera.shape}")
    for row in camera.tolist():
        Camera(*row)
