"""auto() moves on from any backend that fails to load or build — not only BackendUnavailable — with a
one-line reason each, while a bad option value (the caller's mistake) raises at once."""
from __future__ import annotations

import pytest
import torch

from lfsdk.backends import base
from lfsdk.backends.base import Backend, BackendUnavailable, BadOption
from lfsdk.model import ModelConfig
from tests.api_helpers import StubBackend

LOADS: list[str] = []


class _Ok(StubBackend):
    name = "ok"

    def __init__(self):
        super().__init__(ModelConfig(), torch.device("cpu"), "fp32", None)

    @classmethod
    def load(cls, path, **options):
        LOADS.append(cls.name)
        return super().load(path, **options)

    def _infer(self, crops):
        raise NotImplementedError


def _failing(name: str, exc: Exception) -> type[Backend]:
    def load(cls, path, **options):
        LOADS.append(cls.name)
        raise exc

    return type(f"_{name}", (_Ok,), {"name": name, "load": classmethod(load)})


# registry targets are "module:Class"; these classes live in this module
_build_fails = _failing("build_fails", RuntimeError("TensorRT engine build failed: out of memory\n  (details)"))
_bad_metadata = _failing("bad_metadata", ValueError("sidecar holds no 'precision'"))
_missing = _failing("missing", BackendUnavailable("libfoo is not installed"))
_rejects_option = _failing("rejects_option", BadOption("compile must be True, False or a mode, got 'fast'"))


@pytest.fixture
def order(monkeypatch):
    LOADS.clear()
    for cls in (_build_fails, _bad_metadata, _missing, _rejects_option, _Ok):
        monkeypatch.setitem(base.REGISTRY, cls.name, f"{__name__}:{cls.__name__}")

    def set_order(*names):
        monkeypatch.setattr(base, "AUTO_ORDER", {"cpu": names, "cuda": names})
    return set_order


def test_any_load_failure_falls_back_with_a_one_line_reason(order):
    order("build_fails", "bad_metadata", "missing", "ok")
    with pytest.warns(RuntimeWarning) as warned:
        be = base.auto("model.onnx", device="cpu")
    assert be.name == "ok" and LOADS == ["build_fails", "bad_metadata", "missing", "ok"]
    text = [str(w.message) for w in warned]
    assert any("build_fails" in t and "RuntimeError: TensorRT engine build failed" in t for t in text)
    assert any("bad_metadata" in t and "ValueError" in t for t in text)


def test_when_all_fail_each_reason_is_one_line(order):
    order("build_fails", "bad_metadata", "missing")
    with pytest.warns(RuntimeWarning), pytest.raises(BackendUnavailable) as e:
        base.auto("model.onnx", device="cpu")
    lines = str(e.value).splitlines()
    assert lines[1:] == ["  build_fails: RuntimeError: TensorRT engine build failed: out of memory",
                         "  bad_metadata: ValueError: sidecar holds no 'precision'",
                         "  missing: libfoo is not installed"]


@pytest.mark.parametrize("options,match", [({"precision": "fp8"}, "unknown precision 'fp8'"),
                                           ({"device": "tpu"}, "device"),
                                           ({"max_batch": 0}, "max_batch"),
                                           ({"max_batch": 2.5}, "max_batch")])
def test_bad_option_values_raise_before_any_backend_loads(order, options, match):
    order("ok")
    with pytest.raises(BadOption, match=match):
        base.auto("model.onnx", **{"device": "cpu", **options})
    assert LOADS == []
    assert issubclass(BadOption, ValueError)  # callers catching ValueError keep working


def test_a_backend_refusing_an_option_value_raises(order):
    order("rejects_option", "ok")
    with pytest.raises(BadOption, match="compile"):
        base.auto("model.onnx", device="cpu")
    assert LOADS == ["rejects_option"]
