"""Live hand tracking: stable ids, smoothed joints, streams of frames.

    tracker = HandTracker(HandPoseEstimator.from_pretrained(), max_hands=2)
    for hands in tracker.track(source):               # source: lfsdk.sources.*, or (t, depth, camera) items
        for h in hands: h.id, h.joints_xyz, h.score, h.handedness
"""
from .detector import HANDEDNESS, Hand, HandDetector
from .estimator_detector import EstimatorDetector
from .find_hands_detector import FindHandsDetector
from .filter import OneEuroFilter, OneEuroParams, one_euro_step
from .stream import LatestFrame, TrackFrame, paced, track_frames
from .tracker import DEFAULT_SMOOTHING, HandTracker, TrackedHand

__all__ = ["DEFAULT_SMOOTHING", "EstimatorDetector", "FindHandsDetector", "HANDEDNESS", "Hand", "HandDetector",
           "HandTracker", "LatestFrame", "OneEuroFilter", "OneEuroParams", "TrackFrame", "TrackedHand",
           "one_euro_step", "paced", "track_frames"]
