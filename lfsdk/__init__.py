"""lfsdk — fast depth-based hand pose estimation with the Latent Fusion network.

    import lfsdk
    est = lfsdk.HandPoseEstimator.from_pretrained()      # embedded default model, fastest backend here
    res = est(depth)                                     # (H, W) or (B, H, W) uint16/float mm
    res.joints_xyz, res.fusion_weights, res.draw()

The whole public surface is listed in __all__; everything else is importable but may change.
"""
from ._version import __version__

from .backends import Backend, BackendUnavailable, availability
from .estimator import HandPoseEstimator, InputError
from .geometry import Camera
from .model import CheckpointError, LatentFusion, ModelConfig, load_model, save_checkpoint
from .profiling import ProfileTable
from .result import Result

__all__ = ["Backend", "BackendUnavailable", "Camera", "CheckpointError", "HandPoseEstimator", "InputError",
           "LatentFusion", "ModelConfig", "ProfileTable", "Result", "availability", "load_model",
           "save_checkpoint", "__version__"]
