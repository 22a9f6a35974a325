import numpy as np
import pytest
import torch

from lfsdk.data.dataset import (DATASETS, HandCropDataset, PreprocessConfig, make_dataset, register_dataset,
                                synthetic_frames)
from lfsdk.data.synthetic import render_hand
from lfsdk.geometry import Camera, cube_to_uvd
from lfsdk.kernels import crop_resize_normalize, hand_center


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames(6, seed=11, clutter=0.5)


def test_crops_use_the_inference_centre_rule_not_the_ground_truth(frames):
    cam = Camera.icvl()
    ds = HandCropDataset(frames["depth"], frames["joints_uvd"], cam)
    d = torch.from_numpy(frames["depth"].astype(np.float32))
    c = hand_center(d, cam)
    torch.testing.assert_close(ds.centers_uvd, c.uvd)
    expected = crop_resize_normalize(d, c.uvd, (250.0,) * 3, cam)
    torch.testing.assert_close(ds.crops.float(), expected, atol=1e-3, rtol=0)  # stored as float16
    palm_gt = torch.from_numpy(frames["joints_uvd"][:, 13])
    assert (ds.centers_uvd[:, :2] - palm_gt[:, :2]).norm(dim=-1).mean() > 1.0  # not the ground truth
    # the normalised joints go back to the rendered uvd through the geometry's inverse
    back = cube_to_uvd(ds.joints, ds.centers_uvd, (250.0,) * 3, cam)
    torch.testing.assert_close(back, torch.from_numpy(frames["joints_uvd"]), atol=1e-3, rtol=1e-5)
    x, j, meta = ds[2]
    assert x.shape == (1, 128, 128) and x.dtype == torch.float32 and j.shape == (14, 3)
    torch.testing.assert_close(meta["camera"], cam.tensor())
    assert int(meta["index"]) == 2


def test_frames_without_a_hand_are_dropped(frames):
    depth = frames["depth"].copy()
    depth[1] = 0
    ds = HandCropDataset(depth, frames["joints_uvd"], Camera.icvl(), PreprocessConfig(refine=True))
    assert len(ds) == 5 and ds.kept.tolist() == [0, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="no frame has a hand centre"):
        HandCropDataset(np.zeros((2, 240, 320), np.uint16), frames["joints_uvd"][:2], Camera.icvl())
    with pytest.raises(ValueError, match=r"need depth \(N, H, W\) and joints_uvd \(N, M, 3\)"):
        HandCropDataset(depth, frames["joints_uvd"][:3], Camera.icvl())


def test_cache_round_trip_without_pickle(tmp_path, frames):
    a = synthetic_frames(6, seed=11, clutter=0.5, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as z:
        np.testing.assert_array_equal(z["depth"], frames["depth"])
    b = synthetic_frames(6, seed=11, clutter=0.5, cache_dir=tmp_path)  # read back, not re-rendered
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    rng = np.random.default_rng((11, 3))  # any cached frame can be re-rendered alone
    again = render_hand(rng, clutter=bool(rng.random() < 0.5))
    np.testing.assert_array_equal(a["depth"][3], again.depth)


def test_registry(tmp_path):
    assert "synthetic" in DATASETS
    ds = make_dataset("synthetic", "val", tmp_path, n=3)
    assert len(ds) == 3 and ds.num_joints == 14
    with pytest.raises(ValueError, match=r"unknown dataset 'nyu2'.*synthetic"):
        make_dataset("nyu2", "train")
    with pytest.raises(ValueError, match="unknown split"):
        make_dataset("synthetic", "dev", tmp_path, n=2)
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("synthetic")(lambda *a, **k: None)
