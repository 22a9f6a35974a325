"""Synthetic training frames rendered with torch on any device (CPU or CUDA), so a GPU renders its own data.

Frame i samples its hand, placement and clutter layout with the NumPy code of lfsdk.data.synthetic and the
generator numpy.random.default_rng((seed, i)) — exactly as lfsdk.data.dataset.synthetic_frames' NumPy path —
so joints are identical frame for frame and the noise-free depth agrees up to float rounding (float32: a few
grazing silhouette pixels; float64: to 1e-9 mm). Ray casting (lfsdk.data.raycast_torch), the clutter plane
and sensor effects then run on the device, a chunk of frames at a time.

The sensor noise and dropout come from a torch.Generator seeded from (seed, first frame of the chunk): they
are deterministic for a given (seed, chunk, device type, image size), follow the same laws as sensor_effects,
but are not the NumPy renderer's draws (another generator), and CPU and CUDA give different draws.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from lfsdk.geometry import Camera, xyz_to_uvd
from lfsdk.skeletons import get_skeleton, joints_for_layout

from .raycast_torch import default_max_elements, pixel_rays_torch, raycast_capsules_torch
from .synthetic import (CLUTTER_GAP, RenderOptions, check_size, pixel_to_camera, place_hand, sample_clutter,
                        sample_hand)

__all__ = ["render_frames_torch", "render_tensors", "iter_render_chunks", "sensor_effects_torch",
           "clutter_planes", "pad_capsules", "render_device", "DEVICES", "CHUNK"]

#: Device types the torch renderer accepts.
DEVICES = ("cpu", "cuda")
#: Frames rendered per chunk (the noise generator is seeded per chunk, so this is part of a set's identity).
CHUNK = 256
_NOISE_STREAM = 0x5E115  # keeps the noise seeds apart from the per-frame (seed, i) pose generators


def render_device(device: str | torch.device) -> torch.device:
    """'cpu', 'cuda', 'cuda:1', or a torch.device → torch.device; ValueError if unknown or unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown render device {device!r}: expected one of {DEVICES} (e.g. 'cuda:0')") from e
    if dev.type not in DEVICES:
        raise ValueError(f"unknown render device {device!r}: expected one of {DEVICES} (e.g. 'cuda:0')")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"render device {device!r}: torch sees no CUDA device (torch.cuda.is_available() is False)")
    return dev


def pad_capsules(caps: list[np.ndarray]) -> np.ndarray:
    """Capsule sets (P_i, 7) → (N, max P_i, 7) float64, padded with zero rows (radius 0: never hit)."""
    out = np.zeros((len(caps), max([len(c) for c in caps] + [1]), 7))
    for i, c in enumerate(caps):
        out[i, :len(c)] = c
    return out


def _sample_chunk(lo: int, hi: int, seed: int, camera: Camera, layout: str, size: tuple[int, int],
                  options: RenderOptions, clutter_p: float) -> dict:
    """The NumPy half of frames [lo, hi): the draws of _render_range/render_hand up to the ray cast, in order.
    Returns {rngs (kept for the clutter draws), caps (N, P, 7), joints_xyz (N, M, 3) float32, clutter (N,)
    bool, zc (N,) palm depth}."""
    h, w = size
    rngs, caps, xyz, clutter, zcs = [], [], [], [], []
    for i in range(lo, hi):
        rng = np.random.default_rng((seed, i))
        clutter.append(bool(rng.random() < clutter_p))
        hand = sample_hand(rng, options)
        zc = rng.uniform(*options.distance)
        uc = rng.uniform(options.margin, 1 - options.margin) * w
        vc = rng.uniform(options.margin, 1 - options.margin) * h
        joints, c = place_hand(hand, pixel_to_camera(uc, vc, zc, camera))
        rngs.append(rng), caps.append(c), zcs.append(zc)
        xyz.append(joints_for_layout(joints, layout).astype(np.float32))
    return {"rngs": rngs, "caps": pad_capsules(caps), "joints_xyz": np.stack(xyz), "clutter": np.array(clutter),
            "zc": np.array(zcs)}


def clutter_planes(d0: torch.Tensor, normal: torch.Tensor, near: torch.Tensor, rd: torch.Tensor, h: int,
                   w: int) -> torch.Tensor:
    """background_clutter's plane for K frames: d0 (K,) mm, normal (K, 3), near (K,) mm, rd (H·W, 3) rays
    → depth (K, H, W), 0 where the plane is not seen or nearer than near + CLUTTER_GAP; capped at 5000 mm."""
    t = (normal[:, 2] * d0)[:, None] / (normal @ rd.T)  # normal · (0, 0, d0) / (normal · rd)
    plane = torch.where((t > 0) & torch.isfinite(t), t * rd[:, 2], 0.0)
    plane = torch.where(plane >= (near + CLUTTER_GAP)[:, None], plane.clamp_max(5000), 0.0)
    return plane.reshape(-1, h, w)


def _add_clutter(depth: torch.Tensor, plan: dict, camera: Camera, rd: torch.Tensor) -> torch.Tensor:
    """Composes the clutter of the plan's clutter frames behind their hands (their generators draw the
    layout now, after the hand, as in render_hand). depth (N, H, W) → (N, H, W)."""
    idx = np.flatnonzero(plan["clutter"])
    if not len(idx):
        return depth
    _, h, w = depth.shape
    sel = depth[torch.from_numpy(idx).to(depth.device)]
    nearest = torch.where(sel > 0, sel, torch.inf).amin((1, 2)).double().cpu().numpy()
    near = np.where(np.isfinite(nearest), nearest, plan["zc"][idx])  # no hand pixel: the palm depth
    draws = [sample_clutter(plan["rngs"][i], float(z), camera, h, w) for i, z in zip(idx, near)]
    def as_t(a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=depth.dtype, device=depth.device)

    plane = clutter_planes(as_t([d[0] for d in draws]), as_t([d[1] for d in draws]), as_t(near), rd, h, w)
    blobs, _ = raycast_capsules_torch(as_t(pad_capsules([d[2] for d in draws])), camera, h, w, with_part=False)
    plane = torch.where((blobs > 0) & ((plane == 0) | (blobs < plane)), blobs, plane)
    out = depth.clone()
    out[torch.from_numpy(idx).to(depth.device)] = torch.where(sel > 0, sel, plane)
    return out


def sensor_effects_torch(depth: torch.Tensor, opts: RenderOptions, generator: torch.Generator) -> torch.Tensor:
    """sensor_effects on a batch, drawing from `generator` (on depth's device): noise σ(z) = noise_mm +
    noise_quad·(z/1000)², dropout on depth edges (a 4-neighbour more than edge_jump away, the border
    replicated) and at random, rounding and clipping to 1..65535. depth (N, H, W) float mm, 0 = none →
    (N, H, W) float32 whole mm, 0 = missing."""
    depth = depth.float()
    sigma = opts.noise_mm + opts.noise_quad * (depth / 1000.0) ** 2
    noisy = depth + torch.randn(depth.shape, generator=generator, device=depth.device) * sigma
    pad = F.pad(depth[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    jump = torch.zeros_like(depth, dtype=torch.bool)
    for nb in (pad[:, :-2, 1:-1], pad[:, 2:, 1:-1], pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]):
        jump |= (nb - depth).abs() > opts.edge_jump
    edge = torch.rand(depth.shape, generator=generator, device=depth.device) < opts.edge_dropout
    rand = torch.rand(depth.shape, generator=generator, device=depth.device) < opts.random_dropout
    keep = (depth > 0) & ~((jump & edge) | rand)
    return torch.where(keep, noisy.round().clamp(1, 65535), 0.0)


def _noise_generator(seed: int, lo: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(np.random.default_rng((seed, lo, _NOISE_STREAM)).integers(2 ** 62)))
    return g


def iter_render_chunks(n: int, seed: int, camera: Camera | str = "icvl", layout: str = "nyu",
                       size: tuple[int, int] = (240, 320), options: RenderOptions = RenderOptions(),
                       clutter_p: float = 0.3, device: str | torch.device = "cpu", noise: bool = True,
                       chunk: int = CHUNK, dtype: torch.dtype = torch.float32) -> Iterator[dict]:
    """Frames [0, n) a chunk at a time: {depth (C, H, W) float32 whole mm on `device`, 0 = missing;
    joints_xyz, joints_uvd (C, M, 3) float32 on `device`}. noise=False: the z-buffer rounded to mm."""
    camera, dev, (h, w) = Camera.parse(camera), render_device(device), check_size(size)
    skeleton = get_skeleton(layout)
    if n < 1 or chunk < 1:
        raise ValueError(f"n and chunk must be ≥ 1, got n={n}, chunk={chunk}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    rd = pixel_rays_torch(camera, h, w, dev, dtype)
    for lo in range(0, n, chunk):
        plan = _sample_chunk(lo, min(n, lo + chunk), seed, camera, skeleton, (h, w), options, clutter_p)
        depth, _ = raycast_capsules_torch(torch.as_tensor(plan["caps"], dtype=dtype, device=dev), camera, h, w,
                                          with_part=False)
        depth = _add_clutter(depth, plan, camera, rd)
        if noise:  # a few frames at a time on the CPU, where cache-sized passes are 2.4× faster
            g, per = _noise_generator(seed, lo, dev), max(1, default_max_elements(dev) // (h * w))
            depth = torch.cat([sensor_effects_torch(d, options, g) for d in depth.split(per)])
        else:
            depth = depth.round().clamp(0, 65535).float()
        xyz = torch.from_numpy(plan["joints_xyz"])
        yield {"depth": depth, "joints_xyz": xyz.to(dev), "joints_uvd": xyz_to_uvd(xyz, camera).to(dev)}


def render_tensors(n: int, seed: int, camera: Camera | str = "icvl", layout: str = "nyu",
                   size: tuple[int, int] = (240, 320), options: RenderOptions = RenderOptions(),
                   clutter_p: float = 0.3, device: str | torch.device = "cpu", **kw) -> dict[str, torch.Tensor]:
    """All n frames as tensors on `device` (iter_render_chunks' dict, concatenated): the depth stays there."""
    parts = list(iter_render_chunks(n, seed, camera, layout, size, options, clutter_p, device, **kw))
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def render_frames_torch(n: int, seed: int, camera: Camera | str = "icvl", layout: str = "nyu",
                        size: tuple[int, int] = (240, 320), options: RenderOptions = RenderOptions(),
                        clutter_p: float = 0.3, device: str | torch.device = "cpu",
                        progress: bool = False, **kw) -> dict[str, np.ndarray]:
    """synthetic_frames' dict rendered on `device`: {depth (n, H, W) uint16, joints_xyz, joints_uvd (n, M, 3)
    float32} as NumPy arrays, each chunk copied back as it is done (keyword options: iter_render_chunks')."""
    chunks = iter_render_chunks(n, seed, camera, layout, size, options, clutter_p, device, **kw)
    if progress:
        from tqdm import tqdm
        chunks = tqdm(chunks, total=-(-n // kw.get("chunk", CHUNK)), desc="render", unit="chunk")
    parts = [{"depth": p["depth"].to(torch.int32).cpu().numpy().astype(np.uint16),
              "joints_xyz": p["joints_xyz"].cpu().numpy(), "joints_uvd": p["joints_uvd"].cpu().numpy()}
             for p in chunks]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
