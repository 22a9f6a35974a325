"""NYU Hand Pose Dataset (Tompson et al. 2014), read from its official layout:

    ROOT/train/joint_data.mat          joint_uvd, joint_xyz: (3 kinects, N, 36, 3)
    ROOT/train/depth_1_0000001.png …   640×480 RGB PNG, depth mm = (G << 8) | B; kinect 1 = frontal view
    ROOT/test/…                        the same for the 8252 test frames

    frames = open_nyu("/data/nyu_hand_dataset_v2", "test")      # LabelledFrames, 14 protocol joints
    frames[0].depth, frames[0].joints_xyz                         # (480, 640) float32 mm, (14, 3) mm

Format details, checked against public readers:
- Depth packing: DPP NYUImporter.loadDepthMap (PIL split r, g, b; `(g << 8) | b`), V2V data/NYU/PNG2BIN.m and
  A2J data/nyu/data_preprosess.m (MATLAB `depth(:,:,3) + bitsll(depth(:,:,2), 8)`: channel 3 = B low byte,
  channel 2 = G high byte) and PREN util.load_image (OpenCV BGR: `img[:,:,1] << 8 | img[:,:,0]`) all agree;
  the red channel carries no depth.
- Labels: `joint_xyz[0]` / `joint_uvd[0]` are kinect 1 (DPP `mat['joint_xyz'][0]`; V2V matio `[1]`, 1-based).
  Frame i (0-based) is depth_1_{i+1:07d}.png (DPP, V2V, A2J). joint_xyz is y-UP: DPP's NYU jointImgTo3D uses
  (uy − v), V2V's pixel2world (imgHeight/2 − y), A2J fy = −587.07. We negate y to lfsdk's y-down convention,
  and check it: joint_xyz projected by the NYU camera must land on joint_uvd.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from .registry import register_dataset
from .protocol import NYU, NYU_EVAL_JOINTS, NYU_JOINTS_36, NYU_KINECT
from .readers import (DatasetLayoutError, LabelledFrames, crop_dataset, keep_existing, reader_split, require_file, to_numpy_uvd)

__all__ = ["open_nyu", "read_nyu_depth", "read_joint_data", "nyu_depth_name", "nyu_dataset"]

#: Tolerance (px) between joint_uvd and projected joint_xyz; NYU derived one from the other with its camera,
#: so real data agrees to ~0.01 px. A y-sign mistake is off by hundreds of pixels.
_UVD_XYZ_TOLERANCE_PX = 2.0


def nyu_depth_name(frame: int, kinect: int = NYU_KINECT) -> str:
    """File name of 0-based label row `frame`: depth_<kinect>_<frame+1, 7 digits>.png."""
    return f"depth_{kinect}_{frame + 1:07d}.png"


def read_nyu_depth(path: str | os.PathLike) -> np.ndarray:
    """NYU depth PNG → (H, W) float32 mm: (G << 8) | B."""
    with Image.open(path) as im:
        if im.mode != "RGB":
            raise ValueError(f"{path}: NYU depth PNGs are RGB with depth in G (high byte) and B (low byte), "
                             f"got mode {im.mode}")
        rgb = np.asarray(im)
    return ((rgb[..., 1].astype(np.uint16) << 8) | rgb[..., 2]).astype(np.float32)


def read_joint_data(path: str | os.PathLike, kinect: int = NYU_KINECT) -> tuple[np.ndarray, np.ndarray]:
    """joint_data.mat → (joints_uvd, joints_xyz), each (N, 36, 3) float32 for `kinect` (1..3), xyz y-down."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), variable_names=["joint_uvd", "joint_xyz"])
    except Exception as e:  # noqa: BLE001 — scipy raises ValueError, IndexError, NotImplementedError… on non-v5 files
        raise ValueError(f"{path}: not a readable NYU joint_data.mat ({e})") from None
    out = []
    for key in ("joint_uvd", "joint_xyz"):
        if key not in mat:
            raise ValueError(f"{path}: no '{key}' variable (NYU's joint_data.mat has joint_uvd and joint_xyz)")
        a = mat[key]
        if a.ndim != 4 or a.shape[2:] != (NYU_JOINTS_36, 3) or not 1 <= kinect <= a.shape[0]:
            raise ValueError(f"{path}: {key} has shape {a.shape}, expected (kinects ≥ {kinect}, frames, "
                             f"{NYU_JOINTS_36}, 3)")
        out.append(np.asarray(a[kinect - 1], dtype=np.float32))
    uvd, xyz = out
    if uvd.shape != xyz.shape:
        raise ValueError(f"{path}: joint_uvd {uvd.shape} and joint_xyz {xyz.shape} differ in frame count")
    xyz = xyz * np.array([1.0, -1.0, 1.0], np.float32)  # NYU's y-up → lfsdk's y-down
    return uvd, xyz


def _check_conventions(path: Path, uvd: np.ndarray, xyz: np.ndarray) -> None:
    """Projected xyz must land on uvd (median over a sample of frames), else the y sign or camera is wrong."""
    sample = np.linspace(0, len(uvd) - 1, num=min(len(uvd), 256)).astype(np.int64)
    err = np.linalg.norm(to_numpy_uvd(xyz[sample], NYU.camera)[..., :2] - uvd[sample, :, :2], axis=-1)
    median = float(np.median(err)) if err.size else 0.0
    if median > _UVD_XYZ_TOLERANCE_PX:
        raise ValueError(f"{path}: joint_xyz (read as y-up, NYU's convention) projected with the NYU camera "
                         f"{NYU.camera} misses joint_uvd by {median:.1f} px (median); expected < "
                         f"{_UVD_XYZ_TOLERANCE_PX} px — not NYU's label convention")


def open_nyu(root: str | os.PathLike, split: Literal["train", "test"] = "train", *,
             joints: Literal["protocol", "all"] = "protocol", missing: Literal["error", "skip"] = "error",
             progress: bool = True) -> LabelledFrames:
    """The NYU `split` under `root` (the folder holding train/ and test/), kinect 1 (frontal view).

    joints: 'protocol' = the 14 evaluated joints (protocol.NYU_EVAL_JOINTS), 'all' = the 36 annotated ones.
    """
    root = Path(root)
    if split not in NYU.splits:
        raise ValueError(f"NYU split must be one of {NYU.splits}, got {split!r}")
    if joints not in ("protocol", "all"):
        raise ValueError(f"joints must be 'protocol' (14) or 'all' (36), got {joints!r}")
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a directory (expected the NYU root with train/ and test/)")
    folder = root / split
    mat = require_file(root, f"{split}/joint_data.mat", "NYU", f"the {split} labels joint_data.mat")
    uvd, xyz = read_joint_data(mat)
    _check_conventions(mat, uvd, xyz)
    paths = [folder / nyu_depth_name(i) for i in range(len(uvd))]
    keep = keep_existing(paths, f"NYU {split}", missing, progress)
    if len(keep) == 0:
        raise DatasetLayoutError(f"{folder}: no depth frames {nyu_depth_name(0)} … beside joint_data.mat")
    sel = np.asarray(NYU_EVAL_JOINTS if joints == "protocol" else range(NYU_JOINTS_36))
    protocol = NYU if joints == "protocol" else _nyu_all_joints()
    return LabelledFrames(protocol, split, root, [paths[i] for i in keep], xyz[keep][:, sel], uvd[keep][:, sel],
                          read_nyu_depth)


def _nyu_all_joints():
    """NYU's protocol with all 36 joints (same camera, cube, centre rule); centre joint = palm (index 32)."""
    from dataclasses import replace

    return replace(NYU, num_joints=NYU_JOINTS_36, center_joint=NYU_EVAL_JOINTS[NYU.center_joint])


@register_dataset("nyu")
def nyu_dataset(split: str, root: str | os.PathLike | None, preprocess, n: int | None = None,
                missing: Literal["error", "skip"] = "error", progress: bool = True):
    """`lfsdk-train --dataset nyu --root ROOT` / `lfsdk-eval`: crops of the 14 protocol joints.
    'val' is ≤ protocol.VAL_FRAMES evenly spaced test frames; n keeps n evenly spaced frames."""
    if root is None:
        raise DatasetLayoutError("NYU needs a root: the folder holding train/ and test/")
    frames = open_nyu(root, reader_split(split), missing=missing, progress=progress)
    return crop_dataset(frames, preprocess, split, n, progress)
