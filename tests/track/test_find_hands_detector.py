"""find_hands behind the HandDetector seam (the tracker's default), on rendered two-hand frames with the
default model: refine reproduces find_hands at its own centres, the tracker keeps ids and sides."""
import numpy as np
import pytest

from lfsdk import HandPoseEstimator
from lfsdk.contract import InputError
from lfsdk.sources import SyntheticSequence
from lfsdk.track import FindHandsDetector, Hand, HandDetector, HandTracker
from lfsdk.track.handedness import SideVote

from ..api_helpers import default_model_missing, one_torch_thread  # noqa: F401


@pytest.fixture(scope="module")
def est(one_torch_thread):  # noqa: F811
    if default_model_missing():
        pytest.skip(default_model_missing())
    return HandPoseEstimator.from_pretrained(backend="torch", camera="icvl")


@pytest.fixture(scope="module")
def crossing():
    return SyntheticSequence("crossing", 9, seed=3, fps=9)  # the whole crossing in 9 frames


def test_side_vote_by_hand():
    nan = np.full((1, 3), np.nan)

    def hand(score, p=None, side="unknown"):
        return Hand(nan, nan, np.ones(3), np.zeros(4), score, side, p)

    v = SideVote()
    assert v.side == "unknown" and v.add(hand(1.0)) == "unknown"  # no side, no vote
    assert v.add(hand(1.0, 0.9)) == "left"
    assert v.add(hand(0.5, 0.2)) == "left"  # (0.9 + 0.5·0.2) / 1.5 = 0.67
    assert v.add(hand(1.0, side="right")) == "right"  # 1.0 / 2.5 = 0.4
    assert v.weight == pytest.approx(2.5) and v.left == pytest.approx(1.0)


def test_hands_at_its_own_centres_reproduces_find_hands(est, crossing):
    depth, _ = crossing.render(0)
    ref = est.find_hands(depth, 2).to_numpy()
    assert ref.found[0].all()
    at = est.hands_at(depth, ref.centers_uvd[0]).to_numpy()  # one crop at find_hands' second-crop centres
    np.testing.assert_allclose(at.joints_xyz, ref.joints_xyz, atol=1e-3)
    np.testing.assert_allclose(at.score, ref.score, atol=1e-4)
    np.testing.assert_allclose(at.left_prob, ref.left_prob, atol=1e-4)
    assert at.next_centers_uvd.shape == (1, 2, 3) and ref.next_centers_uvd is None
    swapped = est.hands_at(depth, ref.centers_uvd[0, ::-1].copy()).to_numpy()  # slots follow the centres
    np.testing.assert_allclose(swapped.score[0], ref.score[0, ::-1], atol=1e-4)
    twice = est.hands_at(depth, ref.centers_uvd[0], recenter=True).to_numpy()  # find_hands' two crops
    np.testing.assert_allclose(twice.next_centers_uvd, twice.centers_uvd)
    assert np.linalg.norm(twice.centers_uvd - at.next_centers_uvd, axis=-1).max() < 1.0  # px/mm: same place
    empty = est.hands_at(np.zeros_like(depth), [[160.0, 120.0, 500.0]]).to_numpy()
    assert empty.score[0, 0] == 0.0 and not empty.found[0, 0] and np.isnan(empty.joints_xyz).all()


def test_tracker_keeps_ids_and_sides_through_a_crossing(est, crossing):
    tracker = HandTracker(est, max_hands=2)
    assert isinstance(tracker.detector, FindHandsDetector) and isinstance(tracker.detector, HandDetector)
    frames = list(tracker.track(crossing))
    assert tracker.stats["detections"] < len(frames)  # tracked crops, not detection, carry the hands
    first = {h.id: h for h in frames[0]}
    last = {h.id: h for h in frames[-1]}
    assert sorted(first) == sorted(last) == [0, 1]
    assert np.sign(first[0].centre_uvd[0] - first[1].centre_uvd[0]) != np.sign(
        last[0].centre_uvd[0] - last[1].centre_uvd[0])  # they swapped sides, the ids did not
    truth = {g.palm_xyz[0] < 0: g.handedness for g in crossing.render(0)[1]}  # by side of the image at start
    for hid, h in first.items():
        on_left = h.centre_uvd[0] < crossing.camera.cx
        assert {hh.handedness for f in frames for hh in f if hh.id == hid} == {truth[on_left]}


def test_bad_input(est):
    with pytest.raises(TypeError, match="HandPoseEstimator"):
        FindHandsDetector("model.onnx")
    with pytest.raises(InputError, match=r"\(K, 3\)"):
        est.hands_at(np.zeros((8, 8), np.uint16), [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="one depth frame"):
        est.hands_at(np.zeros((2, 8, 8), np.uint16), [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="max_hands"):
        FindHandsDetector(est).detect(np.zeros((8, 8), np.uint16), est.camera, 0)
