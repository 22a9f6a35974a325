"""TensorRT backend and engine cache: sidecars, cache keys, engine selection and the runtime bookkeeping run
here; execution runs in the tests marked `tensorrt`, which skip without TensorRT and a GPU."""
from __future__ import annotations

import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lfsdk import __version__
from lfsdk.backends import base
from lfsdk.backends.base import BackendUnavailable, Outputs
from lfsdk.backends import tensorrt as trt_backend
from lfsdk.backends.tensorrt import (
    TRT_TO_TORCH, EngineRunner, TensorRTBackend, onnx_at_hand, pad_batch, profile_for, torch_dtype,
)
from lfsdk.backends.tensorrt_runner import _Slot
from lfsdk.engine_cache import (
    DEFAULT_PROFILE, SIDECAR_FORMAT, BatchProfile, EngineSidecar, IOSpec, MachineInfo, Mismatch, SidecarError,
    cache_dir, check_io, check_sidecar, engine_cache_path, read_sidecar, sidecar_path, tensorrt_too_old,
    timing_cache_path, write_sidecar,
)
from lfsdk.model import ModelConfig
from lfsdk.model.checkpoint import file_sha256
from tests.api_helpers import StubBackend
from tests.requirements import requires_tensorrt

H100 = MachineInfo("10.13.0.35", "NVIDIA H100 80GB HBM3", (9, 0))
IO = (IOSpec("crops", "input", (-1, 1, 128, 128), "FLOAT"), IOSpec("joints", "output", (-1, 14, 3), "FLOAT"),
      IOSpec("branch_joints", "output", (-1, 3, 14, 3), "FLOAT"), IOSpec("fusion_weights", "output", (-1, 3), "FLOAT"))
SHA = "ab" * 32


def _sidecar(**changes) -> EngineSidecar:
    s = EngineSidecar(tensorrt_version=H100.tensorrt_version, gpu_name=H100.gpu_name,
                      compute_capability=H100.compute_capability, precision="fp16", profile=BatchProfile(1, 32, 128),
                      onnx_sha256=SHA, engine_sha256="cd" * 32, lfsdk_version=__version__, io=IO,
                      model=ModelConfig().to_dict(), onnx_path="", workspace_mib=1024)
    return replace(s, **changes)


# -- sidecar ------------------------------------------------------------------------------------------------
def test_sidecar_round_trip(tmp_path):
    engine = tmp_path / "hand.engine"
    s = _sidecar(onnx_path=str(tmp_path / "hand.onnx"))
    path = write_sidecar(engine, s)
    assert path == sidecar_path(engine) == tmp_path / "hand.engine.json"
    assert read_sidecar(engine) == s
    raw = json.loads(path.read_text())
    assert raw["format"] == SIDECAR_FORMAT and raw["profile"] == {"min": 1, "opt": 32, "max": 128}
    assert raw["compute_capability"] == [9, 0] and raw["io"][0] == {"name": "crops", "mode": "input",
                                                                     "shape": [-1, 1, 128, 128], "dtype": "FLOAT"}
    assert not list(tmp_path.glob(".*.tmp"))  # written via a temporary file and a rename


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(format="something/else"), "not an lfsdk engine sidecar"),
    (lambda d: d.pop("format"), "not an lfsdk engine sidecar"),
    (lambda d: d.pop("tensorrt_version"), r"lacks \['tensorrt_version'\]"),
    (lambda d: d.pop("engine_sha256"), "lacks"),
    (lambda d: d.update(profile={"min": 8, "opt": 4, "max": 2}), "malformed"),
    (lambda d: d.update(profile=[1, 2, 3]), "malformed"),
    (lambda d: d.update(io=[{"name": "x", "mode": "sideways", "shape": [1], "dtype": "FLOAT"}]), "malformed"),
    (lambda d: d.update(io=[{"name": "x"}]), "malformed"),
])
def test_bad_sidecars_are_refused_with_the_reason(tmp_path, mutate, message):
    engine = tmp_path / "hand.engine"
    d = _sidecar().to_dict()
    mutate(d)
    sidecar_path(engine).write_text(json.dumps(d))
    with pytest.raises(SidecarError, match=message):
        read_sidecar(engine)


def test_missing_or_unreadable_sidecar(tmp_path):
    engine = tmp_path / "hand.engine"
    with pytest.raises(SidecarError, match="missing.*lfsdk-build"):
        read_sidecar(engine)
    sidecar_path(engine).write_text("{not json")
    with pytest.raises(SidecarError, match="not valid JSON"):
        read_sidecar(engine)
    sidecar_path(engine).write_text("[1, 2]")
    with pytest.raises(SidecarError, match="not an lfsdk engine sidecar"):
        read_sidecar(engine)


# every way a sidecar can disagree with this machine / engine file / request
MISMATCHES = [
    ("tensorrt_version", dict(machine=replace(H100, tensorrt_version="11.4.0.106")), "11.4.0.106", "10.13.0.35"),
    ("compute_capability", dict(machine=replace(H100, compute_capability=(8, 0))), "sm80", "sm90"),
    ("gpu_name", dict(machine=replace(H100, gpu_name="NVIDIA H200")), "NVIDIA H200", "NVIDIA H100 80GB HBM3"),
    ("engine_sha256", dict(engine_sha256="ef" * 32), "ef" * 32, "cd" * 32),
    ("precision", dict(precision="fp32"), "fp32", "fp16"),
]


@pytest.mark.parametrize("field,kwargs,here,engine", MISMATCHES, ids=[m[0] for m in MISMATCHES])
def test_each_sidecar_mismatch_is_reported_and_fatal(field, kwargs, here, engine):
    args = {"machine": H100, "engine_sha256": "cd" * 32, "precision": "fp16", "lfsdk_version": __version__}
    args.update(kwargs)
    machine = args.pop("machine")
    found = check_sidecar(_sidecar(), machine, **args)
    assert found == [Mismatch(field, here, engine)]
    assert found[0].fatal
    assert field in str(found[0]) and repr(engine) in str(found[0])


def test_matching_sidecar_and_the_non_fatal_lfsdk_version():
    assert check_sidecar(_sidecar(), H100, engine_sha256="cd" * 32, precision="fp16",
                         lfsdk_version=__version__) == []
    assert check_sidecar(_sidecar(), None) == []  # nothing asked, nothing to disagree with
    (m,) = check_sidecar(_sidecar(lfsdk_version="0.0.1"), H100, lfsdk_version=__version__)
    assert m.field == "lfsdk_version" and not m.fatal


def test_all_mismatches_at_once():
    other = MachineInfo("11.4.0.106", "NVIDIA A100-SXM4-80GB", (8, 0))
    fields = [m.field for m in check_sidecar(_sidecar(), other, engine_sha256="00" * 32, precision="int8",
                                             lfsdk_version="9.9.9")]
    assert fields == ["engine_sha256", "tensorrt_version", "compute_capability", "gpu_name", "precision",
                      "lfsdk_version"]


def test_check_io_between_sidecar_and_engine():
    assert check_io(IO, IO) == []
    engine = (replace(IO[0], dtype="HALF"), replace(IO[1], shape=(-1, 21, 3)), IO[2],
              IOSpec("joints_xyz", "output", (-1, 14, 3), "FLOAT"))
    problems = check_io(IO, engine)
    assert any("crops" in p and "HALF" in p for p in problems)
    assert any("joints [-1, 21, 3]" in p for p in problems)
    assert any("fusion_weights" in p and "no such tensor" in p for p in problems)
    assert any("joints_xyz" in p and "does not list it" in p for p in problems)
    assert len(problems) == 4


def test_io_spec_validates_mode():
    with pytest.raises(ValueError, match="mode"):
        IOSpec("x", "both", (1,), "FLOAT")


# -- cache keys ---------------------------------------------------------------------------------------------
def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("LFSDK_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "lfsdk"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "lfsdk"
    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    assert engine_cache_path(SHA, H100, "fp16", DEFAULT_PROFILE).parent == tmp_path / "mine" / "engines"


def test_engine_cache_key_has_every_part(monkeypatch, tmp_path):
    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path))
    base_key = engine_cache_path(SHA, H100, "fp16", DEFAULT_PROFILE)
    assert base_key == engine_cache_path(SHA, replace(H100), "fp16", BatchProfile(1, 32, 128))  # stable
    assert base_key.name == "abababababababab-fp16-b1_32_128-trt10.13.0.35-nvidia-h100-80gb-hbm3-sm90.engine"
    variants = [
        engine_cache_path("cd" * 32, H100, "fp16", DEFAULT_PROFILE),
        engine_cache_path(SHA, replace(H100, tensorrt_version="11.4.0.106"), "fp16", DEFAULT_PROFILE),
        engine_cache_path(SHA, replace(H100, gpu_name="NVIDIA H100 PCIe"), "fp16", DEFAULT_PROFILE),
        engine_cache_path(SHA, replace(H100, compute_capability=(8, 9)), "fp16", DEFAULT_PROFILE),
        engine_cache_path(SHA, H100, "fp32", DEFAULT_PROFILE),
        engine_cache_path(SHA, H100, "fp16", BatchProfile(1, 32, 256)),
        engine_cache_path(SHA, H100, "fp16", BatchProfile(1, 16, 128)),
        engine_cache_path(SHA, H100, "fp16", BatchProfile(2, 32, 128)),
    ]
    assert len({base_key, *variants}) == len(variants) + 1
    with pytest.raises(ValueError, match="64 hex"):
        engine_cache_path("not-a-hash", H100, "fp16", DEFAULT_PROFILE)


def test_timing_cache_is_keyed_by_gpu_and_tensorrt(monkeypatch, tmp_path):
    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path))
    t = timing_cache_path(H100)
    assert t.parent == tmp_path / "timing" and t == timing_cache_path(replace(H100))
    others = {timing_cache_path(replace(H100, gpu_name="NVIDIA H200")),
              timing_cache_path(replace(H100, compute_capability=(10, 0))),
              timing_cache_path(replace(H100, tensorrt_version="11.4.0.106"))}
    assert t not in others and len(others) == 3


@pytest.mark.parametrize("version,ok", [("10.8.0.43", True), ("10.13.0.35", True), ("11.4.0.106", True),
                                        ("10.3.0", False), ("8.6.1", False), ("garbage", False)])
def test_tensorrt_version_floor(version, ok):
    assert (tensorrt_too_old(version) is None) == ok


def test_profile_for():
    assert profile_for(None, None) == DEFAULT_PROFILE
    assert profile_for("1,4,8", 99) == BatchProfile(1, 4, 8)
    assert profile_for(BatchProfile(2, 2, 2), None) == BatchProfile(2, 2, 2)
    assert profile_for(None, 8) == BatchProfile(1, 8, 8)
    assert profile_for(None, 256) == BatchProfile(1, 32, 256)


# -- dtype map and bookkeeping ---------------------------------------------------------------------------------
def test_dtype_map():
    assert torch_dtype("FLOAT") is torch.float32 and torch_dtype("HALF") is torch.float16
    assert torch_dtype("BF16") is torch.bfloat16 and torch_dtype("INT64") is torch.int64
    assert set(TRT_TO_TORCH) == {"FLOAT", "HALF", "BF16", "INT8", "INT32", "INT64", "BOOL", "UINT8", "FP8"}
    for name in ("INT4", "FP4", "E8M0", "nonsense"):
        with pytest.raises(ValueError, match="no torch equivalent"):
            torch_dtype(name)


def test_pad_batch_repeats_the_last_row():
    t = torch.arange(6.0).reshape(3, 2)
    assert pad_batch(t, 3) is t and pad_batch(t, 2) is t
    padded = pad_batch(t, 5)
    assert padded.shape == (5, 2) and torch.equal(padded[3:], t[2:].expand(2, 2)) and torch.equal(padded[:3], t)


def test_graph_is_recaptured_when_addresses_change():
    slot = _Slot((("crops", (2, 1, 4, 4)),), context=None,
                 tensors={"crops": torch.zeros(2, 1, 4, 4), "joints": torch.zeros(2, 14, 3)})
    assert not slot.replayable()  # nothing captured yet
    slot.graph, slot.graph_addresses = object(), slot.addresses()
    assert slot.replayable()
    slot.tensors["joints"] = torch.zeros(2, 14, 3)  # a new buffer: the captured graph would write the old one
    assert not slot.replayable()


def _runner_stub(batch_range=(1, 16)) -> EngineRunner:
    """An EngineRunner's input bookkeeping without an engine (only _prepare is exercised)."""
    r = object.__new__(EngineRunner)
    r.specs = (*IO, IOSpec("camera", "input", (4,), "FLOAT"))
    r.inputs = [s for s in r.specs if s.mode == "input"]
    r.batched = {s.name for s in r.specs if s.shape[:1] == (-1,)}
    r.batch_range = batch_range
    return r


def test_runner_checks_names_and_batch_and_pads_to_the_profile_min():
    r = _runner_stub((4, 16))
    crops, camera = torch.zeros(2, 1, 128, 128), torch.ones(4)
    b, feeds = r._prepare({"crops": crops, "camera": camera})
    assert b == 2 and feeds["crops"].shape[0] == 4 and feeds["camera"] is camera
    with pytest.raises(ValueError, match="takes inputs"):
        r._prepare({"crops": crops})
    with pytest.raises(ValueError, match="outside the engine's profile"):
        r._prepare({"crops": torch.zeros(17, 1, 128, 128), "camera": camera})


class _FakeRunner:
    """EngineRunner's interface without an engine, on the CPU: joints[b] = the mean of crop b, so the order
    of split and re-joined batches shows in the outputs."""

    def __init__(self, specs=IO, batch_range=(1, 8)):
        self.specs, self.batch_range, self.device = specs, batch_range, torch.device("cpu")
        self.inputs = [s for s in specs if s.mode == "input"]
        self.calls = []

    def run(self, feeds):
        (crops,) = feeds.values()
        b = crops.shape[0]
        self.calls.append(b)
        return {"joints": crops.mean((1, 2, 3))[:, None, None].expand(b, 14, 3).clone(),
                "branch_joints": torch.zeros(b, 3, 14, 3), "fusion_weights": torch.full((b, 3), 1 / 3)}

    def stage_times(self, feeds, iters, warmup):
        (crops,) = feeds.values()
        return {"features": 1.0 * crops.shape[0], "heatmaps": 2.0, "decode+fusion": 0.5}


def test_backend_splits_over_the_profile_max_and_keeps_order():
    runner = _FakeRunner()
    backend = TensorRTBackend(runner, _sidecar())
    assert backend.max_batch == 8 and backend.precision == "fp16" and backend.config == ModelConfig()
    assert TensorRTBackend(_FakeRunner(), _sidecar(), max_batch=4).max_batch == 4
    assert TensorRTBackend(_FakeRunner(), _sidecar(), max_batch=64).max_batch == 8  # never past the profile
    crops = torch.linspace(-1, 1, 20)[:, None, None, None].expand(20, 1, 128, 128)
    out = backend(crops)
    assert runner.calls == [8, 8, 4]
    assert torch.allclose(out.joints[:, 0, 0], torch.linspace(-1, 1, 20))
    assert out.branch_joints.shape == (20, 3, 14, 3) and out.fusion_weights.shape == (20, 3)
    times = backend.stage_times(crops, iters=3)
    assert times == {"features": 20.0, "heatmaps": 6.0, "decode+fusion": 1.5}  # the three chunks added


def test_backend_refuses_engines_it_cannot_feed():
    with pytest.raises(BackendUnavailable, match="sidecar disagree"):
        TensorRTBackend(_FakeRunner(specs=(replace(IO[0], dtype="HALF"), *IO[1:])), _sidecar())
    xyz = (*IO, IOSpec("centers", "input", (-1, 3), "FLOAT"))
    with pytest.raises(BackendUnavailable, match="without --xyz"):
        TensorRTBackend(_FakeRunner(specs=xyz), _sidecar(io=xyz))
    with pytest.raises(BackendUnavailable, match="model config"):
        TensorRTBackend(_FakeRunner(), _sidecar(model={"num_joints": 0}))


# -- availability, auto() and engine selection ---------------------------------------------------------------
@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError


def _fake_tensorrt(monkeypatch, version: str):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__=version))


def test_available_says_what_to_install(no_tensorrt):
    ok = TensorRTBackend.available()
    assert not ok.ok and "pip install tensorrt" in ok.reason and "\n" not in ok.reason


def test_available_reasons(monkeypatch):
    assert "CUDA devices, not cpu" in TensorRTBackend.available("cpu").reason
    _fake_tensorrt(monkeypatch, "10.3.0")
    assert "older than 10.8" in TensorRTBackend.available().reason
    _fake_tensorrt(monkeypatch, "10.13.0.35")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "no CUDA device" in TensorRTBackend.available().reason
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert TensorRTBackend.available().ok


def test_create_and_load_refuse_cleanly_without_tensorrt(no_tensorrt, tmp_path):
    with pytest.raises(BackendUnavailable, match="pip install tensorrt"):
        base.create("tensorrt", tmp_path / "hand.engine")
    with pytest.raises(BackendUnavailable, match="pip install tensorrt"):
        TensorRTBackend.load(tmp_path / "hand.engine")


class _Fallback(StubBackend):
    name = "fallback"

    def __init__(self):
        super().__init__(ModelConfig(), torch.device("cpu"), "fp32", None)

    def _infer(self, crops):
        raise NotImplementedError


def test_auto_moves_on_when_tensorrt_is_missing(no_tensorrt, monkeypatch, tmp_path):
    monkeypatch.setitem(base.REGISTRY, "fallback", f"{__name__}:_Fallback")
    monkeypatch.setattr(base, "AUTO_ORDER", {"cuda": ("tensorrt", "fallback"), "cpu": ("tensorrt", "fallback")})
    assert isinstance(base.auto(tmp_path / "hand.onnx", device="cuda"), _Fallback)
    monkeypatch.setattr(base, "AUTO_ORDER", {"cuda": ("tensorrt",), "cpu": ("tensorrt",)})
    with pytest.raises(BackendUnavailable, match="pip install tensorrt"):
        base.auto(tmp_path / "hand.onnx", device="cuda")
    with pytest.raises(BackendUnavailable, match="CUDA devices, not cpu"):
        base.auto(tmp_path / "hand.onnx", device="cpu")


@pytest.fixture
def engine_files(tmp_path):
    """hand.onnx + hand.engine + hand.engine.json as lfsdk-build leaves them (the engine bytes are a stand-in:
    everything here happens before deserialisation)."""
    onnx_path, engine = tmp_path / "hand.onnx", tmp_path / "hand.engine"
    onnx_path.write_bytes(b"onnx model bytes")
    engine.write_bytes(b"serialized engine")
    write_sidecar(engine, _sidecar(onnx_sha256=file_sha256(onnx_path), engine_sha256=file_sha256(engine),
                                   onnx_path=str(onnx_path)))
    return onnx_path, engine


def test_onnx_at_hand(engine_files, tmp_path):
    onnx_path, engine = engine_files
    sidecar = read_sidecar(engine)
    assert onnx_at_hand(engine, sidecar) == onnx_path
    moved = tmp_path / "elsewhere.onnx"
    onnx_path.rename(moved)
    assert onnx_at_hand(engine, sidecar) is None
    assert onnx_at_hand(engine, replace(sidecar, onnx_path=str(moved))) == moved
    moved.write_bytes(b"re-exported, different model")  # same path, other content: not this engine's source
    assert onnx_at_hand(engine, replace(sidecar, onnx_path=str(moved))) is None


@pytest.fixture
def rebuilds(monkeypatch):
    """Record the engine (re)builds _checked_engine asks for instead of running TensorRT."""
    calls = []

    def fake(onnx, machine, precision, profile, workspace_mib, device):
        calls.append((onnx, machine, profile))
        return Path("rebuilt.engine"), _sidecar()

    monkeypatch.setattr(trt_backend, "_engine_from_onnx", fake)
    return calls


def test_matching_engine_loads_as_is(engine_files, rebuilds):
    _, engine = engine_files
    path, sidecar = trt_backend._checked_engine(engine, H100, None, 1024, torch.device("cpu"))
    assert path == engine and sidecar == read_sidecar(engine) and rebuilds == []


@pytest.mark.parametrize("machine", [replace(H100, tensorrt_version="11.4.0.106"),
                                     replace(H100, gpu_name="NVIDIA H200", compute_capability=(9, 0)),
                                     replace(H100, compute_capability=(8, 0))], ids=["trt", "gpu", "sm"])
def test_other_machine_rebuilds_from_the_onnx_at_hand(engine_files, rebuilds, machine):
    onnx_path, engine = engine_files
    path, _ = trt_backend._checked_engine(engine, machine, None, 1024, torch.device("cpu"))
    assert path == Path("rebuilt.engine")
    assert rebuilds == [(onnx_path, machine, BatchProfile(1, 32, 128))]  # the engine's own profile


def test_other_machine_without_onnx_is_a_clear_error(engine_files, rebuilds):
    onnx_path, engine = engine_files
    onnx_path.unlink()
    with pytest.raises(BackendUnavailable) as e:
        trt_backend._checked_engine(engine, replace(H100, tensorrt_version="11.4.0.106"), None, 1024,
                                    torch.device("cpu"))
    msg = str(e.value)
    assert "tensorrt_version" in msg and "11.4.0.106" in msg and "10.13.0.35" in msg
    assert "not at hand" in msg and f"lfsdk-build MODEL.onnx -o {engine}" in msg and "\n" not in msg
    assert rebuilds == []


def test_tampered_engine_rebuilds_and_precision_cannot(engine_files, rebuilds):
    _, engine = engine_files
    engine.write_bytes(b"another engine under the same sidecar")
    trt_backend._checked_engine(engine, H100, None, 1024, torch.device("cpu"))
    assert len(rebuilds) == 1
    engine_files[1].write_bytes(b"serialized engine")
    with pytest.raises(BackendUnavailable, match="cannot change precision"):
        trt_backend._checked_engine(engine, H100, "fp32", 1024, torch.device("cpu"))


def test_missing_engine_or_sidecar(tmp_path, rebuilds):
    with pytest.raises(BackendUnavailable, match="no such engine"):
        trt_backend._checked_engine(tmp_path / "none.engine", H100, None, 1024, torch.device("cpu"))
    (tmp_path / "bare.engine").write_bytes(b"x")
    with pytest.raises(BackendUnavailable, match="sidecar|missing"):
        trt_backend._checked_engine(tmp_path / "bare.engine", H100, None, 1024, torch.device("cpu"))


def test_onnx_is_built_once_into_the_cache(monkeypatch, tmp_path):
    """_engine_from_onnx builds only when the cache has no valid engine for this ONNX/machine/profile."""
    from lfsdk.backends import onnx_info

    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path / "cache"))
    onnx_path = tmp_path / "hand.onnx"
    onnx_path.write_bytes(b"model")
    info = onnx_info.OnnxInfo(onnx_path, file_sha256(onnx_path), (("crops", ("batch", 1, 128, 128)),), "fp16")
    monkeypatch.setattr(trt_backend, "inspect_onnx", lambda p: info)
    builds = []

    def fake_build(onnx, engine, config, *, device=None, log=print):
        builds.append((engine, config.profile))
        engine.parent.mkdir(parents=True, exist_ok=True)
        engine.write_bytes(b"engine for " + str(config.profile).encode())
        s = _sidecar(profile=config.profile, onnx_sha256=info.sha256, engine_sha256=file_sha256(engine))
        write_sidecar(engine, s)
        return s

    monkeypatch.setattr(trt_backend, "build_engine", fake_build)
    dev = torch.device("cpu")
    first, _ = trt_backend._engine_from_onnx(onnx_path, H100, None, DEFAULT_PROFILE, 1024, dev)
    again, _ = trt_backend._engine_from_onnx(onnx_path, H100, "fp16", DEFAULT_PROFILE, 1024, dev)
    assert first == again == engine_cache_path(info.sha256, H100, "fp16", DEFAULT_PROFILE) and len(builds) == 1
    trt_backend._engine_from_onnx(onnx_path, H100, None, BatchProfile(1, 8, 8), 1024, dev)  # other profile
    trt_backend._engine_from_onnx(onnx_path, replace(H100, gpu_name="NVIDIA H200"), None, DEFAULT_PROFILE, 1024, dev)
    assert len(builds) == 3
    first.write_bytes(b"corrupted cache entry")  # hash no longer matches its sidecar: rebuilt
    trt_backend._engine_from_onnx(onnx_path, H100, None, DEFAULT_PROFILE, 1024, dev)
    assert len(builds) == 4
    with pytest.raises(BackendUnavailable, match="fp16 model.*lfsdk-export --fp32"):
        trt_backend._engine_from_onnx(onnx_path, H100, "fp32", DEFAULT_PROFILE, 1024, dev)
    info_qdq = replace(info, precision="int8", asymmetric_qdq=("/features/q",))
    monkeypatch.setattr(trt_backend, "inspect_onnx", lambda p: info_qdq)
    with pytest.raises(BackendUnavailable, match="symmetric INT8"):  # auto() moves on; no build is tried
        trt_backend._engine_from_onnx(onnx_path, H100, None, DEFAULT_PROFILE, 1024, dev)
    assert len(builds) == 4


def test_wrong_file_kind(monkeypatch, tmp_path):
    _fake_tensorrt(monkeypatch, "10.13.0.35")
    monkeypatch.setattr(MachineInfo, "current", classmethod(lambda cls, v, d=None: H100))
    with pytest.raises(BackendUnavailable, match="an .engine or builds from an .onnx"):
        trt_backend.resolve_engine(sys.modules["tensorrt"], tmp_path / "model.safetensors", torch.device("cpu"))


# -- with TensorRT and a GPU ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu_model(tmp_path_factory):
    """The shared test checkpoint (Kaiming weights: joints that move, so differences mean something), its
    FP16 ONNX and an engine with profile 2,4,8 (min > 1 exercises the padding)."""
    from lfsdk.export.onnx import export_onnx
    from lfsdk.backends.tensorrt_build import BuildConfig, build_engine
    from lfsdk.model import load_model
    from tests.api_helpers import shared_model

    ckpt, _ = shared_model()
    d = tmp_path_factory.mktemp("trt")
    onnx_path = export_onnx(ckpt, d / "hand.fp16.onnx", fp16=True)
    engine = d / "hand.engine"
    build_engine(onnx_path, engine, BuildConfig(profile=BatchProfile(2, 4, 8), progress=False, timing_cache=""))
    return load_model(ckpt).cuda(), onnx_path, engine


@pytest.mark.tensorrt
@requires_tensorrt
def test_batches_1_opt_max_and_beyond(gpu_model):
    model, _, engine = gpu_model
    backend = base.create("tensorrt", engine)
    assert backend.max_batch == 8 and backend.precision == "fp16"
    crops = torch.rand(21, 1, 128, 128, device="cuda") * 2 - 1
    with torch.no_grad():
        ref = model(crops)
    assert ref.joints.std(0).mean() > 1e-3  # the reference really varies with the input
    for b in (1, 4, 8, 21):  # below min (padded), opt, max, beyond max (split by Backend.__call__)
        out = backend(crops[:b])
        assert out.joints.shape == (b, 14, 3) and out.joints.dtype == torch.float32
        half = torch.tensor(model.config.cube_size, device="cuda") / 2
        err_mm = ((out.joints - ref.joints[:b]) * half).norm(dim=-1)
        assert err_mm.mean().item() <= 0.5


@pytest.mark.tensorrt
@requires_tensorrt
def test_cuda_graph_replay_equals_plain_enqueue(gpu_model):
    _, _, engine = gpu_model
    plain = TensorRTBackend.load(engine, cuda_graphs=False)
    graphed = TensorRTBackend.load(engine, cuda_graphs=True)
    for b in (2, 3, 8):
        crops = torch.rand(b, 1, 128, 128, device="cuda") * 2 - 1
        expected = plain(crops)
        first = graphed(crops)  # plain enqueue, then capture
        slot = next(s for k, s in graphed.runner._slots.items() if dict(k)["crops"][0] == b)
        assert slot.graph is not None and slot.replayable()
        for _ in range(2):
            again = graphed(crops)  # replays
            for x, y, z in zip(expected, first, again):
                assert torch.equal(x, y) and torch.equal(x, z)
        other = torch.rand(b, 1, 128, 128, device="cuda")  # a replay sees new inputs
        assert torch.equal(graphed(other).joints, plain(other).joints)
    assert len(graphed.runner._slots) == 3  # one graph per input shape


@pytest.mark.tensorrt
@requires_tensorrt
def test_stage_times_cover_the_network_stages(gpu_model):
    _, _, engine = gpu_model
    backend = TensorRTBackend.load(engine)
    times = backend.stage_times(torch.rand(4, 1, 128, 128, device="cuda"), iters=5, warmup=1)
    assert all(times[s] > 0 for s in ("features", "heatmaps", "decode+fusion")), times


@pytest.mark.tensorrt
@requires_tensorrt
def test_onnx_builds_once_then_loads_from_cache(gpu_model, tmp_path, monkeypatch):
    _, onnx_path, _ = gpu_model
    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path))
    a = base.create("tensorrt", onnx_path, batch="1,2,4")
    built = list((tmp_path / "engines").glob("*.engine"))
    assert len(built) == 1
    mtime = built[0].stat().st_mtime_ns
    b = base.create("tensorrt", onnx_path, batch="1,2,4")
    assert built[0].stat().st_mtime_ns == mtime and a.runner.batch_range == b.runner.batch_range == (1, 4)


@pytest.mark.tensorrt
@requires_tensorrt
def test_engine_from_another_gpu_is_rebuilt(gpu_model, tmp_path, monkeypatch):
    import shutil

    _, onnx_path, engine = gpu_model
    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / "hand.engine"
    shutil.copy(engine, copy)
    write_sidecar(copy, replace(read_sidecar(engine), gpu_name="Some Other GPU"))
    backend = TensorRTBackend.load(copy)
    assert backend.runner.engine is not None and backend.sidecar.gpu_name == torch.cuda.get_device_name()
    assert isinstance(backend(torch.zeros(2, 1, 128, 128, device="cuda")), Outputs)
