import json
import os
import subprocess
import sys

import pytest
import torch

from lfsdk.data.dataset import DATASETS, HandCropDataset, register_dataset, synthetic_frames
from lfsdk.data.synthetic import RenderOptions
from lfsdk.geometry import Camera
from lfsdk.model import load_model
from lfsdk.model.checkpoint import CheckpointError
from lfsdk.train import TrainConfig, load_resume, main, train

# threads=1: on a CPU shared with other jobs, two OpenMP threads per process can be 10× slower, not faster
TINY = dict(channels=16, fusion_channels=32, batch_size=16, progress=False, threads=1, bf16=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("render-cache"))


if "synthetic-upright" not in DATASETS:
    # A narrower generated set, through the same registry a real dataset uses: hands within 20° of
    # palm-to-camera at 350–450 mm, so a tiny net learns in a hundred steps on a shared 2-core CPU.
    @register_dataset("synthetic-upright")
    def _upright(split, root, preprocess, n=None, **_):
        frames = synthetic_frames(n, {"train": 1, "val": 2}[split], clutter=0.0, cache_dir=root,
                                  options=RenderOptions(rotation_deg=20.0, distance=(350.0, 450.0)))
        return HandCropDataset(frames["depth"], frames["joints_uvd"], Camera.icvl(), preprocess)


def test_short_training_halves_the_held_out_error(tmp_path, cache):
    cfg = TrainConfig(dataset="synthetic-upright", out=str(tmp_path / "run"), root=cache, train_size=256,
                      val_size=48, epochs=100, max_steps=120, lr=3e-3, eval_every=20, input_size=32, **TINY)
    result = train(cfg)
    assert result["initial_val_mm"] > 50  # an untrained net predicts the crop centre
    assert result["steps"] == 120
    assert result["best_val_mm"] < 0.5 * result["initial_val_mm"], [h["val_mm"] for h in result["history"]]
    best = load_model(tmp_path / "run" / "best")
    assert best.config.num_joints == 14 and best.config.channels == 16 and best.config.input_size == 32
    extra = best.config.extra
    assert extra["preprocess"]["band"] == 150.0 and extra["val_mm"] == pytest.approx(result["best_val_mm"])
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(0, 121, 20))  # the untrained net's error first
    assert lines[0]["val_mm"] == pytest.approx(result["initial_val_mm"])


def test_resume_continues_from_the_saved_step(tmp_path, cache):
    out = tmp_path / "run"
    base = dict(out=str(out), root=cache, train_size=64, val_size=16, epochs=5, eval_every=2, input_size=32, **TINY)
    train(TrainConfig(max_steps=2, **base))
    meta = json.loads((out / "resume.json").read_text())
    assert meta["step"] == 2
    r = train(TrainConfig(max_steps=5, resume=True, **base))
    assert r["steps"] == 5
    opt = torch.optim.Adam(load_model(out / "last").parameters())
    state, tensors = load_resume(out, opt)
    assert tensors["generator"].dtype == torch.uint8  # the sampler's random state travels too
    assert state["step"] == 5
    assert int(opt.state_dict()["state"][0]["step"]) == 5  # Adam's own counter came back from safetensors
    assert not any(p.suffix in (".pt", ".pth", ".pkl") for p in out.rglob("*"))


def test_corrupt_checkpoints_give_clear_errors(tmp_path, cache):
    out = tmp_path / "run"
    train(TrainConfig(out=str(out), root=cache, train_size=32, val_size=8, epochs=1, max_steps=1, input_size=32, **TINY))
    weights = out / "best" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=str(weights)):
        load_model(out / "best")
    (out / "resume.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="unreadable resume state"):
        load_resume(out, torch.optim.Adam(load_model(out / "last").parameters()))
    cfg = out / "last" / "config.json"
    cfg.write_text(cfg.read_text().replace('"num_joints": 14', '"num_joints": 21'))
    with pytest.raises(CheckpointError, match=r"model.safetensors.*(shape|need)"):
        load_model(out / "last")


def test_cli_rejects_bad_settings(capsys, tmp_path):
    assert main(["--lr", "-1"]) == 2
    assert "lr and beta must be positive" in capsys.readouterr().err
    assert main(["--dataset", "nope", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_ddp_two_cpu_processes_on_gloo(tmp_path, cache):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
           "-m", "lfsdk.train", "--out", str(out), "--root", cache, "--train-size", "64", "--val-size", "8",
           "--channels", "16", "--fusion-channels", "32", "--input-size", "32", "--threads", "1", "--batch-size", "16", "--epochs", "1", "--device", "cpu",
           "--no-progress", "--no-bf16", "--eval-every", "2"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    results = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 1  # only rank 0 reports
    assert results[0]["steps"] == 64 // 16  # each process took 8 of the 16 per step: the epoch is 4 steps
    cfg = load_model(out / "best").config
    assert cfg.extra["world_size"] == 2
