"""lfsdk-build (export/tensorrt.py): everything around the TensorRT calls runs here; the build itself runs in
the tests marked `tensorrt`, which skip without TensorRT and a GPU."""
from __future__ import annotations

import io
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from lfsdk.engine_cache import BatchProfile, parse_profile, read_sidecar
from lfsdk.backends.onnx_info import OnnxInfo, inspect_onnx, onnx_precision
from lfsdk.backends.tensorrt_build import (
    BuildConfig, BuildProgress, _load_timing_cache, format_parser_errors, network_flags, trtexec_command,
)
from lfsdk.export.tensorrt import main
from lfsdk.model import LatentFusion, ModelConfig
from tests.requirements import has_tensorrt_gpu, requires_tensorrt

REPO = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="module")
def small_fp16_onnx(tmp_path_factory) -> Path:
    """The FP16 graph of a narrow (16-channel) network, exported by lfsdk-export's own code: the same nodes
    and node names as the full model's FP16 export, in a fraction of the time."""
    from lfsdk.export.onnx import export_onnx

    torch.manual_seed(0)
    model = LatentFusion(ModelConfig(channels=16, fusion_channels=16)).eval()
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "hand.fp16.onnx", fp16=True)


# -- batch profile ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [("1,32,128", (1, 32, 128)), (" 2 , 4 ,8 ", (2, 4, 8)),
                                           ("16", (16, 16, 16)), ("1,1,1", (1, 1, 1))])
def test_parse_profile(text, expected):
    p = parse_profile(text)
    assert (p.min, p.opt, p.max) == expected
    assert parse_profile(str(p)) == p


@pytest.mark.parametrize("text,message", [
    ("1,2", "min,opt,max"), ("1,2,3,4", "min,opt,max"), ("a,b,c", "integers"), ("1.5,2,3", "integers"),
    ("", "integers"), ("0,1,2", "1 ≤ min ≤ opt ≤ max"), ("4,2,8", "1 ≤ min ≤ opt ≤ max"),
    ("1,9,8", "1 ≤ min ≤ opt ≤ max"), ("-1,2,3", "1 ≤ min ≤ opt ≤ max"),
])
def test_parse_profile_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_profile(text)


def test_profile_shapes_need_static_sample_dims():
    p = BatchProfile(1, 8, 64)
    assert p.shapes((1, 128, 128)) == ((1, 1, 128, 128), (8, 1, 128, 128), (64, 1, 128, 128))
    with pytest.raises(ValueError, match="only the batch dimension"):
        p.shapes((1, -1, 128))


def test_cli_reports_a_bad_profile_with_its_reason(capsys):
    with pytest.raises(SystemExit) as e:
        main(["hand.onnx", "--batch", "8,4,2"])
    assert e.value.code == 2
    assert "1 ≤ min ≤ opt ≤ max" in capsys.readouterr().err


def test_build_config_rejects_a_bad_workspace():
    with pytest.raises(ValueError, match="MiB"):
        BuildConfig(workspace_mib=0)
    assert BuildConfig().to_dict()["profile"] == "1,32,128"


# -- the ONNX side ---------------------------------------------------------------------------------------------
def _tiny_model(*, input_dims=("batch", 4), nodes=(), initializers=(), elem=TensorProto.FLOAT, meta=None):
    x = helper.make_tensor_value_info("x", elem, list(input_dims))
    y = helper.make_tensor_value_info("y", elem, list(input_dims))
    nodes = list(nodes) or [helper.make_node("Identity", ["x"], ["y"], name="/features/Identity")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], list(initializers)))
    for k, v in (meta or {}).items():
        m.metadata_props.add(key=k, value=v)
    return m


def test_onnx_precision_of_a_real_export(small_fp16_onnx):
    assert inspect_onnx(small_fp16_onnx).precision == "fp16"


def test_onnx_precision_read_from_the_graph_without_metadata():
    assert onnx_precision(_tiny_model()) == "fp32"
    w16 = helper.make_tensor("w", TensorProto.FLOAT16, [1], [0.5])
    assert onnx_precision(_tiny_model(initializers=[w16])) == "fp16"
    cast = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)
    assert onnx_precision(_tiny_model(nodes=[cast])) == "fp16"
    assert onnx_precision(_tiny_model(elem=TensorProto.FLOAT16)) == "fp16"
    s, z = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1]), helper.make_tensor("z", TensorProto.INT8, [], [0])
    qdq = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
           helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    assert onnx_precision(_tiny_model(nodes=qdq, initializers=[s, z])) == "int8"
    # lfsdk-export's metadata wins over the graph
    assert onnx_precision(_tiny_model(initializers=[w16], meta={"lfsdk.precision": "fp32"})) == "fp32"


def _qdq(zero_point: int, dtype) -> onnx.ModelProto:
    s = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
    z = helper.make_tensor("z", dtype, [], [zero_point])
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="/features/q"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="/features/dq")]
    return _tiny_model(nodes=nodes, initializers=[s, z])


def test_asymmetric_qdq_is_found_before_tensorrt_refuses_it():
    from lfsdk.backends.onnx_info import asymmetric_qdq

    assert asymmetric_qdq(_qdq(0, TensorProto.INT8)) == ()
    assert asymmetric_qdq(_qdq(3, TensorProto.INT8)) == ("/features/q", "/features/dq")
    assert asymmetric_qdq(_qdq(128, TensorProto.UINT8)) == ("/features/q", "/features/dq")  # onnxruntime QUInt8
    assert asymmetric_qdq(_tiny_model()) == ()


def test_inspect_onnx_reads_inputs_and_hash(small_fp16_onnx):
    from lfsdk.model.checkpoint import file_sha256

    info = inspect_onnx(small_fp16_onnx)
    assert info.inputs == (("crops", ("batch", 1, 128, 128)),)
    assert info.batched_inputs() == {"crops": (1, 128, 128)}
    assert info.sha256 == file_sha256(small_fp16_onnx)


def test_inspect_onnx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such ONNX"):
        inspect_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(ValueError, match="not a readable ONNX"):
        inspect_onnx(bad)
    static = tmp_path / "static.onnx"
    onnx.save(_tiny_model(input_dims=(1, 4)), str(static))
    with pytest.raises(ValueError, match="no input has a dynamic batch"):
        inspect_onnx(static).batched_inputs()
    ragged = tmp_path / "ragged.onnx"
    onnx.save(_tiny_model(input_dims=("batch", "width")), str(ragged))
    with pytest.raises(ValueError, match="only the batch dimension"):
        inspect_onnx(ragged).batched_inputs()


def test_static_inputs_need_no_profile():
    info = OnnxInfo(Path("x.onnx"), "0" * 64, (("crops", ("batch", 1, 8, 8)), ("camera", (4,)),
                                               ("centers", ("batch", 3))), "fp32")
    assert info.batched_inputs() == {"crops": (1, 8, 8), "centers": (3,)}


# -- trtexec ----------------------------------------------------------------------------------------------------
def test_trtexec_command_for_several_inputs():
    cmd = trtexec_command("m.onnx", "m.engine", {"crops": (1, 8, 8), "centers": (3,)},
                          BuildConfig(profile=BatchProfile(2, 4, 16), workspace_mib=512), None)
    assert "--minShapes=crops:2x1x8x8,centers:2x3" in cmd
    assert "--optShapes=crops:4x1x8x8,centers:4x3" in cmd
    assert "--maxShapes=crops:16x1x8x8,centers:16x3" in cmd
    assert "--memPoolSize=workspace:512M" in cmd
    assert not any(a.startswith("--timingCacheFile") for a in cmd)
    with pytest.raises(ValueError):
        trtexec_command("m.onnx", "m.engine", {}, BuildConfig(), None)


def _cli(*args: str) -> subprocess.CompletedProcess:
    """lfsdk-build as a user runs it, in a fresh interpreter where `import tensorrt` fails whether or not
    TensorRT is installed (None in sys.modules makes the import raise ImportError)."""
    code = ("import sys; sys.modules['tensorrt'] = None; from lfsdk.export.tensorrt import main; "
            "sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_print_trtexec(small_fp16_onnx, tmp_path, capsys):
    engine = tmp_path / "hand.engine"
    assert main([str(small_fp16_onnx), "-o", str(engine), "--batch", "1,8,64", "--workspace", "2048",
                 "--timing-cache", str(tmp_path / "t.cache"), "--print-trtexec"]) == 0
    cmd = shlex.split(capsys.readouterr().out.strip())
    assert cmd == ["trtexec", f"--onnx={small_fp16_onnx}", f"--saveEngine={engine}", "--stronglyTyped",
                   "--minShapes=crops:1x1x128x128", "--optShapes=crops:8x1x128x128",
                   "--maxShapes=crops:64x1x128x128", "--memPoolSize=workspace:2048M",
                   "--profilingVerbosity=detailed", "--skipInference", f"--timingCacheFile={tmp_path / 't.cache'}"]
    # precision comes from the ONNX: never the deprecated (10.12) / removed (11) weak-typing flags
    assert not {"--fp16", "--int8", "--best", "--bf16"} & set(cmd)
    assert not engine.exists()  # printing builds nothing


def test_print_trtexec_default_output_and_no_cache(small_fp16_onnx, capsys):
    assert main([str(small_fp16_onnx), "--no-timing-cache", "--print-trtexec"]) == 0
    cmd = shlex.split(capsys.readouterr().out)
    assert f"--saveEngine={small_fp16_onnx.with_suffix('.engine')}" in cmd
    assert "--optShapes=crops:32x1x128x128" in cmd  # the default profile 1,32,128
    assert not any(a.startswith("--timingCacheFile") for a in cmd)


def test_missing_tensorrt_is_one_line_naming_the_install(small_fp16_onnx, tmp_path):
    r = _cli(str(small_fp16_onnx), "-o", str(tmp_path / "hand.engine"))
    assert r.returncode == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("lfsdk-build: TensorRT is not installed")
    assert "pip install tensorrt" in lines[0] and "tensorrt-cu12" in lines[0] and "tensorrt-cu13" in lines[0]
    assert r.stdout == ""
    assert not (tmp_path / "hand.engine").exists()


@pytest.mark.skipif(has_tensorrt_gpu(), reason="checks the installed console script where TensorRT is absent")
def test_console_script_without_tensorrt(small_fp16_onnx, tmp_path):
    script = Path(sys.executable).with_name("lfsdk-build")
    if not script.exists():
        pytest.skip("lfsdk-build console script not installed in this environment (pip install -e .)")
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is importable here")
    except (ImportError, OSError):
        pass
    r = subprocess.run([str(script), str(small_fp16_onnx), "-o", str(tmp_path / "h.engine")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and "pip install tensorrt" in r.stderr


def test_cli_error_for_a_missing_onnx_with_print_trtexec(tmp_path, capsys):
    assert main([str(tmp_path / "nope.onnx"), "--print-trtexec"]) == 2
    assert "no such ONNX file" in capsys.readouterr().err


# -- TensorRT layer names of this network → stages -----------------------------------------------------------
_ROOT_STAGE = {"features": "features", "branches": "heatmaps", "decode": "decode+fusion", "fusion": "decode+fusion"}


def _root_stage(node_name: str) -> str:
    """The stage from the top-level module in the node's path (/features/…, /branches.N/…), read directly."""
    return _ROOT_STAGE[node_name.split("/")[1].split(".")[0]]


def _trt_layer_names(model: onnx.ModelProto) -> list[tuple[str, str | None]]:
    """(layer name, expected stage) as a TensorRT 10/11 engine built with ProfilingVerbosity.DETAILED names the
    layers of this graph: Conv [+ residual Add] [+ LeakyRelu] fused and joined with " + ", a reformat in
    front of the first convolution, the decode/fusion tail as one Myelin "{ForeignNode[first...last]}",
    PWN(...) pointwise fusions, and TensorRT-internal layers that carry no node name."""
    nodes = list(model.graph.node)
    consumers: dict[str, list] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    tail = next(i for i, n in enumerate(nodes) if n.name.startswith("/decode/"))
    names, taken = [], set()
    for n in nodes[:tail]:
        if n.name in taken:
            continue
        chain = [n]
        while chain[-1].op_type in ("Conv", "Add") and n.op_type == "Conv":
            nxt = consumers.get(chain[-1].output[0], [])
            if len(nxt) != 1 or nxt[0].op_type not in ("Add", "LeakyRelu") or nxt[0].name in taken:
                break
            chain.append(nxt[0])
        taken.update(c.name for c in chain)
        names.append((" + ".join(c.name for c in chain), _root_stage(n.name)))
    first_conv = next(name for name, _ in names if "/Conv" in name)
    names.append((f"Reformatting CopyNode for Input Tensor 0 to {first_conv}", "features"))
    last_branch_conv = [n.name for n in nodes[:tail] if n.name.startswith("/branches.2/") and n.op_type == "Conv"][-1]
    names.append((f"{{ForeignNode[{nodes[tail].name}...{nodes[-1].name}]}}", "decode+fusion"))
    names.append((f"Reformatting CopyNode for Output Tensor 0 to {{ForeignNode[{last_branch_conv}...{nodes[-1].name}]}}",
                  "heatmaps"))
    names.append(("PWN(/features/features.1/Add, /features/features.1/act/LeakyRelu)", "features"))
    names += [("(Unnamed Layer* 812) [Shuffle]", None), ("__myl_MulSumAdd_myl0_3", None),
              ("Reformatting CopyNode for Input Tensor 0 to (Unnamed Layer* 3) [Constant]", None)]
    return names


def test_every_exported_node_has_a_stage(small_fp16_onnx):
    from lfsdk.backends.tensorrt import layer_stage

    nodes = onnx.load(str(small_fp16_onnx), load_external_data=False).graph.node
    assert len(nodes) > 300
    for n in nodes:
        assert layer_stage(n.name) == _root_stage(n.name), n.name


def test_tensorrt_layer_names_map_to_stages(small_fp16_onnx):
    from lfsdk.backends.tensorrt import StageTimes, layer_stage

    layers = _trt_layer_names(onnx.load(str(small_fp16_onnx), load_external_data=False))
    fused = [name for name, _ in layers if " + " in name]
    assert len(fused) > 50  # conv + act fusions really were formed from the graph
    for name, stage in layers:
        assert layer_stage(name) == stage, name
    times = StageTimes()
    for i, (name, _) in enumerate(layers):
        times.add(name, 0.5 * (i % 3 + 1))
    expected: dict[str, float] = {}
    for i, (_, stage) in enumerate(layers):
        expected[stage or "other"] = expected.get(stage or "other", 0.0) + 0.5 * (i % 3 + 1)
    per_run = times.per_run(2)
    assert list(per_run)[:3] == ["features", "heatmaps", "decode+fusion"]
    assert per_run == pytest.approx({k: v / 2 for k, v in expected.items()})
    assert times.unmapped == {name for name, stage in layers if stage is None}


# -- pieces that take TensorRT objects, fed stand-ins with the same methods -----------------------------------
def test_network_flags_on_tensorrt_10_and_11():
    # TensorRT 10: EXPLICIT_BATCH (0, deprecated, ignored) and STRONGLY_TYPED (1)
    trt10 = SimpleNamespace(NetworkDefinitionCreationFlag=SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1))
    # TensorRT 11: EXPLICIT_BATCH removed, STRONGLY_TYPED kept as a deprecated no-op
    trt11 = SimpleNamespace(NetworkDefinitionCreationFlag=SimpleNamespace(STRONGLY_TYPED=1,
                                                                          PREFER_AOT_PYTHON_PLUGINS=2))
    assert network_flags(trt10) == 1 << 1
    assert network_flags(trt11) == 1 << 1
    assert network_flags(SimpleNamespace(NetworkDefinitionCreationFlag=SimpleNamespace())) == 0


class _ParserError:
    def __init__(self, node, name, op, desc, code="UNSUPPORTED_NODE"):
        self._v = node, name, op, desc, code

    def node(self): return self._v[0]
    def node_name(self): return self._v[1]
    def node_operator(self): return self._v[2]
    def desc(self): return self._v[3]
    def code(self): return self._v[4]


def test_parser_errors_name_the_nodes():
    errors = [_ParserError(41, "/decode/Softmax", "Softmax", "unsupported axis"),
              _ParserError(-1, "", "", "model has no graph", "MODEL_DESERIALIZE_FAILED")]
    parser = SimpleNamespace(num_errors=len(errors), get_error=errors.__getitem__)
    text = format_parser_errors(parser, "hand.onnx")
    lines = text.splitlines()
    assert lines[0] == "hand.onnx: TensorRT's ONNX parser failed with 2 error(s):"
    assert lines[1] == "  node 41 '/decode/Softmax' (Softmax): unsupported axis [UNSUPPORTED_NODE]"
    assert lines[2] == "  model: model has no graph [MODEL_DESERIALIZE_FAILED]"


class _FakeBuilderConfig:
    """create/set_timing_cache as TensorRT's IBuilderConfig: set returns False for another device's cache."""

    def __init__(self, accept: bool, readable: bool = True):
        self.accept, self.readable, self.created, self.set = accept, readable, [], []

    def create_timing_cache(self, data):
        self.created.append(bytes(data))
        return None if (data and not self.readable) else SimpleNamespace(data=bytes(data))

    def set_timing_cache(self, cache, ignore_mismatch):
        assert ignore_mismatch is False
        self.set.append(cache.data)
        return self.accept or cache.data == b""


def test_timing_cache_loading(tmp_path):
    logs = []
    path = tmp_path / "t.cache"
    cfg = _FakeBuilderConfig(accept=True)
    _load_timing_cache(None, cfg, path, logs.append)  # no file yet: an empty cache
    assert cfg.created == [b""] and not logs
    path.write_bytes(b"cache")
    cfg = _FakeBuilderConfig(accept=True)
    _load_timing_cache(None, cfg, path, logs.append)
    assert cfg.set == [b"cache"] and not logs
    cfg = _FakeBuilderConfig(accept=False)  # another GPU's cache: refused, start afresh
    _load_timing_cache(None, cfg, path, logs.append)
    assert cfg.set == [b"cache", b""] and "another GPU" in logs[-1]
    cfg = _FakeBuilderConfig(accept=True, readable=False)
    _load_timing_cache(None, cfg, path, logs.append)
    assert cfg.set == [b""] and "unreadable" in logs[-1]
    assert _load_timing_cache(None, cfg, None, logs.append) is None


def test_progress_bars_follow_the_builder_phases():
    out = io.StringIO()
    progress = BuildProgress(file=out)
    progress.phase_start("Building engine", None, 3)
    progress.phase_start("Tactic selection", "Building engine", 2)
    assert progress.step_complete("Tactic selection", 0) is True
    assert progress.step_complete("Tactic selection", 1) is True
    progress.phase_finish("Tactic selection")
    for step in range(3):
        assert progress.step_complete("Building engine", step)
    progress.phase_finish("Building engine")
    text = out.getvalue()
    assert "Building engine" in text and "3/3" in text and "Tactic selection" in text
    assert progress._bars == {}
    assert progress.step_complete("unknown phase", 0) is True  # late or foreign callbacks are harmless
    progress.cancelled = True
    assert progress.step_complete("Building engine", 0) is False  # asks TensorRT to stop


# -- the build sequence against a recording stand-in for the tensorrt module ---------------------------------
class _Recorder:
    """A stand-in for the parts of the tensorrt module build_engine uses, shaped after the 11.x bindings
    (STRONGLY_TYPED only, no BuilderFlag.FP16). It records the calls so the test can check the sequence; it
    says nothing about real TensorRT, which only the `tensorrt` tests exercise."""

    __version__ = "11.4.0.106"

    def __init__(self, parse_ok=True):
        rec = self
        self.calls, self.parse_ok = [], parse_ok

        class Enum(SimpleNamespace):
            pass

        self.NetworkDefinitionCreationFlag = Enum(STRONGLY_TYPED=1)
        self.MemoryPoolType = Enum(WORKSPACE="WORKSPACE")
        self.ProfilingVerbosity = Enum(DETAILED="DETAILED")
        self.TensorIOMode = Enum(INPUT="INPUT", OUTPUT="OUTPUT")

        class Logger:
            WARNING, VERBOSE = "W", "V"

            def __init__(self, severity):
                rec.calls.append(("Logger", severity))

        class IProgressMonitor:
            def __init__(self):
                rec.calls.append(("IProgressMonitor.__init__",))

        class Tensor(SimpleNamespace):
            pass

        class Network:
            num_inputs = 1

            def get_input(self, i):
                return Tensor(name="crops", shape=(-1, 1, 128, 128))

        class Profile:
            def set_shape(self, name, mn, opt, mx):
                rec.calls.append(("set_shape", name, mn, opt, mx))

        class Cache:
            def serialize(self):
                return b"timing"

        class Config:
            def set_memory_pool_limit(self, pool, size):
                rec.calls.append(("set_memory_pool_limit", pool, size))

            def set_flag(self, flag):  # the weak-typing path: must never be taken
                rec.calls.append(("set_flag", flag))

            def add_optimization_profile(self, profile):
                return 0

            def create_timing_cache(self, data):
                return Cache()

            def set_timing_cache(self, cache, ignore_mismatch):
                return True

            def get_timing_cache(self):
                return Cache()

            def __setattr__(self, name, value):
                rec.calls.append(("config." + name, value))
                object.__setattr__(self, name, value)

        class Builder:
            def __init__(self, logger):
                pass

            def create_network(self, flags):
                rec.calls.append(("create_network", flags))
                return Network()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                m = config.progress_monitor
                m.phase_start("Building engine", None, 2)
                m.step_complete("Building engine", 0)
                m.step_complete("Building engine", 1)
                m.phase_finish("Building engine")
                return b"serialized plan"

        class OnnxParser:
            def __init__(self, network, logger):
                pass

            def parse_from_file(self, path):
                rec.calls.append(("parse_from_file", path))
                return rec.parse_ok

            num_errors = 1

            def get_error(self, i):
                return _ParserError(7, "/branches.1/branches.1.3/Conv", "Conv", "kernel weights are not constant")

        class Engine:
            num_io_tensors = 2
            _io = {"crops": ("INPUT", (-1, 1, 128, 128), "FLOAT"), "joints": ("OUTPUT", (-1, 14, 3), "FLOAT")}

            def get_tensor_name(self, i):
                return list(self._io)[i]

            def get_tensor_mode(self, name):
                return self._io[name][0]

            def get_tensor_shape(self, name):
                return self._io[name][1]

            def get_tensor_dtype(self, name):
                return SimpleNamespace(name=self._io[name][2])

        class Runtime:
            def __init__(self, logger):
                pass

            def deserialize_cuda_engine(self, data):
                rec.calls.append(("deserialize_cuda_engine", data))
                return Engine()

        self.Logger, self.IProgressMonitor, self.Builder, self.OnnxParser, self.Runtime = (
            Logger, IProgressMonitor, Builder, OnnxParser, Runtime)


@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    import contextlib

    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", lambda index: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: (9, 0))


def test_build_sequence_with_a_stand_in(small_fp16_onnx, fake_gpu, monkeypatch, tmp_path):
    from lfsdk.engine_cache import MachineInfo, timing_cache_path
    from lfsdk.backends.tensorrt_build import build_engine
    from lfsdk.model.checkpoint import file_sha256

    fake = _Recorder()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    engine = tmp_path / "out" / "hand.engine"
    sidecar = build_engine(small_fp16_onnx, engine, BuildConfig(profile=BatchProfile(1, 8, 64), workspace_mib=256,
                                                                progress=False), log=lambda m: None)
    calls = fake.calls
    assert ("create_network", 1 << 1) in calls  # strongly typed
    assert not [c for c in calls if c[0] == "set_flag"]  # no precision flags
    assert ("set_memory_pool_limit", "WORKSPACE", 256 << 20) in calls
    assert ("config.profiling_verbosity", "DETAILED") in calls
    assert ("set_shape", "crops", (1, 1, 128, 128), (8, 1, 128, 128), (64, 1, 128, 128)) in calls
    assert ("IProgressMonitor.__init__",) in calls
    assert engine.read_bytes() == b"serialized plan" and read_sidecar(engine) == sidecar
    assert sidecar.engine_sha256 == file_sha256(engine) and sidecar.onnx_sha256 == file_sha256(small_fp16_onnx)
    assert sidecar.precision == "fp16" and sidecar.tensorrt_version == "11.4.0.106" and sidecar.gpu_name.startswith("NVIDIA H100")
    assert [s.name for s in sidecar.io] == ["crops", "joints"] and sidecar.model["channels"] == 16
    machine = MachineInfo("11.4.0.106", "NVIDIA H100 80GB HBM3", (9, 0))
    assert timing_cache_path(machine).read_bytes() == b"timing"


def test_build_refuses_asymmetric_qdq_before_building(fake_gpu, monkeypatch, tmp_path, capsys):
    fake = _Recorder()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    path = tmp_path / "q.onnx"
    onnx.save(_qdq(128, TensorProto.UINT8), str(path))
    assert main([str(path), "-o", str(tmp_path / "q.engine")]) == 2
    assert "symmetric INT8 Q/DQ" in capsys.readouterr().err
    assert not [c for c in fake.calls if c[0] == "parse_from_file"]


def test_build_reports_parser_errors_with_a_stand_in(small_fp16_onnx, fake_gpu, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tensorrt", _Recorder(parse_ok=False))
    assert main([str(small_fp16_onnx), "-o", str(tmp_path / "h.engine"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "node 7 '/branches.1/branches.1.3/Conv' (Conv): kernel weights are not constant" in err
    assert not (tmp_path / "h.engine").exists()


# -- with TensorRT and a GPU ---------------------------------------------------------------------------------
@pytest.mark.tensorrt
@requires_tensorrt
def test_build_writes_engine_sidecar_and_timing_cache(small_fp16_onnx, tmp_path, monkeypatch):
    import tensorrt as trt

    from lfsdk.engine_cache import MachineInfo, timing_cache_path
    from lfsdk.backends.tensorrt_build import build_engine
    from lfsdk.model.checkpoint import file_sha256

    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path / "cache"))
    engine = tmp_path / "hand.engine"
    sidecar = build_engine(small_fp16_onnx, engine, BuildConfig(profile=BatchProfile(1, 4, 16), progress=False))
    machine = MachineInfo.current(trt.__version__)
    assert read_sidecar(engine) == sidecar
    assert sidecar.machine == machine and sidecar.precision == "fp16"
    assert sidecar.profile == BatchProfile(1, 4, 16)
    assert sidecar.onnx_sha256 == file_sha256(small_fp16_onnx) and sidecar.engine_sha256 == file_sha256(engine)
    assert {s.name for s in sidecar.io} == {"crops", "joints", "branch_joints", "fusion_weights"}
    assert timing_cache_path(machine).stat().st_size > 0


@pytest.mark.tensorrt
@requires_tensorrt
def test_parse_errors_surface_node_names(tmp_path):
    from lfsdk.backends.onnx_info import OnnxParseError
    from lfsdk.backends.tensorrt_build import build_engine

    bad = tmp_path / "bad.onnx"
    node = helper.make_node("NoSuchOp", ["x"], ["y"], name="/decode/NoSuchOp", domain="lfsdk.test")
    model = _tiny_model(nodes=[node], meta={"lfsdk.format": "lfsdk-onnx/1", "lfsdk.config": "{}"})
    model.opset_import.add(domain="lfsdk.test", version=1)
    onnx.save(model, str(bad))
    with pytest.raises(OnnxParseError, match="/decode/NoSuchOp"):
        build_engine(bad, tmp_path / "bad.engine", BuildConfig(progress=False, timing_cache=""))


@pytest.mark.tensorrt
@requires_tensorrt
def test_fp16_engine_matches_torch_on_held_out_frames(exported, model, frames, reference, tmp_path, monkeypatch):
    """The FP16 engine (strongly typed from the FP16 ONNX) vs eager torch FP32: ≤ 0.5 mm mean on the fused
    joints over the conftest's 256 held-out rendered frames; the engine runs through the parity runner."""
    from lfsdk.export.parity import BackendRunner, compare

    monkeypatch.setenv("LFSDK_CACHE", str(tmp_path / "cache"))
    runner = BackendRunner.factory("tensorrt")(exported["fp16"], "fp16")
    got = runner({"crops": frames["crops"]})
    rows = {r.output: r for r in compare(reference, got, frames["cube"] / 2, runner.name, "fp16")}
    assert rows["joints"].mean <= 0.5, rows["joints"]
    assert rows["joints"].passed
    assert float(np.abs(got["fusion_weights"].sum(1) - 1).max()) < 1e-2
