import numpy as np
import pytest

from lfsdk.geometry import Camera
from lfsdk.sources import SourceError, SyntheticSequence

CAM = Camera(120.0, 120.0, 80.0, 60.0)  # a small 160×120 camera: the same field of view, a quarter of the pixels


def seq(name, n=6, seed=0, **kw):
    return SyntheticSequence(name, n, seed=seed, camera=CAM, size=(120, 160), **kw)


def test_deterministic_per_seed():
    a, b, c = seq("smooth"), seq("smooth"), seq("smooth", seed=1)
    assert np.array_equal(a.render(3)[0], b.render(3)[0])
    assert not np.array_equal(a.render(3)[0], c.render(3)[0])
    np.testing.assert_array_equal(a.render(3)[1][0].joints_xyz, b.render(3)[1][0].joints_xyz)


def test_truth_projects_with_the_camera_and_follows_the_path():
    s = seq("step", n=8, step_mm=40.0, noise=False)
    frames = list(s)
    assert [f.timestamp for f in frames] == [i / 30 for i in range(8)]
    t0, t7 = s.render(0)[1][0], s.render(7)[1][0]
    np.testing.assert_allclose(t7.joints_xyz - t0.joints_xyz, np.tile([40.0, 0, 0], (14, 1)), atol=1e-9)
    u = t0.joints_xyz[:, 0] * CAM.fx / t0.joints_xyz[:, 2] + CAM.cx
    np.testing.assert_allclose(t0.joints_uvd[:, 0], u)
    # noise-free depth under the palm joint is the hand's surface, a little in front of the joint
    pu, pv, pd = t0.joints_uvd[-1]
    assert 0 < pd - frames[0].depth[int(round(pv)), int(round(pu))] < 40


def test_crossing_has_a_right_and_a_left_hand_that_swap_sides():
    s = seq("crossing", n=9)
    first, last = s.render(0)[1], s.render(8)[1]
    assert [h.handedness for h in first] == ["right", "left"] and all(h.visible for h in first)
    assert first[0].palm_xyz[0] < first[1].palm_xyz[0] and last[0].palm_xyz[0] > last[1].palm_xyz[0]
    assert first[0].palm_xyz[2] < first[1].palm_xyz[2]  # the right hand passes in front


def test_enter_leave_visibility():
    s = seq("enter_leave", n=10)
    vis = [s.render(i)[1][0].visible for i in range(10)]
    assert vis[0] is False and vis[-1] is False and all(vis[3:7])


def test_bad_arguments():
    with pytest.raises(SourceError, match="unknown synthetic scenario"):
        SyntheticSequence("juggle")
    with pytest.raises(SourceError, match="frames must be an int ≥ 2"):
        SyntheticSequence("still", 1)
    with pytest.raises(SourceError, match="fps must be a positive"):
        SyntheticSequence("still", 4, fps=-1)
    with pytest.raises(IndexError):
        seq("still").render(6)
