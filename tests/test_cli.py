"""The `lfsdk` command end to end: `info`, `estimate` and `demo` as subprocesses of the installed console
script, error paths in-process through cli.main (same code, no interpreter start-up)."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lfsdk.cli import main, montage, read_depth_file
from tests.api_helpers import default_model_missing, make_frames, shared_cache, shared_model  # noqa: F401 (fixture)

LFSDK = Path(sys.executable).with_name("lfsdk")
pytestmark = pytest.mark.usefixtures("shared_cache")


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """main() sets torch's thread count for its process; in-process calls must not leak it to other tests."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def run(*args, cwd=None, env=None):
    p = subprocess.run([str(LFSDK), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd,
                       env={**os.environ, **(env or {})})
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("frames")
    f = make_frames(3, seed=21)
    Image.fromarray(f[0]).save(d / "a.png")  # PIL writes uint16 arrays as 16-bit PNG (mode I;16)
    np.save(d / "bc.npy", f[1:])
    Image.fromarray((f[0] // 8).astype(np.uint8)).save(d / "eight_bit.png")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(d / "rgb.png")
    (d / "notes.txt").write_text("hello")
    np.save(d / "strings.npy", np.array(["a", "b"]))
    (d / "broken.png").write_bytes(b"\x89PNG not really")
    return d, f


def test_info_subprocess():
    assert LFSDK.exists(), f"console script missing: {LFSDK} (pip install -e .)"
    rc, out, err = run("info", "--model")
    assert rc == 0, err
    assert "lfsdk 0.1.0" in out and "devices" in out and "backends" in out
    assert "onnxruntime  cpu   usable" in out and "torch        cpu   usable" in out
    from lfsdk.backends import REGISTRY
    for name in REGISTRY:  # every backend on both device kinds, usable or why not
        assert f"  {name:<12} cpu " in out and f"  {name:<12} cuda " in out
    assert "not usable: " in out
    assert "features" in out and "fusion" in out  # the --model table


def test_estimate_subprocess_json_and_csv(files, tmp_path):
    d, frames = files
    onnx_path = shared_model()[1]
    rc, out, err = run("estimate", d / "a.png", d / "bc.npy", "--model", onnx_path, "--camera", "icvl",
                       "-o", tmp_path / "out.json")
    assert rc == 0, err
    assert "3 frames from 2 files, hand found in 3" in err
    assert "estimate" in err and "2/2" in err  # the progress bar
    doc = json.loads((tmp_path / "out.json").read_text())
    assert [(r["file"].endswith(n), r["index"]) for r, n in zip(doc["frames"], ["a.png", "bc.npy", "bc.npy"])] == \
        [(True, 0), (True, 0), (True, 1)]
    assert doc["camera"] == {"fx": 241.42, "fy": 241.42, "cx": 160.0, "cy": 120.0}
    assert len(doc["joint_names"]) == 14 and len(doc["frames"][0]["joints_xyz"]) == 14
    # the same numbers as the library on the same frames
    from lfsdk import HandPoseEstimator
    est = HandPoseEstimator(onnx_path, camera="icvl")
    want = est(frames).joints_xyz.numpy()
    got = np.array([r["joints_xyz"] for r in doc["frames"]])
    np.testing.assert_allclose(got, want, atol=0.05)
    # CSV through the in-process entry point: one row per frame, 3 columns per joint
    assert main(["estimate", str(d / "bc.npy"), "--model", str(onnx_path), "--camera", "icvl",
                 "-o", str(tmp_path / "out.csv"), "--draw", str(tmp_path / "draw")]) == 0
    rows = list(csv.reader(open(tmp_path / "out.csv")))
    assert rows[0][:4] == ["file", "index", "found", f"{doc['joint_names'][0]}_x_mm"] and len(rows[0]) == 3 + 42
    assert len(rows) == 3 and float(rows[2][3]) == pytest.approx(want[2, 0, 0], abs=0.01)
    pngs = sorted(p.name for p in (tmp_path / "draw").iterdir())
    assert pngs == ["bc_0.png", "bc_1.png"]
    assert np.array(Image.open(tmp_path / "draw" / "bc_0.png")).shape == (240, 320, 3)


@pytest.mark.parametrize("name,match", [
    ("eight_bit.png", "not a depth image.*mode L"), ("rgb.png", "not a depth image.*mode RGB"),
    ("notes.txt", "unsupported file type"), ("strings.npy", "not a depth image"),
    ("broken.png", "not a readable PNG"), ("missing.npy", "no such file"),
])
def test_estimate_refuses_files_that_are_not_depth(files, capsys, name, match):
    d, _ = files
    assert main(["estimate", str(d / name), "--model", str(shared_model()[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lfsdk estimate: error: ") and name in err
    assert len(err.strip().splitlines()) == 1
    import re
    assert re.search(match, err), err


def test_estimate_bad_options(files, capsys):
    d, _ = files
    assert main(["estimate", str(d / "a.png"), "--model", str(shared_model()[1]), "--camera", "kinect"]) == 2
    assert "unknown camera 'kinect'" in capsys.readouterr().err
    assert main(["estimate", str(d / "a.png"), "--model", str(shared_model()[1]), "-o", "out.txt"]) == 2
    assert ".json or .csv" in capsys.readouterr().err
    assert main(["estimate", str(d / "a.png"), "--model", str(d / "nothing.onnx")]) == 2
    assert "no such model" in capsys.readouterr().err
    assert main(["estimate", str(d / "a.png"), "--model", str(shared_model()[1]), "--torch-threads", "0"]) == 2
    assert "--torch-threads must be ≥ 1" in capsys.readouterr().err


def test_read_depth_file(files):
    d, frames = files
    a = read_depth_file(d / "a.png")
    assert a.dtype == np.uint16 and np.array_equal(a, frames[0])
    assert read_depth_file(d / "bc.npy").shape == (2, 240, 320)


def test_montage():
    imgs = [np.full((2, 3, 3), k, np.uint8) for k in (1, 2, 3)]
    m = montage(imgs, cols=2)
    assert m.shape == (4, 6, 3) and m[0, 0, 0] == 1 and m[0, 3, 0] == 2 and m[2, 0, 0] == 3 and m[2, 3, 0] == 0


def test_demo_subprocess(tmp_path):
    if default_model_missing():
        pytest.skip(default_model_missing())
    rc, out, err = run("demo", "--iters", "5", "-o", tmp_path / "demo.png", cwd=tmp_path,
                       env={"LFSDK_CACHE": str(tmp_path / "cache")})
    assert rc == 0, err
    assert "frame 0 joints" in out and "preprocess" in out and "postprocess" in out and "frames/s" in out
    img = np.array(Image.open(tmp_path / "demo.png"))
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    # a real picture: colourised depth (grey levels), black background, and coloured skeleton pixels
    flat = img.reshape(-1, 3).astype(int)
    assert (flat.sum(1) == 0).mean() > 0.05
    chroma = flat.max(1) - flat.min(1)
    assert (chroma > 80).sum() > 50  # finger colours, not just the grey depth map


def test_demo_in_process_on_any_model(monkeypatch, tmp_path, capsys):
    """The demo's code path with the test checkpoint standing in for the default model."""
    pretrained = pytest.importorskip("lfsdk.pretrained", reason="lfsdk.pretrained (sample frames) has not landed")

    monkeypatch.setattr(pretrained, "model_path", lambda name="default": shared_model()[0])
    out_png = tmp_path / "demo.png"
    assert main(["demo", "--iters", "2", "-o", str(out_png), "--backend", "onnxruntime"]) == 0
    out = capsys.readouterr().out
    assert "sample frames" in out and "hand found in" in out and "mean joint error" in out
    assert "frame 0 joints" in out and "network" in out and "postprocess" in out
    img = np.array(Image.open(out_png))
    n = len(pretrained.sample_frames())
    h, w = pretrained.sample_frames()[0].depth.shape
    assert img.shape == (h * -(-n // 4), w * min(n, 4), 3)
    flat = img.reshape(-1, 3).astype(int)
    assert (flat.max(1) - flat.min(1) > 80).sum() > 0  # coloured joint dots (the random model stacks them)
    assert (flat == 255).all(1).sum() > 4 * 50  # the white crop boxes


@pytest.mark.parametrize("given, expected", [(None, "auto"), ("auto", "auto"), ("lite", "lite"), ("default", "default")])
def test_model_names_go_to_from_pretrained(monkeypatch, given, expected):
    """--model takes a shipped model's name (or auto); anything else is a file for the constructor."""
    import argparse

    from lfsdk.commands import common

    asked = []
    monkeypatch.setattr(common.HandPoseEstimator, "from_pretrained", classmethod(lambda cls, name, **kw: asked.append(name)))
    monkeypatch.setattr(common.HandPoseEstimator, "__init__", lambda self, model, **kw: asked.append(f"file {model}"))
    p = argparse.ArgumentParser()
    common.add_model_argument(p)
    common.add_backend_arguments(p)
    args = p.parse_args([] if given is None else ["--model", given])
    common.make_estimator(args)
    common.make_estimator(p.parse_args(["--model", "runs/x/best"]))
    assert asked == [expected, "file runs/x/best"]
