"""Each odd input a new user tried (the 'Hardening' table, rows 1–11) as a regression test: a clear error
naming what was wrong, or a correct result — never non-finite joints with found=True, never a traceback."""
import importlib.util
import json

import numpy as np
import pytest
import torch

from lfsdk import Camera, HandPoseEstimator, InputError
from lfsdk.backends import BackendUnavailable, Outputs
from lfsdk.cli import main
from lfsdk.model import ModelConfig
from lfsdk.model.checkpoint import CheckpointError, read_config
from lfsdk.pipeline import finite_found
from tests.api_helpers import StubBackend, fast_backend, make_frames, one_torch_thread, shared_cache, shared_model  # noqa: F401
from tests.hardening_helpers import checkpoint_with, png_header, renamed_input

pytestmark = pytest.mark.usefixtures("shared_cache", "one_torch_thread")


@pytest.fixture(scope="module")
def frames():
    return make_frames(2, seed=5)


@pytest.fixture(scope="module")
def est():
    return HandPoseEstimator(shared_model()[1], backend=fast_backend(), camera="icvl")


@pytest.fixture(autouse=True)
def keep_torch_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _one_error_line(err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if "error:" in ln]
    assert lines and all(n in " ".join(lines) for n in needles), err
    assert "Traceback" not in err


# -- row 1: intrinsics usable in float32; found=True only with finite joints --------------------------------

@pytest.mark.parametrize("spec", ["1e-45,1e-45,160,120", "1e39,1e39,160,120", "241,241,1e39,120",
                                  "1e-9,241,160,120"])
def test_intrinsics_outside_float32_range_are_refused(est, frames, spec):
    with pytest.raises(InputError, match="float32"):
        est(frames[0], camera=spec)
    with np.errstate(over="ignore"):  # why: the kernels' dtype turns these into inf and a denormal
        assert float(np.float32(1e39)) == np.inf and float(np.float32(1e-45)) < 2e-45


def test_cli_refuses_such_a_camera(frames, tmp_path, capsys):
    np.save(tmp_path / "f.npy", frames[0])
    rc = main(["estimate", str(tmp_path / "f.npy"), "--model", str(shared_model()[1]), "--camera",
               "1e39,1e39,160,120", "-o", str(tmp_path / "p.json")])
    assert rc == 2 and not (tmp_path / "p.json").exists()
    _one_error_line(capsys.readouterr().err, "float32")


class NaNBackend(StubBackend):
    """Returns NaN joints for the first frame of every call and zeros for the others."""

    name = "nan"

    def __init__(self):
        super().__init__(ModelConfig(num_joints=14, extra={"camera": "icvl"}), torch.device("cpu"), "fp32", None)

    def _infer(self, crops):
        b = crops.shape[0]
        j = torch.zeros(b, 14, 3)
        j[0, 3, 1] = float("nan")
        return Outputs(j, torch.zeros(b, 3, 14, 3), torch.full((b, 3), 1 / 3))


def test_non_finite_network_output_is_not_found(frames):
    r = HandPoseEstimator(NaNBackend())(frames)
    assert r.found.tolist() == [False, True]
    assert torch.isnan(r.joints_xyz[0]).all() and torch.isnan(r.boxes[0]).all()
    assert torch.isfinite(r.joints_xyz[1]).all()


def test_finite_found_against_hand_made_fields():
    post = {"joints_xyz": torch.tensor([[[1.0, 2, 3]], [[1.0, float("inf"), 3]], [[4.0, 5, 6]]]),
            "boxes": torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, float("nan")]])}
    out, found = finite_found(post, torch.tensor([True, True, True]))
    assert found.tolist() == [True, False, False]
    assert out["joints_xyz"][0].tolist() == [[1.0, 2, 3]] and torch.isnan(out["boxes"][1:]).all()
    same, f2 = finite_found(post, torch.tensor([True, False, False]))  # already not found: left as they are
    assert f2.tolist() == [True, False, False] and same is post


# -- row 2: tensors that require grad ---------------------------------------------------------------------

def test_requires_grad_tensors_are_detached(est, frames):
    want = est(frames[0], centers=[160.0, 120.0, 400.0])
    d = torch.from_numpy(frames[0].astype(np.float32)).requires_grad_()
    c = torch.tensor([160.0, 120.0, 400.0], requires_grad=True)
    got = est(d, centers=c)
    torch.testing.assert_close(got.joints_xyz, want.joints_xyz)
    assert not got.joints_xyz.requires_grad


def test_backend_takes_crops_that_require_grad(est):
    crops = torch.linspace(-1, 1, 128 * 128).reshape(1, 1, 128, 128).requires_grad_()
    torch.testing.assert_close(est.backend(crops).joints, est.backend(crops.detach()).joints)


# -- row 3: cameras as InputError, float32 intrinsics and big-endian depth accepted -----------------------

def test_camera_spellings(est, frames):
    for bad in ["foo", "1,2,3", "a,b,c,d", np.zeros(3), object(), [1.0, 2.0, 3.0, "x"]]:
        with pytest.raises(InputError, match="camera"):
            est(frames[0], camera=bad)
    icvl = Camera.icvl()
    f32 = np.array([icvl.fx, icvl.fy, icvl.cx, icvl.cy], np.float32)
    assert Camera(*f32) == Camera(*(float(v) for v in f32))
    assert isinstance(Camera(*f32).fx, float)
    want = est(frames[0], camera=Camera(*f32.tolist())).joints_xyz
    torch.testing.assert_close(est(frames[0], camera=f32).joints_xyz, want)
    torch.testing.assert_close(est(frames[0], camera=torch.from_numpy(f32)).joints_xyz, want)


def test_big_endian_depth(est, frames):
    be = frames.astype(">u2")
    assert not be.dtype.isnative
    torch.testing.assert_close(est(be).joints_xyz, est(frames).joints_xyz)


# -- rows 4, 5, 11: the CLI names each bad file on one line, writes the good frames, exits non-zero ---------

@pytest.fixture
def bad_files(tmp_path, frames):
    np.savez(tmp_path / "arch.npz", a=frames[0])
    (tmp_path / "arch.npz").rename(tmp_path / "renamed.npy")
    png_header(tmp_path / "bomb.png", 30000, 30000)
    np.save(tmp_path / "ok.npy", frames[0])
    bad = frames[1].astype(np.float32)
    bad[5, 5] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "rgb.npy", np.zeros((240, 320, 3), np.uint16))
    (tmp_path / "somedir.json").mkdir()
    (tmp_path / "existing_file").write_text("x")
    return tmp_path


@pytest.mark.parametrize("name,needle", [("renamed.npy", ".npz archive"), ("bomb.png", "900000000 pixels"),
                                         ("nan.npy", "NaN"), ("rgb.npy", "colour image")])
def test_cli_bad_file_one_line(bad_files, capsys, name, needle):
    rc = main(["estimate", str(bad_files / name), "--model", str(shared_model()[1])])
    assert rc == 2
    err = capsys.readouterr().err
    _one_error_line(err, name, needle)
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args,needle", [(["-o", "somedir.json"], "is a directory"),
                                         (["--draw", "existing_file"], "is a file"),
                                         (["--camera", ""], "empty")])
def test_cli_bad_output_or_option_one_line(bad_files, capsys, args, needle):
    args = [str(bad_files / a) if a in ("somedir.json", "existing_file") else a for a in args]
    rc = main(["estimate", str(bad_files / "ok.npy"), "--model", str(shared_model()[1]), *args])
    assert rc == 2
    err = capsys.readouterr().err
    _one_error_line(err, needle)
    assert len(err.strip().splitlines()) == 1


def test_cli_writes_good_frames_and_names_each_bad_file(bad_files, capsys, est, frames):
    out = bad_files / "p.json"
    rc = main(["estimate", str(bad_files / "ok.npy"), str(bad_files / "nan.npy"), str(bad_files / "renamed.npy"),
               "--model", str(shared_model()[1]), "--backend", fast_backend(), "--camera", "icvl", "-o", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("lfsdk estimate: error: ")]
    assert len(errors) == 2 and "nan.npy" in errors[0] and "renamed.npy" in errors[1]
    assert "2 files failed" in err
    doc = json.loads(out.read_text())
    assert [f["file"] for f in doc["frames"]] == [str(bad_files / "ok.npy")]
    np.testing.assert_allclose(doc["frames"][0]["joints_xyz"], est(frames[0]).joints_xyz[0].numpy(), atol=0.05)


# -- row 6: numpy integers index a Result ------------------------------------------------------------------

def test_numpy_integer_indexing(est, frames):
    r = est(np.stack([frames[0], 0 * frames[0]]))
    for i in (np.int64(0), np.int32(1), np.uint8(1), torch.tensor(1)):
        sub = r[i]
        assert len(sub) == 1 and sub.joints_xyz.shape == (1, 14, 3)
        assert r.draw(i).shape == (240, 320, 3)
    torch.testing.assert_close(r[np.int64(0)].joints_xyz, r[0].joints_xyz)
    with pytest.raises(IndexError):
        r[np.int64(2)]
    with pytest.raises(TypeError, match="integer or a slice"):
        r[1.0]


# -- row 7: an ONNX whose input is renamed is refused at load, and auto() moves on ------------------------

@pytest.mark.skipif(not importlib.util.find_spec("openvino"), reason="openvino not installed")
def test_renamed_input_refused_at_load(tmp_path):
    bad = renamed_input(shared_model()[1], tmp_path / "renamed.onnx")
    with pytest.raises(BackendUnavailable, match="crops"):
        HandPoseEstimator(bad, backend="openvino")
    with pytest.raises(BackendUnavailable) as e:
        HandPoseEstimator(bad, backend="auto", device="cpu")
    assert "openvino:" in str(e.value) and "onnxruntime:" in str(e.value) and "torch:" in str(e.value)


# -- row 8: backend options ---------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["onnxruntime", "auto"])
@pytest.mark.parametrize("opts,needle", [({"max_batch": -1}, "max_batch"), ({"max_batch": 0}, "max_batch"),
                                         ({"max_batch": 2.5}, "max_batch"), ({"thread": 1}, "'thread'")])
def test_backend_options_checked(backend, opts, needle):
    with pytest.raises(InputError, match=needle):
        HandPoseEstimator(shared_model()[1], backend=backend, device="cpu", **opts)


def test_backend_options_that_exist_still_work(frames):
    est = HandPoseEstimator(shared_model()[1], backend="onnxruntime", threads=1, max_batch=1, camera="icvl")
    assert est(frames).found.shape == (2,)
    # auto hands each candidate the options it takes (cuda_graphs is torch's; OpenVINO/onnxruntime ignore it)
    assert HandPoseEstimator(shared_model()[1], backend="auto", device="cpu", cuda_graphs=False).backend


# -- row 9: config.json keys ---------------------------------------------------------------------------------

@pytest.mark.parametrize("change,needle", [
    ({"input_size": 0}, "input_size"), ({"cube_size": [250, float("nan"), 250]}, "cube_size"),
    ({"num_joints": 14.0}, "num_joints"), ({"channels": "128"}, "channels"), ({"extra": "x"}, "extra"),
    ({"skeleton": 3}, "skeleton"), ({"leaky_slope": None}, "leaky_slope"), ({"cube_size": 250}, "cube_size"),
])
def test_model_config_names_the_bad_key(tmp_path, change, needle):
    ckpt = checkpoint_with(shared_model()[0], tmp_path / "ckpt", **change)
    with pytest.raises(CheckpointError, match=needle):
        read_config(ckpt / "config.json")
    with pytest.raises(BackendUnavailable, match=needle):  # so that auto() would move on
        HandPoseEstimator(ckpt, backend="torch")


@pytest.mark.parametrize("change,needle", [({"extra.preprocess": "x"}, "extra.preprocess"),
                                           ({"extra.preprocess": {"size": 0}}, "extra.preprocess"),
                                           ({"extra.camera": "foo"}, "extra.camera"),
                                           ({"extra.camera": [1e39, 1, 1, 1]}, "extra.camera")])
def test_extra_keys_named(tmp_path, change, needle):
    ckpt = checkpoint_with(shared_model()[0], tmp_path / "ckpt", **change)
    with pytest.raises(InputError, match=needle.replace(".", r"\.")):
        HandPoseEstimator(ckpt, backend="torch")


# -- rows 10, 11: colour images, draw on the wrong frame ----------------------------------------------------

def test_colour_image_refused(est):
    for shape in [(240, 320, 3), (240, 320, 4)]:
        with pytest.raises(InputError, match="colour image"):
            est(np.zeros(shape, np.uint16))
    assert est(np.zeros((3, 240, 320), np.uint16)).found.shape == (3,)  # three frames stay three frames


def test_draw_with_a_frame_of_another_shape(est, frames):
    r = est(frames[0])
    for bad in [np.zeros((10, 10), np.uint16), np.zeros((240, 320, 3), np.uint8), np.zeros((1, 240, 320))]:
        with pytest.raises(InputError, match=r"\(240, 320\)"):
            r.draw(0, depth=bad)
    assert r.draw(0, depth=frames[0]).shape == (240, 320, 3)


# -- the speed items' causes ---------------------------------------------------------------------------------

def test_quick_bench_skips_what_the_cpu_cannot_run_fast(monkeypatch):
    from lfsdk import bench

    runnable = [("torch", "fp32"), ("torch", "bf16"), ("onnxruntime", "fp32"), ("onnxruntime", "int8"),
                ("onnxruntime", "fp16"), ("openvino", "bf16")]
    for native, kept_bf16 in [(True, ["torch/bf16", "openvino/bf16"]), (False, [])]:
        monkeypatch.setattr(bench, "cpu_has_native_bf16", lambda native=native: native)
        kept, skipped = bench.quick_skips(runnable, "cpu")
        assert sorted(skipped) == sorted({"onnxruntime/int8", "onnxruntime/fp16", "torch/bf16", "openvino/bf16"}
                                         - set(kept_bf16))
        assert [f"{b}/{p}" for b, p in kept] == ["torch/fp32"] + kept_bf16[:1] + ["onnxruntime/fp32"] + kept_bf16[1:]
        assert all(why.startswith("--quick: ") for why in skipped.values())
    assert bench.quick_skips(runnable, "cuda") == (runnable, {})


def test_demo_writes_no_picture_unless_asked():
    from lfsdk.cli import build_parser

    assert build_parser().parse_args(["demo"]).output is None
    assert build_parser().parse_args(["demo", "-o", "x.png"]).output == "x.png"
