"""Geometry round trips and a hand-computed projection."""
import pytest
import torch

from lfsdk.geometry import (Camera, crop_affine, crop_boxes, crop_pixel_grid, cube_to_uvd, cube_to_xyz,
                            normalize_depth, uvd_to_cube, uvd_to_xyz, xyz_to_cube, xyz_to_uvd)

CUBE = (250.0, 250.0, 250.0)


def test_presets():
    assert Camera.nyu() == Camera(588.03, 587.07, 320, 240)
    assert Camera.icvl() == Camera(241.42, 241.42, 160, 120) == Camera.msra()
    assert Camera.parse("NYU") == Camera.nyu()
    assert Camera.parse("1,2,3,4") == Camera(1, 2, 3, 4)
    with pytest.raises(ValueError, match="unknown camera"):
        Camera.parse("kinect")
    with pytest.raises(ValueError, match="positive"):
        Camera(0, 1, 0, 0)
    with pytest.raises(ValueError, match="finite"):
        Camera(float("nan"), 1, 0, 0)


def test_hand_computed_projection():
    # NYU camera, point (100, -50, 500) mm: u = 100·588.03/500 + 320 = 437.606, v = −50·587.07/500 + 240 = 181.293
    uvd = xyz_to_uvd(torch.tensor([100.0, -50.0, 500.0], dtype=torch.float64), Camera.nyu())
    assert uvd.tolist() == pytest.approx([437.606, 181.293, 500.0], abs=1e-9)


def test_hand_computed_crop():
    # centre (320, 240, 500) on NYU: h_u = 125·588.03/500 = 147.0075 px, h_v = 125·587.07/500 = 146.7675 px
    c = torch.tensor([[320.0, 240.0, 500.0]], dtype=torch.float64)
    box = crop_boxes(c, CUBE, Camera.nyu())[0]
    assert box.tolist() == pytest.approx([320 - 147.0075, 240 - 146.7675, 320 + 147.0075, 240 + 146.7675])
    # a joint 60 mm in front of the centre and 25 px to the right lands at (25/147.0075, 0, −60/125)
    n = uvd_to_cube(torch.tensor([[[345.0, 240.0, 440.0]]], dtype=torch.float64), c, CUBE, Camera.nyu())
    assert n[0, 0].tolist() == pytest.approx([25 / 147.0075, 0.0, -0.48])
    # crop pixel 0 centre maps to u0 + half a crop pixel; the affine and the pixel grid agree
    a = crop_affine(c, CUBE, Camera.nyu(), size=128)[0]
    col = torch.tensor([0.0, 127.0], dtype=torch.float64)
    u = a[0, 0] * col + a[0, 2]
    assert u.tolist() == pytest.approx((320 + 147.0075 * crop_pixel_grid(128, dtype=torch.float64)[[0, 127]]).tolist())
    assert u[0].item() == pytest.approx(box[0].item() + 147.0075 / 128)


def batch(n=9, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    centers_xyz = torch.stack([torch.rand(n, generator=g) * 200 - 100, torch.rand(n, generator=g) * 200 - 100,
                               torch.rand(n, generator=g) * 450 + 250], -1).to(dtype)
    joints = centers_xyz[:, None] + (torch.rand(n, 21, 3, generator=g, dtype=dtype) - 0.5) * 200
    return centers_xyz, joints


@pytest.mark.parametrize("camera", [Camera.nyu(), Camera.icvl()])
def test_xyz_uvd_round_trip(camera):
    _, joints = batch()
    back = uvd_to_xyz(xyz_to_uvd(joints, camera), camera)
    assert (back - joints).abs().max() < 1e-4


def test_joints_cube_round_trip_with_per_frame_centres_and_cameras():
    centers, joints = batch()
    cams = torch.tensor([[588.03, 587.07, 320, 240], [241.42, 241.42, 160, 120]], dtype=torch.float64)[
        torch.arange(9) % 2]
    cube = torch.tensor([[250.0, 250, 250]] * 4 + [[200.0, 200, 200]] * 5, dtype=torch.float64)
    n = xyz_to_cube(joints, centers, cube, cams)
    assert (cube_to_xyz(n, centers, cube, cams) - joints).abs().max() < 1e-4
    # per-frame results equal single-frame calls: no mixing across the batch
    for i in (0, 5):
        ni = xyz_to_cube(joints[i:i + 1], centers[i:i + 1], cube[i], Camera(*cams[i].tolist()))
        assert torch.allclose(ni, n[i:i + 1])
    c_uvd = xyz_to_uvd(centers, cams)
    uvd = xyz_to_uvd(joints, cams)
    assert (cube_to_uvd(uvd_to_cube(uvd, c_uvd, cube, cams), c_uvd, cube, cams) - uvd).abs().max() < 1e-6


def test_normalize_depth():
    d = torch.tensor([[0.0, 500.0, 625.0, 374.0, 450.0]])
    n = normalize_depth(d, torch.tensor([500.0]), 250.0)
    assert n[0].tolist() == pytest.approx([1.0, 0.0, 1.0, 1.0, -0.4])


def test_float32_on_cpu_keeps_dtype():
    centers, joints = batch(dtype=torch.float32)
    assert xyz_to_cube(joints, centers, CUBE, Camera.nyu()).dtype == torch.float32
