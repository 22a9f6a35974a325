"""The evaluation protocol of the paper's three datasets, in one place: cameras, image sizes, cube sizes,
joint subsets, train/test splits, MSRA's leave-one-subject-out folds and the hand-centre rule.

Every constant names the public reader(s) it was checked against (GitHub repo: path). Where those readers
disagree, the comment says which one we follow and why. The paper itself (Latent Fusion, IEEE Access
2020, IV-A) gives only the frame counts, NYU's "14 of 36 joints" and MSRA's leave-one-subject-out
cross-validation; for the rest it follows "prior works [10], [12], [14], [17]" (DeepPrior, REN,
DeepPrior++, Pose-REN).

References, abbreviated below:
  DPP   moberweger/deep-prior-pp: src/data/importers.py (NYUImporter, ICVLImporter, MSRA15Importer)
  V2V   mks0601/V2V-PoseNet_RELEASE: src/data/{NYU,ICVL,MSRA}/data.lua, data/NYU/PNG2BIN.m
  V2Vpt dragonbook/V2V-PoseNet-pytorch: datasets/msra_hand.py
  A2J   zhangboshen/A2J: src/nyu.py, data/nyu/data_preprosess.m, data/icvl/data_preprosess.m
  PREN  xinghaochen/Pose-REN: src/utils/util.py, src/utils/model_pose_ren.py, src/testing/predict.py

Coordinates: every reader returns camera xyz in lfsdk.geometry's convention (y DOWN the image, z = depth
> 0). NYU's joint_xyz and MSRA's joint.txt are stored y-up (and MSRA with z < 0); the readers convert.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ..geometry import Camera, uvd_to_xyz, xyz_to_uvd

__all__ = [
    "CenterRule", "DatasetProtocol", "NYU", "ICVL", "MSRA", "PROTOCOLS", "get_protocol",
    "NYU_JOINTS_36", "NYU_EVAL_JOINTS", "NYU_KINECT", "NYU_TRAIN_FRAMES", "NYU_TEST_FRAMES",
    "ICVL_TEST_SEQUENCES", "ICVL_TEST_FRAMES", "ICVL_TRAIN_FRAMES",
    "MSRA_SUBJECTS", "MSRA_GESTURES", "MSRA_SUBJECT_FRAMES", "MSRA_FAULTY_FRAMES", "msra_fold",
    "PAPER_MEAN_ERROR_MM", "hand_centers",
    "DatasetLayoutError", "Frame", "LabelledFrames", "require_file", "keep_existing", "to_numpy_uvd", "to_numpy_xyz",
    "VAL_FRAMES", "evenly_spaced", "reader_split", "DepthStack", "crop_dataset",
]


@dataclass(frozen=True)
class CenterRule:
    """How the crop centre of a frame is found.

    kind "com":   centre of mass of the valid pixels within `band` mm behind the nearest pixel in (near, far)
                  (lfsdk.kernels.hand_center). This is the paper's rule: "simple hand
                  segmentation ... naive depth thresholding and fixed-size cube" (IV-B.1, on NYU).
    kind "joint": a ground-truth joint (index into the protocol's joints), as DPP does for training crops
                  (`cropArea3D(com=gtorig[crop_joint_idx])`). Useful for training where COM fails.

    `hand_centers` applies a rule. lfsdk-train/lfsdk-eval crop through lfsdk.data.dataset.HandCropDataset with
    the same band (150 mm) but the kernels' default near/far (10/2000 mm) — the inference rule, so training
    sees inference's centring; the per-dataset near/far below (V2V's depth ranges) only narrow that window.
    """

    kind: Literal["com", "joint"]
    near: float = 10.0  # mm
    far: float = 2000.0  # mm
    band: float = 150.0  # mm behind the nearest valid pixel
    joint: Optional[int] = None

    def __post_init__(self):
        if self.kind not in ("com", "joint"):
            raise ValueError(f"CenterRule.kind must be 'com' or 'joint', got {self.kind!r}")
        if self.kind == "joint" and self.joint is None:
            raise ValueError("CenterRule(kind='joint') needs the joint index")
        if not 0 <= self.near < self.far:
            raise ValueError(f"CenterRule needs 0 ≤ near < far, got near={self.near}, far={self.far}")


@dataclass(frozen=True)
class DatasetProtocol:
    """One dataset's protocol. `cube` is the crop cube (x, y, z) in mm; `image_size` is (width, height)."""

    name: str
    camera: Camera
    image_size: tuple[int, int]
    num_joints: int
    cube: tuple[float, float, float]
    center: CenterRule
    splits: tuple[str, ...]
    center_joint: int  # the palm-like joint used by CenterRule(kind="joint") (DPP crop_joint_idx)

    def center_rule(self, kind: str | None = None) -> CenterRule:
        """The protocol's rule, or the same thresholds with another kind ('com' | 'joint')."""
        if kind is None or kind == self.center.kind:
            return self.center
        return CenterRule(kind, self.center.near, self.center.far, self.center.band,
                          self.center_joint if kind == "joint" else None)


# ---------------------------------------------------------------------------------------------- NYU
#: NYU's 36 annotated joints → the 14 the field evaluates ("14 joints from the frontal view", paper IV-A.2).
#: DPP NYUImporter.restrictedJointsEval = [0, 3, 6, ..., 32]; V2V data/NYU eval_joint = {1, 4, ..., 33}
#: (1-based, same joints). Order kept as in both: pinky tip, pinky mid, ring tip, ring mid, middle tip,
#: middle mid, index tip, index mid, thumb tip, thumb mid, thumb root, wrist back, wrist, palm (V2V's comment).
NYU_JOINTS_36 = 36
NYU_EVAL_JOINTS: tuple[int, ...] = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
#: Kinect 1 is the frontal view: DPP reads joint_xyz[0] and depth_1_*.png; V2V "#1 kinect camera (front view)".
NYU_KINECT = 1
#: Frame counts: paper IV-A.2 (72757 train, 8252 test); V2V trainSz/testSz; A2J tot_frame_num.
NYU_TRAIN_FRAMES = 72757
NYU_TEST_FRAMES = 8252

NYU = DatasetProtocol(
    name="nyu",
    # DPP NYUImporter(588.03, 587.07, 320, 240); PREN get_param('nyu') the same; V2V 588.036865, 587.075073
    # (NYU's own convert_xyz_to_uvd coefficients, < 0.001 % apart). lfsdk.geometry's preset.
    camera=Camera.nyu(),
    image_size=(640, 480),
    num_joints=len(NYU_EVAL_JOINTS),
    # Cube: V2V cubicSz = 250; DPP 300 (250 for its test_2 subject); PREN 150 half-size = 300. We follow
    # V2V (and lfsdk's ModelConfig default, DESIGN.md §1): the tighter cube keeps more crop pixels on the hand.
    cube=(250.0, 250.0, 250.0),
    # Depth band of the hand: V2V minDepth 300 / maxDepth 1200 mm for NYU.
    center=CenterRule("com", near=300.0, far=1200.0, band=150.0),
    splits=("train", "test"),
    center_joint=13,  # palm (36-index 32); DPP crop_joint_idx = 13 on the 14-joint subset
)

# --------------------------------------------------------------------------------------------- ICVL
#: Test sequences and their frame counts: A2J data_preprosess.m "frameNum = 702+894"; V2V testSz = 1596
#: reading Testing/test_seq_1.txt then test_seq_2.txt; paper IV-A.1 "1596 samples for testing".
ICVL_TEST_SEQUENCES: tuple[str, ...] = ("test_seq_1", "test_seq_2")
ICVL_TEST_FRAMES: dict[str, int] = {"test_seq_1": 702, "test_seq_2": 894}
#: Training/labels.txt lines, in-plane rotation augmentations included: V2V trainSz = 331006, A2J 331006;
#: paper IV-A.1 "330K frames for training". (DPP can keep only the unrotated subsequences; we read all.)
ICVL_TRAIN_FRAMES = 331006

ICVL = DatasetProtocol(
    name="icvl",
    # DPP ICVLImporter(241.42, 241.42, 160, 120) "see Qian et al."; V2V fx = fy = 241.42 with imgWidth/2,
    # imgHeight/2. PREN get_param('icvl') says 240.99, 240.96 — we follow DPP and V2V (two against one).
    camera=Camera.icvl(),
    image_size=(320, 240),
    num_joints=16,
    # Cube: DPP default_cubes 250; V2V cubicSz 200; PREN 300. We follow DPP (lfsdk's 250 default).
    cube=(250.0, 250.0, 250.0),
    # V2V minDepth 100 / maxDepth 600 for ICVL (PREN get_center: 1..650 mm).
    center=CenterRule("com", near=100.0, far=600.0, band=150.0),
    splits=("train", "test"),
    center_joint=0,  # palm; DPP ICVLImporter.crop_joint_idx = 0
)

# --------------------------------------------------------------------------------------------- MSRA
#: Subjects P0..P8 and the 17 gesture folders: V2V folder_list, V2Vpt folder_list (same list and order).
MSRA_SUBJECTS: tuple[str, ...] = tuple(f"P{i}" for i in range(9))
MSRA_GESTURES: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9",
                                  "I", "IP", "L", "MP", "RP", "T", "TIP", "Y")
#: Frames per subject, from PREN src/testing/predict.py msra_id_split_range (cumulative 8499 … 76375);
#: paper IV-A.3 "76K frames from 9 different subjects". Informational: readers count from joint.txt.
MSRA_SUBJECT_FRAMES: dict[str, int] = dict(zip(MSRA_SUBJECTS, (8499, 8492, 8412, 8488, 8500, 8497, 8497, 8498,
                                                               8492)))
#: Frames DPP's MSRA15Importer docstring lists as faulty (kept: the protocol evaluates every frame).
MSRA_FAULTY_FRAMES: dict[str, tuple[int, ...]] = {
    "P2/TIP": (172, 173, 174), "P2/MP": (173, 174, 175, *range(345, 355), 356, 359, 360),
    "P3/T": (120, 489), "P8/4": (168,),
}

MSRA = DatasetProtocol(
    name="msra",
    # DPP MSRA15Importer(241.42, 241.42, 160, 120) "see Sun et al."; V2V/V2Vpt fx = fy = 241.42 at the
    # image centre of 320×240; PREN get_param('msra') the same.
    camera=Camera.msra(),
    image_size=(320, 240),
    num_joints=21,
    # Cube: V2V cubicSz 200; DPP 200 for P0–P2, 180/170/160/150 for the smaller hands of P3–P8; PREN 300.
    # We follow V2V (one cube for every fold; DESIGN.md §1): a per-subject cube leaks the test subject's size.
    cube=(200.0, 200.0, 200.0),
    # V2V minDepth 100 / maxDepth 700 for MSRA.
    center=CenterRule("com", near=100.0, far=700.0, band=150.0),
    splits=("train", "test"),
    center_joint=5,  # middle MCP; DPP MSRA15Importer.crop_joint_idx = 5
)

PROTOCOLS: dict[str, DatasetProtocol] = {p.name: p for p in (NYU, ICVL, MSRA)}

#: The paper's Table 1 mean 3D joint errors for Latent Fusion (mm). MSRA's is over the test frames of all 9
#: folds pooled, as DPP main_msra15_posereg_embedding_crossval.py reports its cross-validation.
PAPER_MEAN_ERROR_MM: dict[str, float] = {"icvl": 5.81, "nyu": 9.69, "msra": 7.90}


def get_protocol(name: str) -> DatasetProtocol:
    key = str(name).strip().lower()
    if key not in PROTOCOLS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[key]


def msra_fold(fold: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Leave-one-subject-out fold `fold` (0..8) → (train subjects, test subjects). V2V test_model, V2Vpt
    test_subject_id and DPP main_msra15_posereg_embedding_crossval.py (fold icv) all hold out subject P<fold>."""
    if not isinstance(fold, (int, np.integer)) or not 0 <= fold < len(MSRA_SUBJECTS):
        raise ValueError(f"MSRA fold must be an integer in 0..{len(MSRA_SUBJECTS) - 1} (the held-out subject), "
                         f"got {fold!r}")
    test = MSRA_SUBJECTS[fold]
    return tuple(s for s in MSRA_SUBJECTS if s != test), (test,)


def hand_centers(protocol: DatasetProtocol, depth: torch.Tensor, joints_uvd: torch.Tensor | None = None,
                 rule: CenterRule | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop centres by the protocol's rule. depth (B, H, W) mm; joints_uvd (B, M, 3) (needed for kind
    'joint'). Returns (centres_uvd (B, 3), found (B,) bool)."""
    from ..kernels import hand_center

    rule = rule or protocol.center
    if rule.kind == "joint":
        if joints_uvd is None:
            raise ValueError(f"{protocol.name}: CenterRule(kind='joint') needs joints_uvd")
        c = joints_uvd[:, rule.joint].to(torch.float32)
        return c, c[:, 2] > 0
    hc = hand_center(depth, protocol.camera, band=rule.band, near=rule.near, far=rule.far)
    return hc.uvd, hc.found


# ------------------------------------------------------------------------------ the readers' contract
# The three official readers (nyu.py, icvl.py, msra.py) index labels eagerly (small) and load depth lazily,
# one frame per __getitem__, and all hand back the same `LabelledFrames`.

class DatasetLayoutError(FileNotFoundError, ValueError):
    """A dataset root that does not look like the dataset: the message names the file expected where.
    Also a ValueError, so the CLIs' bad-input handlers (lfsdk-train, lfsdk-eval) print it as one line."""


class Frame(NamedTuple):
    """One labelled frame. NamedTuple so torch's default_collate batches it (arrays → tensors)."""

    depth: np.ndarray  # (H, W) float32 mm, 0 = missing
    joints_xyz: np.ndarray  # (M, 3) float32 mm, y down, z > 0
    joints_uvd: np.ndarray  # (M, 3) float32 (u px, v px, d mm)
    name: str  # path of the depth file relative to the dataset root


class LabelledFrames(Dataset):
    """A split of an official dataset: labels in memory, depth read from disk on access.

    paths: N depth files; joints_xyz / joints_uvd: (N, M, 3) float32 in lfsdk.geometry's convention;
    load_depth(path) → (H, W) float32 mm. `protocol` carries camera, cube and centre rule.
    """

    def __init__(self, protocol: DatasetProtocol, split: str, root: Path, paths: Sequence[Path],
                 joints_xyz: np.ndarray, joints_uvd: np.ndarray, load_depth: Callable[[Path], np.ndarray]):
        n = len(paths)
        if joints_xyz.shape != (n, protocol.num_joints, 3) or joints_uvd.shape != joints_xyz.shape:
            raise ValueError(f"{protocol.name} {split}: labels {joints_xyz.shape}/{joints_uvd.shape} do not match "
                             f"{n} frames × {protocol.num_joints} joints × 3")
        self.protocol, self.split, self.root = protocol, split, Path(root)
        self.paths = list(paths)
        self.joints_xyz = np.ascontiguousarray(joints_xyz, dtype=np.float32)
        self.joints_uvd = np.ascontiguousarray(joints_uvd, dtype=np.float32)
        self._load_depth = load_depth

    camera = property(lambda self: self.protocol.camera)
    cube = property(lambda self: self.protocol.cube)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Frame:
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame {i} out of range for {len(self)} frames")
        path = self.paths[i]
        return Frame(self._load_depth(path), self.joints_xyz[i], self.joints_uvd[i],
                     path.relative_to(self.root).as_posix())

    def subset(self, indices: Sequence[int] | np.ndarray) -> "LabelledFrames":
        """The frames at `indices`, in that order (e.g. a few frames for a smoke run)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return LabelledFrames(self.protocol, self.split, self.root, [self.paths[i] for i in idx],
                              self.joints_xyz[idx], self.joints_uvd[idx], self._load_depth)

    def __repr__(self) -> str:
        return f"LabelledFrames({self.protocol.name}, {self.split!r}, {len(self)} frames, root={str(self.root)!r})"


def require_file(root: Path, rel: str, dataset: str, what: str) -> Path:
    """root/rel if it is a file, else a DatasetLayoutError saying which file was expected where — and, when
    the file sits one folder further down (an archive unpacked into its own folder), which root to pass."""
    path = root / rel
    if path.is_file():
        return path
    hint = ""
    if root.is_dir():
        nested = sorted(p for p in root.glob(f"*/{rel}") if p.is_file())
        if nested:
            hint = f"; found {nested[0]} — pass root={nested[0].parents[len(Path(rel).parts) - 1]}"
    raise DatasetLayoutError(f"{path}: missing — {dataset} expects {what} at <root>/{rel} (root={root}){hint}")


def keep_existing(paths: list[Path], dataset: str, missing: str, progress: bool) -> np.ndarray:
    """Indices of `paths` that exist (one directory listing per folder, with a progress bar).

    missing: 'error' raises on the first absent file; 'skip' drops absent frames with a warning.
    """
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    listing: dict[Path, set[str]] = {}
    keep = []
    for i, p in enumerate(tqdm(paths, desc=f"indexing {dataset}", unit="frame", disable=not progress,
                               leave=False)):
        names = listing.get(p.parent)
        if names is None:
            names = listing[p.parent] = set(os.listdir(p.parent)) if p.parent.is_dir() else set()
        if p.name in names:
            keep.append(i)
        elif missing == "error":
            raise DatasetLayoutError(f"{p}: missing — {dataset}'s labels list this frame; pass missing='skip' "
                                     f"to drop frames without a depth file")
    if len(keep) < len(paths):
        warnings.warn(f"{dataset}: {len(paths) - len(keep)} of {len(paths)} labelled frames have no depth file "
                      f"and were skipped", stacklevel=3)
    return np.asarray(keep, dtype=np.int64)


def to_numpy_uvd(xyz: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) xyz mm → (..., 3) uvd, through lfsdk.geometry (float64 for exactness, returned float32)."""
    return xyz_to_uvd(torch.from_numpy(np.asarray(xyz, np.float64)), camera).numpy().astype(np.float32)


def to_numpy_xyz(uvd: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) uvd → (..., 3) xyz mm, through lfsdk.geometry (float64 for exactness, returned float32)."""
    return uvd_to_xyz(torch.from_numpy(np.asarray(uvd, np.float64)), camera).numpy().astype(np.float32)


# ------------------------------------------------------------------------- registry hook for lfsdk-train/eval
#: Frames in the 'val' split: lfsdk-train's held-out monitor. The papers give no validation split; like DPP
#: (main_nyu_posereg_embedding.py validates on test_1) we take evenly spaced frames of the test split. So
#: `best/` is selected on test frames: report the protocol's numbers from `last/` (fixed epochs, as the paper).
VAL_FRAMES = 500


def evenly_spaced(n_total: int, n: int | None) -> np.ndarray:
    """Indices of `n` frames spread evenly over `n_total` (all when n is None or ≥ n_total)."""
    if n is None or n >= n_total:
        return np.arange(n_total)
    if n < 1:
        raise ValueError(f"need at least one frame, got n={n}")
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(np.int64))


def reader_split(split: str) -> str:
    """The reader split behind a training split: 'val' reads the test split (see VAL_FRAMES)."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}: expected 'train', 'val' or 'test'")
    return "test" if split == "val" else split


class DepthStack:
    """A lazy (N, H, W) float32 view of a LabelledFrames' depth: `shape`, `len`, and slices that read only
    the frames they cover, so HandCropDataset crops a real training set `chunk` frames at a time (NYU's
    train split is 72757 × 480 × 640 frames: 89 GB as float32)."""

    def __init__(self, frames: LabelledFrames, progress: bool = False):
        w, h = frames.protocol.image_size
        self.frames, self.shape = frames, (len(frames), h, w)
        self._bar = tqdm(total=len(frames), desc=f"cropping {frames.protocol.name} {frames.split}", unit="frame",
                         disable=not progress, leave=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError(f"DepthStack supports slices, got {key!r}")
        idx = range(*key.indices(len(self)))
        out = np.zeros((len(idx),) + self.shape[1:], np.float32)
        for k, i in enumerate(idx):
            d = self.frames[i].depth
            if d.shape != self.shape[1:]:
                raise ValueError(f"{self.frames.paths[i]}: depth is {d.shape[1]}×{d.shape[0]}, expected "
                                 f"{self.shape[2]}×{self.shape[1]} for {self.frames.protocol.name}")
            out[k] = d
        self._bar.update(len(idx))
        return out


def crop_dataset(frames: LabelledFrames, preprocess, split: str, n: int | None = None, progress: bool = True):
    """LabelledFrames → lfsdk.data.dataset.HandCropDataset (the crops lfsdk-train and lfsdk-eval use),
    reading depth a chunk at a time.

    n: keep n evenly spaced frames (a smoke run); 'val' keeps at most VAL_FRAMES. A preprocess cube other
    than the protocol's is allowed (an experiment) but warned about: it is not the paper's protocol.
    """
    from .dataset import HandCropDataset

    p = frames.protocol
    if tuple(preprocess.cube) != p.cube:
        warnings.warn(f"{p.name}: cropping with a {tuple(preprocess.cube)} mm cube; the protocol's is {p.cube} mm "
                      f"(lfsdk-train --cube {p.cube[0]:g})", stacklevel=3)
    if split == "val":
        n = min(n or VAL_FRAMES, VAL_FRAMES)
    frames = frames.subset(evenly_spaced(len(frames), n))
    return HandCropDataset(DepthStack(frames, progress), frames.joints_uvd, p.camera, preprocess)
