"""lfsdk.hands: every hand in a depth frame (HandPoseEstimator.find_hands) and its result type, Hands."""
from .at_centres import hands_at, regions_at
from .pipeline import (SCORER_FILE, Estimates, Layout, estimate_candidates, find_hands, layout_of,
                       scorer_for)
from .result import HAND_FIELDS, Hands

__all__ = ["HAND_FIELDS", "SCORER_FILE", "Estimates", "Hands", "Layout", "estimate_candidates",
           "find_hands", "hands_at", "layout_of", "regions_at", "scorer_for"]
