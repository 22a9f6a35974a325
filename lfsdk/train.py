"""lfsdk-train: the paper's recipe (III-E.2) — Adam, batch 32, loss L = L_f + Σ_i L_i (smooth-L1 on
normalised cube coordinates), online augmentation — with a learning-rate schedule sized to the planned run,
precision and threads chosen by measurement, warm start, resumable runs and palm-centred crops.

    lfsdk-train --out runs/exp                                   # synthetic data, CPU or CUDA
    lfsdk-train --out runs/long --init lfsdk/assets/default --center palm --max-minutes 90
    lfsdk-train --out runs/long --resume                          # continue an interrupted run
    torchrun --nproc-per-node 2 -m lfsdk.train --out runs/ddp    # DistributedDataParallel (gloo/nccl)

Writes into --out: best/ and last/ (model.safetensors + config.json), resume.safetensors + resume.json (no
pickle), log.jsonl (one line per evaluation: step, samples seen, loss, held-out mm, lr, samples/s, seconds),
train_config.json, and the synthetic render cache in cache/ unless --root names another folder.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from lfsdk.data.augment import AugmentConfig, augment_batch, sample_params
from lfsdk.data.dataset import SYNTHETIC_SEEDS, make_dataset, synthetic_frames
from lfsdk.data.palm import PalmCropDataset, jitter_palm_batch, jitter_shift_px, mixed_sampler, sample_jitter
from lfsdk.data.scene_crops import scene_hand_frames, scene_palm_crops
from lfsdk.geometry import Camera
from lfsdk.model import LatentFusion, ModelConfig, latent_fusion_loss, load_model
from lfsdk.model.checkpoint import CheckpointError
from lfsdk.preprocess import PreprocessConfig
from lfsdk.train_config import TrainConfig
from lfsdk.model.precise_bn import recompute_bn_stats
from lfsdk.train_progress import bar_update, progress_bar, stop_on_signals, teardown
from lfsdk.train_record import Recorder, RunState
from lfsdk.train_schedule import lr_at, progress
from lfsdk.train_speed import choose_precision, choose_threads
from lfsdk.train_state import load_resume, save_resume

__all__ = ["TrainConfig", "train", "save_resume", "load_resume", "main"]


# --------------------------------------------------------------------------------------------- set-up
def _dist() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) when not distributed."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _device(cfg: TrainConfig, local_rank: int, world: int) -> torch.device:
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def _speed_choices(cfg: TrainConfig, mcfg: ModelConfig, device: torch.device, world: int) -> dict:
    """Threads and precision for this run: given ones are kept, the others measured (CPU only)."""
    if device.type == "cuda":
        return {"threads": cfg.threads or None, "bf16": False}
    per_proc = max(1, cfg.batch_size // world)
    threads = cfg.threads
    measured: dict = {}
    if not threads:
        cores = max(1, (os.cpu_count() or 1) // world)
        measured["threads"] = choose_threads(mcfg, per_proc, torch.bfloat16 if cfg.bf16 else None,
                                             sorted({1, cores}))
        threads = measured["threads"]["threads"]
    torch.set_num_threads(threads)
    bf16 = cfg.bf16
    if bf16 is None:
        measured["precision"] = choose_precision(mcfg, per_proc, threads)
        bf16 = measured["precision"]["bf16"]
    return {"threads": threads, "bf16": bool(bf16), "measured": measured}


def _preprocess(cfg: TrainConfig) -> PreprocessConfig:
    return PreprocessConfig(cube=(cfg.cube,) * 3, size=cfg.input_size)


def _datasets(cfg: TrainConfig, pre: PreprocessConfig, root: str, main_proc: bool, world: int):
    """(train set, val set, val depth frames or None). Rank 0 fills the render cache first."""
    opts = {} if cfg.dataset != "synthetic" else {"layout": cfg.layout, "camera": cfg.camera,
                                                   "workers": cfg.render_workers, "progress": cfg.progress and main_proc,
                                                   "render_device": cfg.render_device}
    if cfg.fold is not None:  # MSRA's leave-one-subject-out fold (lfsdk.data.msra); lfsdk-eval reads it back
        opts["fold"] = cfg.fold
    if world > 1 and not main_proc:
        torch.distributed.barrier()
    val_set = make_dataset(cfg.dataset, "val", root, pre, **opts, **({"n": cfg.val_size} if cfg.val_size else {}))
    if cfg.center == "palm":
        train_set, val_depth = _palm_sets(cfg, pre, root, opts, val_set)
    else:
        train_set = make_dataset(cfg.dataset, "train", root, pre, **opts,
                                 **({"n": cfg.train_size} if cfg.train_size else {}))
        val_depth = None
    if world > 1 and main_proc:
        torch.distributed.barrier()
    return train_set, val_set, val_depth


def _palm_sets(cfg: TrainConfig, pre: PreprocessConfig, root: str, opts: dict, val_set):
    """Palm-centred training crops need the frames themselves: synthetic only."""
    if cfg.dataset != "synthetic":
        raise ValueError(f"--center palm needs the synthetic dataset (frames with a palm), got {cfg.dataset!r}")
    cam = Camera.parse(cfg.camera)
    frames = synthetic_frames(cfg.train_size or 16000, SYNTHETIC_SEEDS["train"], cam, cfg.layout, cache_dir=root,
                              workers=opts["workers"], progress=opts["progress"],
                              render_device=opts["render_device"])
    train_set = PalmCropDataset(frames["depth"], frames["joints_uvd"], cam, pre, cfg.layout)
    if cfg.scenes:
        scenes = scene_hand_frames(cfg.scenes, cam, cfg.layout, cache_dir=root)
        train_set.add_palm_crops(*scene_palm_crops(scenes, cam, pre, cfg.layout))
    val = synthetic_frames(cfg.val_size or 500, SYNTHETIC_SEEDS["val"], cam, cfg.layout, cache_dir=root,
                           render_device=opts["render_device"])  # the frames val_set was cut from
    return train_set, torch.as_tensor(val["depth"])[val_set.kept]


def _model(cfg: TrainConfig, train_set, pre: PreprocessConfig, device: torch.device) -> LatentFusion:
    skeleton = cfg.layout if cfg.dataset == "synthetic" else cfg.dataset
    mcfg = ModelConfig(num_joints=train_set.num_joints, skeleton=skeleton, cube_size=pre.cube, input_size=pre.size,
                       channels=cfg.channels, fusion_channels=cfg.fusion_channels)
    model = LatentFusion(mcfg)
    if cfg.init and not cfg.resume:
        init = load_model(cfg.init)
        mismatch = {k: (getattr(init.config, k), getattr(mcfg, k)) for k in
                    ("num_joints", "input_size", "channels", "fusion_channels", "cube_size")
                    if getattr(init.config, k) != getattr(mcfg, k)}
        if mismatch:
            raise ValueError(f"--init {cfg.init}: checkpoint does not match the run (checkpoint, run): {mismatch}")
        model.load_state_dict(init.state_dict())
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if cfg.channels_last else model


def _restore(cfg: TrainConfig, out: Path, model: LatentFusion, optimizer, gen: torch.Generator) -> RunState:
    if not cfg.resume:
        return RunState()
    if not (out / "resume.json").is_file():
        raise CheckpointError(f"{out / 'resume.json'}: missing, nothing to resume")
    model.load_state_dict(load_model(out / "last").state_dict())
    meta, tensors = load_resume(out, optimizer)
    if "generator" in tensors:
        gen.set_state(tensors["generator"])
    return RunState(step=meta["step"], epoch=meta["epoch"], samples=meta.get("samples", 0), best=meta["best_val_mm"],
                seconds=meta.get("seconds", 0.0), history=meta["history"])


def _loader(cfg: TrainConfig, train_set, rank: int, world: int, gen: torch.Generator):
    per_proc = max(1, cfg.batch_size // world)
    if world > 1:
        sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=cfg.seed, drop_last=True)
    elif isinstance(train_set, PalmCropDataset):
        sampler = mixed_sampler(train_set, cfg.com_fraction, gen)
    else:
        sampler = RandomSampler(train_set, generator=gen)
    return DataLoader(train_set, batch_size=per_proc, sampler=sampler, drop_last=True, num_workers=0), sampler


# ------------------------------------------------------------------------------------------- one step
def _batch(cfg: TrainConfig, x, y, meta, gen: torch.Generator, cube) -> tuple[torch.Tensor, torch.Tensor]:
    """Augmentation (and, on palm crops, the centre jitter in place of the paper's uniform shift)."""
    size = x.shape[-1]
    params = sample_params(len(x), AugmentConfig(shift_px=AugmentConfig().shift_px * size / 128), gen)
    palm = meta.get("palm")
    delta = None
    if palm is not None and bool(palm.any()):
        delta = sample_jitter(len(x), cfg.jitter_mm, gen) * palm[:, None]
        params[:, :2] = torch.where(palm[:, None], jitter_shift_px(delta, cube, size), params[:, :2])
    if cfg.augment:
        x, y = augment_batch(x, y, params)
    elif delta is not None:
        x, y = augment_batch(x, y, torch.cat((params[:, :2] * palm[:, None], torch.ones(len(x), 1),
                                              torch.zeros(len(x), 1)), dim=1))
    if delta is not None:
        x, y = jitter_palm_batch(x, y, delta, cube)
    return x, y


def _step(net, optimizer, scaler, x, y, cfg: TrainConfig, device, amp_dtype, step: int) -> float:
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
    return loss.item()


def _precise_bn(cfg: TrainConfig, model: LatentFusion, train_set, pre: PreprocessConfig, device: torch.device,
                amp_dtype, step: int) -> int:
    """Re-estimate the BatchNorm statistics (lfsdk.model.precise_bn) on cfg.precise_bn augmented training
    batches, drawn with their own generator seeded by the step: the training sampler's state is untouched, so
    a resumed run draws what it would have. Returns the batches used."""
    if not cfg.precise_bn:
        return 0
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    loader, _ = _loader(cfg, train_set, 0, 1, gen)

    def batches():
        for i, (x, y, meta) in enumerate(loader):
            if i >= cfg.precise_bn:
                return
            x = _batch(cfg, x, y, meta, gen, pre.cube)[0].to(device)
            yield x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x

    return recompute_bn_stats(model, batches(), dtype=amp_dtype)


def _lr(cfg: TrainConfig, run: RunState, total_steps: int, elapsed: float) -> float:
    p = progress(run.step, min(total_steps, cfg.max_steps or total_steps), elapsed,
                 60 * cfg.max_minutes if cfg.max_minutes else None)
    return lr_at(p, cfg.lr, cfg.schedule, cfg.warmup, cfg.lr_floor, every=cfg.lr_step / cfg.epochs, gamma=cfg.lr_gamma)


def _extra(cfg: TrainConfig, pre: PreprocessConfig, choices: dict, world: int) -> dict:
    """config.extra of every checkpoint: how inference must cut crops (the PreprocessConfig the estimator reads
    back), where the training crops were centred, and the run."""
    centring = {"center": cfg.center}
    if cfg.center == "palm":
        centring.update(jitter_mm=cfg.jitter_mm, com_fraction=cfg.com_fraction, scenes=cfg.scenes)
    return {"preprocess": pre.to_dict(), "train_crops": centring, "dataset": cfg.dataset, "camera": cfg.camera,
            "train": asdict(cfg), "world_size": world, "bf16": choices["bf16"], "threads": choices["threads"]}


def _epochs(cfg: TrainConfig, run: RunState, loader, sampler, step_fn, record, stop_check) -> None:
    """The training loop over epochs: `step_fn(x, y, meta, epoch)` trains one batch; `record(epoch)`
    evaluates and checkpoints; `stop_check()` → (stop, checkpoint due)."""
    for epoch in range(run.epoch, cfg.epochs):
        run.epoch = epoch
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        for x, y, meta in loader:
            step_fn(x, y, meta)
            stop, due = stop_check()
            if due or stop:
                record()
            if stop:
                return
    record()


def train(cfg: TrainConfig) -> dict:
    """Train per `cfg`. Returns {'best_val_mm', 'initial_val_mm', 'steps', 'samples', 'out', 'history', 'speed'}
    (rank 0's view)."""
    rank, world, local_rank = _dist()
    device = _device(cfg, local_rank, world)
    torch.manual_seed(cfg.seed)
    out, main_proc = Path(cfg.out), rank == 0
    root = cfg.root if cfg.root is not None else str(out / "cache")
    if main_proc:
        _write_json(out / "train_config.json", asdict(cfg), indent=2)
    pre = _preprocess(cfg)
    train_set, val_set, val_depth = _datasets(cfg, pre, root, main_proc, world)
    model = _model(cfg, train_set, pre, device)
    choices = _speed_choices(cfg, model.config, device, world)
    if main_proc:
        _write_json(out / "speed.json", choices)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    run = _restore(cfg, out, model, optimizer, gen)
    net = _ddp(model, world, device)
    amp_dtype, scaler = _amp(device, choices["bf16"])
    loader, sampler = _loader(cfg, train_set, rank, world, gen)
    total_steps = cfg.epochs * len(loader)
    rec = Recorder(out, model, val_set, val_depth, cfg.layout, device, amp_dtype, _extra(cfg, pre, choices, world),
                   refresh_bn=lambda step: _precise_bn(cfg, model, train_set, pre, device, amp_dtype, step))
    t0, initial, last = time.time(), None, {"loss": float("nan"), "lr": cfg.lr, "t": time.time()}
    elapsed = lambda: run.seconds + time.time() - t0
    if main_proc and not cfg.resume:
        initial = rec.record(run, None, _lr(cfg, run, total_steps, 0.0), 0.0, optimizer, gen)["val_mm"]
    bar = progress_bar(cfg, main_proc, total_steps, run.step)

    def step_fn(x, y, meta):
        last["lr"] = _set_lr(optimizer, _lr(cfg, run, total_steps, elapsed()))
        x, y = _batch(cfg, x, y, meta, gen, pre.cube)
        last["loss"] = _step(net, optimizer, scaler, x, y, cfg, device, amp_dtype, run.step)
        run.step += 1
        run.samples += cfg.batch_size
        bar_update(bar, last, run.best)

    def stop_check():
        stop = interrupted.is_set() or (cfg.max_minutes is not None and elapsed() > 60 * cfg.max_minutes) or \
               (cfg.max_steps is not None and run.step >= cfg.max_steps) or run.step >= total_steps
        if world > 1:  # every process must agree to stop, or DDP hangs in the next all-reduce
            flag = torch.tensor([float(stop)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            stop = bool(flag.item())
        due = run.step % (cfg.eval_every or len(loader)) == 0 or (
            cfg.checkpoint_minutes is not None and time.time() - last["t"] > 60 * cfg.checkpoint_minutes)
        return stop, due and main_proc

    def record():
        if main_proc and (not run.history or run.history[-1]["step"] != run.step):
            rec.record(run, last["loss"], last["lr"], elapsed(), optimizer, gen)
            last["t"] = time.time()

    with stop_on_signals() as interrupted:
        _epochs(cfg, run, loader, sampler, step_fn, record, stop_check)
    teardown(bar, world)
    return {"best_val_mm": run.best, "initial_val_mm": initial, "steps": run.step, "samples": run.samples,
            "out": str(out), "history": run.history, "speed": choices}


def _ddp(model: LatentFusion, world: int, device: torch.device):
    """The model as the training step calls it: itself, or wrapped in DistributedDataParallel."""
    return model if world == 1 else torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> float:
    for g in optimizer.param_groups:
        g["lr"] = lr
    return lr


def _write_json(path: Path, obj, indent: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=indent) + "\n")


def _amp(device: torch.device, bf16: bool):
    """(autocast dtype or None, GradScaler): fp16 AMP on CUDA, bf16 autocast on a CPU where it is faster."""
    amp_dtype = torch.float16 if device.type == "cuda" else (torch.bfloat16 if bf16 else None)
    return amp_dtype, torch.amp.GradScaler("cuda", enabled=device.type == "cuda")


# ---------------------------------------------------------------------------------------------------- CLI
_TYPES = {"int": int, "float": float, "str": str, "int | None": int, "float | None": float, "str | None": str}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lfsdk-train", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"] + ("" if "default" in f.metadata["help"] else f" (default: {f.default})")
        if f.type in ("bool", "bool | None"):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text)
        else:
            p.add_argument(flag, type=_TYPES[f.type], default=f.default, metavar=f.name.upper(), help=help_text)
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
