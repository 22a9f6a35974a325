"""The Latent Fusion network (Liu et al., IEEE Access 2020), layer for layer from Table 6 and Fig. 2–4.

    crops (B,1,128,128)
      → features: Conv7×7/2-BN-LReLU, Res(32), MaxPool, Res(64), Res(128), Hourglass-2, Res(128) → (B,128,32,32)
      → 3 branches (XY|Z, XZ|Y, YZ|X), each Hourglass-2, Res(128), 1×1-BN-LReLU, 1×1 → (B,2M,32,32)
      → decode (eq. 2–3, shared ω) → per-branch joints, re-ordered to (x, y, z)
      → fusion (Fig. 4): 1×1(shared features) + Σ_i 1×1(H*_i ‖ D_i) → Table 6 fusion rows → μ (B,3)
      → joints = Σ_i μ_i · joints_i

Module names are the stage names used everywhere downstream (ONNX node names, TensorRT layer names,
profilers): `features`, `branches.N`, `decode`, `fusion`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
import torch
from torch import nn
import torch.nn.functional as F

from ..contract import InputError, Outputs
from .config_check import check_model_config
from .decode import decode_latent_heatmaps

__all__ = ["ModelConfig", "ModelOutput", "LatentFusion", "BRANCHES", "BRANCH_TO_XYZ"]

#: Branch names, in output order: plane axes | 1D axis.
BRANCHES = ("XY|Z", "XZ|Y", "YZ|X")
#: For each branch, which of its decoded (a, b, c) components is x, y and z.
#: XY|Z decodes (x, y, z); XZ|Y decodes (x, z, y); YZ|X decodes (y, z, x).
BRANCH_TO_XYZ = ((0, 1, 2), (0, 2, 1), (2, 0, 1))


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network and interpret its output; serialised as config.json."""

    num_joints: int = 14
    skeleton: str = "nyu"
    cube_size: tuple[float, float, float] = (250.0, 250.0, 250.0)  # mm, x/y/z extent of the crop cube
    input_size: int = 128
    channels: int = 128  # "fix feature channels (128) in each block" (III-E.2)
    fusion_channels: int = 256  # width of Fig. 4's 1×1 transforms; see README "Reading Table 6"
    leaky_slope: float = 0.01
    extra: dict = field(default_factory=dict)  # free-form provenance (training run, dataset, ...)

    def __post_init__(self):
        check_model_config(asdict(self))  # InputError naming the bad key
        object.__setattr__(self, "cube_size", tuple(float(c) for c in self.cube_size))

    @property
    def heatmap_size(self) -> int:
        return self.input_size // 4

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cube_size"] = list(self.cube_size)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise InputError(f"a model config must be an object of keys, got {type(d).__name__}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known - {"format", "lfsdk_version"}
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**{k: (tuple(v) if k == "cube_size" and isinstance(v, list) else v)
                      for k, v in d.items() if k in known})


#: the network's outputs are the I/O contract's (lfsdk.contract.Outputs)
ModelOutput = Outputs


def conv_bn_act(cin: int, cout: int, k: int, s: int = 1, p: int = 0, slope: float = 0.01) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout), nn.LeakyReLU(slope))


class Residual(nn.Module):
    """Bottleneck residual block of the hourglass family: 1×1 (cout/2) → 3×3 (cout/2) → 1×1 (cout).

    Post-activation ordering (conv → BN → LReLU) so every BatchNorm follows a convolution and folds into
    it at export; the parameter count is the same as the pre-activation original (README, "Reading Table 6").
    """

    def __init__(self, cin: int, cout: int, slope: float = 0.01):
        super().__init__()
        mid = cout // 2
        self.body = nn.Sequential(
            conv_bn_act(cin, mid, 1, slope=slope),
            conv_bn_act(mid, mid, 3, p=1, slope=slope),
            nn.Conv2d(mid, cout, 1),
            nn.BatchNorm2d(cout),
        )
        self.skip = nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout))
        self.act = nn.LeakyReLU(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class Hourglass(nn.Module):
    """Order-n hourglass (Newell et al. 2016) at constant width: n=2 is Table 6's "2nd-Hourglass Module"."""

    def __init__(self, order: int, channels: int, slope: float = 0.01):
        super().__init__()
        self.up = Residual(channels, channels, slope)
        self.down = Residual(channels, channels, slope)
        self.inner = Hourglass(order - 1, channels, slope) if order > 1 else Residual(channels, channels, slope)
        self.out = Residual(channels, channels, slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.out(self.inner(self.down(F.max_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


class FeatureExtractor(nn.Sequential):
    """Table 6, "Feature Extraction Network" rows 1–7: (B,1,128,128) → (B,128,32,32)."""

    def __init__(self, c: int = 128, slope: float = 0.01):
        super().__init__(
            conv_bn_act(1, 16, 7, 2, 3, slope),
            Residual(16, 32, slope),
            nn.MaxPool2d(2, 2),
            Residual(32, 64, slope),
            Residual(64, c, slope),
            Hourglass(2, c, slope),
            Residual(c, c, slope),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a half-precision copy (FP16 export) takes FP32 crops: the cast is the stage's first node
        return super().forward(x.to(self[0][0].weight.dtype))


class Branch(nn.Sequential):
    """Table 6, "Hourglass Network": (B,128,32,32) → latent heatmaps (B,2M,32,32)."""

    def __init__(self, num_joints: int, c: int = 128, slope: float = 0.01):
        super().__init__(
            Hourglass(2, c, slope),
            Residual(c, c, slope),
            conv_bn_act(c, c, 1, slope=slope),
            nn.Conv2d(c, 2 * num_joints, 1),
        )


class Fusion(nn.Module):
    """Fig. 4 + Table 6 "Fusion Network": shared features and each branch's (H*, D) → μ (B,3)."""

    def __init__(self, num_joints: int, c: int = 128, width: int = 256, slope: float = 0.01):
        super().__init__()
        self.from_features = nn.Conv2d(c, width, 1)
        self.from_heatmaps = nn.ModuleList(nn.Conv2d(2 * num_joints, width, 1) for _ in BRANCHES)
        self.head = nn.Sequential(
            nn.Conv2d(width, 32, 1),
            nn.MaxPool2d(2, 2),
            nn.BatchNorm2d(32),
            nn.LeakyReLU(slope),
            nn.Conv2d(32, 3, 1),
        )

    def forward(self, features: torch.Tensor, branch_maps: list[torch.Tensor],
                branch_joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B,C,h,w); branch_maps: 3 × (B,2M,h,w) of [H* ‖ D]; branch_joints (B,3,M,3).

        Returns joints p = Σ_i μ_i p_i (B,M,3) and μ (B,3), both float32.
        """
        x = self.from_features(features)
        for transform, maps in zip(self.from_heatmaps, branch_maps):
            x = x + transform(maps)
        # pooling, sigmoid and L1 norm in FP32 even when the convolutions run in half precision
        score = torch.sigmoid(self.head(x).float().mean(dim=(2, 3)))  # global average pooling, sigmoid
        mu = score / score.sum(dim=1, keepdim=True)  # L1 norm (scores are positive)
        return (mu[:, :, None, None] * branch_joints.float()).sum(dim=1), mu


class Decode(nn.Module):
    """Eq. 2–3 for all three branches, in FP32 whatever the branches' precision. Parameter-free (ω is the
    network's and passed in); a module so exported graph nodes and profiler scopes carry `decode`."""

    def __init__(self):
        super().__init__()
        self.register_buffer("branch_to_xyz", torch.tensor(BRANCH_TO_XYZ), persistent=False)

    def forward(self, heatmaps: list[torch.Tensor], omega: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """heatmaps: 3 × (B,2M,h,w), omega (M,) → branch_joints (B,3,M,3) float32 in (x, y, z), and the
        fusion inputs 3 × [H* ‖ D] (B,2M,h,w) in the heatmaps' dtype."""
        per_branch, maps = [], []
        for i, hm in enumerate(heatmaps):
            hm32 = hm.float()
            coords, prob = decode_latent_heatmaps(hm32, omega.float())
            per_branch.append(coords[..., self.branch_to_xyz[i]])
            m = prob.shape[1]
            maps.append(torch.cat((prob, hm32[:, m:]), dim=1).to(hm.dtype))
        return torch.stack(per_branch, dim=1), maps


class LatentFusion(nn.Module):
    """The whole network. forward(crops (B,1,S,S)) → ModelOutput in the normalised cube."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        m, c, slope = config.num_joints, config.channels, config.leaky_slope
        self.features = FeatureExtractor(c, slope)
        self.branches = nn.ModuleList(Branch(m, c, slope) for _ in BRANCHES)
        self.omega = nn.Parameter(torch.ones(m))  # ω_j, eq. 3, shared by all branches
        self.decode = Decode()
        self.fusion = Fusion(m, c, config.fusion_channels, slope)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's initialisation (III-E.2): conv weights ~ N(0, 0.001²), biases 0, ω = 1."""
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.normal_(mod.weight, 0.0, 0.001)
                nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.BatchNorm2d):
                mod.reset_parameters()
        with torch.no_grad():
            self.omega.fill_(1.0)

    def forward(self, crops: torch.Tensor) -> ModelOutput:
        # only submodule calls here, so every exported node carries its stage's module path
        feats = self.features(crops)
        heatmaps = [branch(feats) for branch in self.branches]
        branch_joints, maps = self.decode(heatmaps, self.omega)  # (B,3,M,3)
        joints, mu = self.fusion(feats, maps, branch_joints)  # (B,M,3), (B,3)
        return ModelOutput(joints, branch_joints, mu)
