"""lfsdk.localize: where the hands are in a depth frame, before the network sees a crop.

    cands = find_candidates(depth, camera, max_candidates=3)   # (B, H, W) mm, torch on CPU or CUDA
    scorer = HandScorer.load(path)                             # logistic hand score + handedness, JSON

Imports only lfsdk's core modules, lfsdk.kernels and torch.
"""
from .candidates import BLOB_FEATURES, Candidates, LocalizeConfig, find_candidates

__all__ = ["BLOB_FEATURES", "Candidates", "LocalizeConfig", "find_candidates"]
