"""Crop-resize-normalise: the torch reference against a hand-worked crop and a per-pixel NumPy loop, the
Triton kernel (run by the interpreter on the CPU) against the reference on the edge cases."""
import math

import numpy as np
import pytest
import torch

from lfsdk.geometry import Camera
from lfsdk.kernels import crop_reference, crop_resize_normalize, hand_center
from lfsdk.kernels.synthetic import blob_frames

from .conftest import camera_for, needs_triton

# Triton vs reference: ≤ 1e-5 in normalised units (1.25e-3 mm for a 250 mm cube). A sample position within
# float rounding of a pixel boundary may pick the other pixel on a GPU (fused multiply-add), so up to 0.1 %
# of the pixels may differ by more; the interpreter has shown none.
NORM_TOL, MAX_MISMATCH = 1e-5, 1e-3
CUBE = (250.0, 250.0, 250.0)


def test_reference_hand_worked_nearest():
    # fx = fy = 100, centre (4, 3, 500), cube (40, 40, 200): h_u = h_v = 20·100/500 = 4 px, h_d = 100 mm.
    # S = 4: crop col k samples u = 4 + 4·((2k+1)/4 − 1) = 1, 3, 5, 7 and row k samples v = 0, 2, 4, 6,
    # so crop[r, c] = depth[2r, 2c + 1], normalised as (d − 500)/100.
    depth = torch.tensor([[450.0 + 10 * i + j for j in range(8)] for i in range(8)])[None]
    depth[0, 2, 3] = 0  # missing → 1
    depth[0, 6, 7] = 700  # 200 mm behind the centre: outside the cube → 1
    out = crop_reference(depth, torch.tensor([[4.0, 3.0, 500.0]]), (40.0, 40.0, 200.0),
                         Camera(100, 100, 0, 0), size=4)
    expect = [[(450 + 10 * 2 * r + 2 * c + 1 - 500) / 100 for c in range(4)] for r in range(4)]
    expect[1][1] = expect[3][3] = 1.0
    assert out.shape == (1, 1, 4, 4)
    np.testing.assert_allclose(out[0, 0].numpy(), np.array(expect), atol=1e-6)


def test_reference_hand_worked_bilinear_renormalises_holes():
    # same geometry moved half a pixel right: u = 1.5, 3.5, … blends columns (1, 2), (3, 4), … equally
    depth = torch.tensor([[450.0 + 10 * i + j for j in range(8)] for i in range(8)])[None]
    depth[0, 0, 1] = 0  # crop (0, 0) = only the valid neighbour depth[0, 2] = 452 (weights renormalised)
    out = crop_reference(depth, torch.tensor([[4.5, 3.0, 500.0]]), (40.0, 40.0, 200.0),
                         Camera(100, 100, 0, 0), size=4, mode="bilinear")[0, 0]
    assert out[0, 0].item() == pytest.approx((452 - 500) / 100)
    assert out[2, 1].item() == pytest.approx((450 + 40 + 3.5 - 500) / 100)
    # u = 7.5 blends columns 7 and 8, but column 8 is outside the 8-pixel-wide image: only column 7 counts
    assert out[3, 3].item() == pytest.approx((450 + 60 + 7 - 500) / 100)


def numpy_crop(depth: np.ndarray, center, cube, cam: Camera, size: int, mode: str) -> np.ndarray:
    """Independent float64 loop over the crop pixels, written from geometry's docstring conventions."""
    h, w = depth.shape
    uc, vc, dc = (float(x) for x in center)
    hu, hv, hd = cube[0] / 2 * cam.fx / dc, cube[1] / 2 * cam.fy / dc, cube[2] / 2

    def pix(i, j):
        return float(depth[i, j]) if 0 <= i < h and 0 <= j < w else 0.0

    out = np.ones((size, size))
    for r in range(size):
        v = vc + hv * ((2 * r + 1) / size - 1)
        for c in range(size):
            u = uc + hu * ((2 * c + 1) / size - 1)
            if mode == "nearest":
                s = pix(math.floor(v + 0.5), math.floor(u + 0.5))
            else:
                i0, j0 = math.floor(v), math.floor(u)
                fv, fu = v - i0, u - j0
                num = den = 0.0
                for di, wv in ((0, 1 - fv), (1, fv)):
                    for dj, wu in ((0, 1 - fu), (1, fu)):
                        s = pix(i0 + di, j0 + dj)
                        if s > 0:
                            num, den = num + wu * wv * s, den + wu * wv
                s = num / den if den > 1e-6 else 0.0
            n = (s - dc) / hd
            out[r, c] = n if s > 0 and abs(n) <= 1 else 1.0
    return out


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_reference_matches_numpy(mode):
    d = blob_frames(3, 60, 80, seed=11)
    cam = camera_for(60, 80)
    centers = hand_center(d, cam).uvd
    out = crop_reference(d.float(), centers, CUBE, cam, size=24, mode=mode)
    for i in range(3):
        expect = numpy_crop(d[i].numpy(), centers[i].tolist(), CUBE, cam, 24, mode)
        # float32 against float64 sample positions: 1e-4 normalised = 0.0125 mm
        np.testing.assert_allclose(out[i, 0].numpy(), expect, atol=1e-4)
        assert (expect < 1).mean() > 0.1  # the crop holds the hand, not only background


def assert_crops_match(tri: torch.Tensor, ref: torch.Tensor):
    assert tri.shape == ref.shape and tri.dtype == torch.float32
    assert torch.isfinite(tri).all()
    off = (tri - ref).abs() > NORM_TOL
    assert off.float().mean().item() <= MAX_MISMATCH, f"{int(off.sum())} of {off.numel()} pixels differ"


def compare(depth, centers, cube, camera, size, mode):
    ref = crop_resize_normalize(depth, centers, cube, camera, size, mode, impl="torch")
    tri = crop_resize_normalize(depth, centers, cube, camera, size, mode, impl="triton")
    assert_crops_match(tri, ref)
    return ref, tri


@needs_triton
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("b,h,w,size", [(1, 120, 160, 128), (37, 30, 40, 16), (5, 48, 64, 32)])
def test_triton_matches_reference(b, h, w, size, mode):
    d = blob_frames(b, h, w, seed=b * 7 + h)
    cam = camera_for(h, w)
    ref, _ = compare(d, hand_center(d, cam).uvd, CUBE, cam, size, mode)
    assert (ref < 1).float().mean() > 0.05  # the crops hold depth, not only "outside"


@needs_triton
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_triton_edge_cases(mode):
    h, w = 24, 32
    d = blob_frames(6, h, w, seed=1)
    d[0, :6, :6] = 500  # hand in the top-left corner
    d[1, -5:, -5:] = 450  # and in the bottom-right one
    d[5] = 0
    d[5, 10, 20] = 600  # a single valid pixel
    cam = camera_for(h, w)
    centers = torch.tensor([
        [0.0, 0.0, 500.0],         # box centred on the top-left corner: three quarters outside the image
        [w - 1.0, h - 1.0, 450.0],  # bottom-right corner
        [-30.0, 5.0, 600.0],       # box entirely left of the image → all 1
        [10.0, 10.0, 0.0],         # hand not found (d = 0) → all 1
        [float("nan"), 3.0, 500.0],  # NaN centre → all 1
        [20.0, 10.0, 600.0],       # the single valid pixel at the centre
    ])
    ref, tri = compare(d, centers, CUBE, cam, 16, mode)
    assert (tri[2:5] == 1).all()
    assert (tri[0] < 1).any() and (tri[1] < 1).any()
    assert (tri[5] < 1).sum() >= 1 and tri[5].min().item() == pytest.approx(0.0, abs=1e-6)


@needs_triton
def test_triton_per_frame_camera_and_cube():
    b, h, w = 3, 36, 48
    d = blob_frames(b, h, w, seed=5)
    cams = torch.tensor([[40.0, 42, 24, 18], [50, 50, 20, 20], [44, 40, 25, 17]])
    cubes = torch.tensor([[250.0, 250, 250], [200, 180, 300], [150, 150, 150]])
    centers = hand_center(d, cams).uvd
    for mode in ("nearest", "bilinear"):
        compare(d, centers, cubes, cams, 20, mode)


@needs_triton
def test_triton_dtypes_layouts_and_missing_values():
    h, w = 30, 40
    d16 = blob_frames(2, h, w, seed=8)
    cam = camera_for(h, w)
    centers = hand_center(d16, cam).uvd
    ref = crop_resize_normalize(d16, centers, CUBE, cam, 16, "bilinear", impl="torch")
    wide = torch.zeros(2, h, 2 * w, dtype=torch.uint16)
    wide[:, :, ::2] = d16
    holes = d16.float()
    holes[d16 == 0] = float("nan")  # NaN is missing, like 0
    for depth in (d16.numpy(), d16.float(), d16.to(torch.int32), wide[:, :, ::2], holes,
                  d16.float().transpose(1, 2).contiguous().transpose(1, 2)):
        for impl in ("torch", "triton"):
            assert_crops_match(crop_resize_normalize(depth, centers, CUBE, cam, 16, "bilinear", impl=impl), ref)


def test_bad_arguments():
    d = torch.zeros(2, 8, 8)
    c = torch.tensor([[4.0, 4.0, 500.0]] * 2)
    cam = camera_for(8, 8)
    with pytest.raises(ValueError, match="mode must be one of"):
        crop_resize_normalize(d, c, CUBE, cam, mode="bicubic")
    with pytest.raises(ValueError, match="size must be a positive int"):
        crop_resize_normalize(d, c, CUBE, cam, size=0)
    with pytest.raises(ValueError, match=r"centers_uvd must have shape \(2, 3\)"):
        crop_resize_normalize(d, c[:1], CUBE, cam)
    with pytest.raises(ValueError, match="positive finite"):
        crop_resize_normalize(d, c, (250.0, -1.0, 250.0), cam)
    with pytest.raises(ValueError, match=r"camera must be \(4,\) or \(B, 4\)"):
        crop_resize_normalize(d, c, CUBE, torch.ones(3, 4))
