"""Every hand in a batch of depth frames: candidates → crops → network → re-centred crops, both sides → score.

    hands = est.find_hands(depth, max_hands=2)           # HandPoseEstimator.find_hands calls find_hands here
    hands.joints_xyz[b, n], hands.score[b, n], hands.left[b, n], hands.found[b, n]

Per candidate region (lfsdk.localize): a first crop at the centre of mass of its near band (the rule the
model was trained with), the network's palm, a second crop around it (HandScorer.recenter), that crop as it
is and mirrored (u flip: a left hand mirrored is a right hand for a right-hand model; the joints are
mirrored back), the side whose skeleton explains the crop better, and a calibrated hand score. All the
candidates of a batch go through the network as one batch per pass. Slots are ordered by score per frame.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import torch

from ..contract import InputError, Outputs
from ..geometry import Camera, crop_boxes, uvd_to_xyz
from ..kernels import backproject, crop_resize_normalize, hand_center
from ..kernels.inputs import depth_float, frame_cameras
from ..localize import BLOB_FEATURES, Candidates, LocalizeConfig, find_candidates
from ..localize.ball import BALL_FEATURES, ball, ball_center, ball_features
from ..localize.fit_features import FIT_FEATURES, fit_features
from ..localize.score import HandScorer
from ..preprocess import PreprocessConfig
from ..skeletons import get_skeleton
from .result import Hands

__all__ = ["Estimates", "Hands", "Layout", "SCORER_FILE", "assemble_slots", "estimate_candidates",
           "estimate_regions", "find_hands", "layout_of", "scorer_for", "second_centre"]

Network = Callable[[torch.Tensor], Outputs]
#: the hand scorer's file beside a model (in its checkpoint directory, or the .onnx/.engine's folder)
SCORER_FILE = "hands.json"
_DEFAULT_SCORER = Path(__file__).parent.parent / "assets" / "default" / SCORER_FILE


def scorer_for(model_path: str | os.PathLike | None) -> HandScorer:
    """The HandScorer fitted for a model: hands.json in its checkpoint directory or beside its file, else
    the default model's (with a warning: its score is calibrated for that model only)."""
    if model_path is not None:
        p = Path(model_path)
        for cand in (p / SCORER_FILE, p.parent / SCORER_FILE):
            if cand.is_file():
                return HandScorer.load(cand)
    if model_path is None or Path(model_path).resolve() != _DEFAULT_SCORER.parent.resolve():
        warnings.warn(f"no {SCORER_FILE} beside {model_path}: using the default model's hand scorer; fit one "
                      "for this model with `python -m lfsdk.calibrate_hands --model PATH`", stacklevel=3)
    return HandScorer.load(_DEFAULT_SCORER) if _DEFAULT_SCORER.is_file() else HandScorer()


def _run(network: Network, crops: torch.Tensor, m: int) -> Outputs:
    """The network on a batch of crops; an empty batch never reaches the backend."""
    if len(crops):
        return Outputs(*(t.float() for t in network(crops)))
    return Outputs(crops.new_zeros(0, m, 3), crops.new_zeros(0, 3, m, 3), crops.new_zeros(0, 3))




class Estimates(NamedTuple):
    """Per candidate (K rows): what find_hands keeps, and what lfsdk.calibrate_hands fits on."""

    cands: Candidates
    first_uvd: torch.Tensor  # (K, 3) first-pass centre
    center_uvd: torch.Tensor  # (K, 3) the centre of the final crop
    out: tuple  # (Outputs right, Outputs left) of the final crop, joints mirrored back for the left
    fits: tuple  # (right (K, F), left (K, F)) fit features
    left_prob: torch.Tensor  # (K,)
    score: torch.Tensor  # (K,) hand probability of the chosen side
    shape: torch.Tensor  # (K, len(BALL_FEATURES)) the candidate's pixels within the ball around the centre


class Layout(NamedTuple):
    """What find_hands needs of the model's joint layout."""

    num_joints: int
    palm: int | None  # the palm-centre joint, None when the layout has none (the joints' mean is used)
    bones: torch.Tensor  # (N, 2) long (child, parent) joint indices, for the fit features


def layout_of(skeleton: str, num_joints: int) -> Layout:
    """The Layout of a known skeleton with num_joints joints; no palm and no bones otherwise."""
    try:
        sk = get_skeleton(skeleton)
    except ValueError:
        sk = None
    if sk is None or sk.num_joints != num_joints:
        return Layout(num_joints, None, torch.zeros(0, 2, dtype=torch.long))
    palm = sk.names.index("palm") if "palm" in sk.names else None
    return Layout(num_joints, palm, torch.tensor(sk.bones, dtype=torch.long).reshape(-1, 2))


def _mirror(out: Outputs) -> Outputs:
    """Outputs of a u-flipped crop → the same joints in the unflipped crop (x → −x)."""
    flip = torch.tensor([-1.0, 1.0, 1.0], device=out.joints.device)
    return Outputs(out.joints * flip, out.branch_joints * flip, out.fusion_weights)


def _palm(joints: torch.Tensor, palm: int | None) -> torch.Tensor:
    return joints[:, palm] if palm is not None else joints.mean(1)


def second_centre(out: Outputs, first: torch.Tensor, masked: torch.Tensor, cams: torch.Tensor, crop: PreprocessConfig,
              scorer: HandScorer, palm: int | None) -> torch.Tensor:
    """(K, 3) uvd centre of the second crop: the first one, the network's palm, or the centre of mass of the
    candidate's pixels within scorer.radius mm of that palm (lfsdk.localize.ball)."""
    if scorer.recenter == "none":
        return first
    p_uvd, _ = backproject(_palm(out.joints, palm)[:, None], first, crop.cube, cams)
    p_uvd = torch.where(p_uvd[:, 0, 2:] > 0, p_uvd[:, 0], first)
    if scorer.recenter == "palm":
        return p_uvd
    return ball_center(ball(masked, p_uvd, cams, scorer.radius), p_uvd, cams)


def _nearest(masked: torch.Tensor) -> torch.Tensor:
    """(K, H, W) depth (0 = not the candidate's) → (K, 3) uvd of each candidate's nearest pixel."""
    k, h, w = masked.shape
    d = depth_float(masked).reshape(k, h * w)
    near, idx = torch.where(d > 0, d, float("inf")).min(1)
    return torch.stack(((idx % w).float(), (idx // w).float(), torch.where(near.isfinite(), near, 1.0)), -1)


def _mean_shift(masked: torch.Tensor, start: torch.Tensor, cams: torch.Tensor, radius: float,
                fallback: torch.Tensor, steps: int = 3) -> torch.Tensor:
    """From each candidate's nearest pixel, `steps` moves to the centre of mass of its pixels in the ball
    around the point: on a hand held out on an arm (the hand nearest), this stays on the hand where the
    whole region's centre of mass slides down the arm. (K, 3) uvd; `fallback` where a ball is empty."""
    c = start
    for _ in range(steps):
        c = ball_center(ball(masked, c, cams, radius), c, cams)
    return torch.where((start[:, 2:] > 1), c, fallback)


def _first_centre(masked: torch.Tensor, cams: torch.Tensor, crop: PreprocessConfig, scorer: HandScorer):
    """(K, 3) uvd of the first crop and (K,) whether the candidate has a pixel in range."""
    first = hand_center(masked, cams, band=crop.band, refine=crop.refine, cube=crop.cube)
    uvd = torch.where(first.found[:, None], first.uvd, 1.0)
    if scorer.start != "band":
        shifted = _mean_shift(masked, _nearest(masked), cams, scorer.radius, uvd)
        if scorer.start == "auto":  # the training rule unless it lies off the hand (slid down an arm)
            apart = (uvd_to_xyz(shifted, cams) - uvd_to_xyz(uvd, cams)).norm(dim=-1) > scorer.radius / 2
            shifted = torch.where(apart[:, None], shifted, uvd)
        uvd = shifted
    return uvd, first.found


def _both_sides(network: Network, crops: torch.Tensor, layout: Layout, scorer: HandScorer):
    """The crops as they are and mirrored, in one batch → (right, left Outputs with joints mirrored back),
    (right, left) fit features, (K,) probability of a left hand."""
    k = len(crops)
    both = _run(network, torch.cat((crops, crops.flip(-1))), layout.num_joints)
    right, left = Outputs(*(t[:k] for t in both)), Outputs(*(t[k:] for t in both))
    bones = layout.bones.to(crops.device)
    fits = (fit_features(crops, *right, bones), fit_features(crops.flip(-1), *left, bones))
    return (right, _mirror(left)), fits, scorer.left_probability(*fits)


def _no_candidates(cands: Candidates, layout: Layout) -> Estimates:
    """Estimates with K = 0 rows (no frame of the batch has a candidate): the network is never called."""
    z = cands.features.new_zeros
    out = _run(None, z(0, 1, 1, 1), layout.num_joints)
    fits = z(0, len(FIT_FEATURES))
    return Estimates(cands, z(0, 3), z(0, 3), (out, out), (fits, fits), z(0), z(0), z(0, len(BALL_FEATURES)))


def estimate_candidates(depth: torch.Tensor, camera: Camera, network: Network, crop: PreprocessConfig, scorer: HandScorer,
                        layout: Layout, max_candidates: int, config: LocalizeConfig) -> Estimates:
    """depth (B, H, W) mm on the work device → Estimates of every candidate (see the module docstring)."""
    cams_b = frame_cameras(camera, depth.shape[0], depth.device)
    cands = find_candidates(depth, cams_b, max_candidates, config)
    if len(cands.frame) == 0:
        return _no_candidates(cands, layout)
    cams = cams_b[cands.frame]
    masked = torch.where(cands.mask, depth[cands.frame], torch.zeros((), dtype=depth.dtype, device=depth.device))
    first, found = _first_centre(masked, cams, crop, scorer)
    return estimate_regions(masked, cams, cands, first, found, network, crop, scorer, layout)


def estimate_regions(masked: torch.Tensor, cams: torch.Tensor, cands: Candidates, first: torch.Tensor,
                     found: torch.Tensor, network: Network, crop: PreprocessConfig, scorer: HandScorer,
                     layout: Layout, recenter: bool = True) -> Estimates:
    """The estimate-and-score path from first crop centres on: masked (K, H, W) depth (0 outside each
    candidate's region), cams (K, 4), cands (K rows), first (K, 3) uvd, found (K,) bool (False scores 0).
    recenter=False: the first centres are final (no first pass; a tracker's centres already are)."""
    center = first
    if recenter and scorer.recenter != "none":
        crops1 = crop_resize_normalize(masked, first, crop.cube, cams, crop.size, crop.mode)
        center = second_centre(_run(network, crops1, layout.num_joints), first, masked, cams, crop, scorer, layout.palm)
    crops = crop_resize_normalize(masked, center, crop.cube, cams, crop.size, crop.mode)
    out, fits, left_prob = _both_sides(network, crops, layout, scorer)
    chosen = torch.where((left_prob > 0.5)[:, None], fits[1], fits[0])
    shape = ball_features(ball(masked, center, cams, scorer.radius))
    feats = {n: cands.features[:, i] for i, n in enumerate(BLOB_FEATURES)}
    feats.update({n: shape[:, i] for i, n in enumerate(BALL_FEATURES)})
    feats.update({n: chosen[:, i] for i, n in enumerate(FIT_FEATURES)})
    score = scorer.hand_probability(feats) * found
    return Estimates(cands, first, center, out, fits, left_prob, score, shape)


def _slots(frame: torch.Tensor, score: torch.Tensor, b: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per candidate its (frame, rank by score within the frame); rank ≥ n are dropped. → (keep, slot)."""
    order = torch.argsort(frame.double() * 2.0 - score.double())  # frame ascending, score descending
    rank = torch.empty_like(order)
    sorted_frame = frame[order]
    first = torch.searchsorted(sorted_frame, sorted_frame, right=False)
    rank[order] = torch.arange(len(order), device=frame.device) - first
    return rank < n, rank


def assemble_slots(e: Estimates, b: int, n: int, m: int, crop: PreprocessConfig, cams_b: torch.Tensor,
              threshold: float, slot: torch.Tensor | None = None) -> dict:
    """Per-candidate estimates → (B, n, ...) slot tensors, NaN where no hand was found. slot: (K,) each
    row's slot (default: by score within its frame, ranks ≥ n dropped)."""
    dev = e.score.device
    is_left = e.left_prob > 0.5
    pick = [torch.where(is_left.reshape((-1,) + (1,) * (r.dim() - 1)), l_, r)
            for r, l_ in zip(e.out[0], e.out[1])]
    cams = cams_b[e.cands.frame]
    k = len(e.score)
    norm = torch.cat((pick[0][:, None], pick[1]), 1).reshape(k, 4 * m, 3)
    uvd, xyz = backproject(norm, e.center_uvd, crop.cube, cams)
    uvd, xyz = uvd.reshape(k, 4, m, 3), xyz.reshape(k, 4, m, 3)
    per = {"joints_uvd": uvd[:, 0], "joints_xyz": xyz[:, 0], "branch_xyz": xyz[:, 1:],
           "fusion_weights": pick[2], "centers_uvd": e.center_uvd,
           "centers_xyz": uvd_to_xyz(e.center_uvd, cams), "boxes": crop_boxes(e.center_uvd, crop.cube, cams),
           "regions": e.cands.box, "score": e.score, "left_prob": e.left_prob}
    if slot is None:
        keep, slot = _slots(e.cands.frame, e.score, b, n)
    else:
        keep = torch.ones_like(slot, dtype=torch.bool)
    f, s = e.cands.frame[keep], slot[keep]
    found = (e.score >= threshold)[keep]
    out = {}
    for key, val in per.items():
        full = torch.full((b, n) + val.shape[1:], float("nan"), device=dev, dtype=torch.float32)
        val = val[keep].float()
        if key not in ("score", "left_prob", "regions", "centers_uvd", "centers_xyz", "boxes"):
            val = val.masked_fill(~found.reshape((-1,) + (1,) * (val.dim() - 1)), float("nan"))
        full[f, s] = val
        out[key] = full
    out["score"] = torch.nan_to_num(out["score"], nan=0.0)
    out["found"] = torch.zeros(b, n, dtype=torch.bool, device=dev)
    out["found"][f, s] = found
    out["left"] = torch.zeros(b, n, dtype=torch.bool, device=dev)
    out["left"][f, s] = is_left[keep]
    return out


def find_hands(depth: torch.Tensor, camera: Camera, network: Network, crop: PreprocessConfig, scorer: HandScorer,
               skeleton: str, num_joints: int, *, max_hands: int = 2, score_threshold: float | None = None,
               candidates: int | None = None, config: LocalizeConfig = LocalizeConfig()) -> Hands:
    """Up to max_hands hands per frame of depth (B, H, W) (validated, on the work device); see Hands.

    score_threshold: hands scoring below it come back found=False (default: the scorer's, 0.5);
    candidates: regions examined per frame (default max_hands + 1)."""
    if isinstance(max_hands, bool) or not isinstance(max_hands, int) or max_hands < 1:
        raise InputError(f"max_hands must be an int ≥ 1, got {max_hands!r}")
    thr = scorer.threshold if score_threshold is None else score_threshold
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 <= thr <= 1:
        raise InputError(f"score_threshold must be a probability in [0, 1], got {score_threshold!r}")
    cand = max_hands + 1 if candidates is None else candidates
    if isinstance(cand, bool) or not isinstance(cand, int) or cand < max_hands:
        raise InputError(f"candidates must be an int ≥ max_hands ({max_hands}), got {candidates!r}")
    e = estimate_candidates(depth, camera, network, crop, scorer, layout_of(skeleton, num_joints), cand, config)
    b = depth.shape[0]
    slots = assemble_slots(e, b, max_hands, num_joints, crop, frame_cameras(camera, b, depth.device), float(thr))
    return Hands(skeleton=skeleton, camera=camera, depth=depth, **slots)

