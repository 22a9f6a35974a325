"""lfsdk.data.raycast_torch against the NumPy ray caster (lfsdk.data.raycast) on rendered hands, and against
the closed-form ray–sphere intersection."""
import numpy as np
import pytest
import torch

from lfsdk.data.raycast import raycast_capsules
from lfsdk.data.raycast_torch import capsule_boxes, pixel_rays_torch, raycast_capsules_torch
from lfsdk.data.synthetic import render_hand
from lfsdk.geometry import Camera

CAM = Camera(150.0, 150.0, 40.0, 30.0)  # a 60×80 image, principal point at its centre, narrow enough for big hands
H, W = 60, 80
#: the CPU always; CUDA too where a GPU is present (the same comparisons, float64 on the device)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def hands():
    """Capsule sets of rendered hands (every other one with clutter blobs), float64."""
    return [render_hand((3, i), CAM, "nyu", (H, W), noise=False, clutter=i % 2 == 0).capsules.astype(np.float64)
            for i in range(6)]


def _batch(caps_list):
    out = torch.zeros(len(caps_list), max(len(c) for c in caps_list), 7, dtype=torch.float64)
    for i, c in enumerate(caps_list):
        out[i, :len(c)] = torch.from_numpy(c)
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_matches_the_numpy_raycaster_on_rendered_hands(hands, device):
    depth, part = raycast_capsules_torch(_batch(hands).to(device), CAM, H, W)
    depth, part = depth.cpu(), part.cpu()
    assert depth.shape == part.shape == (len(hands), H, W) and part.dtype == torch.long
    for caps, d, p in zip(hands, depth.numpy(), part.numpy()):
        ref_d, ref_p = raycast_capsules(caps, CAM, H, W)
        hit, ref_hit = d > 0, ref_d > 0
        assert ref_hit.mean() > 0.05  # a hand is in view
        assert (hit == ref_hit).mean() >= 0.999
        both = hit & ref_hit
        np.testing.assert_allclose(d[both], ref_d[both], atol=0.01)
        assert (p[both] == ref_p[both]).all() and (p[~hit] == -1).all()


def test_float32_stays_close(hands):
    d64, _ = raycast_capsules_torch(_batch(hands), CAM, H, W)
    d32, _ = raycast_capsules_torch(_batch(hands).float(), CAM, H, W)
    assert d32.dtype == torch.float32
    close = ((d32.double() - d64).abs() <= 0.1) & ((d32 > 0) == (d64 > 0))
    assert close.double().mean() >= 0.999


def test_tiles_and_passes_do_not_change_the_image(hands):
    """Culling by tiles against brute force (one tile the image's size), odd tiles, one pair per pass."""
    caps = _batch(hands)
    d, p = raycast_capsules_torch(caps, CAM, H, W)
    for kw in ({"tile": 1000}, {"tile": 7}, {"tile": 8, "max_elements": 20 * 64}, {"tile": 1}):
        d2, p2 = raycast_capsules_torch(caps, CAM, H, W, **kw)
        torch.testing.assert_close(d2, d, rtol=0, atol=1e-8)  # matmul blocking may move the last bits
        assert torch.equal(p, p2)


def test_sphere_against_the_closed_form():
    """A capsule with a == b is a sphere: z = t·d_z with t = d·c − sqrt((d·c)² − |c|² + r²) per unit ray d."""
    c, r = np.array([10.0, -5.0, 400.0]), 60.0
    caps = torch.tensor([[[*c, *c, r]]], dtype=torch.float64)
    depth, part = raycast_capsules_torch(caps, CAM, H, W)
    v, u = np.mgrid[0:H, 0:W].astype(float)
    d = np.stack(((u - CAM.cx) / CAM.fx, (v - CAM.cy) / CAM.fy, np.ones_like(u)), -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    dc = d @ c
    disc = dc ** 2 - c @ c + r * r
    ref = np.where(disc > 0, (dc - np.sqrt(np.maximum(disc, 0))) * d[..., 2], 0.0)
    inner = np.abs(disc) > 1.0  # leave the grazing silhouette ring out of the mask comparison
    assert ((depth[0].numpy() > 0) == (ref > 0))[inner].all() and (ref > 0).sum() > 100
    np.testing.assert_allclose(depth[0].numpy()[ref > 0], ref[ref > 0], atol=1e-6)
    assert (part[0].numpy()[ref > 0] == 0).all()


def test_padding_rows_never_hit(hands):
    caps = torch.from_numpy(hands[0])[None]
    # padding in front of everything: radius 0 and negative radius rows, and a frame of padding only
    pad = torch.tensor([[0.0, 0.0, 100.0, 0.0, 0.0, 900.0, 0.0], [-20.0, 0.0, 50.0, 20.0, 0.0, 50.0, -500.0]],
                       dtype=torch.float64)
    padded = torch.cat((pad, caps[0], pad))
    only_pad = pad.repeat(len(padded), 1)[:len(padded)]
    d, p = raycast_capsules_torch(caps, CAM, H, W)
    d2, p2 = raycast_capsules_torch(torch.stack((padded, only_pad)), CAM, H, W)
    assert torch.equal(d2[0], d[0]) and torch.equal(p2[0], torch.where(p[0] >= 0, p[0] + 2, -1))
    assert (d2[1] == 0).all() and (p2[1] == -1).all()


def test_rays_match_the_numpy_rays():
    from lfsdk.data.raycast import pixel_rays
    np.testing.assert_allclose(pixel_rays_torch(CAM, H, W, dtype=torch.float64).numpy(), pixel_rays(CAM, H, W),
                               atol=1e-15)


@pytest.mark.parametrize("caps, match", [
    (torch.zeros(4, 7), r"\(N, P, 7\)"), (torch.zeros(1, 4, 6), r"\(N, P, 7\)"),
    (np.zeros((1, 4, 7)), r"\(N, P, 7\) tensor"), (torch.zeros(1, 4, 7, dtype=torch.long), "floating"),
])
def test_bad_capsules(caps, match):
    with pytest.raises(ValueError, match=match):
        raycast_capsules_torch(caps, CAM, H, W)


def test_too_small_image_or_tile():
    with pytest.raises(ValueError, match="≥ 8"):
        raycast_capsules_torch(torch.zeros(1, 1, 7), CAM, 4, W)
    with pytest.raises(ValueError, match="tile must be ≥ 1"):
        raycast_capsules_torch(torch.zeros(1, 1, 7), CAM, H, W, tile=0)


def test_boxes_contain_every_hit(hands):
    """Every pixel brute force hits lies inside the hit capsule's box (with the one-pixel margin)."""
    caps = _batch(hands)
    _, part = raycast_capsules_torch(caps, CAM, H, W, tile=1000)
    box = capsule_boxes(caps, CAM)
    f, v, u = torch.nonzero(part >= 0, as_tuple=True)
    b = box[f, part[f, v, u]]
    assert ((u >= b[:, 0].floor() - 1) & (u <= b[:, 2].ceil() + 1) & (v >= b[:, 1].floor() - 1)
            & (v <= b[:, 3].ceil() + 1)).all()
