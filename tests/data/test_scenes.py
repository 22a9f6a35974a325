import numpy as np
import pytest

from lfsdk.data.scene_parts import MAX_RANGE, SATURATED, flying_pixels
from lfsdk.data.scenes import (HAND_CLASSES, MAX_HANDS, NO_HAND_CLASSES, SCENE_CLASSES, render_scene,
                               render_scenes)
from lfsdk.data.skeletons import HAND21_NAMES
from lfsdk.geometry import Camera

CAM = Camera(120.71, 120.71, 80.0, 60.0)  # ICVL's intrinsics at half resolution
SIZE = (120, 160)
J = {n: i for i, n in enumerate(HAND21_NAMES)}


def _scenes(cls, n=6):
    return [render_scene((11, k), cls, CAM, "msra", SIZE) for k in range(n)]


def _project(xyz):
    """(N, 3) mm → (N, 2) pixel (u, v), re-derived from the intrinsics."""
    return np.stack((xyz[:, 0] * CAM.fx / xyz[:, 2] + CAM.cx, xyz[:, 1] * CAM.fy / xyz[:, 2] + CAM.cy), 1)


def _hand_pixels_near_joints(frame, k):
    """(in-frame joints, joints whose pixel has hand k's mask within one pixel)."""
    px = np.rint(_project(frame.hands[k].hand21_xyz.astype(float))).astype(int)
    h, w = frame.depth.shape
    inside = (px[:, 0] >= 1) & (px[:, 0] < w - 1) & (px[:, 1] >= 1) & (px[:, 1] < h - 1)
    hits = sum(bool((frame.hand_mask[v - 1:v + 2, u - 1:u + 2] == k + 1).any()) for u, v in px[inside])
    return int(inside.sum()), hits


@pytest.mark.parametrize("cls", HAND_CLASSES)
def test_hand_classes_joints_lie_on_their_hand(cls):
    """Ground-truth joints project (by the pinhole model, re-derived here) onto the pixels of their own hand,
    and the uvd truth is that projection."""
    inside = hits = 0
    for f in _scenes(cls):
        assert f.scene_class == cls and f.depth.dtype == np.uint16 and f.depth.shape == SIZE
        assert len(f.hands) == (2 if cls == "two_hands" else 1)
        for k, hand in enumerate(f.hands):
            np.testing.assert_allclose(hand.joints_xyz, hand.hand21_xyz, atol=1e-3)  # msra = all 21 joints
            np.testing.assert_allclose(hand.joints_uvd[:, :2], _project(hand.joints_xyz.astype(float)), atol=1e-2)
            np.testing.assert_allclose(hand.joints_uvd[:, 2], hand.joints_xyz[:, 2])
            palm = hand.hand21_xyz[[J["wrist"], J["index_mcp"], J["middle_mcp"], J["ring_mcp"], J["little_mcp"]]]
            np.testing.assert_allclose(hand.palm_xyz, palm.mean(0), atol=1e-3)
            n_in, n_hit = _hand_pixels_near_joints(f, k)
            inside, hits = inside + n_in, hits + n_hit
    assert inside >= 40
    assert hits >= 0.7 * inside  # the rest are hidden by another hand, the forearm or a nearer desk


@pytest.mark.parametrize("cls", NO_HAND_CLASSES)
def test_no_hand_classes_carry_no_hand(cls):
    for f in _scenes(cls, 3):
        assert f.hands == () and not f.hand_mask.any() and f.scene_class == cls
    b = render_scenes(2, 3, (cls,), CAM, "nyu", SIZE)
    assert (b.num_hands == 0).all() and np.isnan(b.joints_xyz).all() and (b.handedness == "").all()


def _chirality(j21):
    """Sign of (index MCP − little MCP) × (middle MCP − wrist) · (mean fingertip − palm): + for a right hand
    whose fingers curl towards the palm, − for its mirror image; magnitude in mm³ says how clear it is."""
    across = j21[J["index_mcp"]] - j21[J["little_mcp"]]
    up = j21[J["middle_mcp"]] - j21[J["wrist"]]
    normal = np.cross(across, up)
    normal /= np.linalg.norm(normal)
    tips = j21[[J[f + "_tip"] for f in ("index", "middle", "ring", "little")]].mean(0)
    palm = j21[[J["wrist"], J["index_mcp"], J["little_mcp"]]].mean(0)
    return float(normal @ (tips - palm))


def test_two_hands_one_left_one_right_mirrored():
    clear = 0
    for f in _scenes("two_hands", 12):
        assert sorted(h.handedness for h in f.hands) == ["left", "right"]
        for h in f.hands:
            c = _chirality(h.hand21_xyz.astype(float))
            if abs(c) > 20:  # curled enough to tell: the geometry agrees with the label
                clear += 1
                assert (c > 0) == (h.handedness == "right"), (h.handedness, c)
        a, b = f.hands
        assert np.linalg.norm(a.palm_xyz - b.palm_xyz) > 100  # side by side, not one inside the other
    assert clear >= 6


def test_desk_is_nearer_than_the_hand():
    for f in _scenes("desk"):
        hand = f.hand_mask > 0
        d = f.depth.astype(float)
        near_hand = d[hand & (d > 0)].min()
        desk_nearer = (~hand) & (d > 0) & (d < near_hand - 20)
        assert desk_nearer.sum() > 100


def test_arm_torso_has_a_torso_behind_the_hand():
    for f in _scenes("arm_torso", 4):
        z = f.hands[0].palm_xyz[2]
        d = f.depth.astype(float)
        assert ((f.hand_mask == 0) & (d > z + 200) & (d < z + 600)).sum() > 200  # torso
        assert 450 <= z <= 600


def test_border_hand_is_cut_off_by_the_border():
    h, w = SIZE
    for f in _scenes("border"):
        u, v = f.hands[0].palm_uvd[:2]
        assert min(u, w - u) <= 0.15 * w + 1 or min(v, h - v) <= 0.15 * h + 1
        uv = _project(f.hands[0].hand21_xyz.astype(float))
        assert ((uv < -0.5) | (uv > (w - 0.5, h - 0.5))).any()  # some joint lies outside the frame


def _isolated_near(depth, gap=45.0):
    """(H, W) bool: valid pixels more than `gap` mm nearer than every valid pixel 3 px away (Chebyshev), i.e.
    parts of something at most 3 px wide that stands out in front of its surroundings."""
    d = np.where(depth > 0, depth.astype(float), np.inf)
    pad = np.pad(d, 3, constant_values=np.inf)
    h, w = d.shape
    ring = np.full(d.shape, np.inf)
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            if max(abs(dy), abs(dx)) == 3:
                ring = np.minimum(ring, pad[3 + dy:3 + dy + h, 3 + dx:3 + dx + w])
    return np.isfinite(d) & np.isfinite(ring) & (d < ring - gap)


def test_artefacts_specks_nearer_than_hand_and_saturated_pixels():
    for f in _scenes("artefacts"):
        assert _isolated_near(f.depth).any()
        assert np.isin(f.depth, (SATURATED, MAX_RANGE)).any()
    for f in _scenes("lone_hand"):  # the control: no specks or saturation without the artefacts
        assert not _isolated_near(f.depth).any()
        assert not np.isin(f.depth, (SATURATED, MAX_RANGE)).any()


def test_flying_pixels_lie_between_the_surfaces_of_an_edge():
    clean = np.full((6, 8), 1000.0)
    clean[:, :4] = 500.0  # a step from 500 to 1000 mm between columns 3 and 4
    img = clean.astype(np.uint16)
    out = flying_pixels(np.random.default_rng(0), img, clean, share=1.0)
    changed = out != img
    assert changed[:, 3:5].all() and not changed[:, :3].any() and not changed[:, 5:].any()
    assert ((out[:, 3:5] > 500 + 40) & (out[:, 3:5] < 1000 - 40)).all()  # 10–90 % of the way across


def test_deterministic_per_seed_and_batch_matches_single_frames():
    b = render_scenes(len(SCENE_CLASSES), 4, camera=CAM, layout="nyu", size=SIZE)
    for i in (0, 3, 5, 8):
        f = render_scene((4, i), SCENE_CLASSES[i], CAM, "nyu", SIZE)
        np.testing.assert_array_equal(b.depth[i], f.depth)
        np.testing.assert_array_equal(b.hand_mask[i], f.hand_mask)
        assert b.scene_class[i] == SCENE_CLASSES[i] and b.num_hands[i] == len(f.hands)
        for k, hand in enumerate(f.hands):
            np.testing.assert_array_equal(b.joints_uvd[i, k], hand.joints_uvd)
            assert b.handedness[i, k] == hand.handedness
    assert b.joints_xyz.shape == (len(SCENE_CLASSES), MAX_HANDS, 14, 3)
    assert not np.array_equal(render_scene(1, "lone_hand").depth, render_scene(2, "lone_hand").depth)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown scene class"):
        render_scene(0, "kitchen")
    with pytest.raises(ValueError, match="n must be"):
        render_scenes(0)
    with pytest.raises(ValueError, match="classes must be"):
        render_scenes(2, classes=("wall", "sofa"))
    with pytest.raises(ValueError, match="size"):
        render_scene(0, "wall", size=(4, 4))
