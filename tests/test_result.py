"""Result: numpy/dict conversion, indexing, and the overlay picture (pixels checked by hand)."""
import json
import math

import numpy as np
import pytest
import torch

from lfsdk import Camera, Result
from lfsdk.skeletons import FINGER_COLORS, get_skeleton
from lfsdk.draw import BOX_COLOR, colorize_depth

NAN = float("nan")


def _result(found=(True, False)) -> Result:
    """Two 60×80 frames: a flat 'hand' patch at 400 mm in frame 0, nothing in frame 1 (found False)."""
    b, m = len(found), 14
    depth = torch.zeros(b, 60, 80, dtype=torch.uint16)
    depth[0, 20:40, 30:50] = 400
    uvd = torch.zeros(b, m, 3)
    uvd[:, :, 0] = torch.linspace(16, 68, m)
    uvd[:, :, 1] = 30.0
    uvd[:, :, 2] = 400.0
    f = torch.tensor(found)
    mask = ~f
    return Result(joints_xyz=uvd.clone().masked_fill(mask[:, None, None], NAN),
                  joints_uvd=uvd.masked_fill(mask[:, None, None], NAN),
                  branch_xyz=torch.zeros(b, 3, m, 3), fusion_weights=torch.full((b, 3), 1 / 3),
                  centers_xyz=torch.zeros(b, 3), centers_uvd=torch.tensor([[40.0, 30.0, 400.0]] * b),
                  boxes=torch.tensor([[10.0, 5.0, 70.0, 55.0]] * b).masked_fill(mask[:, None], NAN),
                  found=f, skeleton="nyu", camera=Camera.icvl(), depth=depth)


def test_to_numpy_keeps_values_and_types():
    r = _result()
    n = r.to_numpy()
    assert isinstance(n.joints_xyz, np.ndarray) and n.joints_xyz.shape == (2, 14, 3)
    assert n.found.dtype == bool and n.found.tolist() == [True, False]
    np.testing.assert_array_equal(n.joints_uvd[0], r.joints_uvd[0].numpy())
    assert n.skeleton == "nyu" and n.camera == Camera.icvl()


def test_to_dict_is_json_with_nan_as_null():
    d = json.loads(json.dumps(_result().to_dict(), allow_nan=False))
    assert d["found"] == [True, False]
    assert d["joints_xyz"][1][0] == [None, None, None]
    assert d["joints_uvd"][0][0] == [16.0, 30.0, 400.0]
    assert d["boxes"][0] == [10.0, 5.0, 70.0, 55.0] and d["boxes"][1] == [None] * 4
    assert d["camera"] == {"fx": 241.42, "fy": 241.42, "cx": 160.0, "cy": 120.0}
    assert set(d) >= {"branch_xyz", "fusion_weights", "centers_xyz", "centers_uvd", "skeleton"}
    assert "depth" not in d


def test_indexing_gives_a_batch_of_one():
    r = _result()
    assert len(r) == 2 and r.num_joints == 14
    one = r[1]
    assert len(one) == 1 and one.found.tolist() == [False] and one.depth.shape == (1, 60, 80)
    assert r[-1].found.tolist() == [False]
    with pytest.raises(IndexError, match="out of range"):
        r[2]


def test_draw_pixels():
    r = _result()
    img = r.draw(0)
    assert img.shape == (60, 80, 3) and img.dtype == np.uint8
    # the box outline is white at its corner; missing depth outside the box is black
    assert tuple(img[5, 10]) == BOX_COLOR
    assert tuple(img[2, 2]) == (0, 0, 0)
    # a joint dot carries its finger's colour: joint 0 of NYU is the little fingertip at (u, v) = (16, 30)
    sk = get_skeleton("nyu")
    want = np.array(FINGER_COLORS[sk.fingers[0]]) * 255
    assert np.abs(img[30, 16].astype(float) - want).max() <= 1
    # the hand patch away from the drawing is the colourised depth
    np.testing.assert_array_equal(img[38, 48], colorize_depth(r.depth[0].numpy(), 400.0)[38, 48])
    assert img[38, 48].max() > 0


def test_draw_frame_without_hand_is_plain_depth():
    r = _result()
    np.testing.assert_array_equal(r.draw(1), colorize_depth(r.depth[1].numpy()))
    with pytest.raises(IndexError):
        r.draw(5)


def test_draw_needs_a_frame():
    r = _result()
    from dataclasses import replace
    with pytest.raises(ValueError, match="depth"):
        replace(r, depth=None).draw(0)
    img = replace(r, depth=None).draw(0, depth=r.depth[0].numpy())
    assert img.shape == (60, 80, 3)


def test_colorize_near_is_brighter_than_far():
    d = np.zeros((10, 10), np.uint16)
    d[:, :5] = 300
    d[:, 5:] = 900
    img = colorize_depth(d).astype(int)
    assert img[0, 0].sum() > img[0, 9].sum() > 0
    assert math.isclose(colorize_depth(np.zeros((3, 3))).sum(), 0)
    # focused on a hand at 300 mm: the hand's own relief keeps a wide brightness range, the wall is dim
    d[0, 0], d[0, 1] = 200, 400
    f = colorize_depth(d, focus_mm=300.0).astype(int)
    assert f[0, 0].sum() > f[1, 1].sum() > f[0, 1].sum() > 3 * f[0, 9].sum() > 0
