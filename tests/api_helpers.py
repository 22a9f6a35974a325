"""Shared by the estimator/backend/CLI tests: a small random-weight checkpoint whose outputs stay inside
the cube (so errors in mm mean something), and generated depth frames with their true joints."""
from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from lfsdk.backends import Availability, Backend
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint


class StubBackend(Backend):
    """A stand-in network for estimator and backend tests: always available, `load` makes a default
    instance; subclasses give the config in __init__ and the outputs in _infer."""

    @classmethod
    def available(cls, device=None):
        return Availability(True)

    @classmethod
    def load(cls, path, **options):
        return cls()


def make_checkpoint(directory: Path, seed: int = 0) -> Path:
    """Kaiming-initialised convolutions (the paper's N(0, 0.001²) init gives denormals and constant output),
    the branches' last 1×1 scaled down so the decoded joints spread over the cube instead of saturating."""
    torch.manual_seed(seed)
    model = LatentFusion(ModelConfig(num_joints=14, skeleton="nyu", extra={"camera": "icvl"}))
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, a=0.01)
                torch.nn.init.normal_(mod.bias, 0.0, 0.01)
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_var.fill_(4.0)
        for branch in model.branches:
            branch[-1].weight.mul_(0.02)
    return save_checkpoint(model, directory)


def make_frames(n: int, seed: int = 0) -> np.ndarray:
    """(n, 240, 320) uint16 mm generated hands at the ICVL camera."""
    from lfsdk.data.synthetic import render_batch

    return render_batch(n, seed=seed, camera="icvl").depth


@lru_cache(maxsize=1)
def shared_model() -> tuple[Path, Path]:
    """(checkpoint dir, its FP32 .onnx), made once per test process in a temporary directory and exported
    through the ONNX backends' own cache, shared_cache_dir() (the export takes seconds; every module that
    needs a model file shares these). Use the `shared_cache` fixture so backends given the checkpoint find
    the export."""
    from lfsdk.backends.model_file import onnx_for

    root = Path(tempfile.mkdtemp(prefix="lfsdk-api-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    ckpt = make_checkpoint(root / "ckpt")
    old = os.environ.get("LFSDK_CACHE")
    os.environ["LFSDK_CACHE"] = str(root / "cache")
    try:
        onnx_path, _ = onnx_for(ckpt, "fp32")
    finally:
        if old is None:
            del os.environ["LFSDK_CACHE"]
        else:
            os.environ["LFSDK_CACHE"] = old
    return ckpt, onnx_path


def shared_cache_dir() -> Path:
    return shared_model()[1].parent.parent  # <cache>/onnx/<key>-fp32.onnx


@pytest.fixture
def shared_cache(monkeypatch):
    """LFSDK_CACHE → the shared model's cache (exports and INT8 copies made once per process); fewer
    calibration frames for INT8 copies made in tests."""
    from lfsdk.export import convert

    monkeypatch.setenv("LFSDK_CACHE", str(shared_cache_dir()))
    monkeypatch.setattr(convert, "CALIBRATION_FRAMES", 16)


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch CPU ops on one thread: on this shared 2-core machine two OpenMP threads under load are ~30×
    slower than one (barrier waits on a descheduled thread); numbers are the same either way."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fast_backend() -> str:
    """The quickest CPU backend installed for pipeline tests that do not care which backend runs."""
    return "openvino" if importlib.util.find_spec("openvino") else "onnxruntime"


def default_model_missing() -> str:
    """'' when the embedded default model is in the package, else why not (for skip reasons)."""
    try:
        from lfsdk.pretrained import default_model_path
    except ImportError:
        return "lfsdk.pretrained is not there"
    if not (default_model_path() / "model.safetensors").is_file():
        return f"no default model in {default_model_path()}"
    return ""


def load_benchmark(name: str):
    """benchmarks/<name>.py imported as a module (the benchmarks folder is not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
