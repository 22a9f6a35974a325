"""lfsdk.serving.Client: depth frames in, lfsdk Result out, over Triton's HTTP or gRPC protocol (tritonclient).

    with Client("127.0.0.1:8000") as c:                    # `lfsdk serve`, or Triton with the exported repo
        res = c(depth, camera=Camera.nyu())                # depth (H,W) or (B,H,W) uint16 mm
        hands = c.find_hands(depth, Camera.nyu(), max_hands=2)   # lfsdk Hands, as est.find_hands
    Client("127.0.0.1:8001", protocol="grpc")

Batches larger than the server's max_batch_size are split. A connection that fails (server down, restarting,
reset) is retried `retries` times with a growing pause, on a fresh connection; then ServerUnavailable. An
error response (bad input) raises ServerError at once, except for requests that only shared a dynamic batch
with someone else's malformed one: those are retried.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np

from ..geometry import Camera
from ..hands import Hands
from ..result import Result
from ..skeletons import get_skeleton
from .protocol import (BATCH_REJECTED, HANDS_SUFFIX, MAX_HANDS, MODEL_NAME, REQUEST_ID, SCORE_THRESHOLD, TensorSpec,
                       hands_options, hands_outputs, request_inputs, response_outputs)

__all__ = ["Client", "ServerError", "ServerUnavailable"]

_PROTOCOLS = ("http", "grpc")


class ServerUnavailable(ConnectionError):
    """The server could not be reached (after the retries); the message names it and the last cause."""


class ServerError(RuntimeError):
    """The server answered with an error (malformed request, model failure); the message is the server's."""


def _tritonclient(protocol: str):
    try:
        if protocol == "http":
            import tritonclient.http as tc
        else:
            import tritonclient.grpc as tc
        from tritonclient.utils import InferenceServerException
    except ImportError as e:
        raise ImportError(f"lfsdk.serving.Client needs tritonclient ({e}); pip install 'lfsdk[serve]'") from None
    return tc, InferenceServerException


def _is_connection_error(e: Exception) -> bool:
    """True for failures to reach the server (retry), False for an answer from it (do not)."""
    if isinstance(e, (ConnectionError, TimeoutError, OSError)):
        return True
    status = str(getattr(e, "status", lambda: "")() or "")
    text = str(e).lower()
    return ("unavailable" in status.lower() or "deadline" in status.lower() or "unavailable" in text
            or "connection" in text or "timed out" in text or "broken pipe" in text or "socket" in text)


class Client:
    def __init__(self, url: str = "127.0.0.1:8000", *, protocol: str = "http", model: str = MODEL_NAME,
                 timeout_s: float = 30.0, retries: int = 3, retry_delay_s: float = 0.5, skeleton: str | None = None,
                 hands_model: str | None = None):
        if protocol not in _PROTOCOLS:
            raise ValueError(f"protocol must be one of {_PROTOCOLS}, got {protocol!r}")
        if not timeout_s > 0 or retries < 0 or retry_delay_s < 0:
            raise ValueError("timeout_s must be > 0, retries and retry_delay_s ≥ 0")
        self.url = url.removeprefix("http://").removeprefix("grpc://")
        self.protocol, self.model = protocol, model
        self.hands_model = hands_model or model + HANDS_SUFFIX  # the multi-hand model (find_hands)
        self.timeout_s, self.retries, self.retry_delay_s = float(timeout_s), int(retries), float(retry_delay_s)
        self._tc, self._exc = _tritonclient(protocol)
        self._client = None
        self._configs: dict[str, dict] = {}
        self._skeleton = skeleton

    # -- connection ---------------------------------------------------------------------------------------
    def _connect(self):
        if self._client is None:
            if self.protocol == "http":
                self._client = self._tc.InferenceServerClient(self.url, connection_timeout=self.timeout_s,
                                                              network_timeout=self.timeout_s)
            else:
                self._client = self._tc.InferenceServerClient(self.url)
        return self._client

    def _reset(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing a broken connection may fail any way; it is discarded regardless
                pass
        self._client = None

    def close(self) -> None:
        self._reset()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _call(self, what: str, fn, *, request_id: str | None = None):
        """fn(client) with retries on connection loss and on batches rejected for another request's fault."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.retry_delay_s * attempt)
            try:
                return fn(self._connect())
            except self._exc as e:
                msg = e.message() if hasattr(e, "message") and callable(e.message) else str(e)
                if msg and BATCH_REJECTED in msg and request_id is not None and request_id not in msg:
                    last = e  # our request was fine; it only shared a batch with a malformed one
                    continue
                if not _is_connection_error(e):
                    raise ServerError(f"{self.url} ({self.protocol}) {what}: {msg}") from None
                last = e
                self._reset()
            except Exception as e:  # the HTTP transport raises plain socket/gevent errors on connection loss
                if not _is_connection_error(e):
                    raise
                last = e
                self._reset()
        raise ServerUnavailable(f"lfsdk server at {self.url} ({self.protocol}) unreachable for {what} after "
                                f"{self.retries + 1} tries: {type(last).__name__}: {last}")

    # -- health ---------------------------------------------------------------------------------------------
    def is_ready(self) -> bool:
        """Server live and model ready (one try, no retries)."""
        try:
            c = self._connect()
            return bool(c.is_server_ready() and c.is_model_ready(self.model))
        except Exception:  # any failure to answer means not ready
            self._reset()
            return False

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"lfsdk server at {self.url} ({self.protocol}) not ready after {timeout_s} s")
            time.sleep(0.2)

    def _model_config(self, model: str | None = None) -> dict:
        """A served model's config (default: self.model) as a dict (HTTP's JSON layout, for both protocols)."""
        name = model or self.model
        if name not in self._configs:
            if self.protocol == "grpc":
                from google.protobuf.json_format import MessageToDict

                res = self._call(f"model config of {name}", lambda c: c.get_model_config(name))
                self._configs[name] = MessageToDict(res.config, preserving_proto_field_name=True)
            else:
                self._configs[name] = self._call(f"model config of {name}", lambda c: c.get_model_config(name))
        return self._configs[name]

    @property
    def max_batch(self) -> int:
        """The server's max_batch_size: larger batches are sent in parts."""
        return self._max_batch(self.model)

    def _max_batch(self, model: str) -> int:
        return int(self._model_config(model).get("max_batch_size", 0)) or 1

    # -- inference ----------------------------------------------------------------------------------------
    def infer_arrays(self, depth: np.ndarray, camera: np.ndarray) -> dict[str, np.ndarray]:
        """depth (B,H,W) uint16, camera (B,4) float32 → the protocol's outputs as arrays with batch B."""
        return self._infer(self.model, depth, camera, response_outputs(1), {})

    def _infer(self, model: str, depth: np.ndarray, camera: np.ndarray, outputs: tuple[TensorSpec, ...],
               parameters: dict[str, Any]) -> dict[str, np.ndarray]:
        """`model` on the frames, in parts of its max_batch; the named outputs concatenated over the parts."""
        n = self._max_batch(model)
        parts = [self._infer_chunk(model, depth[s:s + n], camera[s:s + n], outputs, parameters)
                 for s in range(0, len(depth), n)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _infer_chunk(self, model: str, depth: np.ndarray, camera: np.ndarray, outputs: tuple[TensorSpec, ...],
                     parameters: dict[str, Any]) -> dict[str, np.ndarray]:
        inputs = []
        for spec, arr in zip(request_inputs(), (depth, camera)):
            x = self._tc.InferInput(spec.name, list(arr.shape), spec.triton_dtype)
            x.set_data_from_numpy(np.ascontiguousarray(arr, dtype=spec.dtype))
            inputs.append(x)
        rid = uuid.uuid4().hex
        kw: dict[str, Any] = {"parameters": {**parameters, REQUEST_ID: rid}}
        if self.protocol == "grpc":
            kw["client_timeout"] = self.timeout_s
        res = self._call("infer", lambda c: c.infer(model, inputs, **kw), request_id=rid)
        return {s.name: res.as_numpy(s.name) for s in outputs}

    @property
    def skeleton(self) -> str:
        """The served model's joint layout: the repository's lfsdk_model_config parameter when the server has
        one, else the layout lfsdk.skeletons knows with the served joint count."""
        if self._skeleton is None:
            self._skeleton = self._read_skeleton()
        return self._skeleton

    def _read_skeleton(self) -> str:
        import json

        cfg = self._model_config()
        params = cfg.get("parameters", {}) or {}
        if "lfsdk_model_config" in params:
            return json.loads(params["lfsdk_model_config"]["string_value"])["skeleton"]
        m = next(int(o["dims"][0]) for o in cfg["output"] if o["name"] == "joints_xyz")
        for name in ("nyu", "icvl", "msra"):
            if get_skeleton(name).num_joints == m:
                return name
        raise ServerError(f"{self.url}: the served model has {m} joints, no known layout; pass Client(skeleton=...)")

    def __call__(self, depth: Any, camera: Camera | str | Any) -> Any:
        """depth (H,W) or (B,H,W) uint16 mm (numpy or torch), camera: Camera, preset/"fx,fy,cx,cy" or 4 numbers → the
        same lfsdk Result the in-process estimator returns (NumPy arrays; depth kept for draw)."""
        d, cam, k = _frames(depth, camera)
        out = self.infer_arrays(d, k)
        out["found"] = out["found"].reshape(-1)
        return Result(**out, skeleton=self.skeleton, camera=cam, depth=d)

    def find_hands(self, depth: Any, camera: Camera | str | Any, max_hands: int = 2,
                   score_threshold: float | None = None) -> Hands:
        """Every hand in the frames, as HandPoseEstimator.find_hands: depth and camera as for __call__ → the
        same lfsdk Hands (NumPy arrays, (B, max_hands, ...)), from the server's multi-hand model."""
        d, cam, k = _frames(depth, camera)
        n, thr = hands_options({MAX_HANDS: max_hands, SCORE_THRESHOLD: score_threshold})  # as the server checks
        params: dict[str, Any] = {MAX_HANDS: n} if thr is None else {MAX_HANDS: n, SCORE_THRESHOLD: thr}
        out = self._infer(self.hands_model, d, k, hands_outputs(1), params)  # (the joint count names no output)
        return Hands(**out, skeleton=self.skeleton, camera=cam, depth=d)


def _frames(depth: Any, camera: Camera | str | Any) -> tuple[np.ndarray, Camera, np.ndarray]:
    """The Client's inputs checked → depth (B, H, W) uint16, the Camera, its (B, 4) float32 rows."""
    d = depth.detach().cpu().numpy() if hasattr(depth, "detach") else np.asarray(depth)
    d = d[None] if d.ndim == 2 else d
    if d.ndim != 3 or d.shape[0] == 0:
        raise ValueError(f"depth must be (H, W) or (B, H, W) with B ≥ 1, got shape {np.shape(depth)}")
    if d.dtype != np.uint16:
        raise ValueError(f"depth must be uint16 mm (the sensor format the server takes), got {d.dtype}")
    if isinstance(camera, (Camera, str)):
        cam = Camera.parse(camera)
    else:
        values = np.asarray(camera.detach().cpu() if hasattr(camera, "detach") else camera, dtype=np.float64)
        if values.shape != (4,):
            raise ValueError(f"camera must be a Camera, a preset name or (fx, fy, cx, cy), got shape {values.shape}")
        cam = Camera(*values.tolist())  # validates: finite, positive focal lengths
    return d, cam, np.broadcast_to(np.asarray(cam.tensor(), dtype=np.float32), (d.shape[0], 4))
