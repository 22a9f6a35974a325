"""Hand centre: the torch reference against hand-worked and NumPy computations, the Triton kernel (run by
the interpreter on the CPU) against the reference on the edge cases."""
import numpy as np
import pytest
import torch

from lfsdk.geometry import Camera
from lfsdk.kernels import hand_center, hand_center_reference
from lfsdk.kernels.synthetic import blob_frames

from .conftest import camera_for, needs_triton

# Triton vs reference bounds: sums run in another order (per-lane partial sums), so allow float32 rounding
UV_PX, D_MM, XYZ_MM = 1e-3, 1e-2, 1e-2


def test_reference_hand_worked():
    # pixels (row, col): (1,1)=500 and (2,3)=600 form the band [500, 650]; (3,4)=700 is behind it,
    # (0,0)=5 is nearer than `near`, (0,4)=2500 farther than `far`. Centre: u=(1+3)/2=2, v=(1+2)/2=1.5,
    # d=550; camera fx=fy=100, cx=2, cy=1 → x=0, y=(1.5−1)·550/100=2.75, z=550.
    d = torch.zeros(1, 4, 5)
    d[0, 1, 1], d[0, 2, 3], d[0, 3, 4], d[0, 0, 0], d[0, 0, 4] = 500, 600, 700, 5, 2500
    c = hand_center_reference(d, Camera(100, 100, 2, 1))
    assert c.found.tolist() == [True]
    assert c.uvd[0].tolist() == pytest.approx([2.0, 1.5, 550.0])
    assert c.xyz[0].tolist() == pytest.approx([0.0, 2.75, 550.0])


def numpy_center(depth: np.ndarray, cam: Camera, band=150.0, near=10.0, far=2000.0, refine=False,
                 cube=(250.0, 250.0, 250.0)):
    """Independent float64 re-derivation with explicit pixel lists."""
    d = depth.astype(np.float64)
    rows, cols = np.nonzero((d > near) & (d < far))
    if rows.size == 0:
        return None
    z = d[rows, cols]
    keep = z <= z.min() + band
    u, v, dc = cols[keep].mean(), rows[keep].mean(), z[keep].mean()
    if refine:
        hu, hv, hd = cube[0] / 2 * cam.fx / dc, cube[1] / 2 * cam.fy / dc, cube[2] / 2
        keep = (np.abs(cols - u) <= hu) & (np.abs(rows - v) <= hv) & (np.abs(z - dc) <= hd)
        if keep.any():
            u, v, dc = cols[keep].mean(), rows[keep].mean(), z[keep].mean()
    return np.array([u, v, dc]), np.array([(u - cam.cx) * dc / cam.fx, (v - cam.cy) * dc / cam.fy, dc])


@pytest.mark.parametrize("refine", [False, True])
def test_reference_matches_numpy(refine):
    d = blob_frames(3, 60, 80, seed=4)
    d[1, 5:9, 60:70] = 900  # a second object within the cube but behind the band: refine must include it
    cam = camera_for(60, 80)
    c = hand_center_reference(d, cam, refine=refine)
    for i in range(3):
        uvd, xyz = numpy_center(d[i].numpy(), cam, refine=refine)
        np.testing.assert_allclose(c.uvd[i].numpy(), uvd, atol=1e-3)
        np.testing.assert_allclose(c.xyz[i].numpy(), xyz, atol=1e-2)
    assert c.found.all()


def test_refine_moves_the_centre_towards_cube_content():
    d = torch.zeros(1, 40, 40)
    d[0, 10:14, 10:14] = 500  # band [500, 650]: cols 10..17 → first centre (13.5, 11.5, 570)
    d[0, 10:14, 14:18] = 640
    d[0, 10:14, 18:22] = 690  # behind the band, inside the cube: |690 − 570| ≤ 125, |21 − 13.5| ≤ 8.77
    d[0, 11, 30] = 690  # behind the band and outside the cube's box: |30 − 13.5| > h_u = 125·40/570 = 8.77
    cam = Camera(40, 40, 20, 20)
    plain = hand_center_reference(d, cam)
    assert plain.uvd[0].tolist() == pytest.approx([13.5, 11.5, 570.0])
    refined = hand_center_reference(d, cam, refine=True)
    # cols 10..21 over rows 10..13: u = 15.5, v = 11.5, d = (500 + 640 + 690)/3 = 610
    assert refined.uvd[0].tolist() == pytest.approx([15.5, 11.5, 610.0])
    assert refined.xyz[0].tolist() == pytest.approx([(15.5 - 20) * 610 / 40, (11.5 - 20) * 610 / 40, 610.0])


def compare(depth, camera, **kw):
    ref = hand_center(depth, camera, impl="torch", **kw)
    tri = hand_center(depth, camera, impl="triton", **kw)
    assert tri.found.tolist() == ref.found.tolist()
    assert torch.isfinite(tri.uvd).all() and torch.isfinite(tri.xyz).all()
    torch.testing.assert_close(tri.uvd[:, :2], ref.uvd[:, :2], atol=UV_PX, rtol=0)
    torch.testing.assert_close(tri.uvd[:, 2], ref.uvd[:, 2], atol=D_MM, rtol=0)
    torch.testing.assert_close(tri.xyz, ref.xyz, atol=XYZ_MM, rtol=0)
    return ref, tri


@needs_triton
@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize("b,h,w", [(1, 48, 64), (37, 30, 40), (5, 120, 160)])
def test_triton_matches_reference(b, h, w, refine):
    d = blob_frames(b, h, w, seed=b + h)
    compare(d, camera_for(h, w), refine=refine)


@needs_triton
def test_triton_edge_cases():
    h, w = 24, 32
    d = torch.zeros(5, h, w, dtype=torch.uint16)
    # frame 0 empty; frame 1 one valid pixel; frame 2 hand at the top-left border; frame 3 only out-of-range
    # pixels; frame 4 hand at the bottom-right corner
    d[1, 7, 9] = 432
    d[2, :5, :4] = 510
    d[2, 5:, :] = 1800
    d[3, ::2, ::3] = 5000
    d[4, -3:, -2:] = 700
    ref, tri = compare(d, camera_for(h, w), refine=True)
    assert ref.found.tolist() == [False, True, True, False, True]
    assert tri.uvd[0].tolist() == [0.0, 0.0, 0.0] and tri.xyz[3].tolist() == [0.0, 0.0, 0.0]
    assert tri.uvd[1].tolist() == pytest.approx([9.0, 7.0, 432.0])
    assert tri.uvd[4].tolist() == pytest.approx([w - 1.5, h - 2.0, 700.0])


@needs_triton
def test_triton_per_frame_camera_cube_and_band():
    b, h, w = 4, 36, 48
    d = blob_frames(b, h, w, seed=9).float()
    cams = torch.tensor([[40.0, 42, 24, 18], [50, 50, 20, 20], [44, 40, 25, 17], [60, 61, 24, 18]])
    cubes = torch.tensor([[250.0, 250, 250], [200, 200, 200], [300, 250, 150], [150, 150, 150]])
    compare(d, cams, refine=True, cube=cubes, band=80.0, near=100.0, far=1600.0)


@needs_triton
def test_triton_dtypes_and_layouts():
    h, w = 30, 40
    d16 = blob_frames(3, h, w, seed=2)
    cam = camera_for(h, w)
    ref = hand_center(d16, cam, impl="torch", refine=True)
    wide = torch.full((3, h, 2 * w), 77, dtype=torch.uint16)
    wide[:, :, ::2] = d16
    for depth in (d16.numpy(),                                    # numpy uint16
                  d16.to(torch.int32), d16.double(), d16.half(),  # other dtypes (all exact integers)
                  d16.transpose(1, 2).contiguous().transpose(1, 2),  # non-contiguous view, same values
                  wide[:, :, ::2]):  # strided uint16 slice
        tri = hand_center(depth, cam, impl="triton", refine=True)
        torch.testing.assert_close(tri.uvd, ref.uvd, atol=D_MM, rtol=0)
        assert tri.found.tolist() == ref.found.tolist()


@needs_triton
def test_nan_and_inf_depth_count_as_missing():
    d = blob_frames(2, 24, 32, seed=3).float()
    d[:, :3, :5] = 0
    clean = hand_center(d, camera_for(24, 32), impl="torch")
    d[:, 0, :5] = float("nan")
    d[:, 1, :5] = float("inf")
    d[:, 2, :5] = -float("inf")
    for impl in ("torch", "triton"):
        got = hand_center(d, camera_for(24, 32), impl=impl)
        torch.testing.assert_close(got.uvd, clean.uvd)


def test_uint16_numpy_reference_path():
    d = blob_frames(2, 24, 32, seed=5)
    a = hand_center(d.numpy(), camera_for(24, 32))  # auto → torch on CPU
    b = hand_center_reference(d.float(), camera_for(24, 32))
    torch.testing.assert_close(a.uvd, b.uvd)


def test_bad_arguments():
    d = torch.zeros(1, 8, 8)
    with pytest.raises(ValueError, match="near < far"):
        hand_center(d, camera_for(8, 8), near=100, far=50)
    with pytest.raises(ValueError, match="band must be a number"):
        hand_center(d, camera_for(8, 8), band="wide")
    with pytest.raises(ValueError, match=r"cube must be \(3,\) or \(B, 3\)"):
        hand_center(d, camera_for(8, 8), cube=(1.0, 2.0))


@needs_triton
@pytest.mark.parametrize("chunks", [2, 5, 64])
def test_triton_frames_split_across_programs(chunks):
    # on a GPU a small batch splits each frame over many programs; the interpreter runs one per frame by
    # default, so force the split here (chunks are whole 1024-pixel blocks: 120×160 has 19 of them)
    from lfsdk.kernels.center_triton import hand_center_triton
    from lfsdk.kernels.inputs import frame_cameras, frame_cubes

    h, w = 120, 160
    d = blob_frames(3, h, w, seed=chunks)
    d[2] = 0
    d[2, h - 1, w - 1] = 777  # the only valid pixel, in the last chunk
    cam = camera_for(h, w)
    ref = hand_center_reference(d, cam, refine=True)
    uvd, found = hand_center_triton(d, frame_cameras(cam, 3, d.device), frame_cubes(250.0, 3, d.device),
                                    band=150.0, near=10.0, far=2000.0, refine=True, chunks=chunks)
    assert found.tolist() == ref.found.tolist() == [True, True, True]
    torch.testing.assert_close(uvd, ref.uvd, atol=D_MM, rtol=0)
    assert uvd[2].tolist() == pytest.approx([w - 1, h - 1, 777.0])
