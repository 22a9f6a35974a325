"""lfsdk — fast depth-based hand pose estimation with the Latent Fusion network.

The whole public surface is listed in __all__; everything else is importable but may change.
"""
__version__ = "0.1.0"

from .geometry import Camera
from .model import LatentFusion, ModelConfig, load_model

__all__ = ["Camera", "LatentFusion", "ModelConfig", "load_model", "__version__"]
