"""The static INT8 QDQ export: what is quantised, what stays FP32, calibration input checks."""
import numpy as np
import onnx
import pytest

from lfsdk.model.onnx_metadata import read_metadata, read_onnx_config
from lfsdk.export.quantize import QUANTISED_STAGES, CropsReader, quantize_int8
from lfsdk.stages import stage_of


def test_quantised_stages_only(exported):
    m = onnx.load(exported["int8"])
    producers = {o: n for n in m.graph.node for o in n.output}
    qdq = [n for n in m.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert len(qdq) > 200
    assert {stage_of(n.name) for n in qdq} == set(QUANTISED_STAGES)
    for n in m.graph.node:
        if stage_of(n.name) == "decode+fusion" and n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            assert not any(t in producers and producers[t].op_type == "DequantizeLinear" and
                           stage_of(producers[t].name) == "decode+fusion" for t in n.input), n.name


def test_weights_per_channel_int8(exported):
    m = onnx.load(exported["int8"])
    inits = {t.name: t for t in m.graph.initializer}
    producers = {o: n for n in m.graph.node for o in n.output}
    quantised = set()
    for n in m.graph.node:
        p = producers.get(n.input[1]) if n.op_type == "Conv" else None
        if p is not None and p.op_type == "DequantizeLinear" and inits[p.input[0]].data_type == onnx.TensorProto.INT8:
            w, scale = inits[p.input[0]], inits[p.input[1]]
            assert len(scale.dims) == 1 and scale.dims[0] == w.dims[0], n.name  # one scale per output channel
            quantised.add(n.name)
    convs = {n.name for n in m.graph.node if n.op_type == "Conv"}
    heads = {f"/branches.{i}/branches.{i}.3/Conv" for i in range(3)}
    assert heads <= convs
    assert quantised == {c for c in convs if stage_of(c) in QUANTISED_STAGES} - heads


def test_metadata_survives(exported, model):
    assert read_metadata(exported["int8"])["precision"] == "int8"
    assert read_onnx_config(exported["int8"]) == model.config


@pytest.mark.xfail(strict=True, reason="random-weight nets amplify noise (1e-3 input noise moves joints 0.8 mm); "
                   "INT8 gives ~13 mm mean on the test model — the 1 mm bar is for the trained default model")
def test_int8_parity_bar(parity):
    row = parity["onnxruntime-int8", "joints"]
    assert row.mean <= 1.0 and row.passed


def test_calibration_input_errors(exported, tmp_path):
    with pytest.raises(ValueError, match=r"\(N, 1, S, S\)"):
        CropsReader(np.zeros((4, 128, 128), np.float32))
    bad = np.zeros((2, 1, 128, 128), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CropsReader(bad)
    with pytest.raises(ValueError, match="lacks graph inputs"):
        quantize_int8(exported["xyz"], tmp_path / "x.onnx", np.zeros((2, 1, 128, 128), np.float32))
    with pytest.raises(ValueError, match="FP32 export"):
        quantize_int8(exported["fp16"], tmp_path / "y.onnx", np.zeros((2, 1, 128, 128), np.float32))
