"""Depth frame sources: iterables of Frame(timestamp s, depth (H, W) uint16 mm, Camera).

    FolderSource("frames/", camera="icvl", fps=30)          16-bit PNG / .npy files
    RealSenseSource("walk.db3") / RealSenseSource()         a RealSense recording (.bag/.db3) or live camera
    SyntheticSequence("crossing", frames=60, seed=0)        rendered hands with ground truth (.truth)
    open_source("synthetic:crossing") ...                   any of them from one string (the CLI's SOURCE)
"""
from .base import Frame, SourceError
from .folder import FolderSource
from .open import open_source
from .realsense import RealSenseSource, record_realsense
from .synthetic import SCENARIOS, HandTruth, SyntheticSequence

__all__ = ["Frame", "FolderSource", "HandTruth", "RealSenseSource", "SCENARIOS", "SourceError", "SyntheticSequence",
           "open_source", "record_realsense"]
