"""Depth by ray casting: every pixel's ray intersected with a set of capsules (a xyz, b xyz, radius), all
(capsule, pixel) pairs of a frame in one vectorised NumPy pass over the pixels inside each capsule's projected
box, a z-buffer keeping the nearest hit. The renderer's hands, arms and torsos are all capsules."""
from __future__ import annotations


import numpy as np

from lfsdk.geometry import Camera

__all__ = ["pixel_rays", "raycast_capsules"]


def pixel_rays(camera: Camera, h: int, w: int) -> np.ndarray:
    """(H·W, 3) unit ray directions through pixel centres (u = col, v = row)."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    d = np.stack(((u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)), -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    d.setflags(write=False)
    return d.reshape(-1, 3)


def _sphere_boxes(c: np.ndarray, r: np.ndarray, camera: Camera) -> np.ndarray:
    """(P, 3) centres, (P,) radii → (P, 4) conservative pixel boxes (u0, v0, u1, v1) of their projection."""
    zn = np.maximum(c[:, 2] - r, 20.0)
    zf = c[:, 2] + r
    out = []
    for i, (f, cc) in enumerate(((camera.fx, camera.cx), (camera.fy, camera.cy))):
        lo, hi = c[:, i] - r, c[:, i] + r
        out.append((cc + f * np.minimum(lo / zn, lo / zf), cc + f * np.maximum(hi / zn, hi / zf)))
    return np.stack((out[0][0], out[1][0], out[0][1], out[1][1]), -1)


def raycast_capsules(caps: np.ndarray, camera: Camera, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer render of capsules seen from the origin. caps (P, 7) → (depth (H, W) float mm, 0 = none;
    part (H, W) int index of the capsule seen, −1 = none)."""
    a, b, rad = caps[:, :3], caps[:, 3:6], caps[:, 6]
    box = np.minimum(_sphere_boxes(a, rad, camera), _sphere_boxes(b, rad, camera))[:, :2]
    box = np.concatenate((box, np.maximum(_sphere_boxes(a, rad, camera), _sphere_boxes(b, rad, camera))[:, 2:]), 1)
    u0 = np.clip(np.floor(box[:, 0]), 0, w).astype(np.int64)
    v0 = np.clip(np.floor(box[:, 1]), 0, h).astype(np.int64)
    u1 = np.clip(np.ceil(box[:, 2]) + 1, 0, w).astype(np.int64)
    v1 = np.clip(np.ceil(box[:, 3]) + 1, 0, h).astype(np.int64)
    bw, bh = u1 - u0, v1 - v0
    n = np.where((bw > 0) & (bh > 0), bw * bh, 0)
    # Every (capsule, pixel-in-its-box) pair, flattened.
    prim = np.repeat(np.arange(len(caps)), n)
    local = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    pix = (v0[prim] + local // bw[prim]) * w + u0[prim] + local % bw[prim]
    rd = pixel_rays(camera, h, w)[pix]
    pa, pb, r = a[prim], b[prim], rad[prim]
    # Ray–capsule intersection (Quilez), ray origin at the camera: oa = −pa.
    ba = pb - pa
    baba = np.einsum("ij,ij->i", ba, ba)
    bard = np.einsum("ij,ij->i", ba, rd)
    baoa = -np.einsum("ij,ij->i", ba, pa)
    rdoa = -np.einsum("ij,ij->i", rd, pa)
    oaoa = np.einsum("ij,ij->i", pa, pa)
    with np.errstate(invalid="ignore", divide="ignore"):
        qa = np.maximum(baba - bard * bard, 1e-9)
        qb = baba * rdoa - baoa * bard
        qc = baba * oaoa - baoa * baoa - r * r * baba
        disc = qb * qb - qa * qc
        t = (-qb - np.sqrt(np.maximum(disc, 0))) / qa
        y = baoa + t * bard
        body = (disc >= 0) & (y > 0) & (y < baba)
        oc = np.where((y <= 0)[:, None] | ~np.isfinite(y)[:, None], -pa, -pb)
        cb = np.einsum("ij,ij->i", rd, oc)
        disc2 = cb * cb - (np.einsum("ij,ij->i", oc, oc) - r * r)
        tcap = -cb - np.sqrt(np.maximum(disc2, 0))
    hit_t = np.where(body, t, np.where((disc >= 0) & (disc2 > 0), tcap, np.inf))
    z = hit_t * rd[:, 2]
    keep = np.isfinite(z) & (z > 0)
    pix, z, prim = pix[keep], z[keep], prim[keep]
    # Z-buffer: sort by depth, the first occurrence of each pixel is the nearest.
    order = np.lexsort((z, pix))
    pix, z, prim = pix[order], z[order], prim[order]
    first = np.ones(len(pix), bool)
    first[1:] = pix[1:] != pix[:-1]
    depth = np.zeros(h * w)
    part = np.full(h * w, -1, np.int32)
    depth[pix[first]] = z[first]
    part[pix[first]] = prim[first]
    return depth.reshape(h, w), part.reshape(h, w)


# ----------------------------------------------------------------------------------------------- sensor
