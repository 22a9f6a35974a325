"""`lfsdk-export` end to end in a subprocess: files, table, sidecar; bad inputs give one line and exit ≠ 0."""
import json
import os
import subprocess
import sys

import pytest

from lfsdk import __version__
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint
from lfsdk.model.checkpoint import file_sha256


def cli(*args, cwd=None):
    code = "import sys; from lfsdk.export.onnx import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, model):
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "run")  # the realistic test model


def test_export_fp16_int8_with_parity_and_sidecars(checkpoint, tmp_path):
    out = tmp_path / "hand.onnx"
    r = cli(checkpoint, "-o", out, "--fp16", "--int8", "--frames", "8", "--calibration-frames", "8")
    # the random-weight test model misses the INT8 bar (see test_quantize): exit 3, files still written
    assert r.returncode in (0, 3), r.stderr
    for name in ("hand.onnx", "hand.fp16.onnx", "hand.int8.onnx"):
        assert (tmp_path / name).is_file() and (tmp_path / f"{name}.json").is_file()
    assert "parity vs torch on 8 held-out frames" in r.stdout
    assert "onnxruntime-fp16" in r.stdout and "onnxruntime-int8" in r.stdout
    side = json.loads((tmp_path / "hand.fp16.onnx.json").read_text())
    assert side["checkpoint_sha256"] == file_sha256(checkpoint / "model.safetensors")
    assert side["onnx_sha256"] == file_sha256(tmp_path / "hand.fp16.onnx")
    assert side["lfsdk_version"] == __version__ and side["opset"] == 18 and side["precision"] == "fp16"
    assert side["variants"] == {"fp32": "hand.onnx", "fp16": "hand.fp16.onnx", "int8": "hand.int8.onnx"}
    rows = {(row["runner"], row["output"]): row for row in side["parity"]["rows"]}
    assert rows["onnxruntime-fp32", "joints"]["mean"] <= 0.01 and rows["onnxruntime-fp32", "joints"]["passed"]
    assert rows["onnxruntime-fp16", "joints"]["passed"]
    assert rows["onnxruntime-int8", "joints"]["unit"] == "mm"
    failed = not side["parity"]["passed"]
    assert failed == (r.returncode == 3) == ("FAIL" in r.stdout)
    assert failed == ("parity outside the bars" in r.stderr)


def one_error_line(r):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lfsdk-export: error:"), r.stderr
    return lines[0]


def test_missing_checkpoint(tmp_path):
    line = one_error_line(cli(tmp_path / "nope", "-o", tmp_path / "x.onnx"))
    assert "nope" in line and "not a checkpoint" in line


def test_checkpoint_of_another_model(tmp_path):
    ckpt = save_checkpoint(LatentFusion(ModelConfig(num_joints=14)), tmp_path / "c")
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["num_joints"] = 21  # weights are for 14 joints
    (ckpt / "config.json").write_text(json.dumps(cfg))
    line = one_error_line(cli(ckpt, "-o", tmp_path / "x.onnx", "--no-parity"))
    assert "num_joints=21" in line
    (ckpt / "config.json").write_text(json.dumps({"format": "someone-elses-net/3"}))
    line = one_error_line(cli(ckpt, "-o", tmp_path / "x.onnx", "--no-parity"))
    assert "not an lfsdk Latent Fusion config" in line


@pytest.mark.skipif(os.name != "posix", reason="permission bits")
def test_unwritable_output(checkpoint, tmp_path):
    line = one_error_line(cli(checkpoint, "-o", tmp_path / "no" / "such" / "dir" / "x.onnx"))
    assert "does not exist" in line
    line = one_error_line(cli(checkpoint, "-o", tmp_path / "x.txt"))
    assert "must end in .onnx" in line
    if os.geteuid() != 0:  # root writes anywhere; the folder checks above still run
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        line = one_error_line(cli(checkpoint, "-o", ro / "x.onnx"))
        assert "not writable" in line
