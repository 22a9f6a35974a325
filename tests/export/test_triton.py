"""The Triton model repository: configs parse with tritonclient's protobuf, the ensemble is wired consistently,
the network runs in onnxruntime with the shapes its config declares, and the whole ensemble runs on the real
tritonserver that nvidia-pytriton ships (the network step as a Python-backend onnxruntime model there, since
that build has no onnxruntime backend), giving the in-process estimator's joints through lfsdk.serving.Client.

Needs the [serve] extra (tritonclient; pytriton for the server test)."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="needs the [serve] extra (tritonclient)")

from google.protobuf.json_format import MessageToDict  # noqa: E402

from lfsdk.export.triton import (  # noqa: E402
    RepositoryConfig, RepositoryError, main, onnx_io, parse_config, write_model_repository,
)
from lfsdk.model import LatentFusion, ModelConfig  # noqa: E402
from lfsdk.serving import HANDS_MODEL_NAME, MODEL_NAME, hands_outputs, request_inputs, response_outputs  # noqa: E402

from tests.serving.helpers import (  # noqa: E402
    assert_same_hands, free_ports, synthetic_frames, two_hand_scenes, wait_until,
)

NAMES = [f"{MODEL_NAME}{s}" for s in ("", "_preprocess", "_network", "_postprocess", "_hands")]
NP_OF = {"TYPE_FP32": np.float32, "TYPE_FP16": np.float16, "TYPE_UINT16": np.uint16, "TYPE_BOOL": np.bool_}


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    """A narrow network (16 channels) exported by lfsdk-export's own code: the real graph, quickly."""
    from lfsdk.export.onnx import export_onnx

    torch.manual_seed(0)
    model = LatentFusion(ModelConfig(channels=16, fusion_channels=16)).eval()
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "hand.onnx")


@pytest.fixture(scope="module")
def repo(onnx_file, tmp_path_factory) -> Path:
    return write_model_repository(onnx_file, tmp_path_factory.mktemp("repo") / "models",
                                  config=RepositoryConfig(kind="cpu", max_batch=16))


def configs(repo: Path) -> dict[str, dict]:
    return {n: MessageToDict(parse_config((repo / n / "config.pbtxt").read_text()),
                             preserving_proto_field_name=True) for n in NAMES}


def tensors(cfg: dict, key: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {t["name"]: (t["data_type"], tuple(int(d) for d in t["dims"])) for t in cfg.get(key, [])}


def test_layout_and_configs_parse(repo, onnx_file):
    assert sorted(p.name for p in repo.iterdir()) == sorted(NAMES)
    cfg = configs(repo)
    assert (repo / f"{MODEL_NAME}_network" / "1" / "model.onnx").read_bytes() == onnx_file.read_bytes()
    assert cfg[MODEL_NAME]["platform"] == "ensemble"
    net = cfg[f"{MODEL_NAME}_network"]
    assert net["platform"] == "onnxruntime_onnx" and net["max_batch_size"] == 16
    assert net["dynamic_batching"]["preferred_batch_size"] == [4, 8, 16]
    assert net["instance_group"] == [{"count": 1, "kind": "KIND_CPU"}]
    for n in NAMES[1:]:
        assert cfg[n]["max_batch_size"] == 16
    for n in (f"{MODEL_NAME}_preprocess", f"{MODEL_NAME}_postprocess", HANDS_MODEL_NAME):
        assert cfg[n]["backend"] == "python"
        assert json.loads(cfg[n]["parameters"]["lfsdk_model_config"]["string_value"])["channels"] == 16
        assert "TritonPythonModel" in (repo / n / "1" / "model.py").read_text()


def test_hands_model_runs_find_hands_on_its_own_copy_of_the_onnx(repo, onnx_file, tmp_path):
    """The multi-hand model: the ensemble's inputs, Hands' fields (a slot dimension first), model.onnx beside
    its model.py, and the hand scorer fitted for the ONNX (hands.json beside it) when there is one."""
    from lfsdk.hands import HAND_FIELDS, SCORER_FILE

    hands = configs(repo)[HANDS_MODEL_NAME]
    assert tensors(hands, "input") == {s.name: ("TYPE_" + s.triton_dtype, s.dims) for s in request_inputs()}
    assert tensors(hands, "output") == {s.name: ("TYPE_" + s.triton_dtype, s.dims) for s in hands_outputs(14)}
    assert set(tensors(hands, "output")) == set(HAND_FIELDS)
    assert tensors(hands, "output")["branch_xyz"] == ("TYPE_FP32", (-1, 3, 14, 3))
    assert "HandsModel as TritonPythonModel" in (repo / HANDS_MODEL_NAME / "1" / "model.py").read_text()
    assert (repo / HANDS_MODEL_NAME / "1" / "model.onnx").read_bytes() == onnx_file.read_bytes()
    assert not (repo / HANDS_MODEL_NAME / "1" / SCORER_FILE).exists()  # none beside the test ONNX
    beside = tmp_path / "m"
    beside.mkdir()
    shutil.copy(onnx_file, beside / "hand.onnx")
    (beside / SCORER_FILE).write_text('{"fitted": "for hand.onnx"}')
    out = write_model_repository(beside / "hand.onnx", tmp_path / "r", config=RepositoryConfig(kind="cpu"))
    assert (out / HANDS_MODEL_NAME / "1" / SCORER_FILE).read_text() == '{"fitted": "for hand.onnx"}'


def test_network_config_is_read_from_the_onnx(repo, onnx_file):
    ins, outs = onnx_io(onnx_file)
    net = configs(repo)[f"{MODEL_NAME}_network"]
    assert tensors(net, "input") == {"crops": ("TYPE_FP32", (1, 128, 128))}
    assert tensors(net, "output") == {"joints": ("TYPE_FP32", (14, 3)), "branch_joints": ("TYPE_FP32", (3, 14, 3)),
                                      "fusion_weights": ("TYPE_FP32", (3,))}
    assert [s.name for s in ins] == ["crops"] and {s.name for s in outs} == set(tensors(net, "output"))


def test_ensemble_wiring_is_consistent(repo):
    """Every step reads tensors that exist (ensemble inputs or earlier outputs) with the dtype and dims the
    step's model declares, and every ensemble output is produced with its declared dtype and dims."""
    cfg = configs(repo)
    ens = cfg[MODEL_NAME]
    assert tensors(ens, "input") == {s.name: ("TYPE_" + s.triton_dtype, s.dims) for s in request_inputs()}
    assert tensors(ens, "output") == {s.name: ("TYPE_" + s.triton_dtype, s.dims) for s in response_outputs(14)}
    available = dict(tensors(ens, "input"))
    for step in ens["ensemble_scheduling"]["step"]:
        model = cfg[step["model_name"]]
        ins, outs = tensors(model, "input"), tensors(model, "output")
        assert set(step["input_map"]) == set(ins), step["model_name"]  # map<model tensor, ensemble tensor>
        for key, value in step["input_map"].items():
            assert available[value] == ins[key], (step["model_name"], key)
        for key, value in step["output_map"].items():
            assert value not in available, f"{value} produced twice"
            available[value] = outs[key]
    for name, spec in tensors(ens, "output").items():
        assert available[name] == spec


@pytest.mark.parametrize("batch", [1, 16])
def test_network_runs_in_onnxruntime_with_the_declared_shapes(repo, batch):
    import onnxruntime as ort

    net = configs(repo)[f"{MODEL_NAME}_network"]
    assert batch <= net["max_batch_size"]
    sess = ort.InferenceSession(str(repo / f"{MODEL_NAME}_network" / "1" / "model.onnx"),
                                providers=["CPUExecutionProvider"])
    feeds = {name: np.random.default_rng(0).uniform(-1, 1, (batch, *dims)).astype(NP_OF[dt])
             for name, (dt, dims) in tensors(net, "input").items()}
    outs = tensors(net, "output")
    results = sess.run(list(outs), feeds)
    for (name, (dt, dims)), value in zip(outs.items(), results):
        assert value.shape == (batch, *dims) and value.dtype == NP_OF[dt], name
        assert np.isfinite(value).all()


def test_cli_writes_a_repository(onnx_file, tmp_path, capsys):
    assert main([str(onnx_file), "--triton-repo", str(tmp_path / "r"), "--kind", "cpu", "--max-batch", "8",
                 "--preferred-batch", "2", "8", "--instances", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("parsed with tritonclient") == 5 and "tritonserver --model-repository" in out
    net = configs(tmp_path / "r")[f"{MODEL_NAME}_network"]
    assert net["dynamic_batching"]["preferred_batch_size"] == [2, 8]
    assert net["instance_group"] == [{"count": 2, "kind": "KIND_CPU"}]
    # a second run refuses to overwrite, with a message and exit code 2
    assert main([str(onnx_file), "--triton-repo", str(tmp_path / "r")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([str(onnx_file), "--triton-repo", str(tmp_path / "r"), "--overwrite"]) == 0


def test_bad_inputs_are_clear_errors(onnx_file, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(RepositoryError, match="no such ONNX"):
        write_model_repository(tmp_path / "missing.onnx", tmp_path / "a")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.onnx"):
        write_model_repository(junk, tmp_path / "b", model_config=ModelConfig())
    # a fixed batch dimension cannot be batched by Triton
    x = helper.make_tensor_value_info("crops", TensorProto.FLOAT, [2, 1, 128, 128])
    y = helper.make_tensor_value_info("joints", TensorProto.FLOAT, [2, 1, 128, 128])
    fixed = tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Identity", ["crops"], ["joints"])], "g",
                                                  [x], [y])), str(fixed))
    with pytest.raises(RepositoryError, match="no dynamic batch"):
        write_model_repository(fixed, tmp_path / "c", model_config=ModelConfig())
    with pytest.raises(RepositoryError, match="outside 1..max_batch"):
        write_model_repository(onnx_file, tmp_path / "d", config=RepositoryConfig(max_batch=8, preferred_batch_sizes=(16,)))
    with pytest.raises(RepositoryError, match="kind"):
        RepositoryConfig(kind="tpu")
    with pytest.raises(RepositoryError, match="no such engine"):
        write_model_repository(onnx_file, tmp_path / "e", engine=tmp_path / "none.engine")
    assert not any((tmp_path / d).exists() for d in "bcde")  # nothing half-written


def test_engine_becomes_model_plan_with_the_profile_max(onnx_file, tmp_path):
    """A TensorRT engine is served as model.plan; max_batch_size comes from its sidecar's batch profile, and
    an engine built from another ONNX is refused."""
    from lfsdk.engine_cache import BatchProfile, EngineSidecar, write_sidecar
    from lfsdk.model.checkpoint import file_sha256

    engine = tmp_path / "hand.engine"
    engine.write_bytes(b"serialized engine bytes")  # copied as is: Triton's TensorRT backend reads it
    sidecar = EngineSidecar(tensorrt_version="10.13.0", gpu_name="NVIDIA H100", compute_capability=(9, 0),
                            precision="fp32", profile=BatchProfile(1, 16, 32), onnx_sha256=file_sha256(onnx_file),
                            engine_sha256=file_sha256(engine), lfsdk_version="0.1.0")
    write_sidecar(engine, sidecar)
    out = write_model_repository(onnx_file, tmp_path / "r", engine=engine)
    net = configs(out)[f"{MODEL_NAME}_network"]
    assert net["platform"] == "tensorrt_plan" and net["max_batch_size"] == 32
    assert net["instance_group"] == [{"count": 1, "kind": "KIND_GPU"}]
    assert (out / f"{MODEL_NAME}_network" / "1" / "model.plan").read_bytes() == engine.read_bytes()
    with pytest.raises(RepositoryError, match="exceeds the engine profile"):
        write_model_repository(onnx_file, tmp_path / "r2", engine=engine, config=RepositoryConfig(max_batch=64))
    write_sidecar(engine, dataclasses.replace(sidecar, onnx_sha256="0" * 64))
    with pytest.raises(RepositoryError, match="another ONNX"):
        write_model_repository(onnx_file, tmp_path / "r3", engine=engine)


# -- the repository on a real tritonserver ------------------------------------------------------------------

_ORT_NETWORK = '''"""Test stand-in: the bundled tritonserver has no onnxruntime backend, so run model.onnx in Python."""
import json
from pathlib import Path

import onnxruntime as ort
import triton_python_backend_utils as pb


class TritonPythonModel:
    def initialize(self, args):
        cfg = json.loads(args["model_config"])
        self.inputs = [i["name"] for i in cfg["input"]]
        self.outputs = [o["name"] for o in cfg["output"]]
        self.sess = ort.InferenceSession(str(Path(__file__).with_name("model.onnx")), providers=["CPUExecutionProvider"])

    def execute(self, requests):
        out = []
        for r in requests:
            res = self.sess.run(self.outputs, {n: pb.get_input_tensor_by_name(r, n).as_numpy() for n in self.inputs})
            out.append(pb.InferenceResponse([pb.Tensor(n, v) for n, v in zip(self.outputs, res)]))
        return out
'''


def start_tritonserver(repo: Path, workdir: Path, ports: tuple[int, int, int]) -> subprocess.Popen:
    """nvidia-pytriton's tritonserver binary on `repo`, as PyTriton itself lays it out (stub for this Python)."""
    pytest.importorskip("pytriton", reason="needs the [serve] extra (nvidia-pytriton ships tritonserver)")
    from pytriton.triton import TRITONSERVER_DIST_DIR
    from pytriton.utils.distribution import get_libs_path, get_stub_path

    srv = workdir / "tritonserver"
    shutil.copytree(TRITONSERVER_DIST_DIR, srv, ignore=shutil.ignore_patterns("python_backend_stubs",
                                                                               "triton_python_backend_stub"))
    shutil.copy(get_stub_path(f"{sys.version_info[0]}.{sys.version_info[1]}"),
                srv / "backends" / "python" / "triton_python_backend_stub")
    env = {**os.environ, "LD_LIBRARY_PATH": f"{sysconfig.get_config_var('LIBDIR')}:{get_libs_path()}",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    http, grpc, metrics = ports
    cmd = [str(srv / "bin" / "tritonserver"), f"--model-repository={repo}", f"--backend-directory={srv / 'backends'}",
           "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1",
           f"--http-port={http}", f"--grpc-port={grpc}", f"--metrics-port={metrics}", "--allow-gpu-metrics=false"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=(workdir / "server.log").open("wb"))


def test_ensemble_on_tritonserver_gives_the_estimators_joints(onnx_file, repo, tmp_path):
    from lfsdk.estimator import HandPoseEstimator
    from lfsdk.serving import Client, ServerError

    served = tmp_path / "models"
    shutil.copytree(repo, served)
    net = served / f"{MODEL_NAME}_network"
    cfg = (net / "config.pbtxt").read_text()
    (net / "config.pbtxt").write_text(cfg.replace('platform: "onnxruntime_onnx"', 'backend: "python"'))
    (net / "1" / "model.py").write_text(_ORT_NETWORK)
    ports = free_ports(3)
    proc = start_tritonserver(served, tmp_path, ports)
    try:
        frames = synthetic_frames(5, seed=3)
        est = HandPoseEstimator(onnx_file, backend="onnxruntime", camera=frames.camera)
        ref = est(frames.depth).to_numpy()
        for protocol, port in (("http", ports[0]), ("grpc", ports[1])):
            with Client(f"127.0.0.1:{port}", protocol=protocol, timeout_s=60) as c:
                wait_until(c.is_ready, 90, f"tritonserver ready ({(tmp_path / 'server.log').read_text()[-2000:]})")
                res = c(frames.depth, frames.camera)
                assert res.skeleton == "nyu" and res.found.all()
                for f in ("joints_xyz", "joints_uvd", "branch_xyz", "fusion_weights", "centers_xyz", "boxes"):
                    np.testing.assert_allclose(getattr(res, f), getattr(ref, f), atol=1e-3, rtol=0, err_msg=f)
        # a NaN camera gets the Python backend's per-request error; the server goes on serving
        with Client(f"127.0.0.1:{ports[0]}") as c:
            bad = np.full((1, 4), np.nan, np.float32)
            with pytest.raises(ServerError, match="camera"):
                c.infer_arrays(frames.depth[:1], bad)
            np.testing.assert_allclose(c(frames.depth[:1], frames.camera).joints_xyz, ref.joints_xyz[:1], atol=1e-3)
        check_served_hands(est, ports)
    finally:
        proc.terminate()
        proc.wait(60)


def check_served_hands(est, ports) -> None:
    """The repository's multi-hand model on the running tritonserver answers as est.find_hands (the same
    ONNX in onnxruntime), over both protocols; a bad max_hands gets the model's error."""
    from lfsdk.serving import Client, ServerError

    depth, camera = two_hand_scenes(3, seed=7)
    with pytest.warns(UserWarning, match="hands.json"):  # the test ONNX has no scorer of its own
        ref = est.find_hands(depth, camera=camera).to_numpy()
    assert ref.found.sum() >= 3
    with Client(f"127.0.0.1:{ports[0]}", model=HANDS_MODEL_NAME) as c:  # tritonserver loads models in parallel
        wait_until(c.is_ready, 90, f"{HANDS_MODEL_NAME} ready")
    for protocol, port in (("http", ports[0]), ("grpc", ports[1])):
        with Client(f"127.0.0.1:{port}", protocol=protocol, timeout_s=60) as c:
            assert_same_hands(c.find_hands(depth, camera), ref, atol=1e-3)
    with Client(f"127.0.0.1:{ports[0]}") as c:
        c.find_hands(depth[:1], camera, max_hands=1)
        with pytest.raises(ServerError, match="max_hands must be an int in 1..16"):
            c._infer(HANDS_MODEL_NAME, depth[:1], np.asarray(camera.tensor(), np.float32)[None], hands_outputs(14),
                     {"max_hands": 99})


def test_lfsdk_export_writes_the_repository(tmp_path):
    """`lfsdk-export CKPT --triton-repo DIR`: the same repository, from the command line."""
    from lfsdk.model import save_checkpoint

    ckpt = save_checkpoint(LatentFusion(ModelConfig(num_joints=14, channels=16, fusion_channels=16)), tmp_path / "ckpt")
    out = subprocess.run([sys.executable, "-m", "lfsdk.export.onnx", str(ckpt), "-o", str(tmp_path / "hand.onnx"),
                          "--no-parity", "--triton-repo", str(tmp_path / "repo")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == sorted(NAMES)
    assert (tmp_path / "repo" / f"{MODEL_NAME}_network" / "1" / "model.onnx").is_file()
