"""The protocol constants, pinned to the values in the public readers cited in lfsdk/data/protocol.py."""
import numpy as np
import pytest
import torch

from lfsdk.data import protocol as P
from lfsdk.data import readers as R
from lfsdk.geometry import Camera


def test_cameras():
    # DPP importers / V2V data.lua / PREN get_param (ICVL: DPP + V2V; PREN's 240.99 is the outlier)
    assert P.NYU.camera == Camera(588.03, 587.07, 320.0, 240.0)
    assert P.ICVL.camera == Camera(241.42, 241.42, 160.0, 120.0)
    assert P.MSRA.camera == Camera(241.42, 241.42, 160.0, 120.0)
    assert (P.NYU.image_size, P.ICVL.image_size, P.MSRA.image_size) == ((640, 480), (320, 240), (320, 240))
    for p in P.PROTOCOLS.values():  # principal point at the image centre for all three
        assert (p.camera.cx, p.camera.cy) == (p.image_size[0] / 2, p.image_size[1] / 2)


def test_cubes_and_joints():
    assert P.NYU.cube == (250.0, 250.0, 250.0)  # V2V cubicSz
    assert P.ICVL.cube == (250.0, 250.0, 250.0)  # DPP default_cubes
    assert P.MSRA.cube == (200.0, 200.0, 200.0)  # V2V cubicSz
    assert (P.NYU.num_joints, P.ICVL.num_joints, P.MSRA.num_joints) == (14, 16, 21)
    # V2V's 1-based eval_joint, and DPP's restrictedJointsEval
    v2v = [1, 4, 7, 10, 13, 16, 19, 22, 25, 26, 28, 31, 32, 33]
    assert list(P.NYU_EVAL_JOINTS) == [j - 1 for j in v2v] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32]
    assert P.NYU_JOINTS_36 == 36 and P.NYU_KINECT == 1
    assert (P.NYU.center_joint, P.ICVL.center_joint, P.MSRA.center_joint) == (13, 0, 5)  # DPP crop_joint_idx


def test_splits():
    assert (P.NYU_TRAIN_FRAMES, P.NYU_TEST_FRAMES) == (72757, 8252)  # paper IV-A.2
    assert P.ICVL_TEST_SEQUENCES == ("test_seq_1", "test_seq_2")
    assert P.ICVL_TEST_FRAMES == {"test_seq_1": 702, "test_seq_2": 894}
    assert sum(P.ICVL_TEST_FRAMES.values()) == 1596  # paper IV-A.1
    assert P.ICVL_TRAIN_FRAMES == 331006
    assert P.MSRA_SUBJECTS == ("P0", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")
    assert P.MSRA_GESTURES == ("1", "2", "3", "4", "5", "6", "7", "8", "9", "I", "IP", "L", "MP", "RP", "T", "TIP", "Y")
    # PREN's cumulative msra_id_split_range
    assert list(np.cumsum(list(P.MSRA_SUBJECT_FRAMES.values()))) == [8499, 16991, 25403, 33891, 42391, 50888, 59385,
                                                                      67883, 76375]
    assert P.PAPER_MEAN_ERROR_MM == {"icvl": 5.81, "nyu": 9.69, "msra": 7.90}


@pytest.mark.parametrize("fold", range(9))
def test_msra_folds(fold):
    train, test = P.msra_fold(fold)
    assert test == (f"P{fold}",)
    assert len(train) == 8 and f"P{fold}" not in train and set(train) | set(test) == set(P.MSRA_SUBJECTS)


def test_lookup_and_validation():
    assert P.get_protocol(" NYU ") is P.NYU
    with pytest.raises(ValueError, match="unknown dataset 'hands17'"):
        P.get_protocol("hands17")
    for bad in (-1, 9, 1.5, "3"):
        with pytest.raises(ValueError, match="0..8"):
            P.msra_fold(bad)
    with pytest.raises(ValueError, match="needs the joint index"):
        P.CenterRule("joint")
    with pytest.raises(ValueError, match="near < far"):
        P.CenterRule("com", near=500, far=100)
    with pytest.raises(ValueError, match="'com' or 'joint'"):
        P.CenterRule("box")
    assert P.ICVL.center_rule("joint") == P.CenterRule("joint", 100.0, 600.0, 150.0, joint=0)
    assert P.ICVL.center_rule() is P.ICVL.center


def test_hand_centers_rules():
    # a 5×5 patch at 400 mm plus a far wall at 1000 mm: the COM rule (ICVL band 100..600 mm) sees only the patch
    depth = torch.zeros(1, 240, 320)
    depth[0, 100:105, 200:205] = 400.0
    depth[0, 0:50, 0:50] = 1000.0
    uvd, found = P.hand_centers(P.ICVL, depth)
    assert found.tolist() == [True]
    torch.testing.assert_close(uvd, torch.tensor([[202.0, 102.0, 400.0]]))
    joints = torch.arange(16 * 3, dtype=torch.float32).reshape(1, 16, 3) + 1
    uvd, found = P.hand_centers(P.ICVL, depth, joints, P.ICVL.center_rule("joint"))
    torch.testing.assert_close(uvd, joints[:, 0])
    with pytest.raises(ValueError, match="needs joints_uvd"):
        P.hand_centers(P.ICVL, depth, None, P.ICVL.center_rule("joint"))
    # nothing inside the band → not found
    _, found = P.hand_centers(P.NYU, torch.full((1, 480, 640), 2500.0))
    assert found.tolist() == [False]


def test_labelled_frames_contract(tmp_path):
    from pathlib import Path

    paths = [tmp_path / f"{i}.x" for i in range(3)]
    xyz = (np.random.default_rng(0).uniform(-50, 50, (3, 16, 3)) + [0, 0, 400]).astype(np.float32)
    frames = R.LabelledFrames(P.ICVL, "test", tmp_path, paths, xyz, R.to_numpy_uvd(xyz, P.ICVL.camera),
                              lambda p: np.full((2, 2), float(Path(p).stem), np.float32))
    assert frames[2].depth[0, 0] == 2.0 and frames[-1].name == "2.x"
    sub = frames.subset([2, 0])
    assert [f.name for f in sub] == ["2.x", "0.x"]
    np.testing.assert_array_equal(sub.joints_xyz, xyz[[2, 0]])
    np.testing.assert_allclose(R.to_numpy_xyz(frames.joints_uvd, P.ICVL.camera), xyz, atol=1e-3)
    batch = torch.utils.data.default_collate([frames[0], frames[1]])
    assert batch.depth.shape == (2, 2, 2) and batch.joints_xyz.shape == (2, 16, 3)
    with pytest.raises(IndexError):
        frames[3]
    with pytest.raises(ValueError, match="do not match 2 frames"):
        R.LabelledFrames(P.ICVL, "test", tmp_path, paths[:2], xyz, xyz, np.zeros)


def test_depth_stack_crops_like_the_eager_path(tmp_path):
    """HandCropDataset over protocol.DepthStack (lazy, chunked) equals HandCropDataset over the full array."""
    from lfsdk.data.dataset import HandCropDataset, PreprocessConfig
    from tests.data.fixtures import ICVL_CAM, hand_frames

    fr = hand_frames(5, 16, ICVL_CAM, (320, 240), distance=350.0, seed=7)
    frames = R.LabelledFrames(P.ICVL, "test", tmp_path, [tmp_path / f"{i}" for i in range(5)], fr.xyz.astype(np.float32),
                              fr.uvd.astype(np.float32), lambda p: fr.depth[int(p.name)].astype(np.float32))
    stack = R.DepthStack(frames)
    assert stack.shape == (5, 240, 320) and len(stack) == 5
    np.testing.assert_array_equal(stack[1:4], fr.depth[1:4].astype(np.float32))
    lazy = HandCropDataset(stack, frames.joints_uvd, P.ICVL.camera, PreprocessConfig(), chunk=2)
    eager = HandCropDataset(fr.depth, frames.joints_uvd, P.ICVL.camera, PreprocessConfig())
    torch.testing.assert_close(lazy.crops, eager.crops, rtol=0, atol=0)
    torch.testing.assert_close(lazy.centers_uvd, eager.centers_uvd)
    with pytest.raises(TypeError, match="slices"):
        stack[0]


def test_val_and_subsets():
    np.testing.assert_array_equal(R.evenly_spaced(10, 3), [0, 4, 9])  # 0, 4.5 → 4 (round half to even), 9
    np.testing.assert_array_equal(R.evenly_spaced(4, None), [0, 1, 2, 3])
    np.testing.assert_array_equal(R.evenly_spaced(4, 9), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="at least one frame"):
        R.evenly_spaced(4, 0)
    assert [R.reader_split(s) for s in ("train", "val", "test")] == ["train", "test", "test"]
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        R.reader_split("dev")
    assert R.VAL_FRAMES == 500
