import json

import numpy as np
import pytest
import torch

from lfsdk.data.dataset import HandCropDataset, PreprocessConfig
from lfsdk.data.synthetic import render_hand
from lfsdk.evaluate import joint_errors, predict
from lfsdk.geometry import Camera
from lfsdk.kernels import backproject
from lfsdk import pretrained
from lfsdk.model import load_model
from lfsdk.pretrained import default_model_path, sample_frames


SHIPPED = {"default": (128, 128), "lite": (96, 64)}  # input size, channels


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_is_small_loads_and_has_its_reports(name):
    d = pretrained.model_path(name)
    size = sum(f.stat().st_size for f in (d / "model.safetensors", d / "config.json"))
    assert size <= 10 * 2**20
    model = load_model(d)
    assert not model.training
    assert model.config.num_joints == 14 and model.config.skeleton == "nyu"
    assert (model.config.input_size, model.config.channels) == SHIPPED[name]
    assert PreprocessConfig.for_model(model.config).size == model.config.input_size
    report = json.loads((d / "eval.json").read_text())
    assert report["frames"] >= 500 and report["num_joints"] == 14
    assert f"{report['mean_error_mm']:.2f}" in (d / "eval.md").read_text()
    scorer = json.loads((d / "hands.json").read_text())  # find_hands' score, fitted for this model
    assert scorer["info"]["model"] == f"lfsdk/assets/{name}" and scorer["info"]["hand_accuracy"] > 0.8


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_beats_the_trivial_baseline_on_held_out_frames(name):
    """On 16 held-out frames (test seed 2020; checkpoints were picked on seed 2): the model's mean error is
    well below predicting every joint at the detected hand centre (what an untrained net does)."""
    model = load_model(pretrained.model_path(name))
    cam = Camera.icvl()
    frames = []
    for i in range(16):
        rng = np.random.default_rng((2020, i))
        frames.append(render_hand(rng, cam, "nyu", clutter=bool(rng.random() < 0.3)))
    data = HandCropDataset(np.stack([f.depth for f in frames]), np.stack([f.joints_uvd for f in frames]), cam,
                           PreprocessConfig.for_model(model.config))
    pred = predict(model, data, batch_size=16)
    err = joint_errors(pred["xyz"], pred["true_xyz"]).mean()
    _, centre = backproject(torch.zeros_like(data.joints), data.centers_uvd, data.preprocess.cube, cam)
    baseline = joint_errors(centre, pred["true_xyz"]).mean()
    assert err < 0.6 * baseline, (float(err), float(baseline))


def test_samples_are_the_held_out_frames_they_claim_to_be():
    frames = sample_frames()
    meta = json.loads((default_model_path().parent / "samples" / "samples.json").read_text())
    assert len(frames) == 4 and sum((default_model_path().parent / "samples" / f.name).stat().st_size for f in frames) < 200_000
    for f, i in zip(frames, meta["indices"]):
        assert f.depth.dtype == np.uint16 and f.depth.shape == (240, 320)
        rng = np.random.default_rng((2020, i))
        again = render_hand(rng, Camera.icvl(), "nyu", clutter=bool(rng.random() < 0.3))
        np.testing.assert_array_equal(f.depth, again.depth)  # lossless 16-bit PNG of a reproducible render
        np.testing.assert_allclose(f.joints_xyz, again.joints_xyz, atol=1e-3)


# -- which shipped model "auto" picks ----------------------------------------------------------------------
@pytest.mark.parametrize("native_bf16, device, backend, lite_shipped, expected", [
    (False, "cpu", "auto", True, "lite"),            # an FP32-only CPU: the full network costs ~4x the lite's
    (False, None, "onnxruntime", True, "lite"),      # no CUDA here, so None means the CPU
    (True, "cpu", "auto", True, "default"),          # native BF16 runs the full network fast enough
    (False, "cuda", "auto", True, "default"),        # a GPU
    (False, "cpu", "tensorrt", True, "default"),     # TensorRT runs on a GPU whatever device says
    (False, "cpu", "auto", False, "default"),        # no lite in this install: never a missing model
])
def test_pick_pretrained(monkeypatch, tmp_path, native_bf16, device, backend, lite_shipped, expected):
    monkeypatch.setattr(pretrained, "cpu_has_native_bf16", lambda: native_bf16)
    monkeypatch.setattr(pretrained.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(pretrained, "ASSETS", tmp_path)
    (tmp_path / "lite").mkdir()
    if lite_shipped:
        (tmp_path / "lite" / "model.safetensors").write_bytes(b"")
    assert pretrained.pick_pretrained(device, backend) == expected


def test_model_path_names_the_shipped_models():
    assert pretrained.model_path("default") == pretrained.default_model_path()
    with pytest.raises(ValueError, match=r"unknown pretrained model 'huge'.*\['default', 'lite'\]"):
        pretrained.model_path("huge")


def test_from_pretrained_auto_follows_pick(monkeypatch):
    """from_pretrained() with no name builds the model pick_pretrained names, for the device it is given."""
    from lfsdk import HandPoseEstimator

    asked = []
    monkeypatch.setattr(pretrained, "pick_pretrained", lambda device, backend: asked.append((device, backend)) or "default")
    est = HandPoseEstimator.from_pretrained(device="cpu", backend="onnxruntime")
    assert asked == [("cpu", "onnxruntime")] and est.model_path == default_model_path()


def test_from_pretrained_says_when_auto_picks_lite(monkeypatch, capsys):
    from lfsdk import HandPoseEstimator

    monkeypatch.setattr(pretrained, "pick_pretrained", lambda device, backend: "lite")
    shipped = default_model_path()
    monkeypatch.setattr(pretrained, "model_path", lambda name: shipped)  # the lite may not be shipped yet
    HandPoseEstimator.from_pretrained(backend="torch")
    assert "picked the lite model" in capsys.readouterr().err
    HandPoseEstimator.from_pretrained("lite", backend="torch")  # named: nothing to say
    assert capsys.readouterr().err == ""
