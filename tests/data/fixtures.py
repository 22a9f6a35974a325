"""Tiny datasets in each official on-disk format, written from known arrays.

The writers are the readers' inverse written independently of lfsdk (NumPy, PIL, scipy.io only), so a test
that writes known arrays and reads them back checks the reader against the format, not against itself.
Camera maths here is a plain NumPy pinhole (y down) — the independent reference for lfsdk.geometry.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

NYU_CAM = (588.03, 587.07, 320.0, 240.0)
ICVL_CAM = (241.42, 241.42, 160.0, 120.0)
MSRA_CAM = ICVL_CAM


def project(xyz: np.ndarray, cam) -> np.ndarray:
    """(..., 3) xyz (y down) → (..., 3) uvd with a plain pinhole."""
    fx, fy, cx, cy = cam
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    return np.stack((x * fx / z + cx, y * fy / z + cy, z), axis=-1)


def backproject(uvd: np.ndarray, cam) -> np.ndarray:
    fx, fy, cx, cy = cam
    u, v, d = uvd[..., 0], uvd[..., 1], uvd[..., 2]
    return np.stack(((u - cx) * d / fx, (v - cy) * d / fy, d), axis=-1)


@dataclass(frozen=True)
class Frames:
    depth: np.ndarray  # (N, H, W) uint16 mm
    xyz: np.ndarray  # (N, M, 3) float64 mm, y down
    uvd: np.ndarray  # (N, M, 3) float64


def hand_frames(n: int, joints: int, cam, size: tuple[int, int], distance: float, seed: int = 0,
                spread: float = 60.0, radius_mm: float = 12.0) -> Frames:
    """n frames of `joints` random 3D points around a hand centre, each drawn as a depth disc (z-buffered)
    so the nearest depth band holds the "hand"; background missing (0). size = (W, H)."""
    rng = np.random.default_rng(seed)
    w, h = size
    fx, fy, cx, cy = cam
    depth = np.zeros((n, h, w), np.uint16)
    xyz = np.empty((n, joints, 3))
    for i in range(n):
        z0 = distance + rng.uniform(-40, 40)
        c = np.array([rng.uniform(-0.15, 0.15) * z0 * w / fx, rng.uniform(-0.15, 0.15) * z0 * h / fy, z0])
        xyz[i] = c + rng.uniform(-spread, spread, size=(joints, 3))
        zbuf = np.full((h, w), np.inf)
        for p in xyz[i]:
            u, v, d = project(p, cam)
            r = radius_mm * fx / d
            u0, u1 = max(int(u - r), 0), min(int(u + r) + 2, w)
            v0, v1 = max(int(v - r), 0), min(int(v + r) + 2, h)
            vv, uu = np.mgrid[v0:v1, u0:u1]
            win = zbuf[v0:v1, u0:u1]
            disc = (uu - u) ** 2 + (vv - v) ** 2 <= r * r
            win[disc] = np.minimum(win[disc], d)
        depth[i] = np.where(np.isfinite(zbuf), np.round(zbuf), 0).astype(np.uint16)
    return Frames(depth, xyz, project(xyz, cam))


# ----------------------------------------------------------------------------------------------- NYU
def write_nyu_png(path: Path, depth: np.ndarray, seed: int = 0) -> None:
    """depth (H, W) uint16 → RGB PNG with G = high byte, B = low byte, R = noise (NYU carries no depth in R)."""
    rng = np.random.default_rng(seed)
    d = depth.astype(np.uint16)
    rgb = np.stack((rng.integers(0, 256, d.shape), d >> 8, d & 0xFF), axis=-1).astype(np.uint8)
    Image.fromarray(rgb, "RGB").save(path)


def write_nyu(root: Path, split: str, frames: Frames, *, y_up: bool = True, kinects: int = 3) -> Path:
    """ROOT/<split>/joint_data.mat + depth_1_XXXXXXX.png. frames hold all 36 joints (y down); the .mat gets
    them y-up (NYU's convention) for kinect 1 and shifted copies for the other kinects."""
    from scipy.io import savemat

    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    xyz_file = frames.xyz * (np.array([1.0, -1.0, 1.0]) if y_up else 1.0)
    views_uvd = np.stack([frames.uvd + 1000.0 * k for k in range(kinects)])  # (K, N, 36, 3)
    views_xyz = np.stack([xyz_file + 1000.0 * k for k in range(kinects)])
    names = np.empty((1, 36), dtype=object)
    names[0, :] = [f"J{j}" for j in range(36)]
    savemat(folder / "joint_data.mat", {"joint_uvd": views_uvd, "joint_xyz": views_xyz, "joint_names": names})
    for i, d in enumerate(frames.depth):
        write_nyu_png(folder / f"depth_1_{i + 1:07d}.png", d, seed=i)
        # other kinects' frames exist in the real dataset and must be ignored
        write_nyu_png(folder / f"depth_2_{i + 1:07d}.png", np.full_like(d, 7), seed=i)
    return folder


# ---------------------------------------------------------------------------------------------- ICVL
def write_icvl_png(path: Path, depth: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(depth.astype(np.uint16)).save(path)  # mode I;16 → 16-bit greyscale PNG


def icvl_label_line(name: str, uvd: np.ndarray) -> str:
    return name + " " + " ".join(repr(float(v)) for v in uvd.reshape(-1)) + " \n"  # trailing space as in ICVL


def write_icvl(root: Path, split: str, frames: Frames, sequences: dict[str, int] | None = None) -> list[str]:
    """Training/labels.txt + Training/Depth/<seq>/image_XXXX.png, or Testing/test_seq_{1,2}.txt + Testing/Depth.
    sequences: name → frame count, in order (default: one training sequence, or test_seq_1/test_seq_2 halves).
    Returns the relative names in label order."""
    n = len(frames.depth)
    if sequences is None:
        sequences = ({"201403121135": n} if split == "train"
                     else {"test_seq_1": n // 2, "test_seq_2": n - n // 2})
    folder = root / ("Training" if split == "train" else "Testing")
    folder.mkdir(parents=True, exist_ok=True)
    names, i = [], 0
    label_lines: dict[str, list[str]] = {}
    for seq, count in sequences.items():
        for k in range(count):
            name = f"{seq}/image_{k:04d}.png"
            write_icvl_png(folder / "Depth" / name, frames.depth[i])
            label_file = "labels" if split == "train" else seq
            label_lines.setdefault(label_file, []).append(icvl_label_line(name, frames.uvd[i]))
            names.append(name)
            i += 1
    for label_file, lines in label_lines.items():
        (folder / f"{label_file}.txt").write_text("".join(lines))
    return names


# ---------------------------------------------------------------------------------------------- MSRA
def write_msra_bin(path: Path, depth: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """depth (H, W) float → header (W, H, left, top, right, bottom) int32 + the box's float32 values."""
    left, top, right, bottom = box
    h, w = depth.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<6i", w, h, left, top, right, bottom))
        f.write(np.ascontiguousarray(depth[top:bottom, left:right], dtype="<f4").tobytes())


def msra_box(depth: np.ndarray, margin: int = 3) -> tuple[int, int, int, int]:
    """The bounding box (left, top, right, bottom), exclusive, of the non-zero pixels plus a margin."""
    rows, cols = np.nonzero(depth)
    h, w = depth.shape
    if rows.size == 0:
        return 0, 0, 0, 0
    return (max(int(cols.min()) - margin, 0), max(int(rows.min()) - margin, 0),
            min(int(cols.max()) + 1 + margin, w), min(int(rows.max()) + 1 + margin, h))


def write_msra_sequence(root: Path, subject: str, gesture: str, frames: Frames, depth: np.ndarray | None = None,
                        boxes: list[tuple[int, int, int, int]] | None = None) -> Path:
    """ROOT/<subject>/<gesture>/joint.txt (count, then x y z × 21 per line, y up and z negative as MSRA stores
    them) + 000000_depth.bin …; depth defaults to frames.depth (float32), boxes to each frame's hand box."""
    folder = root / subject / gesture
    folder.mkdir(parents=True, exist_ok=True)
    depth = frames.depth.astype(np.float32) if depth is None else depth
    file_xyz = frames.xyz * np.array([1.0, -1.0, -1.0])
    lines = [f"{len(depth)}\n"] + [" ".join(repr(float(v)) for v in row.reshape(-1)) + "\n" for row in file_xyz]
    (folder / "joint.txt").write_text("".join(lines))
    for i, d in enumerate(depth):
        write_msra_bin(folder / f"{i:06d}_depth.bin", d, boxes[i] if boxes else msra_box(d))
    return folder


def write_msra(root: Path, frames_per_sequence: int = 1, subjects=None, gestures=None, seed: int = 0,
               size=(320, 240)) -> dict[tuple[str, str], Frames]:
    """A full MSRA tree (every subject × gesture folder the protocol lists) with tiny sequences."""
    from lfsdk.data.protocol import MSRA_GESTURES, MSRA_SUBJECTS

    out = {}
    k = 0
    for s in subjects or MSRA_SUBJECTS:
        for g in gestures or MSRA_GESTURES:
            fr = hand_frames(frames_per_sequence, 21, MSRA_CAM, size, distance=350.0, seed=seed + k)
            write_msra_sequence(root, s, g, fr)
            out[(s, g)] = fr
            k += 1
    return out


# ------------------------------------------------------------------------------------------ end to end
TINY = ["--channels", "8", "--fusion-channels", "8"]


def run_eval(checkpoint: Path, dataset: str, root: Path, out: Path, *extra: str) -> dict:
    """`lfsdk-eval CHECKPOINT --dataset … --root …` in-process (the console script's entry point); the report."""
    import json

    from lfsdk.evaluate import main

    rc = main([str(checkpoint), "--dataset", dataset, "--root", str(root), "--out", str(out), *extra])
    assert rc == 0, f"lfsdk-eval exited {rc}"
    return json.loads((out / "eval.json").read_text())


def train_then_eval(dataset: str, root: Path, tmp: Path, *extra: str, eval_extra: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """`lfsdk-train --dataset … --root …` (1 epoch, a narrow 32×32-input net) then `lfsdk-eval` on its last/
    checkpoint, both in-process through the console scripts' entry points. Returns (train log, eval report)."""
    import json

    from lfsdk.train import main

    out = tmp / "run"
    rc = main(["--dataset", dataset, "--root", str(root), "--out", str(out), "--epochs", "1", "--batch-size", "2",
               *TINY, "--input-size", "32", "--threads", "1", "--no-progress", "--no-bf16", *extra])
    assert rc == 0, f"lfsdk-train exited {rc}"
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return log, run_eval(out / "last", dataset, root, tmp / "eval", *eval_extra)
