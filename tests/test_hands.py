"""find_hands on the shipped model: every small scene class in one batch, handedness by mirroring, bad input,
the Hands result, and the single-hand call unchanged."""
import json
import warnings

import numpy as np
import pytest
import torch

from lfsdk import HandPoseEstimator, InputError
from lfsdk.estimator import postprocess
from lfsdk.kernels import crop_resize_normalize, hand_center

from .api_helpers import one_torch_thread  # noqa: F401
from .localize import scenes as S

FOUND_MM = 40.0  # the shipped model is weak (16 mm held out on lone hands): a found hand's error bound here


@pytest.fixture(scope="module")
def est(one_torch_thread):  # noqa: F811
    return HandPoseEstimator.from_pretrained(backend="torch", device="cpu", camera=S.CAM_SMALL)


@pytest.fixture(scope="module")
def scenes():
    return {"lone": S.lone_hand(1), "arm": S.arm_torso(2), "two": S.two_hands(3), "specks": S.specks(4),
            "desk": S.desk(5), "wall": (S.no_hand("wall"), []), "torso": (S.no_hand("torso"), []),
            "table": (S.no_hand("table"), [])}


@pytest.fixture(scope="module")
def hands(est, scenes):
    """One call on all the scenes: all their candidates go through the network together."""
    return est.find_hands(np.stack([d for d, _ in scenes.values()]), max_hands=2).to_numpy()


def _errors(h, b: int, truth) -> list[float]:
    """For each true hand, the error (mm) of the found hand nearest to it."""
    out = []
    for joints, _ in truth:
        e = np.linalg.norm(h.joints_xyz[b] - joints[None], axis=-1).mean(-1)
        out.append(float(np.nanmin(np.where(h.found[b], e, np.nan))) if h.found[b].any() else np.inf)
    return out


def test_every_scene_class(hands, scenes):
    for b, (name, (_, truth)) in enumerate(scenes.items()):
        assert int(hands.found[b].sum()) == len(truth), f"{name}: found {hands.found[b]}, scores {hands.score[b]}"
        assert all(e <= FOUND_MM for e in _errors(hands, b, truth)), f"{name}: {_errors(hands, b, truth)}"
        for n in range(2):
            assert hands.score[b, n] >= 0.5 if hands.found[b, n] else True
            assert np.isnan(hands.joints_xyz[b, n]).all() != bool(hands.found[b, n])


def test_handedness_of_two_hands(hands, scenes):
    b = list(scenes).index("two")
    truth = scenes["two"][1]
    for joints, left in truth:
        e = np.linalg.norm(hands.joints_xyz[b] - joints[None], axis=-1).mean(-1)
        n = int(np.nanargmin(e))
        assert hands.side(b, n) == ("left" if left else "right")


def test_slots_are_sorted_by_score(hands):
    assert (hands.score[:, 0] >= hands.score[:, 1]).all()
    assert hands.joints_xyz.shape == (8, 2, 14, 3) and hands.branch_xyz.shape == (8, 2, 3, 14, 3)


def test_threshold_one_finds_nothing_and_keeps_scores(est, scenes):
    h = est.find_hands(scenes["lone"][0], score_threshold=1.0)
    assert not bool(h.found.any()) and float(h.score.max()) > 0.5 and torch.isnan(h.joints_xyz).all()


def test_single_hand_call_is_the_kernel_pipeline(est, scenes):
    """est(depth) on a lone hand: exactly centre → crop → network → postprocess, as before find_hands."""
    depth = torch.from_numpy(scenes["lone"][0].astype(np.int32))[None]
    res = est(depth)
    c = hand_center(depth, est.camera, band=est.band, refine=est.refine, cube=est.cube)
    crops = crop_resize_normalize(depth, c.uvd, est.cube, est.camera, est.config.input_size, est.crop_mode)
    ref = postprocess(est.backend(crops), c, est.cube, est.camera)
    for key, val in ref.items():
        torch.testing.assert_close(getattr(res, key), val, rtol=0, atol=0)


def test_to_dict_and_draw(hands, scenes):
    d = hands.to_dict()
    json.dumps(d)
    assert [len(f) for f in d["frames"]] == [len(t) for _, t in scenes.values()]
    b = list(scenes).index("two")
    img = hands.draw(b)
    assert img.shape == (S.H, S.W, 3) and img.dtype == np.uint8
    white = np.argwhere((img == 255).all(axis=-1))  # the found hands' boxes and labels are drawn in white
    boxes = hands.boxes[b][hands.found[b]]
    lo = np.clip(boxes[:, :2].min(0), 0, None)
    hi = np.minimum(boxes[:, 2:].max(0), [S.W - 1, S.H - 1])
    np.testing.assert_allclose(white.min(0)[::-1], lo, atol=2)
    np.testing.assert_allclose(white.max(0)[::-1], hi, atol=2)


@pytest.mark.parametrize("kwargs, match", [
    ({"max_hands": 0}, "max_hands"), ({"score_threshold": 1.5}, "score_threshold"),
    ({"max_hands": 2, "candidates": 1}, "candidates")])
def test_bad_options(est, scenes, kwargs, match):
    with pytest.raises(InputError, match=match):
        est.find_hands(scenes["wall"][0], **kwargs)


@pytest.mark.parametrize("depth, match", [
    (np.zeros(5, np.uint16), "shape"), (np.full((4, 4), np.nan, np.float32), "NaN"),
    (np.zeros((4, 4), np.uint8), "8-bit")])
def test_bad_depth(est, depth, match):
    with pytest.raises(InputError, match=match):
        est.find_hands(depth)


def test_a_model_without_its_scorer_warns(tmp_path):
    from lfsdk.hands import scorer_for

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        scorer_for(tmp_path / "model.onnx")
    assert any("calibrate_hands" in str(x.message) for x in w)


def test_frames_without_any_candidate(est, scenes):
    """No candidate in the whole batch: the network is not called, every slot is empty."""
    h = est.find_hands(np.stack([scenes["wall"][0], scenes["table"][0]]), max_hands=3)
    assert h.found.shape == (2, 3) and not bool(h.found.any()) and bool((h.score == 0).all())
    assert h.joints_xyz.shape == (2, 3, 14, 3) and bool(torch.isnan(h.joints_xyz).all())
