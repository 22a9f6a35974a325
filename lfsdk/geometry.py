"""Camera and crop geometry: the reference maths every other part of lfsdk (kernels, export, training) uses.

Conventions (one place, used everywhere):
- Image coordinates (u, v) are in pixels, u along columns and v along rows, with pixel (i, j)'s centre at
  integer (u, v) = (j, i). Depth d and camera coordinates x, y, z are in millimetres; pinhole model with
  y pointing down the image (x = (u − cx)·d/fx, y = (v − cy)·d/fy, z = d).
- The crop cube: a hand centre (u_c, v_c, d_c) and a cube size (s_x, s_y, s_z) in mm project to an image
  box of half-extent (h_u, h_v) = (s_x/2 · fx/d_c, s_y/2 · fy/d_c) pixels. Normalised cube coordinates are
  n = ((u − u_c)/h_u, (v − v_c)/h_v, (d − d_c)/(s_z/2)), so the cube is [-1, 1]³.
- A crop of S×S pixels samples the box at pixel centres: crop pixel k (0 ≤ k < S) sits at normalised
  (2k + 1)/S − 1 (the same grid as lfsdk.model.decode.pixel_grid).

All functions are vectorised over leading batch dimensions, pure, differentiable, and work on CPU and CUDA
tensors alike. `camera` may be a Camera, a (4,) tensor (fx, fy, cx, cy) or a (B, 4) tensor, one per frame.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import astuple, dataclass
from typing import Sequence, Union

import numpy as np
import torch

from .contract import InputError

__all__ = [
    "Camera", "CameraLike", "intrinsics", "uvd_to_xyz", "xyz_to_uvd", "crop_half_extent", "crop_boxes",
    "uvd_to_cube", "cube_to_uvd", "xyz_to_cube", "cube_to_xyz", "crop_affine", "crop_pixel_grid",
    "normalize_depth",
]


#: focal lengths (px) and principal-point magnitude (px) a Camera accepts: far beyond any real sensor, and
#: small enough that u·d/fx and the crop boxes stay finite in float32 for depths up to 65535 mm
FOCAL_RANGE = (1e-3, 1e7)
PRINCIPAL_LIMIT = 1e7


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self):
        vals = astuple(self)
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals):
            raise InputError(f"camera intrinsics must be four real numbers (fx, fy, cx, cy) px, got {vals}")
        for name, v in zip(("fx", "fy", "cx", "cy"), vals):
            object.__setattr__(self, name, float(v))  # numpy/torch scalars → plain floats
        vals = astuple(self)
        if not all(math.isfinite(v) for v in vals):
            raise InputError(f"camera intrinsics must be finite numbers, got {vals}")
        if self.fx <= 0 or self.fy <= 0:
            raise InputError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        # checked in float64 here but used in float32 by the kernels and backends: bound them so that
        # every projection stays finite there (e.g. fx = 1e-45 is 0 in float32, 1e39 is inf)
        if not (FOCAL_RANGE[0] <= min(self.fx, self.fy) and max(self.fx, self.fy) <= FOCAL_RANGE[1]):
            raise InputError(f"focal lengths must be within {FOCAL_RANGE[0]:g}..{FOCAL_RANGE[1]:g} px to be "
                             f"usable in float32, got fx={self.fx:g}, fy={self.fy:g}")
        if max(abs(self.cx), abs(self.cy)) > PRINCIPAL_LIMIT:
            raise InputError(f"principal point must be within ±{PRINCIPAL_LIMIT:g} px to be usable in float32, "
                             f"got cx={self.cx:g}, cy={self.cy:g}")

    @classmethod
    def nyu(cls) -> "Camera":
        """NYU Hand Pose (Kinect v1, 640×480) — Tompson et al. 2014."""
        return cls(588.03, 587.07, 320.0, 240.0)

    @classmethod
    def icvl(cls) -> "Camera":
        """ICVL (Creative Senz3D, 320×240) — Tang et al. 2014."""
        return cls(241.42, 241.42, 160.0, 120.0)

    @classmethod
    def msra(cls) -> "Camera":
        """MSRA 2015 (320×240), same intrinsics as ICVL in the field's readers."""
        return cls(241.42, 241.42, 160.0, 120.0)

    @classmethod
    def parse(cls, spec: Union[str, "Camera", Sequence[float]]) -> "Camera":
        """A preset name ('nyu', 'icvl', 'msra'), 'fx,fy,cx,cy', or four numbers (a sequence, a numpy array or
        a tensor of shape (4,)). Raises InputError (a ValueError) for anything else."""
        if isinstance(spec, Camera):
            return spec
        if not isinstance(spec, str):
            return cls._from_numbers(spec)
        key = spec.strip().lower()
        if key in _PRESETS:
            return _PRESETS[key]()
        parts = key.split(",")
        if len(parts) == 4:
            try:
                values = [float(p) for p in parts]
            except ValueError as e:
                raise InputError(f"bad camera {spec!r}: {e}") from None
            return cls(*values)
        raise InputError(f"unknown camera {spec!r}: expected one of {sorted(_PRESETS)} or 'fx,fy,cx,cy'")

    @classmethod
    def _from_numbers(cls, spec) -> "Camera":
        if isinstance(spec, torch.Tensor):
            spec = spec.detach().cpu().numpy()
        try:
            values = np.asarray(spec, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is None or values.shape != (4,) or np.asarray(spec).dtype.kind not in "iuf":
            raise InputError(f"camera must be a Camera, a preset name {sorted(_PRESETS)}, 'fx,fy,cx,cy' or four "
                             f"numbers, got {type(spec).__name__} {spec!r:.80}")
        return cls(*values.tolist())

    def tensor(self, device=None, dtype=torch.float32) -> torch.Tensor:
        """(4,) tensor (fx, fy, cx, cy)."""
        return torch.tensor(astuple(self), device=device, dtype=dtype)


_PRESETS = {"nyu": Camera.nyu, "icvl": Camera.icvl, "msra": Camera.msra}

CameraLike = Union[Camera, torch.Tensor]


def intrinsics(camera: CameraLike, like: torch.Tensor) -> torch.Tensor:
    """camera as a (..., 4) tensor on `like`'s device and dtype."""
    if isinstance(camera, Camera):
        return camera.tensor(like.device, like.dtype)
    if not isinstance(camera, torch.Tensor) or camera.shape[-1] != 4:
        raise ValueError(f"camera must be a Camera or a (..., 4) tensor (fx, fy, cx, cy), got {camera!r}")
    return camera.to(device=like.device, dtype=like.dtype)


def _per_frame(k: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Insert singleton dims after the batch dim so (B, 4) intrinsics broadcast against (B, ..., 3) points."""
    missing = points.dim() - k.dim()
    return k.reshape(k.shape[:1] + (1,) * missing + k.shape[1:]) if k.dim() > 1 and missing > 0 else k


def uvd_to_xyz(uvd: torch.Tensor, camera: CameraLike) -> torch.Tensor:
    """(..., 3) image (u px, v px, d mm) → (..., 3) camera (x, y, z) mm. Per-frame cameras are (B, 4)
    against uvd (B, ..., 3)."""
    k = _per_frame(intrinsics(camera, uvd), uvd)
    fx, fy, cx, cy = k.unbind(-1)
    u, v, d = uvd.unbind(-1)
    return torch.stack(((u - cx) * d / fx, (v - cy) * d / fy, d), dim=-1)


def xyz_to_uvd(xyz: torch.Tensor, camera: CameraLike) -> torch.Tensor:
    """(..., 3) camera (x, y, z) mm → (..., 3) image (u px, v px, d mm). z must be non-zero."""
    k = _per_frame(intrinsics(camera, xyz), xyz)
    fx, fy, cx, cy = k.unbind(-1)
    x, y, z = xyz.unbind(-1)
    return torch.stack((x * fx / z + cx, y * fy / z + cy, z), dim=-1)


def _cube(cube, like: torch.Tensor) -> torch.Tensor:
    c = torch.as_tensor(cube, device=like.device, dtype=like.dtype)
    if c.shape[-1:] != (3,):
        raise ValueError(f"cube must be (3,) or (B, 3) mm sizes, got shape {tuple(c.shape)}")
    return c


def crop_half_extent(centers_uvd: torch.Tensor, cube, camera: CameraLike) -> torch.Tensor:
    """(B, 3) centres, cube (3,)|(B, 3) mm → (B, 3) half extents (h_u px, h_v px, h_d mm) of the cube."""
    k = intrinsics(camera, centers_uvd)
    c = _cube(cube, centers_uvd)
    d = centers_uvd[..., 2]
    return torch.stack((c[..., 0] / 2 * k[..., 0] / d, c[..., 1] / 2 * k[..., 1] / d,
                        (c[..., 2] / 2).expand_as(d)), dim=-1)


def crop_boxes(centers_uvd: torch.Tensor, cube, camera: CameraLike) -> torch.Tensor:
    """(B, 3) centres → (B, 4) image boxes (u0, v0, u1, v1) in pixels covered by the cube's crop."""
    h = crop_half_extent(centers_uvd, cube, camera)
    u, v = centers_uvd[..., 0], centers_uvd[..., 1]
    return torch.stack((u - h[..., 0], v - h[..., 1], u + h[..., 0], v + h[..., 1]), dim=-1)


def uvd_to_cube(uvd: torch.Tensor, centers_uvd: torch.Tensor, cube, camera: CameraLike) -> torch.Tensor:
    """(B, M, 3) image uvd → (B, M, 3) normalised cube coordinates around each frame's centre."""
    h = crop_half_extent(centers_uvd, cube, camera)
    return (uvd - centers_uvd[:, None]) / h[:, None]


def cube_to_uvd(norm: torch.Tensor, centers_uvd: torch.Tensor, cube, camera: CameraLike) -> torch.Tensor:
    """Inverse of uvd_to_cube: (B, M, 3) normalised → (B, M, 3) image uvd."""
    h = crop_half_extent(centers_uvd, cube, camera)
    return norm * h[:, None] + centers_uvd[:, None]


def xyz_to_cube(xyz: torch.Tensor, centers_xyz: torch.Tensor, cube, camera: CameraLike) -> torch.Tensor:
    """(B, M, 3) camera mm, (B, 3) centre mm → (B, M, 3) normalised cube coordinates."""
    return uvd_to_cube(xyz_to_uvd(xyz, camera), xyz_to_uvd(centers_xyz, camera), cube, camera)


def cube_to_xyz(norm: torch.Tensor, centers_xyz: torch.Tensor, cube, camera: CameraLike) -> torch.Tensor:
    """(B, M, 3) normalised, (B, 3) centre mm → (B, M, 3) camera mm: the whole post-processing."""
    centers_uvd = xyz_to_uvd(centers_xyz, camera)
    return uvd_to_xyz(cube_to_uvd(norm, centers_uvd, cube, camera), camera)


def crop_pixel_grid(size: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """(size,) normalised coordinates of crop pixel centres: (2k + 1)/size − 1."""
    k = torch.arange(size, device=device, dtype=dtype)
    return (2.0 * k + 1.0) / size - 1.0


def crop_affine(centers_uvd: torch.Tensor, cube, camera: CameraLike, size: int = 128) -> torch.Tensor:
    """(B, 2, 3) affine A mapping crop pixel indices (col, row, 1) to image coordinates (u, v).

    u = u_c + h_u·((2·col + 1)/size − 1), likewise v; so A = [[2h_u/S, 0, u_c + h_u(1/S − 1)], [0, 2h_v/S, …]].
    """
    h = crop_half_extent(centers_uvd, cube, camera)
    zero = torch.zeros_like(h[..., 0])
    su, sv = 2 * h[..., 0] / size, 2 * h[..., 1] / size
    tu = centers_uvd[..., 0] + h[..., 0] * (1.0 / size - 1.0)
    tv = centers_uvd[..., 1] + h[..., 1] * (1.0 / size - 1.0)
    return torch.stack((torch.stack((su, zero, tu), -1), torch.stack((zero, sv, tv), -1)), dim=-2)


def normalize_depth(depth: torch.Tensor, center_d: torch.Tensor, cube_z) -> torch.Tensor:
    """Depth mm → [-1, 1] inside the cube: (d − d_c)/(s_z/2); outside the cube or missing (d ≤ 0) → 1.

    depth (B, ...) and center_d (B,) broadcast per frame; cube_z a float or (B,).
    """
    shape = (-1,) + (1,) * (depth.dim() - 1)
    half = torch.as_tensor(cube_z, device=depth.device, dtype=depth.dtype) / 2
    n = (depth - center_d.reshape(shape)) / (half.reshape(shape) if half.dim() else half)
    outside = (depth <= 0) | (n.abs() > 1)
    return torch.where(outside, torch.ones_like(n), n)
