"""benchmarks/gpu.sh: its --dry-run (CPU, tiny sizes, same imports and steps as on a GPU) must write every
result file into $OUT, import lfsdk from the link folder it builds (never from the repo folder), and run
every step even when one fails."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lfsdk.kernels import triton_available
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu.sh"
#: what a lent machine brings back: at most 8 files (device README), each written by its own step
EXPECTED = ["bench.json", "bench.md", "bench.png", "gpu.log", "kernels.json", "kernels.md", "summary.md"]


def _run(out: Path, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **env}
    full.pop("PYTHONPATH", None)
    return subprocess.run(["bash", str(SCRIPT), "--dry-run"], env=full, capture_output=True, text=True,
                          timeout=600, cwd=REPO / "tests")  # any working directory will do


def _exits(log: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^=== (\S+): exit (\d+) after", log, re.M)}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    torch.manual_seed(0)
    ckpt = save_checkpoint(LatentFusion(ModelConfig(num_joints=14, channels=16, fusion_channels=16)),
                           tmp_path_factory.mktemp("ckpt"))
    out = tmp_path_factory.mktemp("out")
    return _run(out, MODEL=str(ckpt)), out


@pytest.mark.skipif(not triton_available(), reason="the kernel step needs triton (its interpreter on the CPU)")
def test_dry_run_writes_every_result_file(dry_run):
    proc, out = dry_run
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == EXPECTED
    assert all(p.is_file() and p.stat().st_size > 0 for p in out.iterdir())
    log = (out / "gpu.log").read_text()
    assert _exits(log) == {"env": 0, "kernels": 0, "bench": 0, "summary": 0}, log[-3000:]
    summary = (out / "summary.md").read_text()
    assert "Dry run on the CPU" in summary and "| bench | 0 |" in summary
    assert "## Per stage against the paper" in summary


def test_lfsdk_comes_from_the_link_folder(dry_run):
    """The review's bug: lfsdk imported from the repo folder (no lfsdk.kernels there). The env step prints
    where each package came from, and fails if it is not the link folder."""
    proc, out = dry_run
    log = (out / "gpu.log").read_text()
    env = json.loads(log[log.index("=== env (timeout"):].split("\n", 1)[1].split("\n=== env: exit")[0])
    assert env["problems"] == []
    site = Path(env["lfsdk_from"]).parent.parent
    assert site.name == "site" and REPO not in site.parents
    assert env["lfsdk.kernels_from"] == str(site / "lfsdk" / "kernels" / "__init__.py")
    assert env["lfsdk.export_from"] == str(site / "lfsdk" / "export" / "__init__.py")


def test_bench_rows_of_the_dry_run(dry_run):
    _, out = dry_run
    bench = json.loads((out / "bench.json").read_text())
    assert bench["failed"] == {} and bench["config"]["device"] == "cpu" and bench["frames"].startswith("128x96")
    assert {(r["variant"], r["batch"]) for r in bench["rows"]} == {
        (v, b) for v in ("torch fp32", "torch fp32 compile") for b in (1, 2)}
    assert all(r["parity_mm"]["max"] < 1e-3 for r in bench["rows"])  # compile is off: the same FP32 path


@pytest.mark.skipif(not triton_available(), reason="the kernel step needs triton (its interpreter on the CPU)")
def test_kernel_rows_of_the_dry_run(dry_run):
    _, out = dry_run
    res = json.loads((out / "kernels.json").read_text())
    assert res["config"]["dry_run"] and res["target"]["met"] is None  # no batch 512 in a dry run
    assert {(r["op"], r["batch"]) for r in res["rows"]} == {
        (op, b) for op in ("hand_center", "crop", "preprocess", "backproject") for b in (1, 2)}
    par = next(r["parity"] for r in res["rows"] if r["parity"])
    assert par["center_found_equal"] and par["crop_norm_max"] <= 1e-5 and par["center_xyz_mm_max"] <= 1e-2
    md = (out / "kernels.md").read_text()
    assert "Dry run" in md and "| preprocess | 2 |" in md


def test_a_failing_step_does_not_stop_the_others(tmp_path):
    """No `set -e`: with a Python that fails every step, each step still runs, logs its exit, and the
    script ends normally."""
    proc = _run(tmp_path, PYTHON="false")
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "gpu.log").read_text()
    assert _exits(log) == {"env": 1, "kernels": 1, "bench": 1, "summary": 1}
    assert "gpu.sh done" in log


def test_steps_picks_the_steps_to_rerun(tmp_path):
    proc = _run(tmp_path, PYTHON="false", STEPS="bench summary")
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "gpu.log").read_text()
    assert _exits(log) == {"bench": 1, "summary": 1}
    assert "=== env: skipped" in log and "=== kernels: skipped" in log


def test_refuses_unknown_arguments(tmp_path):
    proc = subprocess.run(["bash", str(SCRIPT), "--gpu"], env={**os.environ, "OUT": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown argument --gpu" in proc.stderr


# -- benchmarks/gpu_train.sh: a thin wrapper of lfsdk-train and lfsdk-eval ---------------------------------
TRAIN_SCRIPT = REPO / "benchmarks" / "gpu_train.sh"


def _flags(array: str) -> set[str]:
    """Every --flag in the script's `array=(...)` assignments (both the GPU and the dry-run branch)."""
    text = TRAIN_SCRIPT.read_text()
    found = re.findall(rf"{array}=\((.*?)\)", text, re.S)
    assert len(found) == 2, f"{array} should be set in the GPU and the dry-run branch"
    return {f for body in found for f in re.findall(r"(--[a-z][a-z0-9-]*)", body)}


def test_train_script_passes_only_flags_that_exist(capsys):
    """lfsdk-train and lfsdk-eval belong to another branch of work; the flags this script gives them must
    exist in their parsers today (checked without training: the full dry run takes ~20 s of CPU)."""
    from lfsdk import evaluate, train

    known = {s for a in train._parser()._actions for s in a.option_strings}
    assert '-m lfsdk.train --out "$run" --root "$work/cache" --no-progress' in TRAIN_SCRIPT.read_text()
    assert _flags("train_args") | {"--out", "--root", "--no-progress"} <= known
    with pytest.raises(SystemExit):
        evaluate.main(["--help"])
    help_text = capsys.readouterr().out
    assert all(f in help_text for f in _flags("eval_args") | {"--root", "--out"})


def test_train_script_runs_every_step_even_when_they_fail(tmp_path):
    full = {**os.environ, "OUT": str(tmp_path), "PYTHON": "false"}
    proc = subprocess.run(["bash", str(TRAIN_SCRIPT), "--dry-run"], env=full, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "gpu-train.log").read_text()
    assert _exits(log) == {"env": 1, "train": 1, "eval": 1, "curve": 1} and "gpu_train.sh done" in log
