import json

import numpy as np
import pytest
import torch

from lfsdk.data.dataset import make_dataset
from lfsdk.evaluate import evaluate, joint_errors, main, success_curve, write_report
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset("synthetic", "test", tmp_path_factory.mktemp("cache"), n=6)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = LatentFusion(ModelConfig(channels=8, fusion_channels=16))
    for p in m.parameters():  # move away from the near-zero init so predictions spread out
        p.data.normal_(0, 0.3) if p.dim() > 1 else None
    return m.eval()


def test_errors_and_success_curve_by_hand():
    pred = torch.tensor([[[0.0, 0, 0], [3, 4, 0]], [[0, 0, 12], [0, 0, 0]]])
    true = torch.zeros(2, 2, 3)
    e = joint_errors(pred, true)
    torch.testing.assert_close(e, torch.tensor([[0.0, 5.0], [12.0, 0.0]]))
    # worst joints 5 and 12 mm
    assert success_curve(e, (0, 4, 5, 11, 12, 20)) == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="differ in shape"):
        joint_errors(pred, true[:, :1])


def test_report_matches_a_numpy_rederivation(data, model):
    report, pred = evaluate(model, data, batch_size=4)
    with torch.no_grad():
        out = model(data.crops.float())
    cam, c = data.camera, data.centers_uvd.numpy().astype(np.float64)
    half = np.stack([125 * cam.fx / c[:, 2], 125 * cam.fy / c[:, 2], np.full(len(c), 125.0)], -1)

    def to_xyz(norm):  # normalised cube → uvd → xyz, written out independently of lfsdk.geometry
        uvd = norm.numpy().astype(np.float64) * half[:, None] + c[:, None]
        return np.stack([(uvd[..., 0] - cam.cx) * uvd[..., 2] / cam.fx,
                         (uvd[..., 1] - cam.cy) * uvd[..., 2] / cam.fy, uvd[..., 2]], -1)

    t = data.joints_uvd.numpy().astype(np.float64)
    true = np.stack([(t[..., 0] - cam.cx) * t[..., 2] / cam.fx, (t[..., 1] - cam.cy) * t[..., 2] / cam.fy, t[..., 2]], -1)
    fused = np.linalg.norm(to_xyz(out.joints) - true, axis=-1)
    assert report["mean_error_mm"] == pytest.approx(fused.mean(), rel=1e-4)
    for i, name in enumerate(("XY|Z", "XZ|Y", "YZ|X")):
        b = np.linalg.norm(to_xyz(out.branch_joints[:, i]) - true, axis=-1)
        assert report["branch_mean_error_mm"][name] == pytest.approx(b.mean(), rel=1e-4)
    assert list(report["per_joint_error_mm"])[13] == "palm"
    assert report["per_joint_error_mm"]["palm"] == pytest.approx(fused[:, 13].mean(), rel=1e-4)
    worst = fused.max(1)
    assert report["success_rate"][report["success_thresholds_mm"].index(80)] == pytest.approx((worst <= 80).mean())
    assert report["fused_better_than_best_branch"] == (fused.mean() < min(report["branch_mean_error_mm"].values()))


def test_report_files(tmp_path, data, model):
    report, pred = evaluate(model, data)
    files = write_report(report, tmp_path, "t", data, pred, "nyu")
    names = {f.name for f in files}
    assert names == {"eval.json", "eval.md", "success_rate.png", "per_joint_error.png", "overlays.png"}
    assert json.loads((tmp_path / "eval.json").read_text())["frames"] == 6
    md = (tmp_path / "eval.md").read_text()
    assert f"**{report['mean_error_mm']:.2f}**" in md and "branch XZ\\|Y" in md  # pipes escaped in tables
    for f in files:
        if f.suffix == ".png":
            assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli(tmp_path, data, model, capsys):
    ckpt = save_checkpoint(model, tmp_path / "ckpt", preprocess={"band": 150.0, "refine": False, "mode": "nearest"},
                           camera="icvl")
    cache = tmp_path / "cache"
    assert main([str(ckpt), "--n", "4", "--root", str(cache), "--out", str(tmp_path / "rep")]) == 0
    assert json.loads((tmp_path / "rep" / "eval.json").read_text())["dataset"]["frames"] == 4
    (ckpt / "model.safetensors").write_bytes(b"\0" * 64)
    assert main([str(ckpt), "--n", "4", "--root", str(cache)]) == 1
    assert str(ckpt / "model.safetensors") in capsys.readouterr().err
