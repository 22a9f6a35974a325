"""lfsdk-train: the paper's recipe (III-E.2) by default — Adam, lr 1e-3 ÷10 every 30 epochs, 100 epochs,
batch 32, loss L = L_f + Σ_i L_i (smooth-L1 on normalised cube coordinates), online augmentation — with
every setting overridable from the command line.

    lfsdk-train --out runs/exp                                  # synthetic data, CPU or CUDA
    lfsdk-train --dataset synthetic --root runs/cache --bf16 --max-minutes 60
    torchrun --nproc-per-node 2 -m lfsdk.train --out runs/ddp   # DistributedDataParallel (gloo/nccl)

Writes into --out: best/ and last/ (model.safetensors + config.json, via lfsdk.model.save_checkpoint),
resume.safetensors + resume.json (optimizer tensors / everything else: no pickle), log.jsonl (one line per
evaluation: step, epoch, loss, held-out mm, lr, seconds), train_config.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from lfsdk.data.augment import AugmentConfig, augment_batch, sample_params
from lfsdk.data.dataset import PreprocessConfig, make_dataset
from lfsdk.evaluate import joint_errors, predict
from lfsdk.model import LatentFusion, ModelConfig, latent_fusion_loss, load_model, save_checkpoint
from lfsdk.model.checkpoint import CheckpointError

__all__ = ["TrainConfig", "train", "save_resume", "load_resume", "main"]


@dataclass(frozen=True)
class TrainConfig:
    out: str = "runs/train"
    dataset: str = "synthetic"
    root: str | None = "runs/cache"  # dataset folder; for synthetic, the render cache
    layout: str = "nyu"  # synthetic only: joint layout and camera preset
    camera: str = "icvl"
    train_size: int | None = None  # synthetic only: frames (None: the dataset's default)
    val_size: int | None = None
    render_workers: int = 1
    epochs: int = 100
    batch_size: int = 32  # global: divided among DDP processes
    lr: float = 1e-3
    lr_step: int = 30  # epochs between ÷10
    lr_gamma: float = 0.1
    lr_step_minutes: float | None = None  # instead of lr_step: ÷ by lr_gamma every this many wall-clock minutes
    weight_decay: float = 0.0
    beta: float = 0.02  # smooth-L1 transition on normalised coords (1 ≈ 125 mm: see README "Training")
    augment: bool = True
    channels: int = 128
    fusion_channels: int = 256
    cube: float = 250.0
    fold: int | None = None  # msra only: leave-one-subject-out fold, the held-out subject P<fold>
    input_size: int = 128  # crop side; the paper's 128 (smaller only for quick experiments and tests)
    bf16: bool = False  # CPU: bfloat16 autocast (AMX). CUDA always uses fp16 AMP.
    channels_last: bool = True
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    eval_every: int = 0  # steps between held-out evaluations; 0: once per epoch
    max_steps: int | None = None
    max_minutes: float | None = None  # wall-clock budget: stop, evaluate, keep the best
    resume: bool = False
    progress: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "lr_step", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not self.lr > 0 or not self.beta > 0:
            raise ValueError(f"lr and beta must be positive, got lr={self.lr}, beta={self.beta}")


# ------------------------------------------------------------------------------------------ resume state
def save_resume(directory: Path, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """resume.safetensors: optimizer tensors as state.<param>.<name>; resume.json: param groups + `state`."""
    from safetensors.torch import save_file

    opt = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in opt["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{pid}.{k}"] = v.detach().contiguous().cpu()
            else:
                scalars[f"{pid}.{k}"] = v
    save_file(tensors, str(directory / "resume.safetensors.tmp"))
    meta = {"param_groups": opt["param_groups"], "scalars": scalars, **state}
    (directory / "resume.json.tmp").write_text(json.dumps(meta, indent=1))
    os.replace(directory / "resume.safetensors.tmp", directory / "resume.safetensors")
    os.replace(directory / "resume.json.tmp", directory / "resume.json")


def load_resume(directory: Path, optimizer: torch.optim.Optimizer) -> dict:
    """Restore the optimizer from save_resume's files; returns the saved training state (step, epoch, ...)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tpath, jpath = directory / "resume.safetensors", directory / "resume.json"
    try:
        meta = json.loads(jpath.read_text())
        tensors = load_file(str(tpath))
    except (OSError, ValueError, SafetensorError) as e:
        raise CheckpointError(f"{directory}: unreadable resume state ({e})") from None
    state: dict = {}
    for key, v in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = v
    for key, v in meta.pop("scalars").items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{jpath}: optimizer state does not match the model ({e})") from None
    return meta


# ------------------------------------------------------------------------------------------------ train
def _dist() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) when not distributed."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _lr(cfg: TrainConfig, epoch: int, seconds: float) -> float:
    """Step decay by epochs (the paper), or by wall-clock time for a time-budgeted run on a shared machine."""
    if cfg.lr_step_minutes:
        return cfg.lr * cfg.lr_gamma ** int(seconds // (60 * cfg.lr_step_minutes))
    return cfg.lr * cfg.lr_gamma ** (epoch // cfg.lr_step)


def _held_out_mm(model: LatentFusion, data, device, dtype) -> float:
    p = predict(model, data, 64, device, dtype)
    return float(joint_errors(p["xyz"], p["true_xyz"]).mean())


def train(cfg: TrainConfig) -> dict:
    """Train per `cfg`. Returns {'best_val_mm', 'initial_val_mm', 'steps', 'out'} (rank 0's view)."""
    rank, world, local_rank = _dist()
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    main_proc = rank == 0
    if main_proc:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")

    pre = PreprocessConfig(cube=(cfg.cube,) * 3, size=cfg.input_size)
    # the paper's ±10 px is on a 128-pixel crop: keep the same fraction of the crop at other sizes
    aug = AugmentConfig(shift_px=AugmentConfig().shift_px * cfg.input_size / 128)
    opts = {} if cfg.dataset != "synthetic" else {"layout": cfg.layout, "camera": cfg.camera,
                                                   "workers": cfg.render_workers, "progress": cfg.progress and main_proc}
    if cfg.fold is not None:  # MSRA's leave-one-subject-out fold (lfsdk.data.msra); lfsdk-eval reads it back
        opts["fold"] = cfg.fold
    # Rank 0 fills the render cache first; the others then read it.
    if world > 1 and not main_proc:
        torch.distributed.barrier()
    train_set = make_dataset(cfg.dataset, "train", cfg.root, pre, **opts,
                             **({"n": cfg.train_size} if cfg.train_size else {}))
    val_set = make_dataset(cfg.dataset, "val", cfg.root, pre, **opts, **({"n": cfg.val_size} if cfg.val_size else {}))
    if world > 1 and main_proc:
        torch.distributed.barrier()

    mcfg = ModelConfig(num_joints=train_set.num_joints, skeleton=cfg.layout if cfg.dataset == "synthetic" else cfg.dataset,
                       cube_size=pre.cube, input_size=pre.size, channels=cfg.channels,
                       fusion_channels=cfg.fusion_channels)
    model = LatentFusion(mcfg).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, epoch0, best, history = 0, 0, math.inf, []
    if cfg.resume:
        if not (out / "resume.json").is_file():
            raise CheckpointError(f"{out / 'resume.json'}: missing, nothing to resume")
        model.load_state_dict(load_model(out / "last").state_dict())
        meta = load_resume(out, optimizer)
        step, epoch0, best, history = meta["step"], meta["epoch"], meta["best_val_mm"], meta["history"]
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    cuda = device.type == "cuda"
    amp_dtype = torch.float16 if cuda else (torch.bfloat16 if cfg.bf16 else None)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    per_proc = max(1, cfg.batch_size // world)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    sampler = (DistributedSampler(train_set, world, rank, shuffle=True, seed=cfg.seed, drop_last=True) if world > 1
               else RandomSampler(train_set, generator=gen))
    loader = DataLoader(train_set, batch_size=per_proc, sampler=sampler, drop_last=True, num_workers=0)
    steps_per_epoch = len(loader)
    eval_every = cfg.eval_every or steps_per_epoch
    extra = {"preprocess": pre.to_dict(), "dataset": cfg.dataset, "camera": cfg.camera, "train": asdict(cfg),
             "world_size": world}
    t0 = time.time()
    initial = _held_out_mm(model, val_set, device, amp_dtype) if main_proc and not cfg.resume else None
    if initial is not None:
        history.append({"step": 0, "epoch": 0, "loss": None, "val_mm": initial, "lr": cfg.lr, "seconds": 0.0})
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(history[-1]) + "\n")
    last_loss, stop = float("nan"), False
    bar = None
    if main_proc and cfg.progress:
        from tqdm import tqdm
        total = min(cfg.epochs * steps_per_epoch, cfg.max_steps or 1 << 60)
        bar = tqdm(total=total, initial=step, unit="step", dynamic_ncols=True, file=sys.stderr)

    def checkpoint(epoch: int) -> None:
        nonlocal best
        val = _held_out_mm(model, val_set, device, amp_dtype)
        rec = {"step": step, "epoch": epoch, "loss": last_loss, "val_mm": val, "lr": optimizer.param_groups[0]["lr"],
               "seconds": round(time.time() - t0, 1)}
        history.append(rec)
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        if val < best:
            best = val
            save_checkpoint(model, out / "best", **extra, step=step, epoch=epoch, val_mm=val)
        save_checkpoint(model, out / "last", **extra, step=step, epoch=epoch, val_mm=val)
        save_resume(out, optimizer, {"step": step, "epoch": epoch, "best_val_mm": best, "history": history})
        if bar is not None:
            bar.set_postfix(loss=f"{last_loss:.4f}", val_mm=f"{val:.2f}", best=f"{best:.2f}")

    for epoch in range(epoch0, cfg.epochs):
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        net.train()
        for x, y, _ in loader:
            for g in optimizer.param_groups:
                g["lr"] = _lr(cfg, epoch, time.time() - t0)
            if cfg.augment:
                x, y = augment_batch(x, y, sample_params(len(x), aug, gen))
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                output = net(x)
            loss = latent_fusion_loss(output, y, beta=cfg.beta).total
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}: lower --lr or check the data")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            last_loss = loss.item()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{last_loss:.4f}", best=f"{best:.2f}" if best < math.inf else "-", epoch=epoch)
            out_of_time = cfg.max_minutes is not None and time.time() - t0 > 60 * cfg.max_minutes
            stop = out_of_time or (cfg.max_steps is not None and step >= cfg.max_steps)
            if world > 1:  # every process must agree to stop, or DDP hangs in the next all-reduce
                flag = torch.tensor([float(stop)], device=device)
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                stop = bool(flag.item())
            if main_proc and (step % eval_every == 0 or stop):
                checkpoint(epoch)
            if stop:
                break
        if stop:
            break
    if bar is not None:
        bar.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return {"best_val_mm": best, "initial_val_mm": initial, "steps": step, "out": str(out), "history": history}


# ---------------------------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lfsdk-train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool",):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            conv = {"int": int, "float": float, "int | None": int, "float | None": float}.get(f.type, str)
            p.add_argument(flag, type=conv, default=f.default, metavar=f.name.upper())
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = TrainConfig(**vars(args))
    except ValueError as e:
        print(f"lfsdk-train: {e}", file=sys.stderr)
        return 2
    try:
        result = train(cfg)
    except (ValueError, CheckpointError) as e:
        print(f"lfsdk-train: {e}", file=sys.stderr)
        return 1
    if _dist()[0] == 0:
        print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
