"""The Latent Fusion network, its decode, loss and checkpoint I/O."""
from .checkpoint import CheckpointError, load_model, save_checkpoint
from .decode import decode_latent_heatmaps, pixel_grid
from .loss import LossTerms, latent_fusion_loss
from .network import BRANCHES, LatentFusion, ModelConfig, ModelOutput

__all__ = [
    "BRANCHES", "CheckpointError", "LatentFusion", "LossTerms", "ModelConfig", "ModelOutput",
    "decode_latent_heatmaps", "latent_fusion_loss", "load_model", "pixel_grid", "save_checkpoint",
]
