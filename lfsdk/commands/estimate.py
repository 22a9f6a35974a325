"""`lfsdk estimate FILES -o out.json`: hand joints on depth files (16-bit PNG or .npy), as JSON or CSV.

A file that cannot be read or holds no usable depth is reported on one line naming it and skipped; the
other files' frames are written, and the exit status is 2 when any file failed."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from typing import Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..inputs import as_camera, as_depth_batch
from .common import DEPTH_SUFFIXES, add_backend_arguments, add_model_argument, joint_names, make_estimator, read_depth_file

__all__ = ["HELP", "add_arguments", "run"]

HELP = "estimate hand joints on depth files (16-bit PNG or .npy), write JSON or CSV"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="depth frames: 16-bit PNG (mm) or .npy (H, W) / (B, H, W)")
    add_model_argument(p)
    p.add_argument("--camera", default=None,
                   help="intrinsics: nyu, icvl, msra or fx,fy,cx,cy (default: the model's)")
    p.add_argument("-o", "--output", help="write .json or .csv (default: JSON on stdout)")
    p.add_argument("--batch", type=int, default=16, help="frames per network call (default 16)")
    p.add_argument("--draw", metavar="DIR", help="also write an overlay PNG per frame into DIR")
    add_backend_arguments(p)


def _frame_record(name: str, index: int, r) -> dict:
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


def _check_outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """(-o file, --draw folder), checked before any work so a run never ends failing to write."""
    out = Path(args.output) if args.output else None
    if out is not None:
        if out.suffix.lower() not in (".json", ".csv"):
            raise ValueError(f"-o {out}: expected a .json or .csv file name")
        if out.is_dir():
            raise ValueError(f"-o {out}: is a directory, expected a .json or .csv file name")
        if not out.parent.is_dir():
            raise ValueError(f"-o {out}: folder {out.parent} does not exist")
    draw = Path(args.draw) if args.draw else None
    if draw is not None and draw.exists() and not draw.is_dir():
        raise ValueError(f"--draw {draw}: is a file, expected a folder for the overlay PNGs")
    return out, draw


def _checked_frames(files: list[str], errors: list[str]) -> Iterator[tuple[str, int, np.ndarray]]:
    """(file, index, (H, W) frame) of every file that reads and passes the estimator's input checks; each
    other file adds one line to `errors` (naming it) and is skipped, so one bad file does not stop the run."""
    for f in files:
        try:
            if Path(f).suffix.lower() not in DEPTH_SUFFIXES:
                raise ValueError(f"{f}: unsupported file type: expected 16-bit .png or .npy depth frames")
            a = read_depth_file(f)
            as_depth_batch(a)
        except (ValueError, OSError) as e:  # InputError, unreadable files; FileNotFoundError is an OSError
            errors.append(str(e) if str(f) in str(e) else f"{f}: {e}")
            continue
        for i, frame in enumerate(a if a.ndim == 3 else a[None]):
            yield f, i, frame


def _estimate(est, files: list[str], batch: int, draw_dir: Path | None, errors: list[str]) -> list[dict]:
    records: list[dict] = []
    pending: list[tuple[str, int, np.ndarray]] = []

    def flush():
        try:
            r = est(np.stack([f for _, _, f in pending]))
        except ValueError as e:  # frames that passed the file checks: not expected, but reported per file
            errors.extend(f"{name}: {e}" for name in dict.fromkeys(n for n, _, _ in pending))
            r = None
        for k, (name, idx, _) in enumerate(pending if r is not None else []):
            records.append(_frame_record(name, idx, r[k]))
            if draw_dir:
                Image.fromarray(r.draw(k)).save(draw_dir / f"{Path(name).stem}_{idx}.png")
        pending.clear()

    with tqdm(total=len(files), unit="file", desc="estimate", disable=len(files) < 2, file=sys.stderr) as bar:
        last = None
        for name, idx, frame in _checked_frames(files, errors):
            if pending and (len(pending) == batch or pending[0][2].shape != frame.shape):
                flush()
            pending.append((name, idx, frame))
            if name != last:
                bar.update()
                last = name
        if pending:
            flush()
    return records


def run(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise ValueError(f"--batch must be ≥ 1, got {args.batch}")
    out, draw_dir = _check_outputs(args)
    camera = as_camera(args.camera) if args.camera is not None else None  # fails before any work
    est = make_estimator(args, camera=camera)
    names = joint_names(est.config.skeleton, est.config.num_joints)
    if draw_dir:
        draw_dir.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    records = _estimate(est, args.files, args.batch, draw_dir, errors)
    for line in errors:
        print(f"lfsdk estimate: error: {line}", file=sys.stderr)
    if not records:
        return 2 if errors else 0
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
    good = len(args.files) - len(errors)
    print(f"{len(records)} frames from {good} files, hand found in {found}; backend {est.backend.describe()}"
          + (f" → {out}" if out else "") + (f"; {len(errors)} files failed (above)" if errors else ""),
          file=sys.stderr)
    return 2 if errors else 0
