"""NYU reader: fixtures written in the official format from known arrays, read back exactly."""
import numpy as np
import pytest
from PIL import Image

from lfsdk.data.dataset import PreprocessConfig, make_dataset
from lfsdk.data.nyu import open_nyu, read_nyu_depth
from lfsdk.data.protocol import NYU_EVAL_JOINTS
from lfsdk.data.readers import DatasetLayoutError
from tests.data.fixtures import (NYU_CAM, hand_frames, project, train_then_eval, write_nyu,
                                 write_nyu_png)


@pytest.fixture(scope="module")
def nyu(tmp_path_factory):
    root = tmp_path_factory.mktemp("nyu")
    train = hand_frames(3, 36, NYU_CAM, (640, 480), distance=700.0, seed=1)
    test = hand_frames(2, 36, NYU_CAM, (640, 480), distance=700.0, seed=2)
    write_nyu(root, "train", train)
    write_nyu(root, "test", test)
    return root, train, test


def test_depth_channel_packing(tmp_path):
    # high and low bytes all different, so a swapped channel or a dropped byte cannot pass
    depth = np.array([[0, 1, 255, 256], [257, 700, 4095, 32001], [65535, 0x1234, 0x00FF, 0xFF00]], np.uint16)
    write_nyu_png(tmp_path / "d.png", depth, seed=3)
    got = read_nyu_depth(tmp_path / "d.png")
    assert got.dtype == np.float32 and got.shape == depth.shape
    np.testing.assert_array_equal(got, depth.astype(np.float32))
    # the packing itself, by hand: 700 = 2·256 + 188 → G = 2, B = 188
    rgb = np.asarray(Image.open(tmp_path / "d.png"))
    assert (rgb[1, 1, 1], rgb[1, 1, 2]) == (2, 188)


def test_reads_back_exactly(nyu):
    root, train, test = nyu
    for split, fr in (("train", train), ("test", test)):
        frames = open_nyu(root, split, progress=False)
        assert len(frames) == len(fr.depth)
        assert frames.joints_uvd.shape == (len(fr.depth), 14, 3)
        sel = list(NYU_EVAL_JOINTS)
        np.testing.assert_allclose(frames.joints_uvd, fr.uvd[:, sel], rtol=0, atol=1e-4)
        # y-up in the .mat, y-down out of the reader
        np.testing.assert_allclose(frames.joints_xyz, fr.xyz[:, sel], rtol=0, atol=1e-4)
        for i in range(len(frames)):
            f = frames[i]
            np.testing.assert_array_equal(f.depth, fr.depth[i].astype(np.float32))
            assert f.name == f"{split}/depth_1_{i + 1:07d}.png"


def test_joint_subset_and_all_joints(nyu):
    root, train, _ = nyu
    every = open_nyu(root, "train", joints="all", progress=False)
    assert every.joints_xyz.shape == (3, 36, 3)
    np.testing.assert_allclose(every.joints_uvd, train.uvd, atol=1e-4)
    sub = open_nyu(root, "train", progress=False)
    # the protocol's 14 are rows 0, 3, …, 32 of the 36 (V2V's 1-based 1, 4, …, 33), in that order
    np.testing.assert_array_equal(sub.joints_xyz, every.joints_xyz[:, [0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30,
                                                                       31, 32]])
    assert every.protocol.center_joint == 32 and sub.protocol.center_joint == 13


def test_labels_agree_with_camera(nyu):
    root, _, _ = nyu
    frames = open_nyu(root, "test", progress=False)
    np.testing.assert_allclose(project(frames.joints_xyz.astype(np.float64), NYU_CAM), frames.joints_uvd, atol=1e-3)


def test_y_down_mat_is_refused(tmp_path):
    fr = hand_frames(2, 36, NYU_CAM, (640, 480), distance=700.0, seed=4)
    write_nyu(tmp_path, "train", fr, y_up=False)
    with pytest.raises(ValueError, match="y-up"):
        open_nyu(tmp_path, "train", progress=False)


def test_not_nyu_root(tmp_path, nyu):
    with pytest.raises(DatasetLayoutError, match=r"NYU expects the train labels joint_data.mat at <root>/train/joint_data\.mat"):
        open_nyu(tmp_path, "train", progress=False)
    # the real archive unpacks into a folder of its own: the message names the root to pass
    root, _, _ = nyu
    with pytest.raises(DatasetLayoutError, match=f"pass root={root}$"):
        open_nyu(root.parent, "test", progress=False)
    with pytest.raises(DatasetLayoutError, match="not a directory"):
        open_nyu(tmp_path / "nope", "train", progress=False)
    with pytest.raises(ValueError, match="split"):
        open_nyu(tmp_path, "val", progress=False)


def test_missing_frame(tmp_path):
    fr = hand_frames(3, 36, NYU_CAM, (640, 480), distance=700.0, seed=5)
    write_nyu(tmp_path, "train", fr)
    (tmp_path / "train" / "depth_1_0000002.png").unlink()
    with pytest.raises(DatasetLayoutError, match="depth_1_0000002.png"):
        open_nyu(tmp_path, "train", progress=False)
    with pytest.warns(UserWarning, match="1 of 3"):
        frames = open_nyu(tmp_path, "train", missing="skip", progress=False)
    assert [f.name for f in frames] == ["train/depth_1_0000001.png", "train/depth_1_0000003.png"]
    np.testing.assert_array_equal(frames[1].depth, fr.depth[2].astype(np.float32))
    np.testing.assert_allclose(frames.joints_uvd[1], fr.uvd[2, list(NYU_EVAL_JOINTS)], atol=1e-4)


def test_bad_files(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "grey.png")
    with pytest.raises(ValueError, match="RGB"):
        read_nyu_depth(tmp_path / "grey.png")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "joint_data.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match="joint_data.mat"):
        open_nyu(tmp_path, "train", progress=False)


def test_registered_for_training(nyu):
    root, train, test = nyu
    ds = make_dataset("nyu", "train", root, PreprocessConfig(), progress=False)
    assert len(ds) == 3 and ds.num_joints == 14 and ds.crops.shape == (3, 1, 128, 128)
    np.testing.assert_allclose(ds.joints_uvd.numpy(), train.uvd[ds.kept.numpy()][:, list(NYU_EVAL_JOINTS)], atol=1e-4)
    val = make_dataset("nyu", "val", root, PreprocessConfig(), progress=False)  # val = test frames (DPP)
    np.testing.assert_allclose(val.joints_uvd.numpy(), test.uvd[:, list(NYU_EVAL_JOINTS)], atol=1e-4)
    assert len(make_dataset("nyu", "train", root, PreprocessConfig(), n=2, progress=False)) == 2
    with pytest.warns(UserWarning, match=r"protocol's is \(250.0, 250.0, 250.0\) mm"):
        make_dataset("nyu", "test", root, PreprocessConfig(cube=(300.0,) * 3), progress=False)


def test_lfsdk_train_then_eval_on_nyu(nyu, tmp_path, capsys):
    root, train, test = nyu
    log, report = train_then_eval("nyu", root, tmp_path)
    assert log[-1]["epoch"] == 0 and log[-1]["step"] == len(train.depth) // 2  # 1 epoch of batch 2, drop_last
    assert report["frames"] == len(test.depth) == report["dataset"]["frames"] and report["num_joints"] == 14
    assert set(report["per_joint_error_mm"]) >= {"palm", "thumb_tip"}  # NYU's joint names, from the checkpoint
    assert np.isfinite(report["mean_error_mm"]) and len(report["branch_mean_error_mm"]) == 3
    # a root that is not NYU: one line on stderr naming the expected file, exit 1, no traceback
    from lfsdk.evaluate import main
    assert main([str(tmp_path / "run" / "last"), "--dataset", "nyu", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "test/joint_data.mat" in err and "Traceback" not in err
