"""The `lfsdk` command. Each subcommand is a (configure, run) pair registered in COMMANDS with @command;
modules in PLUGINS (e.g. `lfsdk serve`) register theirs when imported. The `lfsdk-*` console scripts are
thin aliases of the same entry points.

    lfsdk demo                       the default model on the sample frames shipped in the package
    lfsdk estimate a.png b.npy -o out.json [--camera icvl] [--backend onnxruntime]
    lfsdk info [--model]             version, backends usable here (and why not the others), devices
"""
from __future__ import annotations

import argparse
import csv
import importlib
import json
import sys
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

__all__ = ["main", "COMMANDS", "command", "read_depth_file", "build_parser"]

#: name → (help, add_arguments(parser), run(args) -> exit code)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}
#: modules that register further subcommands when imported (skipped when not installed)
PLUGINS = ("lfsdk.serving.cli",)
DEPTH_SUFFIXES = (".png", ".npy")


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register `run(args) -> int` as `lfsdk NAME`."""
    def register(run):
        COMMANDS[name] = (help, add_arguments, run)
        return run
    return register


# -- depth files ---------------------------------------------------------------------------------------

def read_depth_file(path: str | Path) -> np.ndarray:
    """A depth file → (H, W) or (B, H, W) millimetres: a single-channel 16-bit PNG (uint16) or a .npy array
    of integers/floats (read without pickle). Anything else raises ValueError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    if p.suffix.lower() == ".npy":
        try:
            a = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{p}: not a readable .npy array ({e})") from None
        if a.dtype.kind not in "iuf" or a.ndim not in (2, 3):
            raise ValueError(f"{p}: not a depth image (array {a.dtype} of shape {a.shape}; expected (H, W) or "
                             "(B, H, W) integers or floats in mm)")
        return a
    if p.suffix.lower() == ".png":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(p) as img:
                mode = img.mode
                a = np.array(img)
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f"{p}: not a readable PNG ({e})") from None
        if mode not in ("I;16", "I;16B", "I;16L", "I") or a.ndim != 2:
            raise ValueError(f"{p}: not a depth image (PNG mode {mode}, shape {a.shape}; expected a "
                             "single-channel 16-bit PNG of millimetres)")
        if a.dtype != np.uint16:
            if a.min() < 0 or a.max() > 65535:
                raise ValueError(f"{p}: values {a.min()}..{a.max()} do not fit 16-bit depth in mm")
            a = a.astype(np.uint16)
        return a
    raise ValueError(f"{p}: unsupported file type {p.suffix or '(none)'!r}: expected a 16-bit .png or a .npy")


def _frames(files: list[str]) -> Iterator[tuple[str, int, np.ndarray]]:
    """(file, index within the file, (H, W) frame) for every frame of every file, read one file at a time."""
    for f in files:
        a = read_depth_file(f)
        for i, frame in enumerate(a if a.ndim == 3 else a[None]):
            yield f, i, frame


# -- shared options ------------------------------------------------------------------------------------

def _backend_args(p: argparse.ArgumentParser) -> None:
    from .backends.base import PRECISIONS, REGISTRY

    p.add_argument("--backend", default="auto", choices=["auto", *REGISTRY],
                   help="inference backend (default: auto, the fastest usable here)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--precision", default=None, choices=PRECISIONS, help="default: the backend's")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads for the CPU pre/post-processing (and the torch backend); "
                        "default 1: these ops are small, and on a 2-core machine a 320×240 frame's "
                        "preprocessing measured 128 ms with 2 threads against 0.7 ms with 1")


def _estimator(args: argparse.Namespace, **kw):
    import torch

    from .estimator import HandPoseEstimator

    if args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be ≥ 1, got {args.torch_threads}")
    torch.set_num_threads(args.torch_threads)  # the command owns its process: a global setting is fine here

    opts = dict(backend=args.backend, device=args.device, precision=args.precision, **kw)
    if getattr(args, "model", None):
        return HandPoseEstimator(args.model, **opts)
    return HandPoseEstimator.from_pretrained(**opts)


def _joint_names(skeleton: str, m: int) -> list[str]:
    try:
        from .data.skeletons import get_skeleton

        sk = get_skeleton(skeleton)
        if sk.num_joints == m:
            return list(sk.names)
    except (ImportError, ValueError):
        pass
    return [f"joint{j}" for j in range(m)]


# -- lfsdk info ----------------------------------------------------------------------------------------

def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="store_true", help="print the parameter/MAC table beside the paper's")
    p.add_argument("--joints", type=int, default=14, help="joint count M for --model (default 14, NYU)")


def _version(module: str) -> str:
    try:
        return str(importlib.import_module(module).__version__).split("-")[0]
    except ImportError:
        return "not installed"
    except Exception as e:  # a broken optional install must not break `lfsdk info`
        return f"broken ({type(e).__name__})"


@command("info", "version, backends usable here and why not the others, devices, model table", _info_args)
def info(args: argparse.Namespace) -> int:
    import os
    import platform

    import torch

    from . import __version__
    from .backends.base import availability
    from .model import LatentFusion, ModelConfig
    from .model.summary import format_summary

    print(f"lfsdk {__version__}  (python {platform.python_version()}, torch {torch.__version__}, onnxruntime "
          f"{_version('onnxruntime')}, openvino {_version('openvino')}, tensorrt {_version('tensorrt')})")
    print("\ndevices")
    print(f"  cpu     {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            print(f"  cuda:{i}  {p.name}, {p.total_memory / 2**30:.0f} GiB, sm_{p.major}{p.minor}")
    else:
        print("  cuda    none (torch sees no CUDA device)")
    print("\nbackends")
    for dev in ("cpu", "cuda"):  # both, so a CPU-only machine says what the GPU backends would need
        for name, ok in availability(dev).items():
            status = "usable" if ok.ok else f"not usable: {ok.reason}"
            print(f"  {name:<12} {dev:<5} {status}")
    try:
        from .pretrained import default_model_path
        from .model.checkpoint import read_config, resolve_checkpoint

        path = default_model_path()
        cfg = read_config(resolve_checkpoint(path)[1])
        print(f"\ndefault model  {path}\n  {cfg.num_joints} joints ({cfg.skeleton}), cube {cfg.cube_size} mm, "
              f"input {cfg.input_size}×{cfg.input_size}")
    except (ImportError, FileNotFoundError, ValueError) as e:
        print(f"\ndefault model  not available ({e})")
    if args.model:
        print()
        print(format_summary(LatentFusion(ModelConfig(num_joints=args.joints))))
    return 0


# -- lfsdk estimate ------------------------------------------------------------------------------------

def _estimate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="depth frames: 16-bit PNG (mm) or .npy (H, W) / (B, H, W)")
    p.add_argument("--model", help="checkpoint, .onnx or .engine (default: the embedded default model)")
    p.add_argument("--camera", default=None,
                   help="intrinsics: nyu, icvl, msra or fx,fy,cx,cy (default: the model's)")
    p.add_argument("-o", "--output", help="write .json or .csv (default: JSON on stdout)")
    p.add_argument("--batch", type=int, default=16, help="frames per network call (default 16)")
    p.add_argument("--draw", metavar="DIR", help="also write an overlay PNG per frame into DIR")
    _backend_args(p)


def _frame_record(name: str, index: int, r, joint_names: list[str]) -> dict:
    d = r.to_dict()
    return {"file": name, "index": index, "found": d["found"][0], "joints_xyz": d["joints_xyz"][0],
            "joints_uvd": d["joints_uvd"][0], "fusion_weights": d["fusion_weights"][0],
            "center_xyz": d["centers_xyz"][0], "box": d["boxes"][0]}


def _write_csv(path: Path, records: list[dict], joint_names: list[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "index", "found"] + [f"{j}_{a}_mm" for j in joint_names for a in "xyz"])
        for rec in records:
            vals = ["" if v is None else f"{v:.3f}" for joint in rec["joints_xyz"] for v in joint]
            w.writerow([rec["file"], rec["index"], int(rec["found"])] + vals)


@command("estimate", "estimate hand joints on depth files (16-bit PNG or .npy), write JSON or CSV", _estimate_args)
def estimate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .geometry import Camera

    if args.batch < 1:
        raise ValueError(f"--batch must be ≥ 1, got {args.batch}")
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"-o {out}: expected a .json or .csv file name")
    bad = [f for f in args.files if Path(f).suffix.lower() not in DEPTH_SUFFIXES]
    if bad:
        raise ValueError(f"{bad[0]}: unsupported file type: expected 16-bit .png or .npy depth frames")
    camera = Camera.parse(args.camera) if args.camera else None  # an unknown preset fails before any work
    est = _estimator(args, camera=camera)
    names = _joint_names(est.config.skeleton, est.config.num_joints)
    draw_dir = Path(args.draw) if args.draw else None
    if draw_dir:
        draw_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    pending: list[tuple[str, int, np.ndarray]] = []

    def flush():
        if not pending:
            return
        r = est(np.stack([f for _, _, f in pending]))
        for k, (name, idx, _) in enumerate(pending):
            records.append(_frame_record(name, idx, r[k], names))
            if draw_dir:
                from PIL import Image

                Image.fromarray(r.draw(k)).save(draw_dir / f"{Path(name).stem}_{idx}.png")
        bar.update(len({n for n, _, _ in pending}))
        pending.clear()

    with tqdm(total=len(args.files), unit="file", desc="estimate", disable=len(args.files) < 2,
              file=sys.stderr) as bar:
        for name, idx, frame in _frames(args.files):
            if pending and (len(pending) == args.batch or pending[0][2].shape != frame.shape):
                flush()
            pending.append((name, idx, frame))
        flush()
    doc = {"backend": est.backend.describe(), "camera": vars(est.camera), "cube_mm": list(est.cube),
           "skeleton": est.config.skeleton, "joint_names": names, "frames": records}
    if out is None:
        json.dump(doc, sys.stdout, indent=1)
        print()
    elif out.suffix.lower() == ".json":
        out.write_text(json.dumps(doc, indent=1) + "\n")
    else:
        _write_csv(out, records, names)
    found = sum(r["found"] for r in records)
    print(f"{len(records)} frames from {len(args.files)} files, hand found in {found}; backend "
          f"{est.backend.describe()}" + (f" → {out}" if out else ""), file=sys.stderr)
    return 0


# -- lfsdk demo ----------------------------------------------------------------------------------------

def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="lfsdk_demo.png", help="overlay picture (default lfsdk_demo.png)")
    p.add_argument("--iters", type=int, default=50, help="profiling iterations (default 50)")
    _backend_args(p)


def montage(images: list[np.ndarray], cols: int = 4) -> np.ndarray:
    """(H_i, W_i, 3) images → one grid picture, `cols` per row, cells the size of the largest, black around."""
    h, w = max(i.shape[0] for i in images), max(i.shape[1] for i in images)
    rows = -(-len(images) // cols)
    cols = min(cols, len(images))
    out = np.zeros((rows * h, cols * w, 3), np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        out[r * h:r * h + img.shape[0], c * w:c * w + img.shape[1]] = img
    return out


@command("demo", "run the default model on the sample frames shipped in the package: joints, stage times, "
                 "an overlay PNG", _demo_args)
def demo(args: argparse.Namespace) -> int:
    from PIL import Image

    from .pretrained import sample_frames

    if args.iters < 1:
        raise ValueError(f"--iters must be ≥ 1, got {args.iters}")
    samples = sample_frames()
    est = _estimator(args, camera=samples[0].camera)
    print(est)
    # one call per frame size (the shipped samples share one); results kept in sample order
    results = [est(s.depth) for s in samples]
    names = _joint_names(est.config.skeleton, est.config.num_joints)
    found = sum(bool(r.found[0]) for r in results)
    print(f"\n{len(samples)} sample frames ({', '.join(s.name for s in samples)}), hand found in {found}")
    errs = [np.linalg.norm(r.to_numpy().joints_xyz[0] - s.joints_xyz, axis=-1).mean()
            for r, s in zip(results, samples) if s.joints_xyz.shape == (est.config.num_joints, 3)]
    if errs:
        print(f"mean joint error against the frames' true joints: {np.nanmean(errs):.1f} mm "
              f"(per frame: {', '.join(f'{e:.1f}' for e in errs)})")
    r0 = results[0].to_numpy()
    print(f"\nframe 0 joints (camera mm), fusion weights {np.round(r0.fusion_weights[0], 3).tolist()}")
    print(f"  {'joint':<14}{'x':>9}{'y':>9}{'z':>9}")
    for name, (x, y, z) in zip(names, r0.joints_xyz[0]):
        print(f"  {name:<14}{x:9.1f}{y:9.1f}{z:9.1f}")
    print(f"\nper-stage time, batch 1 ({args.iters} iterations)")
    print(est.profile(samples[0].depth, iters=args.iters))
    out = Path(args.output)
    Image.fromarray(montage([r.draw(0) for r in results])).save(out)
    print(f"\noverlay of {len(results)} frames → {out}")
    return 0


# -- entry point ---------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    for module in PLUGINS:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional part not installed: its subcommand is simply absent
            pass
    parser = argparse.ArgumentParser(prog="lfsdk", description="Latent Fusion hand pose estimation")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, add_arguments, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        add_arguments(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args._run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # InputError, BackendUnavailable, CheckpointError
        print(f"lfsdk {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
