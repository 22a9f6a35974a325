"""HandTracker: depth frames in, hands with stable ids, scores and smoothed joints out.

Per frame (MediaPipe's policy):
1. every live track predicts its hand's centre at this frame's time (constant velocity) and the detector
   `refine`s a crop there — no detection for hands being tracked;
2. detection runs only while fewer than max_hands hands are tracked with a score ≥ min_score;
3. candidates closer than min_separation_mm to a better one are the same hand and dropped; the rest are
   assigned to tracks by their distance to the predicted centres (Hungarian, gated at gate_mm), so ids stay
   with their hands when hands cross; a track that finds no hand coasts on its prediction for keep_lost_s
   (not reported) and gets its id back if its hand reappears near the prediction — its gate grows by
   lost_gate_mm_s per second lost, as the prediction grows uncertain; new hands get new ids;
4. the joints of all reported hands go through one vectorised One Euro filter at the frames' timestamps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..geometry import Camera
from .detector import Hand, HandDetector, uvd_to_xyz_np, xyz_to_uvd_np
from .estimator_detector import as_depth_frame
from .filter import OneEuroParams, OneEuroState, one_euro_step
from .find_hands_detector import FindHandsDetector
from .handedness import SideVote
from .stream import TrackFrame, track_frames

__all__ = ["HandTracker", "TrackedHand", "DEFAULT_SMOOTHING"]

#: chosen on synthetic still/step sequences (seeds 0–2, 30 fps; the benchmark reports seeds 3–5): jitter
#: 7× lower with the lag after a 40 mm step 1 frame; joints in mm, so beta is per mm/s
DEFAULT_SMOOTHING = OneEuroParams(min_cutoff=0.3, beta=0.05, d_cutoff=1.0)
_MIN_DEPTH_MM = 100.0


@dataclass(frozen=True)
class TrackedHand:
    """One tracked hand in one frame. joints (M, 3) smoothed (raw_joints_xyz: the detector's), mm / uvd."""

    id: int
    timestamp: float
    joints_xyz: np.ndarray
    joints_uvd: np.ndarray
    raw_joints_xyz: np.ndarray
    centre_uvd: np.ndarray
    box: np.ndarray
    score: float
    handedness: str
    age: int  # frames this id has been reported, this one included
    detected: bool  # found by detection this frame (False: by its tracked crop)

    def to_dict(self) -> dict:
        """JSON-ready (NaN → None)."""
        def rows(a):
            return [[None if not math.isfinite(v) else round(float(v), 3) for v in r] for r in np.atleast_2d(a)]
        return {"id": self.id, "timestamp": self.timestamp, "score": round(float(self.score), 4),
                "handedness": self.handedness, "joints_xyz": rows(self.joints_xyz),
                "joints_uvd": rows(self.joints_uvd), "centre_uvd": rows(self.centre_uvd)[0],
                "box": rows(self.box)[0], "age": self.age, "detected": self.detected}


@dataclass
class _Track:
    id: int
    centre: np.ndarray  # (3,) xyz mm at time t
    t: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    age: int = 0
    missed_since: float | None = None
    smooth: tuple | None = None  # this track's One Euro row (x, dx, t)
    side: SideVote = field(default_factory=SideVote)

    def predict(self, t: float) -> np.ndarray:
        return self.centre + self.velocity * (t - self.t)


class HandTracker:
    """HandTracker(detector or HandPoseEstimator, camera=None, max_hands=2, ...).update(depth, t) → hands.

    An estimator is tracked through FindHandsDetector; a hand's side is its track's running vote (SideVote).

    smoothing: OneEuroParams, or None for raw joints. camera: default intrinsics (else each update's, else
    the estimator's). velocity_blend: weight of the newest velocity in the constant-velocity model.
    lost_gate_mm_s: how fast a lost track's gate grows (mm per second lost)."""

    def __init__(self, detector: HandDetector | Any, camera: Camera | str | None = None, *, max_hands: int = 2,
                 min_score: float = 0.5, smoothing: OneEuroParams | None = DEFAULT_SMOOTHING,
                 gate_mm: float = 120.0, min_separation_mm: float = 60.0, keep_lost_s: float = 0.5,
                 velocity_blend: float = 0.5, lost_gate_mm_s: float = 300.0):
        if not isinstance(detector, HandDetector):
            if callable(getattr(detector, "find_hands", None)):
                detector = FindHandsDetector(detector)
            else:
                raise TypeError(f"HandTracker needs a HandDetector (detect/refine) or a HandPoseEstimator, got "
                                f"{type(detector).__name__}")
        if not isinstance(max_hands, int) or max_hands < 1:
            raise ValueError(f"max_hands must be an int ≥ 1, got {max_hands!r}")
        for name, v, lo in (("min_score", min_score, 0.0), ("gate_mm", gate_mm, 1e-9),
                            ("min_separation_mm", min_separation_mm, 0.0), ("keep_lost_s", keep_lost_s, 0.0),
                            ("velocity_blend", velocity_blend, 0.0), ("lost_gate_mm_s", lost_gate_mm_s, 0.0)):
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < lo:
                raise ValueError(f"{name} must be a finite number ≥ {lo:g}, got {v!r}")
        if min_score > 1 or velocity_blend > 1:
            raise ValueError(f"min_score and velocity_blend must be ≤ 1, got {min_score}, {velocity_blend}")
        if smoothing is not None and not isinstance(smoothing, OneEuroParams):
            raise TypeError(f"smoothing must be OneEuroParams or None, got {type(smoothing).__name__}")
        self.detector = detector
        est = getattr(detector, "estimator", None)
        self.camera = Camera.parse(camera) if camera is not None else getattr(est, "camera", None)
        self.max_hands, self.min_score, self.smoothing = max_hands, float(min_score), smoothing
        self.gate_mm, self.min_separation_mm = float(gate_mm), float(min_separation_mm)
        self.keep_lost_s, self.velocity_blend = float(keep_lost_s), float(velocity_blend)
        self.lost_gate_mm_s = float(lost_gate_mm_s)
        self.reset()

    def reset(self) -> None:
        """Forget every track (ids start again at 0) and the counters."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_t: float | None = None
        self.stats = {"frames": 0, "detections": 0, "refined_hands": 0}

    # -- one frame ------------------------------------------------------------------------------------------
    def update(self, depth: Any, timestamp: float, camera: Camera | str | None = None) -> list[TrackedHand]:
        """Track hands in one (H, W) depth frame (mm) taken at `timestamp` s (increasing); returns the hands
        tracked in it, by id."""
        d = as_depth_frame(depth)
        t = self._check_time(timestamp)
        cam = Camera.parse(camera) if camera is not None else self.camera
        if cam is None:
            raise ValueError("no camera: give HandTracker(camera=...) or update(..., camera=...)")
        preds = np.array([tr.predict(t) for tr in self._tracks]).reshape(-1, 3)
        preds[:, 2] = np.maximum(preds[:, 2], _MIN_DEPTH_MM)  # a hand coasting towards the camera stays in front
        cands: list[tuple[Hand, bool]] = []  # (hand, from detection)
        if len(preds):
            hands = self.detector.refine(d, cam, xyz_to_uvd_np(preds, cam))
            self.stats["refined_hands"] += len(hands)
            cands += [(h, False) for h in hands if self._usable(h)]
        if len(self._distinct(cands, cam)) < self.max_hands:  # two crops on one hand track one hand
            self.stats["detections"] += 1
            cands += [(h, True) for h in self.detector.detect(d, cam, self.max_hands) if self._usable(h)]
        cands = self._distinct(cands, cam)
        reported = self._associate(preds, cands, t, cam)
        self.stats["frames"] += 1
        self._last_t = t
        return self._smoothed(reported, t, cam)

    def _check_time(self, timestamp: Any) -> float:
        try:
            t = float(timestamp)
        except (TypeError, ValueError):
            raise ValueError(f"timestamp must be a number of seconds, got {timestamp!r}") from None
        if not math.isfinite(t):
            raise ValueError(f"timestamp must be finite, got {t}")
        if self._last_t is not None and t <= self._last_t:
            raise ValueError(f"timestamps must increase: got {t} s after {self._last_t} s (reset() to start over)")
        return t

    def _usable(self, h: Hand) -> bool:
        return h.score >= self.min_score and bool(np.isfinite(h.joints_xyz).all())

    def _distinct(self, cands: list[tuple[Hand, bool]], cam: Camera) -> list[tuple[Hand, bool, np.ndarray]]:
        """Best first (tracked crops before detections, then by score); drop those near a kept one."""
        kept: list[tuple[Hand, bool, np.ndarray]] = []
        for h, det in sorted(cands, key=lambda c: (c[1], -c[0].score)):
            xyz = uvd_to_xyz_np(h.centre_uvd, cam)
            if all(np.linalg.norm(xyz - k[2]) >= self.min_separation_mm for k in kept):
                kept.append((h, det, xyz))
        return kept

    def _associate(self, preds: np.ndarray, cands: list, t: float, cam: Camera) -> list[tuple[_Track, Hand, bool]]:
        matched: dict[int, int] = {}
        if len(preds) and cands:
            cost = np.linalg.norm(preds[:, None] - np.array([c[2] for c in cands])[None], axis=-1)
            lost_s = np.array([0.0 if tr.missed_since is None else t - tr.missed_since for tr in self._tracks])
            inside = cost <= (self.gate_mm + self.lost_gate_mm_s * lost_s)[:, None]
            rows, cols = linear_sum_assignment(np.where(inside, cost, 1e9))
            matched = {int(r): int(c) for r, c in zip(rows, cols) if inside[r, c]}
        out, live = [], []
        for i, tr in enumerate(self._tracks):
            if i in matched:
                hand, det, xyz = cands[matched[i]]
                v = (xyz - tr.centre) / max(t - tr.t, 1e-6)
                tr.velocity = self.velocity_blend * v + (1 - self.velocity_blend) * tr.velocity
                tr.centre, tr.t, tr.missed_since, tr.age = xyz, t, None, tr.age + 1
                out.append((tr, hand, det))
                live.append(tr)
            else:
                tr.missed_since = t if tr.missed_since is None else tr.missed_since
                if t - tr.missed_since <= self.keep_lost_s:
                    live.append(tr)
        taken = set(matched.values())
        for j, (hand, det, xyz) in enumerate(cands):
            if j not in taken and len(out) < self.max_hands:
                tr = _Track(self._next_id, xyz, t, age=1)
                self._next_id += 1
                out.append((tr, hand, det))
                live.append(tr)
        self._tracks = live
        return sorted(out, key=lambda o: o[0].id)

    def _smoothed(self, reported: list[tuple[_Track, Hand, bool]], t: float, cam: Camera) -> list[TrackedHand]:
        if not reported:
            return []
        raw = np.stack([h.joints_xyz for _, h, _ in reported]).astype(np.float64)
        smooth = raw
        if self.smoothing is not None:
            fresh = np.array([tr.smooth is None for tr, _, _ in reported])
            rows = [tr.smooth or (raw[k], np.zeros_like(raw[k]), t) for k, (tr, _, _) in enumerate(reported)]
            state = OneEuroState(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]),
                                 np.array([r[2] for r in rows], dtype=np.float64))
            smooth, state = one_euro_step(raw, np.full(len(raw), t), state, self.smoothing, fresh=fresh)
            for k, (tr, _, _) in enumerate(reported):
                tr.smooth = (state.x[k], state.dx[k], float(state.t[k]))
        uvd = xyz_to_uvd_np(smooth, cam)
        return [TrackedHand(tr.id, t, smooth[k], uvd[k], raw[k], np.asarray(h.centre_uvd, dtype=np.float64),
                            np.asarray(h.box, dtype=np.float64), float(h.score), tr.side.add(h), tr.age, det)
                for k, (tr, h, det) in enumerate(reported)]

    # -- streams --------------------------------------------------------------------------------------------
    def track(self, source, *, asynchronous: bool = False, pace: bool = False) -> Iterator[TrackFrame]:
        """Track every frame of `source` (an iterable of (timestamp, depth, camera) or Frame): yields one
        TrackFrame per processed frame. asynchronous=True reads the source on a capture thread and always
        processes the newest frame, dropping the ones it had no time for (see lfsdk.track.stream)."""
        return track_frames(self, source, asynchronous=asynchronous, pace=pace)
