"""Today's estimator behind the HandDetector seam, on rendered two-hand frames with the default model."""
import numpy as np
import pytest

from lfsdk import HandPoseEstimator
from lfsdk.sources import SyntheticSequence
from lfsdk.track import EstimatorDetector, Hand, HandDetector, HandTracker
from lfsdk.track.detector import uvd_to_xyz_np
from lfsdk.track.estimator_detector import cube_masks

from ..api_helpers import default_model_missing, one_torch_thread  # noqa: F401


@pytest.fixture(scope="module")
def detector(one_torch_thread):  # noqa: F811
    if default_model_missing():
        pytest.skip(default_model_missing())
    return EstimatorDetector(HandPoseEstimator.from_pretrained(backend="torch", camera="icvl"))


def test_cube_masks_by_hand():
    depth = np.zeros((5, 7), np.float32)
    depth[2, 3], depth[2, 6], depth[0, 0] = 500.0, 500.0, 900.0  # near the centre, outside the box, too far
    from lfsdk.geometry import Camera

    cam = Camera(2.0, 2.0, 3.0, 2.0)  # a 250 mm cube at 500 mm: half extent 0.5 px, ±125 mm
    m = cube_masks(depth, np.array([[3.0, 2.0, 500.0], [0.0, 0.0, 900.0]]), (250.0, 250.0, 250.0), cam)
    assert m.shape == (2, 5, 7)
    assert np.argwhere(m[0]).tolist() == [[2, 3]] and np.argwhere(m[1]).tolist() == [[0, 0]]


def test_detect_finds_both_hands_and_refine_follows_each(detector):
    assert isinstance(detector, HandDetector)
    seq = SyntheticSequence("crossing", 20, seed=3)
    depth, truth = seq.render(0)
    hands = detector.detect(depth, seq.camera, max_hands=2)
    assert len(hands) == 2 and all(isinstance(h, Hand) and h.score > 0.9 for h in hands)
    palms = np.array([g.palm_xyz for g in truth])
    centres = uvd_to_xyz_np(np.array([h.centre_uvd for h in hands]), seq.camera)
    dist = np.linalg.norm(centres[:, None] - palms[None], axis=-1)  # (detections, true hands)
    assert sorted(dist.argmin(1).tolist()) == [0, 1] and dist.min(1).max() < 40, dist  # one per true hand
    right = hands[int(dist[:, 0].argmin())]
    err = np.linalg.norm(right.joints_xyz - truth[0].joints_xyz, axis=-1).mean()
    assert err < 35, err  # the default model knows right hands only (~16 mm held out)
    refined = detector.refine(depth, seq.camera, np.array([h.centre_uvd for h in hands]))
    np.testing.assert_allclose([h.centre_uvd for h in refined], [h.centre_uvd for h in hands], atol=1e-3)
    empty = detector.refine(np.zeros_like(depth), seq.camera, np.array([[160.0, 120.0, 500.0]]))
    assert empty[0].score == 0.0 and np.isnan(empty[0].joints_xyz).all()


def test_tracker_on_the_estimator_keeps_ids_through_a_crossing(detector):
    seq = SyntheticSequence("crossing", 9, seed=3, fps=9)  # the whole crossing in 9 frames
    frames = list(HandTracker(detector, max_hands=2).track(seq))
    first = {h.id: h.centre_uvd[0] for h in frames[0]}
    last = {h.id: h.centre_uvd[0] for h in frames[-1]}
    assert sorted(first) == sorted(last) == [0, 1]
    assert np.sign(first[0] - first[1]) != np.sign(last[0] - last[1])  # they swapped sides, ids did not


def test_bad_input(detector):
    with pytest.raises(ValueError, match="max_hands"):
        detector.detect(np.zeros((8, 8), np.uint16), detector.estimator.camera, 0)
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        detector.refine(np.zeros((8, 8), np.uint16), detector.estimator.camera, [1.0, 2.0])
    with pytest.raises(ValueError, match="d > 0"):
        detector.refine(np.zeros((8, 8), np.uint16), detector.estimator.camera, [[1.0, 2.0, 0.0]])
    with pytest.raises(TypeError, match="HandPoseEstimator"):
        EstimatorDetector("model.onnx")
