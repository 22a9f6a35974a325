"""Hands at given centres: the find_hands estimate-and-score path with the candidate search's centres
replaced by the caller's (a tracker's predictions), one slot per centre, in the order given.

    hands = hands_at(depth, camera, network, crop, scorer, skeleton, num_joints, centres_uvd)

Each centre takes the candidate region (lfsdk.localize) with most pixels in the ball of scorer.radius mm
around it, so the score sees the same region features as in find_hands; a centre with no candidate pixel
near it scores 0. From there on the path is find_hands': both sides of a crop, the calibrated score and the
side. recenter=True crops twice as find_hands does (a first crop at the centre, the second around the
network's palm); recenter=False (a tracker's default: its centres are last frame's second crops, moved)
crops once at the centre and reports in next_centers_uvd where the second crop would have been, for the
next frame: a third fewer network crops per hand.
"""
from __future__ import annotations

import torch

from ..contract import InputError, Outputs
from ..geometry import Camera
from ..kernels.inputs import frame_cameras
from ..localize import Candidates, LocalizeConfig, find_candidates
from ..localize.ball import ball
from ..localize.score import HandScorer
from ..preprocess import PreprocessConfig
from .pipeline import Network, assemble_slots, estimate_regions, layout_of, second_centre
from .result import Hands

__all__ = ["hands_at", "regions_at"]


def regions_at(depth: torch.Tensor, cams: torch.Tensor, centres: torch.Tensor, radius: float,
               config: LocalizeConfig) -> tuple[Candidates, torch.Tensor]:
    """depth (1, H, W) mm, cams (1, 4), centres (K, 3) uvd → per centre its candidate region (K rows;
    an empty mask where none) and (K,) bool whether it has one: the candidate with most pixels in the ball
    of `radius` mm around the centre."""
    k = len(centres)
    cands = find_candidates(depth, cams, k + 1, config)
    c = len(cands.frame)
    if c == 0:
        h, w = depth.shape[1:]
        z = cands.features.new_zeros
        empty = Candidates(torch.zeros(k, dtype=torch.long, device=depth.device),
                           torch.zeros(k, h, w, dtype=torch.bool, device=depth.device), z(k, 4),
                           z(k, cands.features.shape[1]))
        return empty, torch.zeros(k, dtype=torch.bool, device=depth.device)
    zero = torch.zeros((), dtype=depth.dtype, device=depth.device)
    masked = torch.where(cands.mask, depth[0], zero)  # (C, H, W)
    pairs = ball(masked.repeat(k, 1, 1), centres.repeat_interleave(c, 0), cams.expand(k * c, 4), radius)
    count = pairs.inside.sum(1).reshape(k, c)
    best, has = count.argmax(1), count.amax(1) > 0
    mask = cands.mask[best] & has[:, None, None]
    return Candidates(torch.zeros(k, dtype=torch.long, device=depth.device), mask, cands.box[best],
                      cands.features[best]), has


def hands_at(depth: torch.Tensor, camera: Camera, network: Network, crop: PreprocessConfig, scorer: HandScorer,
             skeleton: str, num_joints: int, centres_uvd: torch.Tensor, *, score_threshold: float | None = None,
             recenter: bool = False, config: LocalizeConfig = LocalizeConfig()) -> Hands:
    """depth (1, H, W) mm on the work device, centres_uvd (K, 3) u px, v px, d mm (d > 0) → Hands with one
    frame and K slots, slot k from centre k (score 0, found=False where no hand is near it), and
    next_centers_uvd (1, K, 3)."""
    if depth.dim() != 3 or depth.shape[0] != 1:
        raise InputError(f"hands_at takes one frame (1, H, W), got shape {tuple(depth.shape)}")
    c = torch.as_tensor(centres_uvd, dtype=torch.float32, device=depth.device)
    if c.dim() != 2 or c.shape[1] != 3 or not bool(torch.isfinite(c).all()) or bool((c[:, 2] <= 0).any()):
        raise InputError(f"centres_uvd must be (K, 3) finite u px, v px, d mm with d > 0, got {c.tolist()}")
    thr = scorer.threshold if score_threshold is None else score_threshold
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 <= thr <= 1:
        raise InputError(f"score_threshold must be a probability in [0, 1], got {score_threshold!r}")
    k = len(c)
    if k == 0:
        raise InputError("centres_uvd is empty: give at least one (u, v, d) centre")
    cams_b = frame_cameras(camera, 1, depth.device)
    layout = layout_of(skeleton, num_joints)
    cands, has = regions_at(depth, cams_b, c, scorer.radius, config)
    masked = torch.where(cands.mask, depth[0], torch.zeros((), dtype=depth.dtype, device=depth.device))
    cams = cams_b.expand(k, 4)
    e = estimate_regions(masked, cams, cands, c, has, network, crop, scorer, layout, recenter=recenter)
    slots = assemble_slots(e, 1, k, num_joints, crop, cams_b, float(thr),
                           slot=torch.arange(k, device=depth.device))
    nxt = e.center_uvd
    if not recenter:
        joints = torch.where((e.left_prob > 0.5)[:, None, None], e.out[1].joints, e.out[0].joints)
        nxt = second_centre(Outputs(joints, None, None), e.center_uvd, masked, cams, crop, scorer, layout.palm)
    return Hands(skeleton=skeleton, camera=camera, depth=depth, next_centers_uvd=nxt[None].float(), **slots)
