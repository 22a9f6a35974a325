import numpy as np
import pytest

from lfsdk.track.metrics import count_tracking, jitter, match_frame, step_lag


def test_jitter_of_a_parabola():
    t = np.arange(10.0)
    x = np.stack([t ** 2, 0 * t, 3 * t], -1)[:, None]  # acceleration (2, 0, 0) per frame², everywhere
    assert jitter(x) == pytest.approx(2.0)
    assert jitter(np.stack([2 * t, t, t], -1)[:, None]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="T ≥ 3"):
        jitter(np.zeros((2, 1, 3)))


def test_step_lag():
    trace = np.array([0, 0, 0, 5, 8, 9.5, 10, 10.0])
    assert step_lag(trace, 3, 0.0, 10.0) == 2  # 9.5 ≥ 90 % two frames after the step
    assert step_lag(trace, 3, 0.0, 10.0, fraction=0.5) == 0
    assert step_lag(np.zeros(6), 2, 0.0, 1.0) == 4  # never
    with pytest.raises(ValueError):
        step_lag(trace, 9, 0.0, 1.0)


def test_count_tracking_switch_loss_and_false_hand():
    a, b = np.zeros((2, 3)), np.full((2, 3), 200.0)
    truth = [[a, b]] * 4
    vis = [[True, True]] * 4
    ids = [[0, 1], [1, 0], [1], [1, 0, 7]]
    joints = [[a, b], [a + 5, b + 5], [b], [a, b, np.full((2, 3), -500.0)]]
    c = count_tracking(ids, joints, truth, vis)
    # frame 1: both hands change id (2 switches); frame 2: hand a lost, b 0 → 1 (a switch); frame 3: a back
    # as id 1 (its last id: no switch), b 1 → 0 (a switch), and one false hand
    assert c == {"id_switches": 4, "frames_lost": 1, "false_hands": 1, "matched": 7, "visible": 8}
    assert match_frame([a + 100], [a], 60.0) == {}
