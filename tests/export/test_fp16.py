"""The FP16 export: half-precision convolutions, FP32 softmax/decode/fusion normalisation, FP32 I/O."""
import onnx
from onnx import TensorProto

from lfsdk.stages import stage_of

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def typed_graph(path):
    m = onnx.shape_inference.infer_shapes(onnx.load(path), strict_mode=True)
    types = {v.name: v.type.tensor_type.elem_type for v in (*m.graph.value_info, *m.graph.input, *m.graph.output)}
    types.update({t.name: t.data_type for t in m.graph.initializer})
    return m, types


def test_io_stays_fp32(exported):
    m = onnx.load(exported["fp16"])
    assert all(v.type.tensor_type.elem_type == F32 for v in (*m.graph.input, *m.graph.output))


def test_convolutions_run_in_fp16(exported):
    m, types = typed_graph(exported["fp16"])
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    assert len(convs) == 121
    for n in convs:
        assert all(types[t] == F16 for t in n.input if t), n.name
        assert types[n.output[0]] == F16, n.name


def test_softmax_decode_and_fusion_normalisation_are_fp32(exported):
    m, types = typed_graph(exported["fp16"])
    decode = [n for n in m.graph.node if n.name.startswith("/decode/")]
    assert sum(n.op_type == "Softmax" for n in decode) == 3
    for n in decode:
        if n.op_type == "Cast":
            continue  # the explicit boundaries: FP16 heatmaps in, FP16 [H* ‖ D] out to the fusion convs
        if n.op_type in ("Shape", "Gather", "Unsqueeze", "Concat") and all(types.get(t) == TensorProto.INT64
                                                                            for t in n.output):
            continue  # shape arithmetic for the dynamic batch
        assert all(types[t] == F32 for t in n.input if t and types[t] in (F16, F32)), n.name
        assert all(types[t] == F32 for t in n.output), n.name
    norm = [n for n in m.graph.node if n.name.startswith("/fusion/") and n.op_type in
            ("ReduceMean", "Sigmoid", "ReduceSum", "Div", "Mul")]
    assert {n.op_type for n in norm} >= {"ReduceMean", "Sigmoid", "ReduceSum", "Div"}
    for n in norm:
        assert all(types[t] == F32 for t in n.output), n.name
    # each softmax's input comes through an explicit Cast to FP32
    producers = {o: n for n in m.graph.node for o in n.output}
    for n in decode:
        if n.op_type == "Softmax":
            p = n
            while p.op_type != "Cast":
                p = producers[p.input[0]]
            assert dict((a.name, a.i) for a in p.attribute)["to"] == F32 and stage_of(p.name) == "decode+fusion"


def test_fp16_parity_bar(parity):
    row = parity["onnxruntime-fp16", "joints"]
    assert row.mean <= 0.5 and row.passed
