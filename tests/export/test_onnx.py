"""The FP32 / xyz exports: I/O contract, BN folding, stage names on every node, dynamic batch, metadata."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from lfsdk import geometry
from lfsdk.export.fold import fold_batchnorm
from lfsdk.model.onnx_metadata import OnnxMetadataError, read_metadata, read_onnx_config
from lfsdk.export.onnx import export_onnx
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint
from lfsdk.model.checkpoint import file_sha256
from lfsdk.stages import stage_of


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_io_contract_and_no_heatmap_output(exported):
    m = onnx.load(exported["fp32"])
    onnx.checker.check_model(m, full_check=True)
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [(i.name, dims(i)) for i in m.graph.input] == [("crops", ["batch", 1, 128, 128])]
    assert [(o.name, dims(o)) for o in m.graph.output] == [
        ("joints", ["batch", 14, 3]), ("branch_joints", ["batch", 3, 14, 3]), ("fusion_weights", ["batch", 3])]
    assert all(o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for o in m.graph.output)
    # no 32×32 map leaves the graph: the decode is inside it
    assert not any(32 in dims(o) for o in m.graph.output)
    ops = {n.op_type for n in m.graph.node}
    assert "Softmax" in ops and "BatchNormalization" not in ops


@pytest.mark.parametrize("variant", ["fp32", "fp16", "int8", "xyz"])
def test_every_node_maps_to_exactly_one_stage(exported, variant):
    nodes = onnx.load(exported[variant]).graph.node
    names = [n.name for n in nodes]
    assert len(set(names)) == len(names)
    unmapped = [n for n in names if stage_of(n) is None]
    assert not unmapped, unmapped[:5]
    stages = {stage_of(n) for n in names}
    assert stages == {"features", "heatmaps", "decode+fusion"} | ({"postprocess"} if variant == "xyz" else set())
    # the op types land where the architecture puts them
    for n in nodes:
        if n.op_type == "Softmax":
            assert n.name.startswith("/decode/")
        if n.op_type == "Sigmoid":
            assert n.name.startswith("/fusion/")
    assert sum(n.name.startswith("/branches.2/") and n.op_type == "Conv" for n in nodes) == 26  # Hourglass-2 (7 residuals × 3) + Residual + 1×1 + 1×1


def test_batches_1_3_64_from_one_file(exported, model, frames, reference):
    sess = ort.InferenceSession(str(exported["fp32"]), providers=["CPUExecutionProvider"])
    for b in (1, 3, 64):
        got = sess.run(None, {"crops": frames["crops"][:b]})
        assert got[0].shape == (b, 14, 3) and got[1].shape == (b, 3, 14, 3) and got[2].shape == (b, 3)
        for g, name in zip(got, ("joints", "branch_joints", "fusion_weights")):
            np.testing.assert_allclose(g, reference[name][:b], atol=1e-4)  # ≤ 0.025 mm


def test_xyz_variant_matches_torch_plus_geometry(exported, model, frames):
    m = onnx.load(exported["xyz"])
    assert [i.name for i in m.graph.input] == ["crops", "centers", "camera", "cube"]
    assert [o.name for o in m.graph.output][-1] == "joints_xyz"
    assert any(n.name.startswith("/postprocess/") for n in m.graph.node)
    sess = ort.InferenceSession(str(exported["xyz"]), providers=["CPUExecutionProvider"])
    n = 32
    feed = {k: frames[k] if k == "camera" else frames[k][:n] for k in ("crops", "centers", "camera", "cube")}
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))
    with torch.no_grad():
        joints = model(torch.from_numpy(feed["crops"])).joints
    want = geometry.cube_to_xyz(joints, torch.from_numpy(feed["centers"]), torch.from_numpy(feed["cube"]),
                                geometry.Camera(*feed["camera"].tolist())).numpy()
    err = np.linalg.norm(got["joints_xyz"] - want, axis=-1)
    assert err.max() < 0.01  # mm
    # and an independent hand check of the maths for one joint: back-project by the pinhole model
    cam, c, cube = feed["camera"], feed["centers"][0], feed["cube"][0]
    u_c, v_c = c[0] * cam[0] / c[2] + cam[2], c[1] * cam[1] / c[2] + cam[3]
    nx, ny, nz = got["joints"][0, 0]
    d = c[2] + nz * cube[2] / 2
    u, v = u_c + nx * cube[0] / 2 * cam[0] / c[2], v_c + ny * cube[1] / 2 * cam[1] / c[2]
    np.testing.assert_allclose(got["joints_xyz"][0, 0], [(u - cam[2]) * d / cam[0], (v - cam[3]) * d / cam[1], d],
                               atol=1e-3)


def test_fold_batchnorm_exact_and_refuses_negative_scale_across_maxpool():
    torch.manual_seed(3)
    model = LatentFusion()
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.normal_(mod.weight, 0, 0.05)
        if isinstance(mod, nn.BatchNorm2d):
            nn.init.uniform_(mod.running_var, 0.5, 2.0)
            nn.init.normal_(mod.running_mean, 0, 0.5)
            nn.init.uniform_(mod.weight, 0.5, 1.5)
    model.eval()
    x = torch.rand(2, 1, 128, 128) * 2 - 1
    folded, left = fold_batchnorm(model)
    assert left == 0 and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        for a, b in zip(model(x), folded(x)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
        model.fusion.head[2].weight[0] = -1.0  # max does not commute with a negative scale
        folded, left = fold_batchnorm(model)
        assert left == 1 and isinstance(folded.fusion.head[2], nn.BatchNorm2d)
        torch.testing.assert_close(model(x).joints, folded(x).joints, atol=1e-5, rtol=1e-4)
    assert isinstance(model.features[0][1], nn.BatchNorm2d)  # the input model is untouched


def test_metadata_alone_rebuilds_the_config(exported, model):
    meta = read_metadata(exported["fp32"])
    assert read_onnx_config(exported["fp32"]) == model.config
    assert meta["precision"] == "fp32" and meta["xyz"] == "0" and meta["num_joints"] == "14"
    assert meta["cube_size_mm"] == "[250.0, 250.0, 250.0]" and "normalize_depth" in meta["input_normalisation"]
    assert read_metadata(exported["fp16"])["precision"] == "fp16"
    assert read_metadata(exported["xyz"])["xyz"] == "1"


def test_read_onnx_config_rejects_foreign_files(tmp_path):
    plain = tmp_path / "plain.onnx"
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    g = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(onnx.helper.make_model(g), plain)
    with pytest.raises(OnnxMetadataError, match="no lfsdk metadata"):
        read_onnx_config(plain)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not protobuf \xff" * 10)
    with pytest.raises(OnnxMetadataError, match="junk.onnx"):
        read_onnx_config(junk)


def test_export_from_checkpoint_records_its_sha256(tmp_path):
    ckpt = save_checkpoint(LatentFusion(ModelConfig(num_joints=16, skeleton="icvl")), tmp_path / "ckpt")
    out = export_onnx(ckpt, tmp_path / "icvl.onnx", opset=17)
    meta = read_metadata(out)
    assert meta["checkpoint_sha256"] == file_sha256(ckpt / "model.safetensors")
    assert read_onnx_config(out).num_joints == 16
    assert dims(onnx.load(out).graph.output[0]) == ["batch", 16, 3]
    with pytest.raises(ValueError, match="opset"):
        export_onnx(ckpt, tmp_path / "old.onnx", opset=13)
