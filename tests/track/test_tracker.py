"""HandTracker's policy with a scripted detector: ids across crossings and gaps, when detection runs,
smoothing on real timestamps, bad input."""
import numpy as np
import pytest

from lfsdk.track import HandTracker, OneEuroFilter, OneEuroParams
from lfsdk.track.detector import uvd_to_xyz_np

from .fakes import CAMERA, SHAPES, ScriptedDetector, run

T = np.arange(40) / 30.0


def crossing(t):
    """Hand 0 moves right in front, hand 1 moves left 150 mm behind; they cross at t = 0.65 s, and their
    centres come within 150 mm of each other — inside the gate — for several frames."""
    s = t / T[-1]
    return [(0, np.array([-150 + 300 * s, 0.0, 450.0])), (1, np.array([150 - 300 * s, 20.0, 600.0]))]


def _ids_by_hand(frames):
    """{true hand (by its joint shape): set of tracker ids given to it}"""
    seen = {0: set(), 1: set()}
    for hands in frames:
        for h in hands:
            shape = h.raw_joints_xyz - h.raw_joints_xyz[0]
            k = int(np.argmin([np.abs(shape - s).sum() for s in SHAPES]))
            seen[k].add(h.id)
    return seen


def test_ids_stay_with_their_hands_when_they_cross():
    det = ScriptedDetector(crossing)
    frames = run(HandTracker(det, max_hands=2, smoothing=None), det, T)
    assert all(len(f) == 2 for f in frames)
    assert _ids_by_hand(frames) == {0: {0}, 1: {1}}
    assert [h.handedness for h in frames[-1]] == ["right", "left"]


def test_detection_runs_only_while_fewer_than_max_hands_are_tracked():
    det = ScriptedDetector(crossing)
    tracker = HandTracker(det, max_hands=2)
    frames = run(tracker, det, T)
    assert det.detect_calls == 1 and tracker.stats["detections"] == 1  # the first frame only
    assert [f[0].detected for f in frames[:2]] == [True, False]
    det1 = ScriptedDetector(lambda t: crossing(t)[:1])
    run(HandTracker(det1, max_hands=2), det1, T)
    assert det1.detect_calls == len(T)  # one hand of two: MediaPipe's policy looks for the other every frame


def test_a_hidden_hand_gets_its_id_back_within_keep_lost_s():
    def world(t):
        hands = crossing(t)
        return hands[:1] if 0.3 <= t < 0.5 else hands  # hand 1 hidden for 6 frames (0.2 s)

    det = ScriptedDetector(world)
    frames = run(HandTracker(det, max_hands=2, keep_lost_s=0.5, smoothing=None), det, T)
    assert [len(f) for f in frames].count(1) == 6
    assert _ids_by_hand(frames) == {0: {0}, 1: {1}}
    det = ScriptedDetector(world)
    frames = run(HandTracker(det, max_hands=2, keep_lost_s=0.1, smoothing=None), det, T)
    assert _ids_by_hand(frames) == {0: {0}, 1: {1, 2}}  # forgotten: a new id when it comes back


def test_a_lost_tracks_gate_grows_with_the_time_lost():
    def world(t):
        hands = crossing(t)
        if t < 0.3:
            return hands
        moved = (1, hands[1][1] + np.array([0.0, 170.0, 0.0]))  # back 170 mm off its path: beyond gate_mm
        return hands[:1] if t < 0.5 else [hands[0], moved]

    for grow, ids in ((300.0, {1}), (0.0, {1, 2})):  # hidden 0.2 s: gate 120 + 300·0.2 = 180 mm, or 120
        det = ScriptedDetector(world)
        frames = run(HandTracker(det, max_hands=2, lost_gate_mm_s=grow, smoothing=None), det, T)
        assert _ids_by_hand(frames) == {0: {0}, 1: ids}


def test_max_hands_limits_new_tracks():
    det = ScriptedDetector(crossing)
    frames = run(HandTracker(det, max_hands=1, smoothing=None), det, T[:5])
    assert all(len(f) == 1 and f[0].id == 0 for f in frames)


def test_joints_are_smoothed_per_hand_with_the_frame_times():
    det = ScriptedDetector(crossing)
    p = OneEuroParams(0.8, 0.01, 1.0)
    times = np.cumsum(np.r_[0.0, np.random.default_rng(0).uniform(0.02, 0.05, 19)])
    frames = run(HandTracker(det, max_hands=2, smoothing=p), det, times)
    for hid in (0, 1):
        ref = OneEuroFilter(0.8, 0.01, 1.0)
        for f in frames:
            h = next(h for h in f if h.id == hid)
            np.testing.assert_allclose(h.joints_xyz, ref(h.raw_joints_xyz, h.timestamp), rtol=1e-12)
    h = frames[-1][0]
    np.testing.assert_allclose(uvd_to_xyz_np(h.joints_uvd, CAMERA), h.joints_xyz, rtol=1e-9)


def test_to_dict_is_json_ready():
    import json

    det = ScriptedDetector(crossing)
    h = run(HandTracker(det), det, T[:2])[-1][0]
    d = json.loads(json.dumps(h.to_dict()))
    assert d["id"] == 0 and d["handedness"] == "right" and len(d["joints_xyz"]) == 3 and d["score"] == 1.0


def test_bad_input():
    det = ScriptedDetector(crossing)
    tracker = HandTracker(det)
    with pytest.raises(ValueError, match="no camera"):
        tracker.update(np.zeros((4, 4), np.uint16), 0.0)
    tracker.update(np.zeros((4, 4), np.uint16), 0.0, camera=CAMERA)
    with pytest.raises(ValueError, match="timestamps must increase"):
        tracker.update(np.zeros((4, 4), np.uint16), 0.0, camera=CAMERA)
    with pytest.raises(ValueError, match="number of seconds"):
        tracker.update(np.zeros((4, 4), np.uint16), "soon", camera=CAMERA)
    with pytest.raises(ValueError, match=r"one \(H, W\) frame"):
        tracker.update(np.zeros((2, 4, 4), np.uint16), 1.0, camera=CAMERA)
    with pytest.raises(ValueError, match="finite and ≥ 0"):
        tracker.update(np.full((4, 4), -1.0), 1.0, camera=CAMERA)
    with pytest.raises(TypeError, match="HandDetector"):
        HandTracker(object())
    with pytest.raises(ValueError, match="max_hands"):
        HandTracker(det, max_hands=0)
    with pytest.raises(ValueError, match="min_score"):
        HandTracker(det, min_score=1.5)
    with pytest.raises(TypeError, match="OneEuroParams"):
        HandTracker(det, smoothing=(1.0, 0.0))
    with pytest.raises(ValueError, match="lost_gate_mm_s"):
        HandTracker(det, lost_gate_mm_s=-1.0)


def test_two_tracks_on_one_hand_become_one_and_detection_looks_again():
    """Hand 1 vanishes next to hand 0: its crop lands on hand 0, the duplicate is dropped, detection runs."""
    def world(t):
        hands = crossing(0.65)  # both hands still, 151 mm apart
        return hands if t < 0.2 else [(0, hands[0][1])]

    det = ScriptedDetector(world, reach=200.0)
    tracker = HandTracker(det, max_hands=2, keep_lost_s=0.0, smoothing=None)
    frames = run(tracker, det, T[:12])
    assert [len(f) for f in frames] == [2] * 6 + [1] * 6
    assert all(f[0].id == 0 for f in frames)
    assert det.detect_calls == 1 + 6  # the first frame, then every frame with one hand of two


def test_a_prediction_behind_the_camera_is_kept_in_front():
    def world(t):  # a hand rushing at the camera at 6 m/s, then gone
        return [(0, np.array([0.0, 0.0, 400.0 - 6000 * t]))] if t < 0.05 else []

    det = ScriptedDetector(world)
    frames = run(HandTracker(det, smoothing=None), det, [0.0, 0.04, 0.2])
    assert [len(f) for f in frames] == [1, 1, 0]  # the coasting prediction (z < 0) did not break the crop
