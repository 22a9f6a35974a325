"""lfsdk-train's options: one frozen dataclass, each field's help text the command line's."""
from __future__ import annotations

from dataclasses import dataclass, field

from lfsdk.train_schedule import SCHEDULES

__all__ = ["TrainConfig"]


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    out: str = _opt("runs/train", "output folder: checkpoints, logs, resume state")
    dataset: str = _opt("synthetic", "registered dataset name: synthetic, nyu, icvl, msra")
    root: str | None = _opt(None, "dataset folder; for synthetic the render cache (default: <out>/cache)")
    layout: str = _opt("nyu", "synthetic only: joint layout (nyu, icvl, msra)")
    camera: str = _opt("icvl", "synthetic only: camera preset")
    train_size: int | None = _opt(None, "synthetic only: training frames (default: the dataset's, 16000)")
    val_size: int | None = _opt(None, "held-out frames evaluated during training (default: the dataset's)")
    render_workers: int = _opt(1, "processes rendering synthetic frames")
    render_device: str | None = _opt(None, "synthetic only: render the frames with torch on this device (cpu, "
                                           "cuda, cuda:N); default: NumPy in --render-workers processes")
    epochs: int = _opt(100, "epochs planned (the schedule spans them unless --max-steps/--max-minutes end sooner)")
    batch_size: int = _opt(32, "global batch size, divided among DDP processes")
    lr: float = _opt(1e-3, "peak learning rate (Adam)")
    schedule: str = _opt("cosine", f"learning-rate decay over the planned run: {', '.join(SCHEDULES)}")
    warmup: float = _opt(0.0, "fraction of the planned run spent warming the rate up linearly from 0")
    lr_floor: float = _opt(0.0, "learning rate at the end of a cosine or linear schedule")
    lr_step: int = _opt(30, "step schedule: epochs between decays (a fraction lr_step/epochs of the run)")
    lr_gamma: float = _opt(0.1, "step schedule: factor per decay")
    weight_decay: float = _opt(0.0, "Adam weight decay")
    beta: float = _opt(0.02, "smooth-L1 transition on normalised coordinates (1 ≈ 125 mm)")
    augment: bool = _opt(True, "the paper's online augmentation: shift ±10 px, scale 0.9-1.1, rotation ±15°")
    center: str = _opt("com", "crop centre while training: com (depth centre of mass, as a single-pass "
                              "inference) or palm (true palm + jitter, mixed with com crops)")
    jitter_mm: float = _opt(4.5, "palm centre: Gaussian centre error per axis (mm), the second pass's error")
    com_fraction: float = _opt(0.5, "palm centre: share of samples cut at the centre of mass (first pass)")
    scenes: int = _opt(0, "palm centre: rendered scenes (arm to torso, border, artefacts, desk, two hands) whose "
                          "hands join the palm crops, left hands mirrored (0: none)")
    channels: int = _opt(128, "feature channels per block (the paper's 128)")
    fusion_channels: int = _opt(256, "width of the fusion module's 1x1 transforms")
    cube: float = _opt(250.0, "crop cube side (mm)")
    fold: int | None = _opt(None, "msra only: leave-one-subject-out fold, the held-out subject P<fold>")
    input_size: int = _opt(128, "crop side in pixels (the paper's 128)")
    init: str | None = _opt(None, "warm start: checkpoint folder whose weights the run starts from")
    bf16: bool | None = _opt(None, "CPU bfloat16 autocast; default: measured, on where faster (CUDA uses fp16 AMP)")
    channels_last: bool = _opt(True, "channels-last memory format")
    device: str = _opt("auto", "auto, cpu, cuda or cuda:N")
    threads: int = _opt(0, "torch threads per process; 0: measured (1 unless more is ≥1.2x faster)")
    seed: int = _opt(0, "random seed (sampling, augmentation, initialisation)")
    eval_every: int = _opt(0, "steps between held-out evaluations and checkpoints; 0: once per epoch")
    checkpoint_minutes: float | None = _opt(None, "also evaluate and checkpoint at least this often (minutes)")
    precise_bn: int = _opt(40, "before each evaluation and checkpoint, re-estimate the BatchNorm statistics on "
                               "this many augmented training batches with the weights fixed (the running "
                               "averages lag a network trained at a high rate); 0: off")
    max_steps: int | None = _opt(None, "stop after this many steps (the schedule ends there)")
    max_minutes: float | None = _opt(None, "wall-clock budget over all sessions of the run (the schedule ends there)")
    resume: bool = _opt(False, "continue the run in --out from its resume state")
    progress: bool = _opt(True, "progress bar on stderr")

    def __post_init__(self):
        for name in ("epochs", "batch_size", "lr_step", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not self.lr > 0 or not self.beta > 0:
            raise ValueError(f"lr and beta must be positive, got lr={self.lr}, beta={self.beta}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.center not in ("com", "palm"):
            raise ValueError(f"center must be 'com' or 'palm', got {self.center!r}")
        if not 0.0 <= self.com_fraction <= 1.0 or self.jitter_mm < 0:
            raise ValueError(f"need 0 ≤ com_fraction ≤ 1 and jitter_mm ≥ 0, got {self.com_fraction}, {self.jitter_mm}")
        if self.scenes < 0 or (self.scenes and self.center != "palm"):
            raise ValueError(f"scenes must be ≥ 0 and needs --center palm, got scenes={self.scenes}, "
                             f"center={self.center!r}")
        if self.precise_bn < 0:
            raise ValueError(f"precise_bn must be ≥ 0 batches (0: off), got {self.precise_bn}")
        if self.threads < 0:
            raise ValueError(f"threads must be ≥ 0 (0: measured), got {self.threads}")
