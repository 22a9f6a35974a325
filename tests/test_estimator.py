"""HandPoseEstimator: the pipeline's wiring (centres, crops, backend, back-projection), flagged frames,
given centres and boxes, batch splitting, threads, profiling."""
import threading

import numpy as np
import pytest
import torch

from lfsdk import Camera, HandPoseEstimator, InputError
from lfsdk.backends import Outputs
from lfsdk.pipeline import postprocess
from lfsdk.kernels import HandCenters
from lfsdk.model import ModelConfig
from tests.api_helpers import StubBackend, default_model_missing, fast_backend, make_frames, one_torch_thread, shared_cache, shared_model  # noqa: F401

pytestmark = pytest.mark.usefixtures("shared_cache", "one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return shared_model()


@pytest.fixture(scope="module")
def est(model):
    return HandPoseEstimator(model[1], backend=fast_backend(), precision="fp32")


@pytest.fixture(scope="module")
def frames():
    return make_frames(4, seed=3)


class SpyBackend(StubBackend):
    """A stand-in network: joints = a fixed function of each crop's mean, records the batch sizes it saw."""

    name = "spy"

    def __init__(self, max_batch=None, m=14):
        super().__init__(ModelConfig(num_joints=m), torch.device("cpu"), "fp32", max_batch)
        self.batches = []

    def _infer(self, crops):
        self.batches.append(crops.shape[0])
        b, m = crops.shape[0], self.config.num_joints
        mean = crops.mean(dim=(1, 2, 3))
        joints = mean[:, None, None] * torch.linspace(-0.5, 0.5, m * 3).reshape(1, m, 3)
        return Outputs(joints, joints[:, None].expand(b, 3, m, 3).clone(), torch.full((b, 3), 1 / 3))


def test_single_frame_numpy_torch_and_dtypes_agree(est, frames):
    batch = est(frames)
    assert batch.joints_xyz.shape == (4, 14, 3) and batch.branch_xyz.shape == (4, 3, 14, 3)
    assert batch.fusion_weights.shape == (4, 3) and batch.boxes.shape == (4, 4) and batch.found.all()
    one = est(frames[2])
    torch.testing.assert_close(one.joints_xyz[0], batch.joints_xyz[2], atol=1e-3, rtol=0)
    torch.testing.assert_close(est(torch.from_numpy(frames[2])).joints_xyz, one.joints_xyz)
    torch.testing.assert_close(est(frames[2].astype(np.float32)).joints_xyz, one.joints_xyz)
    torch.testing.assert_close(batch.fusion_weights.sum(1), torch.ones(4))
    # the joints lie in the crop cube around the centre: |x − x_c| ≤ 125 mm for a 250 mm cube
    assert (batch.joints_xyz - batch.centers_xyz[:, None]).abs().max() <= 125 * 1.5


def test_postprocess_against_numpy():
    cam = Camera(500.0, 480.0, 160.0, 120.0)
    cube = (250.0, 200.0, 300.0)
    norm = torch.tensor([[[0.5, -0.25, 0.1], [0.0, 0.0, 0.0]]])  # (1, 2, 3)
    centers = HandCenters(torch.tensor([[150.0, 100.0, 400.0]]), torch.zeros(1, 3), torch.tensor([True]))
    out = Outputs(norm, norm[:, None].expand(1, 3, 2, 3), torch.tensor([[0.2, 0.3, 0.5]]))
    post = postprocess(out, centers, cube, cam)
    # by hand: h_u = 125·500/400 = 156.25 px, h_v = 100·480/400 = 120 px, h_d = 150 mm
    u, v, d = 150 + 0.5 * 156.25, 100 - 0.25 * 120, 400 + 0.1 * 150
    np.testing.assert_allclose(post["joints_uvd"][0, 0].numpy(), [u, v, d], rtol=1e-6)
    np.testing.assert_allclose(post["joints_xyz"][0, 0].numpy(), [(u - 160) * d / 500, (v - 120) * d / 480, d],
                               rtol=1e-6)
    np.testing.assert_allclose(post["joints_xyz"][0, 1].numpy(), [(150 - 160) * 400 / 500, (100 - 120) * 400 / 480, 400],
                               rtol=1e-6)
    np.testing.assert_allclose(post["boxes"][0].numpy(), [150 - 156.25, 100 - 120, 150 + 156.25, 100 + 120], rtol=1e-6)
    torch.testing.assert_close(post["branch_xyz"][0, 2], post["joints_xyz"][0])


def test_frame_without_hand_is_flagged_not_a_crash(est, frames):
    batch = np.stack([frames[0], np.zeros_like(frames[0]), frames[1]])
    r = est(batch)
    assert r.found.tolist() == [True, False, True]
    for f in ("joints_xyz", "joints_uvd", "branch_xyz", "fusion_weights", "boxes", "centers_xyz", "centers_uvd"):
        assert torch.isnan(getattr(r, f)[1]).all(), f
        assert torch.isfinite(getattr(r, f)[[0, 2]]).all(), f
    alone = est(frames[:2])
    torch.testing.assert_close(r.joints_xyz[[0, 2]], alone.joints_xyz, atol=1e-3, rtol=0)


def test_no_hand_anywhere_skips_the_network():
    spy = SpyBackend()
    r = HandPoseEstimator(spy, camera="icvl")(np.zeros((2, 40, 50), np.uint16))
    assert r.found.tolist() == [False, False] and spy.batches == []
    assert torch.isnan(r.joints_xyz).all()


def test_given_centers_uvd_and_xyz(est, frames):
    auto = est(frames[:2])
    by_uvd = est(frames[:2], centers=auto.centers_uvd)
    by_xyz = est(frames[:2], centers=auto.centers_xyz.numpy(), center_space="xyz")
    torch.testing.assert_close(by_uvd.joints_xyz, auto.joints_xyz, atol=1e-3, rtol=0)
    torch.testing.assert_close(by_xyz.joints_xyz, auto.joints_xyz, atol=1e-2, rtol=0)
    one = est(frames[0], centers=auto.centers_uvd[0].tolist())
    torch.testing.assert_close(one.joints_xyz[0], auto.joints_xyz[0], atol=1e-3, rtol=0)
    # a centre moved by 20 mm moves the crop, so the joints change
    moved = auto.centers_xyz.clone()
    moved[:, 0] += 20
    assert not torch.allclose(est(frames[:2], centers=moved, center_space="xyz").joints_xyz, auto.joints_xyz, atol=1)


def test_boxes(est, frames):
    auto = est(frames[:1])
    u, v = auto.centers_uvd[0, :2].tolist()
    r = est(frames[:1], boxes=[[u - 60, v - 60, u + 60, v + 60]])
    assert r.found.tolist() == [True]
    assert abs(r.centers_uvd[0, 0] - u) < 30 and abs(r.centers_uvd[0, 1] - v) < 30
    h, w = frames.shape[1:]
    corner = [0, 0, 5, 5] if frames[0, :6, :6].max() == 0 else [w - 6, h - 6, w - 1, h - 1]
    assert est(frames[:1], boxes=[corner]).found.tolist() == [False]


def test_batches_split_over_max_batch(frames):
    spy = SpyBackend(max_batch=2)
    est = HandPoseEstimator(spy, camera="icvl")
    r = est(np.concatenate([frames, frames[:1]]))
    assert spy.batches == [2, 2, 1]
    whole = HandPoseEstimator(SpyBackend(), camera="icvl")(np.concatenate([frames, frames[:1]]))
    torch.testing.assert_close(r.joints_xyz, whole.joints_xyz)


def test_threads_share_one_estimator(est, frames):
    expected = [est(frames[i]).joints_xyz for i in range(4)]
    errors, got = [], {}

    def work(i):
        try:
            for k in range(3):
                got[(i, k)] = est(frames[i]).joints_xyz
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (i, _), j in got.items():
        torch.testing.assert_close(j, expected[i], atol=1e-4, rtol=0)


def test_profile_table(est, frames):
    table = est.profile(frames[:2], iters=3, warmup=1)
    assert table.batch == 2 and table.iters == 3
    for s in ("preprocess", "network", "postprocess", "total"):
        assert table[s].median_ms > 0 and table[s].p99_ms >= table[s].median_ms and table[s].samples == 3
    assert table["total"].median_ms >= table["network"].median_ms
    assert {"features", "heatmaps", "decode+fusion"} <= set(table.stages)  # both CPU backends split the network
    text = str(table)
    assert "preprocess" in text and "frames/s" in text and "decode+fusion" in text
    assert table.to_dict()["stages"]["network"]["samples"] == 3
    with pytest.raises(InputError, match="iters"):
        est.profile(frames[:1], iters=0)


def test_camera_and_cube(model, frames):
    spy = SpyBackend()
    est = HandPoseEstimator(spy, camera="160,160,160,120", cube=200)
    assert est.camera == Camera(160, 160, 160, 120) and est.cube == (200.0, 200.0, 200.0)
    r = est(frames[:1], camera="icvl")
    assert r.camera == Camera.icvl()
    with pytest.raises(ValueError, match="unknown camera 'kinect'"):
        HandPoseEstimator(spy, camera="kinect")
    with pytest.raises(InputError, match="cube"):
        HandPoseEstimator(spy, cube=(250, -1, 250))


def test_default_camera_from_the_checkpoint(model):
    est = HandPoseEstimator(model[0], backend="torch")
    assert est.camera == Camera.icvl()  # config.extra["camera"]; the skeleton alone would say NYU
    assert "torch (cpu, fp32)" in repr(est)


def test_model_file_errors(tmp_path, model):
    with pytest.raises(FileNotFoundError, match="no such model"):
        HandPoseEstimator(tmp_path / "nothing.onnx")
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        HandPoseEstimator(model[1], backend="tensorflow")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="junk.onnx"):
        HandPoseEstimator(junk)


def test_from_pretrained_on_generated_hands():
    if default_model_missing():
        pytest.skip(default_model_missing())
    from lfsdk.data.synthetic import render_batch

    est = HandPoseEstimator.from_pretrained()
    batch = render_batch(8, seed=2024, camera=est.camera, layout=est.config.skeleton)
    r = est(batch.depth)
    err = np.linalg.norm(r.joints_xyz.numpy() - batch.joints_xyz, axis=-1).mean()
    # a trained model on its own kind of data: far below the ~60 mm of predicting the hand centre
    assert r.found.all() and err < 25, err


def test_readme_quick_start(monkeypatch, tmp_path):
    """The README's quick-start lines, with the test checkpoint standing in for the default model."""
    import lfsdk
    import lfsdk.pretrained

    if default_model_missing():
        monkeypatch.setattr(lfsdk.pretrained, "model_path", lambda name="default": shared_model()[0])
    monkeypatch.chdir(tmp_path)
    # -- as in the README --
    from PIL import Image

    from lfsdk.pretrained import sample_frames

    est = lfsdk.HandPoseEstimator.from_pretrained()
    frame = sample_frames()[0]
    res = est(frame.depth, camera=frame.camera)
    assert res.found.tolist() == [True] and res.joints_xyz.shape == (1, 14, 3)
    assert res.fusion_weights.shape == (1, 3) and res.branch_xyz.shape == (1, 3, 14, 3) and res.boxes.shape == (1, 4)
    assert isinstance(res.to_dict(), dict)
    Image.fromarray(res.draw(0)).save("overlay.png")
    assert "postprocess" in str(est.profile(frame.depth, iters=3))
    assert (tmp_path / "overlay.png").stat().st_size > 1000
