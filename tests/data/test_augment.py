import math

import numpy as np
import pytest
import torch

from lfsdk.data.augment import AugmentConfig, augment_batch, sample_params, transform_joints
from lfsdk.data.synthetic import render_hand
from lfsdk.geometry import uvd_to_cube
from lfsdk.kernels import crop_resize_normalize, hand_center

S = 128


def _pix_to_norm(p):
    return (2 * np.asarray(p, float) + 1) / S - 1


def test_identity_leaves_everything_unchanged():
    crops = torch.rand(2, 1, S, S) * 2 - 1
    joints = torch.rand(2, 5, 3) * 2 - 1
    c, j = augment_batch(crops, joints, torch.tensor([[0.0, 0.0, 1.0, 0.0]] * 2))
    torch.testing.assert_close(c, crops)
    torch.testing.assert_close(j, joints)


def test_a_marked_pixel_moves_with_its_joint():
    """A 3×3 patch around a joint's pixel must land where transform_joints puts the joint, hand-computed."""
    crops = torch.ones(1, 1, S, S)
    r, c = 50, 70
    crops[0, 0, r - 1:r + 2, c - 1:c + 2] = -0.5
    joint = torch.tensor([[[_pix_to_norm(c), _pix_to_norm(r), -0.5]]], dtype=torch.float32)
    params = torch.tensor([[7.0, -4.0, 1.08, math.radians(12)]])
    out, moved = augment_batch(crops, joint, params)
    # hand-computed: rotate by 12°, scale 1.08 about the centre, shift by (7, −4) px
    x, y = joint[0, 0, :2].tolist()
    th = math.radians(12)
    ex = 1.08 * (math.cos(th) * x - math.sin(th) * y) + 2 * 7 / S
    ey = 1.08 * (math.sin(th) * x + math.cos(th) * y) - 2 * 4 / S
    torch.testing.assert_close(moved[0, 0], torch.tensor([ex, ey, -0.54]), atol=1e-5, rtol=0)
    rows, cols = torch.nonzero(out[0, 0] < 1, as_tuple=True)
    assert 6 <= len(rows) <= 14  # the patch survives (area × 1.08²), nothing else appears
    centroid = torch.tensor([_pix_to_norm(cols.float().mean()), _pix_to_norm(rows.float().mean())])
    assert (centroid - moved[0, 0, :2]).abs().max() < 1.0 / S  # within half a pixel
    torch.testing.assert_close(out[0, 0, rows, cols], torch.full((len(rows),), -0.54))


def test_rendered_joint_keeps_its_depth_pixel():
    """On rendered hands: the augmented crop at a joint's new pixel holds the depth it had at the old one."""
    checked = 0
    gen = torch.Generator().manual_seed(0)
    for seed in range(12):
        f = render_hand(seed, noise=False)
        d = torch.from_numpy(f.depth.astype(np.float32))[None]
        centers = hand_center(d, f.camera)
        crop = crop_resize_normalize(d, centers.uvd, (250.0,) * 3, f.camera)
        joints = uvd_to_cube(torch.from_numpy(f.joints_uvd)[None], centers.uvd, (250.0,) * 3, f.camera)
        params = sample_params(1, AugmentConfig(), gen)
        out, moved = augment_batch(crop, joints, params)
        palm = 13  # NYU palm centre: a flat, usually visible region
        pc = torch.round((joints[0, palm, :2] + 1) * S / 2 - 0.5).long()
        pd = torch.round((moved[0, palm, :2] + 1) * S / 2 - 0.5).long()
        if not ((1 <= pc) & (pc < S - 1) & (0 <= pd) & (pd < S)).all() or crop[0, 0, pc[1], pc[0]] >= 1:
            continue  # off the crop, or nothing under the joint (palm hidden behind a fist)
        after = float(out[0, 0, pd[1], pd[0]])
        around = crop[0, 0, pc[1] - 1:pc[1] + 2, pc[0] - 1:pc[0] + 2] * params[0, 2]
        # nearest resampling may pick a neighbour of the joint's old pixel: one pixel of slack, 1 mm of depth
        assert (around - after).abs().min() < 1 / 125, (seed, around, after)
        assert after < 1
        checked += 1
    assert checked >= 6


def test_sampled_parameters_stay_in_the_paper_ranges():
    p = sample_params(4000, AugmentConfig(), torch.Generator().manual_seed(1))
    assert p[:, :2].abs().max() <= 10 and p[:, :2].abs().max() > 9.5
    assert 0.9 <= p[:, 2].min() < 0.91 and 1.09 < p[:, 2].max() <= 1.1
    assert p[:, 3].abs().max() <= math.radians(15) + 1e-6


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"crops must be \(B, 1, S, S\)"):
        augment_batch(torch.ones(2, 128, 128), torch.zeros(2, 3, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"params must be \(2, 4\)"):
        augment_batch(torch.ones(2, 1, 8, 8), torch.zeros(2, 3, 3), torch.zeros(3, 4))
    assert transform_joints(torch.zeros(1, 2, 3), torch.tensor([[0.0, 0, 1, 0]])).shape == (1, 2, 3)
