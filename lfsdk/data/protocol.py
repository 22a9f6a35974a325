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

from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np
import torch

from ..geometry import Camera
from ..kernels import hand_center

__all__ = [
    "CenterRule", "DatasetProtocol", "NYU", "ICVL", "MSRA", "PROTOCOLS", "get_protocol", "NYU_JOINTS_36",
    "NYU_EVAL_JOINTS", "NYU_KINECT", "NYU_TRAIN_FRAMES", "NYU_TEST_FRAMES", "ICVL_TEST_SEQUENCES",
    "ICVL_TEST_FRAMES", "ICVL_TRAIN_FRAMES", "MSRA_SUBJECTS", "MSRA_GESTURES", "MSRA_SUBJECT_FRAMES",
    "MSRA_FAULTY_FRAMES", "msra_fold", "PAPER_MEAN_ERROR_MM", "hand_centers",
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
    # V2V (and lfsdk's ModelConfig default): the tighter cube keeps more crop pixels on the hand.
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
    # We follow V2V (one cube for every fold): a per-subject cube leaks the test subject's size.
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
    rule = rule or protocol.center
    if rule.kind == "joint":
        if joints_uvd is None:
            raise ValueError(f"{protocol.name}: CenterRule(kind='joint') needs joints_uvd")
        c = joints_uvd[:, rule.joint].to(torch.float32)
        return c, c[:, 2] > 0
    hc = hand_center(depth, protocol.camera, band=rule.band, near=rule.near, far=rule.far)
    return hc.uvd, hc.found
