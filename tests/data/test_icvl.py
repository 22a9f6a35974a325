"""ICVL reader: label files and 16-bit PNGs written from known arrays, read back exactly."""
import numpy as np
import pytest
from PIL import Image

from lfsdk.data.dataset import PreprocessConfig, make_dataset
from lfsdk.data.icvl import open_icvl, read_icvl_depth, read_icvl_labels
from lfsdk.data.readers import DatasetLayoutError
from tests.data.fixtures import (ICVL_CAM, backproject, hand_frames, train_then_eval, write_icvl,
                                 write_icvl_png)


@pytest.fixture(scope="module")
def icvl(tmp_path_factory):
    root = tmp_path_factory.mktemp("icvl")
    train = hand_frames(3, 16, ICVL_CAM, (320, 240), distance=350.0, seed=11)
    test = hand_frames(5, 16, ICVL_CAM, (320, 240), distance=350.0, seed=12)
    train_names = write_icvl(root, "train", train)
    test_names = write_icvl(root, "test", test)  # 2 frames in test_seq_1, 3 in test_seq_2
    return root, train, test, train_names, test_names


def test_depth_16bit_roundtrip(tmp_path):
    depth = np.array([[0, 1, 255, 256], [4095, 32001, 65535, 12345]], np.uint16)  # 32001 = ICVL's "no value"
    write_icvl_png(tmp_path / "d.png", depth)
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    np.testing.assert_array_equal(read_icvl_depth(tmp_path / "d.png"), depth.astype(np.float32))


def test_reads_back_exactly(icvl):
    root, train, test, train_names, test_names = icvl
    for split, fr, names, folder in (("train", train, train_names, "Training"), ("test", test, test_names, "Testing")):
        frames = open_icvl(root, split, progress=False)
        assert len(frames) == len(fr.depth)
        # labels are written with repr(), so the float32 read-back is the nearest float32 of the truth
        np.testing.assert_array_equal(frames.joints_uvd, fr.uvd.astype(np.float32))
        # xyz: y DOWN, independent pinhole back-projection of the labels
        np.testing.assert_allclose(frames.joints_xyz, backproject(fr.uvd, ICVL_CAM), rtol=0, atol=1e-3)
        np.testing.assert_allclose(frames.joints_xyz, fr.xyz, rtol=0, atol=1e-3)
        for i in range(len(frames)):
            f = frames[i]
            np.testing.assert_array_equal(f.depth, fr.depth[i].astype(np.float32))
            assert f.name == f"{folder}/Depth/{names[i]}"


def test_test_split_is_seq1_then_seq2(icvl):
    root, *_ = icvl
    names = [f.name for f in open_icvl(root, "test", progress=False)]
    assert names == ["Testing/Depth/test_seq_1/image_0000.png", "Testing/Depth/test_seq_1/image_0001.png",
                     "Testing/Depth/test_seq_2/image_0000.png", "Testing/Depth/test_seq_2/image_0001.png",
                     "Testing/Depth/test_seq_2/image_0002.png"]


def test_label_parsing(tmp_path):
    uvd = np.arange(48, dtype=np.float64).reshape(16, 3) + 0.5
    f = tmp_path / "labels.txt"
    f.write_text("a/image_0000.png " + " ".join(map(str, uvd.ravel())) + "\n\n")  # blank lines are ignored
    names, got = read_icvl_labels(f)
    assert names == ["a/image_0000.png"]
    np.testing.assert_array_equal(got[0], uvd.astype(np.float32))
    f.write_text("a/image_0000.png 1 2 3\n")
    with pytest.raises(ValueError, match=r"labels.txt:1: 4 fields, expected a file name and 48 numbers"):
        read_icvl_labels(f)
    f.write_text("a/image_0000.png " + " ".join(["x"] * 48) + "\n")
    with pytest.raises(ValueError, match="non-numeric"):
        read_icvl_labels(f)


def test_not_icvl_root(tmp_path, icvl):
    with pytest.raises(DatasetLayoutError, match=r"Training/labels\.txt"):
        open_icvl(tmp_path, "train", progress=False)
    (tmp_path / "Testing").mkdir()
    (tmp_path / "Testing" / "test_seq_1.txt").write_text("")
    with pytest.raises(DatasetLayoutError, match=r"Testing/test_seq_2\.txt"):
        open_icvl(tmp_path, "test", progress=False)


@pytest.mark.parametrize("array", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)], ids=["RGB", "8-bit"])
def test_non_16bit_png_is_refused(tmp_path, array):
    Image.fromarray(array).save(tmp_path / "c.png")
    with pytest.raises(ValueError, match="single-channel 16-bit"):
        read_icvl_depth(tmp_path / "c.png")


def test_registered_for_training_then_lfsdk_train_and_eval(icvl, tmp_path):
    root, train, test, *_ = icvl
    ds = make_dataset("icvl", "train", root, PreprocessConfig(), progress=False)
    assert len(ds) == 3 and ds.num_joints == 16
    np.testing.assert_allclose(ds.joints_uvd.numpy(), train.uvd[ds.kept.numpy()], atol=1e-4)
    log, report = train_then_eval("icvl", root, tmp_path)
    assert log[-1]["step"] == 1 and np.isfinite(log[-1]["val_mm"])  # 3 frames, batch 2, drop_last
    assert report["frames"] == len(test.depth) and report["num_joints"] == 16
    assert "palm" in report["per_joint_error_mm"]
