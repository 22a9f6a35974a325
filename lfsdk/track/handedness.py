"""A track's handedness: a running vote over its frames, so one ambiguous crop does not flip a hand's side.

Each frame votes with its left probability (or its side, 1/0, when the detector gives no probability),
weighted by its hand score; the track is 'left' while the weighted mean is above 1/2.
"""
from __future__ import annotations

from dataclasses import dataclass

from .detector import Hand

__all__ = ["SideVote"]


@dataclass
class SideVote:
    """Score-weighted running mean of a track's left probabilities; 'unknown' until a frame has a side."""

    weight: float = 0.0
    left: float = 0.0

    def add(self, hand: Hand) -> str:
        """Count one frame's hand; returns the track's side so far."""
        p = hand.left_prob
        if p is None and hand.handedness != "unknown":
            p = 1.0 if hand.handedness == "left" else 0.0
        if p is not None:
            self.weight += hand.score
            self.left += hand.score * p
        return self.side

    @property
    def side(self) -> str:
        if self.weight <= 0:
            return "unknown"
        return "left" if self.left > 0.5 * self.weight else "right"
