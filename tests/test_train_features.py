"""The training features: schedule, palm centre and jitter, resume of the sampler's state, warm start, --help.
All tiny: a few steps on a few frames of a 16-channel, 32-pixel net."""
import json
import math

import numpy as np
import pytest
import torch

from lfsdk.data.dataset import synthetic_frames
from lfsdk.data.palm import (PalmCropDataset, jitter_palm_batch, jitter_shift_px, mixed_sampler, palm_weights)
from lfsdk.data.augment import augment_batch
from lfsdk.preprocess import PreprocessConfig
from lfsdk.skeletons import get_skeleton
from lfsdk.geometry import Camera, uvd_to_cube
from lfsdk.model import load_model
from lfsdk.train import TrainConfig, _parser, main, train
from lfsdk.train_eval import centre_error_mm
from lfsdk.train_schedule import lr_at, progress
from lfsdk.train_state import load_resume

TINY = dict(channels=16, fusion_channels=32, batch_size=8, progress=False, threads=1, bf16=False, input_size=32)


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames(24, 7, "icvl", "nyu", clutter=0.0)


def test_schedules_match_hand_computed_values():
    assert lr_at(0.0, 1e-3) == pytest.approx(1e-3)
    assert lr_at(0.5, 1e-3) == pytest.approx(0.5e-3)  # cos(π/2) = 0
    assert lr_at(1.0, 1e-3, floor=1e-5) == pytest.approx(1e-5)
    assert lr_at(0.25, 1e-3, "cosine") == pytest.approx(1e-3 * (1 + math.cos(math.pi / 4)) / 2)
    assert lr_at(0.75, 2.0, "linear") == pytest.approx(0.5)
    assert lr_at(0.05, 1.0, "linear", warmup=0.1) == pytest.approx(0.5)  # half-way up the warm-up
    assert lr_at(0.55, 1.0, "linear", warmup=0.1) == pytest.approx(0.5)  # q = 0.45 / 0.9
    assert lr_at(0.65, 1.0, "step", every=0.3, gamma=0.1) == pytest.approx(0.01)  # two decays
    assert progress(30, 100, 10.0, 20.0) == 0.5  # the time budget is further along
    assert progress(30, 100, 10.0, None) == 0.3
    assert progress(300, 100, 0.0, None) == 1.0
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_at(0.1, 1.0, "exp")


def test_palm_weights_reproduce_the_palm_centre_of_each_layout():
    nyu = palm_weights("nyu")
    assert nyu[get_skeleton("nyu").names.index("palm")] == pytest.approx(1.0) and nyu.sum() == pytest.approx(1.0)
    msra = palm_weights("msra")
    names = get_skeleton("msra").names
    expected = {n: 0.2 for n in ("wrist", "index_mcp", "middle_mcp", "ring_mcp", "little_mcp")}
    assert {n: round(w, 6) for n, w in zip(names, msra) if w} == expected


def test_palm_crops_centre_on_the_palm_and_com_crops_match_inference(frames):
    cam = Camera.icvl()
    pre = PreprocessConfig(size=32)
    ds = PalmCropDataset(frames["depth"], frames["joints_uvd"], cam, pre, "nyu")
    n = ds.frames
    assert len(ds) == 2 * n and n == len(frames["depth"])
    palm = ds.joints[n:, get_skeleton("nyu").names.index("palm")]
    assert palm.abs().max() < 1e-4  # the palm joint sits at the crop centre
    err = centre_error_mm(ds.centers_uvd[:n], torch.as_tensor(frames["joints_uvd"]), palm_weights("nyu"), cam)
    assert err.norm(dim=1).median() > 10  # the centre of mass is well off the palm: why the palm crops exist
    x, y, meta = ds[n]
    assert bool(meta["palm"]) and not bool(ds[0][2]["palm"]) and x.shape == (1, 32, 32)
    sampler = mixed_sampler(ds, 0.25, torch.Generator().manual_seed(0))
    draws = np.array([i for _ in range(100) for i in sampler])
    assert len(draws) == 100 * n and abs(np.mean(draws < n) - 0.25) < 0.03  # a quarter at the centre of mass


def test_jitter_matches_re_cutting_the_crop_at_the_moved_centre(frames):
    cam = Camera.icvl()
    pre = PreprocessConfig(size=64)
    ds = PalmCropDataset(frames["depth"][:4], frames["joints_uvd"][:4], cam, pre, "nyu")
    n = ds.frames
    centres = ds.centers_uvd[n:]
    delta = torch.tensor([[3.0, -4.0, 5.0], [-5.0, 2.0, -3.0], [0.0, 0.0, 6.0], [4.0, 4.0, 0.0]])
    d = centres[:, 2:3]
    moved_uvd = centres + torch.cat((delta[:, :1] * cam.fx / d, delta[:, 1:2] * cam.fy / d, delta[:, 2:]), dim=1)
    reference = uvd_to_cube(torch.as_tensor(frames["joints_uvd"][:4]), moved_uvd, pre.cube, cam)
    params = torch.cat((jitter_shift_px(delta, pre.cube, 64), torch.ones(4, 1), torch.zeros(4, 1)), dim=1)
    x, y = augment_batch(ds.crops[n:].float(), ds.joints[n:], params)
    x, y = jitter_palm_batch(x, y, delta, pre.cube)
    assert torch.allclose(y[..., 2], reference[..., 2], atol=1e-5)
    # in-plane: exact up to the crop's scale change with depth, |n| · δz / d (and rounding)
    bound = reference[..., :2].abs() * (delta[:, 2:3, None].abs() / d[:, :, None]) + 1e-4
    assert ((y[..., :2] - reference[..., :2]).abs() <= bound).all(), (y - reference).abs().max()
    assert not torch.allclose(y, ds.joints[n:], atol=1e-2)
    # a few mm of jitter keeps the hand in the crop
    assert (x < 1).sum() > 0.5 * (ds.crops[n:] < 1).sum()


def _ds_sizes(tmp_path):
    return dict(out=str(tmp_path / "run"), root=str(tmp_path / "cache"), train_size=16, val_size=8, **TINY)


def test_palm_run_records_its_crops_and_resumes_with_the_same_sampler_state(tmp_path):
    base = _ds_sizes(tmp_path)
    train(TrainConfig(center="palm", jitter_mm=4.5, com_fraction=0.5, scenes=5, max_steps=2, eval_every=1, epochs=4,
                      **base))
    out = tmp_path / "run"
    cfg = load_model(out / "last").config.extra
    assert cfg["train_crops"] == {"center": "palm", "jitter_mm": 4.5, "com_fraction": 0.5, "scenes": 5}
    assert list((tmp_path / "cache").glob("scenes-*.npz"))
    assert cfg["preprocess"] == PreprocessConfig(size=base["input_size"]).to_dict()  # as the estimator reads it
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1, 2] and all("val_two_pass_mm" in r for r in log)
    assert all(r["samples_per_s"] > 0 for r in log[1:]) and log[-1]["samples"] == 16
    r = train(TrainConfig(center="palm", scenes=5, max_steps=4, eval_every=1, epochs=4, resume=True, **base))
    assert r["steps"] == 4 and r["samples"] == 32
    state, tensors = load_resume(out, torch.optim.Adam(load_model(out / "last").parameters()))
    assert state["step"] == 4 and [h["step"] for h in state["history"]] == [0, 1, 2, 3, 4]
    assert (tmp_path / "cache").is_dir() and not (tmp_path / "run" / "cache").exists()


def test_warm_start_loads_the_weights_and_rejects_another_shape(tmp_path):
    base = dict(_ds_sizes(tmp_path), precise_bn=0)  # statistics as saved: the weights alone decide the error
    train(TrainConfig(max_steps=1, **base))
    first = load_model(tmp_path / "run" / "last")
    warm = dict(base, out=str(tmp_path / "warm"))
    r = train(TrainConfig(init=str(tmp_path / "run" / "last"), max_steps=1, lr=1e-12, **warm))
    assert r["initial_val_mm"] == pytest.approx(first.config.extra["val_mm"], rel=1e-4)
    with pytest.raises(ValueError, match="channels"):
        train(TrainConfig(init=str(tmp_path / "run" / "last"), max_steps=1, **dict(warm, channels=8)))


def test_render_cache_defaults_to_the_output_folder(tmp_path):
    train(TrainConfig(out=str(tmp_path / "run"), train_size=8, val_size=4, max_steps=1, **TINY))
    assert list((tmp_path / "run" / "cache").glob("synthetic-*.npz"))


def test_help_describes_every_option(capsys):
    p = _parser()
    for action in p._actions:
        if action.dest != "help":
            assert action.help and len(action.help) > 15, action.dest
    assert main(["--center", "middle"]) == 2
    assert "center must be 'com' or 'palm'" in capsys.readouterr().err


def test_power_law_fit_recovers_a_known_curve_and_its_budget():
    from lfsdk.train_curve import curve_points, fit_power_law, samples_to_reach
    n = np.array([1e4, 3e4, 1e5, 3e5])
    a, b = fit_power_law(n, 500.0 * n ** -0.35)
    assert a == pytest.approx(500.0, rel=1e-6) and b == pytest.approx(-0.35, abs=1e-9)
    assert samples_to_reach(a, b, 8.0) == pytest.approx((8.0 / 500.0) ** (1 / -0.35), rel=1e-6)
    assert samples_to_reach(10.0, 0.1, 8.0) == math.inf
    log = [{"step": 0, "val_mm": 30.0}, {"step": 10, "samples": 320, "val_mm": 20.0}, {"step": 11, "loss": 1.0}]
    assert curve_points(log, offset=100).tolist() == [[100.0, 30.0], [420.0, 20.0]]


def test_chained_legs_count_samples_after_the_legs_before(tmp_path, capsys):
    from lfsdk.train_curve import chained_points, main
    legs = [[{"step": 0, "val_mm": 40.0}, {"step": 100, "samples": 3200, "val_mm": 20.0}],
            [{"step": 0, "samples": 0, "val_mm": 20.0}, {"step": 50, "samples": 1600, "val_mm": 18.0}],
            [{"step": 0, "samples": 0, "val_mm": 18.0}, {"step": 10, "samples": 800, "val_mm": 17.0}]]
    pts = chained_points(legs)
    assert [p.tolist() for p in pts] == [[[0, 40], [3200, 20]], [[3200, 20], [4800, 18]], [[4800, 18], [5600, 17]]]
    files = []
    for i, leg in enumerate(legs):
        files.append(tmp_path / f"log{i}.jsonl")
        files[-1].write_text("\n".join(json.dumps(r) for r in leg))
    assert main([str(files[2]), "--before", str(files[0]), str(files[1]), "--fit-from", "1000",
                 "--out", str(tmp_path / "c.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples_seen"] == 5600 and result["best_mm"] == 17.0 and result["fit_points"] == 5
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_sigterm_stops_a_background_run_cleanly(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "lfsdk.train", "--out", str(out), "--train-size", "16", "--val-size", "4",
           "--channels", "16", "--fusion-channels", "32", "--input-size", "32", "--batch-size", "8", "--threads", "1",
           "--no-bf16", "--no-progress", "--max-steps", "100000", "--epochs", "100000"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    log = out / "log.jsonl"
    deadline = time.time() + 600
    while not (log.is_file() and log.read_text().count("\n") >= 2) and p.poll() is None and time.time() < deadline:
        time.sleep(0.2)  # step 0 and the first epoch (2 steps) are recorded: training is under way
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == 0, stderr[-2000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    state = json.loads((out / "resume.json").read_text())
    assert 2 <= result["steps"] < 100000 and state["step"] == result["steps"]
    assert state["history"][-1]["step"] == result["steps"]  # the stop was evaluated and checkpointed


def test_scene_hands_are_palm_crops_with_left_hands_mirrored():
    from lfsdk.data.scene_crops import TRAIN_SCENE_CLASSES, scene_hand_frames, scene_palm_crops
    from lfsdk.kernels import crop_resize_normalize
    cam, pre = Camera.icvl(), PreprocessConfig(size=32)
    frames = scene_hand_frames(len(TRAIN_SCENE_CLASSES), cam, "nyu", seed=5)
    crops, joints, centres = scene_palm_crops(frames, cam, pre, "nyu")
    hands = ~np.isnan(frames["joints_uvd"][..., 0, 0])
    assert len(crops) == hands.sum() and hands.sum() > len(TRAIN_SCENE_CLASSES)  # two_hands adds a second hand
    left = frames["left"][hands]
    assert left.any() and not left.all()
    palm = get_skeleton("nyu").names.index("palm")
    assert joints[:, palm].abs().max() < 1e-4
    j = torch.as_tensor(frames["joints_uvd"][hands])
    plain = crop_resize_normalize(torch.as_tensor(frames["depth"])[np.nonzero(hands)[0]], centres, pre.cube, cam, 32)
    direct = uvd_to_cube(j, centres, pre.cube, cam)
    for k in range(len(crops)):
        flip = bool(left[k])
        assert torch.equal(crops[k].float(), (plain[k].flip(-1) if flip else plain[k]).half().float())
        assert torch.allclose(joints[k, :, 0], -direct[k, :, 0] if flip else direct[k, :, 0], atol=1e-5)
        assert torch.allclose(joints[k, :, 1:], direct[k, :, 1:], atol=1e-5)


def test_train_bn_repairs_a_checkpoint_of_a_finished_run(tmp_path, capsys):
    """A tiny run without precise BN, then python -m lfsdk.train_bn on its last checkpoint: a new checkpoint
    with the same weights, re-estimated statistics and its held-out error before and after."""
    from lfsdk.model import load_model
    from lfsdk.model.precise_bn import batch_norms
    from lfsdk.train import TrainConfig, train
    from lfsdk.train_bn import main as bn_main

    out = tmp_path / "run"
    train(TrainConfig(out=str(out), train_size=32, val_size=8, epochs=1, max_steps=2, input_size=32, channels=8,
                      fusion_channels=8, batch_size=8, progress=False, threads=1, bf16=False, precise_bn=0))
    assert bn_main([str(out), "--checkpoint", "last", "--batches", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batches"] == 3 and set(report["before"]) == set(report["after"]) == {"single"}
    old, new = load_model(out / "last"), load_model(out / "last-pbn")
    assert new.config.extra["precise_bn"] == 3 and new.config.extra["val_mm"] == pytest.approx(report["after"]["single"])
    torch.testing.assert_close(old.features[0][0].weight, new.features[0][0].weight, rtol=0, atol=0)
    moved = [not torch.equal(a.running_mean, b.running_mean) for a, b in zip(batch_norms(old), batch_norms(new))]
    assert all(moved)
    assert bn_main([str(tmp_path / "nowhere")]) == 2  # no train_config.json: a one-line error
    assert "cannot read the run's configuration" in capsys.readouterr().err
