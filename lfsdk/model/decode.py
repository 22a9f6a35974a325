"""Latent-heatmap decoding (paper eq. 1–3): a pure function shared by training, eval and ONNX export.

The network emits, per branch, 2M maps: M latent 2D heatmaps H_j followed by M latent 1D heatmaps D_j.
Decoding is a spatial softmax of ω_j·H_j (eq. 3) followed by multiply-accumulate against the normalised
pixel grid (eq. 2a–b) and against D_j (eq. 2c). Nothing here is learnable except ω, which is passed in.
"""
from __future__ import annotations

import torch

__all__ = ["pixel_grid", "decode_latent_heatmaps"]


def pixel_grid(size: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalised pixel-centre coordinates of a `size`-long axis, in (-1, 1).

    Pixel i covers [i, i+1) of the axis, so its centre maps to (2i + 1) / size − 1. This is the same
    convention as the 128×128 crop (lfsdk.geometry), so a heatmap peak at a 32×32 cell lands on the centre
    of the 4×4 block of crop pixels under it. Shape: (size,).
    """
    i = torch.arange(size, device=device, dtype=dtype)
    return (2.0 * i + 1.0) / size - 1.0


def decode_latent_heatmaps(heatmaps: torch.Tensor, omega: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode one branch's latent heatmaps into plane/axis coordinates.

    Args:
        heatmaps: (B, 2M, H, W). Channels [0, M) are the latent 2D heatmaps H_j, channels [M, 2M) the
            latent 1D heatmaps D_j.
        omega: (M,) spread parameters ω_j (eq. 3), shared by all branches.

    Returns:
        coords: (B, M, 3) as (a, b, c): a = Σ H*·ũ (columns, eq. 2a), b = Σ H*·ṽ (rows, eq. 2b),
            c = Σ D·H* (eq. 2c). a and b lie in (-1, 1).
        normalised: (B, M, H, W) the softmax-normalised 2D heatmaps H*_j (each sums to 1).
    """
    if heatmaps.dim() != 4 or heatmaps.shape[1] % 2:
        raise ValueError(f"heatmaps must be (B, 2M, H, W), got {tuple(heatmaps.shape)}")
    b, two_m, h, w = heatmaps.shape
    m = two_m // 2
    if omega.shape != (m,):
        raise ValueError(f"omega must be ({m},) for {two_m} heatmap channels, got {tuple(omega.shape)}")
    latent_2d = heatmaps[:, :m].reshape(b, m, h * w)
    latent_1d = heatmaps[:, m:].reshape(b, m, h * w)
    prob = torch.softmax(latent_2d * omega.view(1, m, 1), dim=-1)  # eq. 3
    prob_grid = prob.view(b, m, h, w)
    u = pixel_grid(w, device=heatmaps.device, dtype=heatmaps.dtype)
    v = pixel_grid(h, device=heatmaps.device, dtype=heatmaps.dtype)
    a = (prob_grid.sum(dim=2) * u).sum(dim=-1)  # eq. 2a: marginal over rows, then MAC with ũ
    bb = (prob_grid.sum(dim=3) * v).sum(dim=-1)  # eq. 2b
    c = (prob * latent_1d).sum(dim=-1)  # eq. 2c
    return torch.stack((a, bb, c), dim=-1), prob_grid
