"""`lfsdk estimate FILES -o out.json`: hand joints on depth files (16-bit PNG or .npy), as JSON or CSV."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..geometry import Camera
from .common import DEPTH_SUFFIXES, add_backend_arguments, frames, joint_names, make_estimator

__all__ = ["HELP", "add_arguments", "run"]

HELP = "estimate hand joints on depth files (16-bit PNG or .npy), write JSON or CSV"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="depth frames: 16-bit PNG (mm) or .npy (H, W) / (B, H, W)")
    p.add_argument("--model", help="checkpoint, .onnx or .engine (default: the embedded default model)")
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


def run(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise ValueError(f"--batch must be ≥ 1, got {args.batch}")
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"-o {out}: expected a .json or .csv file name")
    bad = [f for f in args.files if Path(f).suffix.lower() not in DEPTH_SUFFIXES]
    if bad:
        raise ValueError(f"{bad[0]}: unsupported file type: expected 16-bit .png or .npy depth frames")
    camera = Camera.parse(args.camera) if args.camera else None  # an unknown preset fails before any work
    est = make_estimator(args, camera=camera)
    names = joint_names(est.config.skeleton, est.config.num_joints)
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
            records.append(_frame_record(name, idx, r[k]))
            if draw_dir:
                Image.fromarray(r.draw(k)).save(draw_dir / f"{Path(name).stem}_{idx}.png")
        bar.update(len({n for n, _, _ in pending}))
        pending.clear()

    with tqdm(total=len(args.files), unit="file", desc="estimate", disable=len(args.files) < 2,
              file=sys.stderr) as bar:
        for name, idx, frame in frames(args.files):
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
