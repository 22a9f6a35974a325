"""Back-projection: the reference against geometry's forward maps (round trip) and a hand-computed joint,
the Triton kernel (run by the interpreter on the CPU) against the reference."""
import pytest
import torch

from lfsdk.geometry import Camera, uvd_to_cube, xyz_to_uvd
from lfsdk.kernels import backproject, backproject_reference

from .conftest import needs_triton

# Triton vs reference: uvd ≤ 1e-3 px / mm, xyz ≤ 1e-2 mm (float32, fused multiply-add allowed on a GPU)
UVD_TOL, XYZ_TOL = 1e-3, 1e-2


def test_reference_hand_computed():
    # NYU camera, centre (320, 240, 500), cube 250: h = (147.0075 px, 146.7675 px, 125 mm). The cube point
    # (0.5, −0.2, 0.4) → u = 320 + 73.50375, v = 240 − 29.3535, d = 550 → x = 73.50375·550/588.03 mm …
    uvd, xyz = backproject_reference(torch.tensor([[[0.5, -0.2, 0.4]]], dtype=torch.float64),
                                     torch.tensor([[320.0, 240.0, 500.0]]), (250.0, 250.0, 250.0), Camera.nyu())
    assert uvd[0, 0].tolist() == pytest.approx([393.50375, 210.6465, 550.0], abs=1e-3)
    assert xyz[0, 0].tolist() == pytest.approx([73.50375 * 550 / 588.03, -29.3535 * 550 / 587.07, 550.0],
                                               abs=1e-3)


def test_reference_round_trip():
    g = torch.Generator().manual_seed(0)
    centers = torch.stack([torch.rand(6, generator=g) * 640, torch.rand(6, generator=g) * 480,
                           300 + torch.rand(6, generator=g) * 500], -1)
    xyz = (torch.rand(6, 21, 3, generator=g) - 0.5) * 200
    xyz[..., 2] += 600
    norm = uvd_to_cube(xyz_to_uvd(xyz, Camera.nyu()), centers, (250.0, 250.0, 250.0), Camera.nyu())
    _, back = backproject_reference(norm, centers, (250.0, 250.0, 250.0), Camera.nyu())
    torch.testing.assert_close(back, xyz, atol=1e-3, rtol=0)


@needs_triton
@pytest.mark.parametrize("b,m", [(1, 14), (37, 21), (5, 1)])
def test_triton_matches_reference(b, m):
    g = torch.Generator().manual_seed(b)
    norm = torch.rand(b, m, 3, generator=g) * 2 - 1
    centers = torch.stack([torch.rand(b, generator=g) * 320, torch.rand(b, generator=g) * 240,
                           300 + torch.rand(b, generator=g) * 500], -1)
    cams = torch.tensor([241.42, 241.42, 160.0, 120.0]) * (0.9 + 0.2 * torch.rand(b, 1, generator=g))
    cubes = 150 + 150 * torch.rand(b, 3, generator=g)
    for cam, cube in ((Camera.icvl(), (250.0, 250.0, 250.0)), (cams, cubes)):
        ref = backproject(norm, centers, cube, cam, impl="torch")
        tri = backproject(norm, centers, cube, cam, impl="triton")
        torch.testing.assert_close(tri[0], ref[0], atol=UVD_TOL, rtol=0)
        torch.testing.assert_close(tri[1], ref[1], atol=XYZ_TOL, rtol=0)


@needs_triton
def test_unusable_centres_give_nan_joints():
    norm = torch.zeros(3, 4, 3)
    centers = torch.tensor([[100.0, 100.0, 500.0], [0.0, 0.0, 0.0], [float("nan"), 1.0, 400.0]])
    for impl in ("torch", "triton"):
        uvd, xyz = backproject(norm, centers, (250.0, 250.0, 250.0), Camera.icvl(), impl=impl)
        assert torch.isfinite(uvd[0]).all() and torch.isfinite(xyz[0]).all()
        assert uvd[1:].isnan().all() and xyz[1:].isnan().all()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"norm must have shape \(\*, \*, 3\)"):
        backproject(torch.zeros(2, 21), torch.zeros(2, 3), 250.0, Camera.nyu())
    with pytest.raises(ValueError, match=r"centers_uvd must have shape \(2, 3\)"):
        backproject(torch.zeros(2, 21, 3), torch.zeros(3, 3), 250.0, Camera.nyu())
