"""`lfsdk serve` on 127.0.0.1 through lfsdk.serving.Client: the in-process estimator's joints over HTTP and
gRPC, health/readiness/metrics, malformed requests answered with errors while the server keeps serving, a
killed server giving the client a clear error and a restarted one serving again, SIGTERM draining in-flight
requests. Needs the [serve] extra (nvidia-pytriton, tritonclient)."""
from __future__ import annotations

import signal
import threading
import time
import urllib.request

import numpy as np
import pytest
import torch

pytest.importorskip("tritonclient.http", reason="needs the [serve] extra (tritonclient)")
from lfsdk.serving.server import ServeUnavailable, import_pytriton  # noqa: E402

try:
    import_pytriton()
except ServeUnavailable as e:
    pytest.skip(f"needs the [serve] extra: {e}", allow_module_level=True)

import tritonclient.grpc as grpcclient  # noqa: E402
import tritonclient.http as httpclient  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

from lfsdk.estimator import HandPoseEstimator  # noqa: E402
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint  # noqa: E402
from lfsdk.serving import MODEL_NAME, Client, ServerError, ServerUnavailable  # noqa: E402
from lfsdk.serving import HANDS_MODEL_NAME  # noqa: E402
from tests.serving.helpers import ServeProcess, assert_same_hands, synthetic_frames, two_hand_scenes  # noqa: E402

FIELDS = ("joints_xyz", "joints_uvd", "branch_xyz", "fusion_weights", "centers_xyz", "centers_uvd", "boxes")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(LatentFusion(ModelConfig(channels=16, fusion_channels=16)), tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames(6, seed=5)


@pytest.fixture(scope="module")
def server(checkpoint, tmp_path_factory):
    srv = ServeProcess(checkpoint, tmp_path_factory.mktemp("serve") / "serve.log", extra=("--max-batch", "4", "--exit-timeout", "5"))
    srv.start().wait_ready()
    yield srv
    assert srv.stop() == 0, srv.tail()


def same_result(got, ref):
    assert got.skeleton == ref.skeleton and got.camera == ref.camera
    np.testing.assert_array_equal(got.found, ref.found)
    for f in FIELDS:
        np.testing.assert_allclose(getattr(got, f), getattr(ref, f), atol=1e-4, rtol=0, err_msg=f)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_client_gets_the_in_process_estimators_joints(server, checkpoint, frames, protocol):
    ref = HandPoseEstimator(checkpoint, backend="torch", camera=frames.camera)(frames.depth).to_numpy()
    port = server.http if protocol == "http" else server.grpc
    with Client(f"127.0.0.1:{port}", protocol=protocol) as c:
        assert c.max_batch == 4  # 6 frames go as 4 + 2
        res = c(frames.depth, frames.camera)
        same_result(res, ref)
        assert res.found.all() and res.joints_xyz.shape == (6, 14, 3)
        one = c(frames.depth[3], "icvl")  # a single (H, W) frame, the camera by preset name
        np.testing.assert_allclose(one.joints_xyz, ref.joints_xyz[3:4], atol=1e-4)


def test_health_readiness_and_metrics(server, frames):
    base = f"http://127.0.0.1:{server.http}"
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL_NAME}/ready"):
        assert urllib.request.urlopen(base + path, timeout=10).status == 200
    with Client(f"127.0.0.1:{server.http}") as c:
        c(frames.depth[:2], frames.camera)
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics}/metrics", timeout=10).read().decode()
    line = next(ln for ln in text.splitlines() if ln.startswith("nv_inference_request_success")
                and f'model="{MODEL_NAME}"' in ln)
    assert float(line.split()[-1]) >= 1


def _inputs(module, depth, camera, depth_type="UINT16", camera_type="FP32"):
    out = []
    for name, arr, t in (("depth", depth, depth_type), ("camera", camera, camera_type)):
        if arr is None:
            continue
        x = module.InferInput(name, list(arr.shape), t)
        x.set_data_from_numpy(arr)
        out.append(x)
    return out


def test_malformed_requests_get_errors_and_the_server_keeps_serving(server, frames):
    d = frames.depth[:2]
    cam = np.broadcast_to(np.asarray(frames.camera.tensor(), np.float32), (2, 4)).copy()
    nan_cam = cam.copy()
    nan_cam[1, 0] = np.nan
    cases = {
        "wrong dtype": (d.astype(np.float32), cam, "FP32", "FP32"),
        "wrong shape": (d.reshape(2, -1), cam, "UINT16", "FP32"),
        "wrong camera shape": (d, cam[:, :3].copy(), "UINT16", "FP32"),
        "missing input": (d, None, "UINT16", "FP32"),
        "NaN camera": (d, nan_cam, "UINT16", "FP32"),
        "batch over max_batch": (np.concatenate([d, d, d]), np.concatenate([cam, cam, cam]), "UINT16", "FP32"),
        "batch sizes differ": (d, cam[:1].copy(), "UINT16", "FP32"),
    }
    with Client(f"127.0.0.1:{server.http}") as good:
        ref = good(d, frames.camera).joints_xyz
        for module, port in ((httpclient, server.http), (grpcclient, server.grpc)):
            raw = module.InferenceServerClient(f"127.0.0.1:{port}")
            for what, (depth, camera, dt, ct) in cases.items():
                with pytest.raises(InferenceServerException) as e:
                    raw.infer(MODEL_NAME, _inputs(module, depth, camera, dt, ct))
                assert e.value.message(), what
                if what == "NaN camera":
                    assert "camera intrinsics must be finite" in e.value.message()
                if module is httpclient:
                    np.testing.assert_array_equal(good(d, frames.camera).joints_xyz, ref)  # still serving, same answer
            raw.close()
        np.testing.assert_array_equal(good(d, frames.camera).joints_xyz, ref)
    with Client(f"127.0.0.1:{server.http}") as c:  # the Client refuses what it can check before sending
        with pytest.raises(ValueError, match="uint16"):
            c(d.astype(np.float32), frames.camera)
        with pytest.raises(ValueError, match="finite"):
            c(d, [np.nan, 1.0, 1.0, 1.0])
        with pytest.raises(ServerError, match="finite"):  # the server's own answer, when sent anyway
            c.infer_arrays(d, nan_cam)


@pytest.fixture(scope="module")
def scenes():
    return two_hand_scenes(5, seed=11)


@pytest.fixture(scope="module")
def scenes_ref(checkpoint, scenes):
    """The in-process est.find_hands on the scenes: default options, and 3 slots with a threshold between
    two of the default call's scores (so some slots come back found and some not)."""
    depth, camera = scenes
    est = HandPoseEstimator(checkpoint, backend="torch", camera=camera)
    with pytest.warns(UserWarning, match="hands.json"):  # the test checkpoint has no scorer of its own
        default = est.find_hands(depth).to_numpy()
    s = np.sort(default.score.ravel())
    thr = float((s[len(s) // 2 - 1] + s[len(s) // 2]) / 2)
    return default, est.find_hands(depth, max_hands=3, score_threshold=thr).to_numpy(), thr


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_find_hands_gives_the_in_process_estimators_hands(server, scenes, scenes_ref, protocol):
    (depth, camera), (default, three, thr) = scenes, scenes_ref
    assert default.found.sum() >= 5 and 0 < three.found.sum() < default.found.sum()  # the options matter
    port = server.http if protocol == "http" else server.grpc
    with Client(f"127.0.0.1:{port}", protocol=protocol) as c:
        got = c.find_hands(depth, camera)  # 5 frames go as 4 + 1
        assert got.joints_xyz.shape == (5, 2, 14, 3) and got.depth is not None
        assert_same_hands(got, default, atol=1e-4)
        assert_same_hands(c.find_hands(depth, camera, max_hands=3, score_threshold=thr), three, atol=1e-4)


def test_find_hands_bad_requests_get_clear_errors(server, scenes):
    depth, camera = scenes[0][:1], scenes[1]
    cam = np.asarray(camera.tensor(), np.float32)[None]
    raw = httpclient.InferenceServerClient(f"127.0.0.1:{server.http}")
    for params, message in (({"max_hands": 0}, "max_hands must be an int in 1..16, got 0"),
                            ({"max_hands": "two"}, "max_hands must be an int"),
                            ({"score_threshold": 1.5}, r"score_threshold must be a probability in \[0, 1\], got 1.5")):
        with pytest.raises(InferenceServerException, match=message):
            raw.infer(HANDS_MODEL_NAME, _inputs(httpclient, depth, cam), parameters=params)
    with pytest.raises(InferenceServerException, match="camera intrinsics must be finite"):
        raw.infer(HANDS_MODEL_NAME, _inputs(httpclient, depth, np.full_like(cam, np.nan)))
    raw.close()
    with Client(f"127.0.0.1:{server.http}") as c:
        with pytest.raises(ValueError, match="max_hands must be an int"):  # refused before sending
            c.find_hands(depth, camera, max_hands=1.5)
        with pytest.raises(ValueError, match="uint16"):
            c.find_hands(depth.astype(np.float32), camera)
        assert c.find_hands(depth, camera, max_hands=1).found.shape == (1, 1)  # still serving


def test_kill_restart_and_sigterm(checkpoint, frames, tmp_path):
    """A server killed mid-stream gives the streaming client a clear error; restarted on the same ports it
    serves the same client objects again; on SIGTERM it lets in-flight requests finish and exits 0."""
    srv = ServeProcess(checkpoint, tmp_path / "serve.log", extra=("--max-batch", "4", "--exit-timeout", "60"))
    srv.start()
    try:
        srv.wait_ready()
        ref = HandPoseEstimator(checkpoint, backend="torch", camera=frames.camera)(frames.depth[:1]).joints_xyz
        # both clients are made now and reused across the kill and the restart
        clients = [Client(f"127.0.0.1:{srv.http}", retries=2, retry_delay_s=0.2, timeout_s=10),
                   Client(f"127.0.0.1:{srv.grpc}", protocol="grpc", retries=2, retry_delay_s=0.2, timeout_s=10)]
        errors: list[Exception] = []
        served = [0]

        def stream():  # a client streaming frames while the server is killed under it
            try:
                for _ in range(10_000):
                    clients[0](frames.depth[:1], frames.camera)
                    served[0] += 1
            except Exception as e:  # what the stream ends with is the assertion below
                errors.append(e)

        t = threading.Thread(target=stream)
        t.start()
        while served[0] < 5 and t.is_alive():
            time.sleep(0.01)
        srv.kill()
        t.join(60)
        assert not t.is_alive() and served[0] >= 5
        assert len(errors) == 1 and isinstance(errors[0], ServerUnavailable), errors
        assert f"127.0.0.1:{srv.http}" in str(errors[0]) and "unreachable" in str(errors[0])
        with pytest.raises(ServerUnavailable, match="grpc"):
            clients[1](frames.depth[:1], frames.camera)

        srv.start().wait_ready()  # same ports, same client objects
        for c in clients:
            np.testing.assert_allclose(c(frames.depth[:1], frames.camera).joints_xyz, ref.numpy(), atol=1e-4)
            c.close()

        raw = httpclient.InferenceServerClient(f"127.0.0.1:{srv.http}", concurrency=8, network_timeout=120)
        cam = np.broadcast_to(np.asarray(frames.camera.tensor(), np.float32), (2, 4)).copy()
        pending = [raw.async_infer(MODEL_NAME, _inputs(httpclient, frames.depth[:2], cam)) for _ in range(8)]
        first = pending[0].get_result()  # the server is busy: the other 7 are queued or running
        srv.signal(signal.SIGTERM)
        results = [first] + [p.get_result() for p in pending[1:]]
        assert all(r.as_numpy("joints_xyz").shape == (2, 14, 3) for r in results)
        raw.close()  # Triton's own shutdown then waits for open keep-alive connections
        assert srv.proc.wait(90) == 0, srv.tail()
        log = srv.tail(20000)
        assert "letting in-flight requests finish" in log and "still in flight" not in log
        with Client(f"127.0.0.1:{srv.http}", retries=0) as c:
            with pytest.raises(ServerUnavailable):
                c(frames.depth[:1], frames.camera)
    finally:
        srv.stop()
