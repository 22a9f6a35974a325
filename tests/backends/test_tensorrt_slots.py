"""TensorRT backend without TensorRT: checkpoints go through the ONNX export as for onnxruntime, the
precisions a model file allows, batch buckets and the LRU of per-shape slots (context, buffers, graph)."""
from __future__ import annotations

import sys
import types
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from lfsdk.backends import tensorrt as trt_backend
from lfsdk.backends.tensorrt import EngineRunner, TensorRTBackend, batch_bucket
from lfsdk.backends.tensorrt_runner import _Slot
from lfsdk.engine_cache import IOSpec, write_sidecar
from tests.backends.test_tensorrt import _sidecar

IO = (IOSpec("crops", "input", (-1, 1, 8, 8), "FLOAT"), IOSpec("joints", "output", (-1, 14, 3), "FLOAT"))


@pytest.mark.parametrize("b,lo,hi,want", [(1, 1, 512, 1), (2, 1, 512, 2), (3, 1, 512, 4), (5, 1, 512, 8),
                                          (129, 1, 512, 256), (300, 1, 512, 512), (512, 1, 512, 512),
                                          (2, 4, 16, 4), (9, 1, 12, 12), (1, 2, 8, 2)])
def test_batch_bucket(b, lo, hi, want):
    assert batch_bucket(b, lo, hi) == want


def _runner(batch_range=(1, 64), max_slots=8) -> EngineRunner:
    """An EngineRunner's bookkeeping without an engine: _new_slot makes a slot per shape, and counts."""
    r = object.__new__(EngineRunner)
    r.specs = IO
    r.inputs = [IO[0]]
    r.batched = {"crops", "joints"}
    r.batch_range = batch_range
    r.max_slots = max_slots
    r._slots = OrderedDict()
    r.made, r.retired = [], []
    r._new_slot = lambda shapes: r.made.append(shapes) or _Slot(tuple(shapes.items()), None, {})
    r._retire = lambda slot: r.retired.append(slot.key)
    return r


def _key(feeds):
    return tuple((k, tuple(t.shape)) for k, t in sorted(feeds.items()))


def test_a_varying_hand_count_uses_a_few_slots():
    r = _runner()
    for hands in [1, 2, 3, 1, 5, 7, 4, 16, 9, 2, 33, 6, 1]:
        b, feeds = r._prepare({"crops": torch.zeros(hands, 1, 8, 8)})
        assert b == hands and feeds["crops"].shape[0] == batch_bucket(hands, 1, 64)
        r._slot(_key(feeds))
    assert [s["crops"][0] for s in r.made] == [1, 2, 4, 8, 16, 64]  # each bucket captured once
    r.buckets = False  # without buckets every distinct count is a new shape
    assert r._prepare({"crops": torch.zeros(3, 1, 8, 8)})[1]["crops"].shape[0] == 3


def test_slots_are_an_lru():
    r = _runner(batch_range=(1, 1024), max_slots=3)
    keys = [(("crops", (n, 1, 8, 8)),) for n in (1, 2, 4, 8)]
    for k in keys[:3]:
        r._slot(k)
    r._slot(keys[0])  # used again: now the most recent
    r._slot(keys[3])  # evicts keys[1], the least recently used
    assert list(r._slots) == [keys[2], keys[0], keys[3]] and len(r.made) == 4
    assert r.retired == [keys[1]]  # its last run waited for before it is freed
    r._slot(keys[1])  # gone, so made again
    assert len(r.made) == 5 and len(r._slots) == 3
    assert EngineRunner.max_slots == 8  # as the torch backend's CUDA graphs


@pytest.fixture
def fake_trt(monkeypatch):
    """TensorRT 'installed' with a GPU, and resolve_engine stopped before anything needs TensorRT."""
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.13.0.35"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    exported, resolved = [], []

    def onnx_for(path, precision):
        exported.append((Path(path), precision))
        return Path(f"/cache/{precision}.onnx"), precision

    class Stop(Exception):
        pass

    def resolve_engine(trt, path, dev, **kw):
        resolved.append((path, kw["precision"]))
        raise Stop

    monkeypatch.setattr(trt_backend, "onnx_for", onnx_for)
    monkeypatch.setattr(trt_backend, "resolve_engine", resolve_engine)
    return exported, resolved, Stop


@pytest.mark.parametrize("precision,exported_at", [(None, "fp16"), ("fp32", "fp32"), ("fp16", "fp16")])
def test_a_checkpoint_is_exported_to_onnx_first(fake_trt, tmp_path, precision, exported_at):
    exported, resolved, stop = fake_trt
    with pytest.raises(stop):
        TensorRTBackend.load(tmp_path / "best", device="cuda:0", precision=precision)
    assert exported == [(tmp_path / "best", exported_at)]
    assert resolved == [(Path(f"/cache/{exported_at}.onnx"), precision)]


@pytest.mark.parametrize("name", ["hand.onnx", "hand.engine", "hand.plan"])
def test_onnx_and_engines_are_not_exported(fake_trt, tmp_path, name):
    exported, resolved, stop = fake_trt
    with pytest.raises(stop):
        TensorRTBackend.load(tmp_path / name, device="cuda:0")
    assert exported == [] and resolved == [(tmp_path / name, None)]


def test_precisions_a_model_file_allows(monkeypatch, tmp_path):
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(trt_backend, "onnx_precision", lambda p: {"a.onnx": "fp16", "b.onnx": "int8"}[p.name])
    assert TensorRTBackend.precisions_for(Path("a.onnx"), cuda) == ("fp16",)
    assert TensorRTBackend.precisions_for(Path("b.onnx"), cuda) == ("int8",)
    engine = tmp_path / "hand.engine"
    write_sidecar(engine, _sidecar(precision="fp32"))
    assert TensorRTBackend.precisions_for(engine, cuda) == ("fp32",)
    assert TensorRTBackend.precisions_for(tmp_path / "no-sidecar.engine", cuda) == ()
    assert TensorRTBackend.precisions_for(tmp_path / "best", cuda) == ("fp16", "fp32")  # checkpoint: exported
    assert TensorRTBackend.precisions_for(tmp_path / "best", torch.device("cpu")) == ()
