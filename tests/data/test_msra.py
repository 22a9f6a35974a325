"""MSRA 2015 reader: bounding-box .bin frames and joint.txt written from known arrays, read back exactly."""
import struct

import numpy as np
import pytest

from lfsdk.data.dataset import PreprocessConfig, make_dataset
from lfsdk.data.msra import open_msra, read_msra_depth, read_msra_joints
from lfsdk.data.protocol import MSRA_GESTURES
from lfsdk.data.readers import DatasetLayoutError
from tests.data.fixtures import (MSRA_CAM, hand_frames, project, train_then_eval, write_msra,
                                 write_msra_bin, write_msra_sequence)


@pytest.fixture(scope="module")
def msra(tmp_path_factory):
    root = tmp_path_factory.mktemp("msra")
    return root, write_msra(root, frames_per_sequence=1, subjects=["P0", "P1", "P2"])


def test_bounding_box_offset(tmp_path):
    rng = np.random.default_rng(0)
    full = np.zeros((240, 320), np.float32)
    left, top, right, bottom = 101, 37, 150, 90  # odd sizes so a transposed box cannot pass
    full[top:bottom, left:right] = rng.uniform(200, 600, (bottom - top, right - left)).astype(np.float32)
    write_msra_bin(tmp_path / "000000_depth.bin", full, (left, top, right, bottom))
    raw = (tmp_path / "000000_depth.bin").read_bytes()
    assert struct.unpack("<6i", raw[:24]) == (320, 240, left, top, right, bottom)
    assert len(raw) == 24 + 4 * 53 * 49
    got = read_msra_depth(tmp_path / "000000_depth.bin")
    assert got.shape == (240, 320) and got.dtype == np.float32
    np.testing.assert_array_equal(got, full)  # exact: box in place, zeros around it
    # the first stored value lands at (row top, column left)
    assert got[top, left] == np.frombuffer(raw[24:28], "<f4")[0]


def test_bad_headers(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(struct.pack("<3i", 320, 240, 0))
    with pytest.raises(ValueError, match="shorter than the 24-byte"):
        read_msra_depth(p)
    p.write_bytes(struct.pack("<6i", 320, 240, 10, 10, 400, 20))
    with pytest.raises(ValueError, match="bad MSRA header"):
        read_msra_depth(p)
    p.write_bytes(struct.pack("<6i", 320, 240, 10, 10, 20, 20) + b"\0" * 12)
    with pytest.raises(ValueError, match=r"expected 424 \(24-byte header \+ 10×10"):
        read_msra_depth(p)


def test_joint_signs(tmp_path):
    fr = hand_frames(2, 21, MSRA_CAM, (320, 240), distance=350.0, seed=3)
    folder = write_msra_sequence(tmp_path, "P0", "1", fr)
    # the file holds y up and z negative, as MSRA does
    file_rows = np.loadtxt(folder / "joint.txt", skiprows=1).reshape(2, 21, 3)
    assert (file_rows[..., 2] < 0).all()
    np.testing.assert_allclose(file_rows[..., 1], -fr.xyz[..., 1])
    got = read_msra_joints(folder / "joint.txt")
    np.testing.assert_allclose(got, fr.xyz, rtol=1e-6, atol=1e-4)
    assert (got[..., 2] > 0).all()


def test_joint_file_errors(tmp_path):
    p = tmp_path / "joint.txt"
    p.write_text("2\n" + " ".join(["1"] * 63) + "\n")
    with pytest.raises(ValueError, match="header says 2 frames but 1 joint lines follow"):
        read_msra_joints(p)
    p.write_text("1\n1 2 3\n")
    with pytest.raises(ValueError, match=r"joint.txt:2: 3 numbers, expected 63"):
        read_msra_joints(p)
    p.write_text("x\n")
    with pytest.raises(ValueError, match="frame count"):
        read_msra_joints(p)


def test_folds_read_back_exactly(msra):
    root, written = msra
    test = open_msra(root, "test", fold=1, subjects=None, progress=False)
    assert len(test) == len(MSRA_GESTURES)
    for i, g in enumerate(MSRA_GESTURES):
        fr = written[("P1", g)]
        f = test[i]
        assert f.name == f"P1/{g}/000000_depth.bin"
        np.testing.assert_array_equal(f.depth, fr.depth[0].astype(np.float32))
        np.testing.assert_allclose(f.joints_xyz, fr.xyz[0], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(f.joints_uvd, project(fr.xyz[0], MSRA_CAM), rtol=1e-6, atol=1e-3)
    train = open_msra(root, "train", subjects=["P0", "P2"], progress=False)
    assert len(train) == 2 * len(MSRA_GESTURES)
    assert {f.name.split("/")[0] for f in train} == {"P0", "P2"}


def test_fold_needs_every_subject(msra):
    root, _ = msra
    # fold 1's training split needs P0 and P2..P8; this tree only has P0..P2
    with pytest.raises(DatasetLayoutError, match=r"P3/1/joint\.txt"):
        open_msra(root, "train", fold=1, progress=False)


def test_argument_errors(msra, tmp_path):
    root, _ = msra
    with pytest.raises(ValueError, match="leave-one-subject-out"):
        open_msra(root, "test", progress=False)
    with pytest.raises(ValueError, match="0..8"):
        open_msra(root, "test", fold=9, progress=False)
    with pytest.raises(ValueError, match="unknown MSRA subjects"):
        open_msra(root, "test", subjects=["P9"], progress=False)
    with pytest.raises(DatasetLayoutError, match=r"P0/1/joint\.txt"):
        open_msra(tmp_path, "test", fold=0, progress=False)


def test_missing_bin(tmp_path):
    fr = hand_frames(3, 21, MSRA_CAM, (320, 240), distance=350.0, seed=5)
    for g in MSRA_GESTURES:
        write_msra_sequence(tmp_path, "P4", g, fr)
    (tmp_path / "P4" / "T" / "000001_depth.bin").unlink()
    with pytest.raises(DatasetLayoutError, match=r"P4/T/000001_depth\.bin"):
        open_msra(tmp_path, "test", fold=4, progress=False)
    with pytest.warns(UserWarning, match="1 of 51"):
        frames = open_msra(tmp_path, "test", fold=4, missing="skip", progress=False)
    assert len(frames) == 50 and "P4/T/000001_depth.bin" not in [f.name for f in frames]


def test_registered_for_training(msra):
    root, written = msra
    pre = PreprocessConfig(cube=(200.0,) * 3)
    ds = make_dataset("msra", "test", root, pre, fold=2, progress=False)
    assert len(ds) == len(MSRA_GESTURES) and ds.num_joints == 21
    truth = np.stack([written[("P2", g)].xyz[0] for g in MSRA_GESTURES])
    np.testing.assert_allclose(ds.joints_uvd.numpy(), project(truth, MSRA_CAM)[ds.kept.numpy()], rtol=1e-6, atol=1e-3)
    with pytest.raises(ValueError, match="pass fold=0..8"):
        make_dataset("msra", "test", root, pre, progress=False)


def test_lfsdk_train_then_eval_leave_one_subject_out(tmp_path):
    root = tmp_path / "msra"
    written = write_msra(root, frames_per_sequence=1, seed=40)  # all 9 subjects × 17 gestures
    log, report = train_then_eval("msra", root, tmp_path, "--fold", "3", "--cube", "200", "--train-size", "8")
    assert log[-1]["step"] == 4  # 8 evenly spaced training frames of P0-P2, P4-P8, batch 2
    # lfsdk-eval takes the fold from the checkpoint: the test split is subject P3's 17 frames
    assert report["frames"] == len(MSRA_GESTURES) and report["num_joints"] == 21
    assert len(written) == 9 * len(MSRA_GESTURES)
