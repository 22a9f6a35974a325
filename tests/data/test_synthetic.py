import numpy as np
import pytest

from lfsdk.skeletons import HAND21_NAMES, joints_for_layout
from lfsdk.data.synthetic import CLUTTER_GAP, RenderOptions, render_batch, render_hand
from lfsdk.geometry import Camera


def _inside_any(points, caps):
    """(N, 3) points, (P, 7) capsules → (N,) bool: brute-force point-to-segment distance < radius."""
    a, b, r = caps[:, :3].astype(float), caps[:, 3:6].astype(float), caps[:, 6].astype(float)
    ab = b - a
    t = np.clip(np.einsum("npk,pk->np", points[:, None] - a, ab) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    closest = a + t[..., None] * ab
    return (np.linalg.norm(points[:, None] - closest, axis=-1) < r).any(1)


def test_joints_lie_on_the_rendered_hand():
    """For many random poses: at each unoccluded joint's pixel, the rendered depth lies in front of the joint
    by no more than the local flesh radius, and never behind it. Occlusion is decided independently, by
    marching the pixel's ray through the capsules with a point-in-capsule test."""
    cam = Camera.icvl()
    checked = total = 0
    for seed in range(40):
        f = render_hand(seed, cam, layout="msra", noise=False)
        h, w = f.depth.shape
        np.testing.assert_allclose(f.joints_xyz, f.hand21_xyz, atol=1e-4)
        for j, (p, r) in enumerate(zip(f.hand21_xyz.astype(float), f.joint_radii.astype(float))):
            u, v = round(p[0] * cam.fx / p[2] + cam.cx), round(p[1] * cam.fy / p[2] + cam.cy)
            if not (0 <= u < w and 0 <= v < h):
                continue
            total += 1
            ray = np.array([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, 1.0])  # z = 1 per unit
            zs = np.arange(20.0, p[2] - r, 0.2)  # up to the front of the flesh sphere
            if _inside_any(zs[:, None] * ray, f.capsules).any():
                continue  # something is in front of the joint's flesh: occluded
            checked += 1
            d = float(f.depth[v, u])
            tip = HAND21_NAMES[j].endswith("tip")
            assert d > 0, (seed, HAND21_NAMES[j])
            assert p[2] - r - 1.0 <= d <= p[2] + (r if tip else 2.5), (seed, HAND21_NAMES[j], p[2], r, d)
    assert checked > 0.25 * total and total > 500  # the check is not vacuous


def test_noisy_depth_stays_within_noise_of_clean():
    clean = render_hand(3, noise=False).depth.astype(float)
    noisy = render_hand(3).depth.astype(float)
    both = (clean > 0) & (noisy > 0)
    assert both.sum() > 0.8 * (clean > 0).sum()  # dropout loses only edges and a few random pixels
    sigma = 0.8 + 2.0 * (clean[both] / 1000) ** 2
    assert np.abs(noisy[both] - clean[both]).max() <= 6 * sigma.max() + 0.5
    assert 0.3 < np.abs(noisy[both] - clean[both]).mean() < 3  # noise is there
    assert ((clean > 0) & (noisy == 0)).any()  # some pixels went missing


def test_deterministic_per_seed_and_batch_matches_single_frames():
    a, b = render_hand(7, clutter=True), render_hand(7, clutter=True)
    np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(a.joints_xyz, b.joints_xyz)
    assert not np.array_equal(render_hand(8).depth, a.depth)
    batch = render_batch(3, seed=5, layout="icvl")
    one = render_hand((5, 1), layout="icvl")
    np.testing.assert_array_equal(batch.depth[1], one.depth)
    np.testing.assert_array_equal(batch.joints_uvd[1], one.joints_uvd)
    assert batch.depth.dtype == np.uint16 and batch.depth.shape == (3, 240, 320)
    assert batch.joints_xyz.shape == (3, 16, 3)


def test_scene_ranges_bones_and_joint_limits():
    opts = RenderOptions()
    for seed in range(30):
        f = render_hand(seed, layout="msra", noise=False)
        j = f.hand21_xyz.astype(float)
        palm = joints_for_layout(j, "icvl")[0]
        assert opts.distance[0] - 1 <= palm[2] <= opts.distance[1] + 1
        bone = lambda a, b: np.linalg.norm(j[HAND21_NAMES.index(a)] - j[HAND21_NAMES.index(b)])
        assert 30 <= bone("index_mcp", "index_pip") <= 55  # adult proximal phalanx, ×0.85–1.15
        assert 18 <= bone("middle_pip", "middle_dip") <= 35
        assert 55 <= bone("wrist", "middle_mcp") <= 100
        for fgr in ("index", "middle", "ring", "little"):  # PIP flexion within 0–110°
            a, b, c = (j[HAND21_NAMES.index(f"{fgr}_{k}")] for k in ("mcp", "pip", "dip"))
            cos = np.dot(b - a, c - b) / np.linalg.norm(b - a) / np.linalg.norm(c - b)
            assert np.degrees(np.arccos(np.clip(cos, -1, 1))) <= 110.5
        uvd = f.joints_uvd
        np.testing.assert_allclose(uvd[:, 0], j[:, 0] * f.camera.fx / j[:, 2] + f.camera.cx, rtol=1e-4)


def test_clutter_stays_behind_the_hand_band():
    for seed in range(5):
        hand = render_hand(seed, noise=False).depth.astype(float)
        full = render_hand(seed, noise=False, clutter=True).depth.astype(float)
        near = hand[hand > 0].min()
        extra = (hand == 0) & (full > 0)
        assert extra.any()
        assert full[extra].min() >= near + CLUTTER_GAP - 1
        np.testing.assert_array_equal(full[hand > 0], hand[hand > 0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown joint layout"):
        render_hand(0, layout="bighand")
    with pytest.raises(ValueError, match="size"):
        render_hand(0, size=(4, 4))
    with pytest.raises(ValueError, match="unknown camera"):
        render_hand(0, camera="kinect9")
    with pytest.raises(ValueError, match="n must be"):
        render_batch(0)
