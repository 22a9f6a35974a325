"""What TensorRT needs to know about an ONNX file before building it — inputs, batch dims, precision, and
whether its INT8 Q/DQ nodes are the symmetric kind TensorRT accepts — read without TensorRT or the weights."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..model.checkpoint import file_sha256

__all__ = ["OnnxInfo", "OnnxParseError", "UnsupportedOnnx", "asymmetric_qdq", "inspect_onnx", "onnx_precision"]


class OnnxParseError(RuntimeError):
    """TensorRT's ONNX parser rejected the model; the message names every failing node."""


class UnsupportedOnnx(ValueError):
    """A valid ONNX that TensorRT cannot build, found before spending a build on it."""


@dataclass(frozen=True)
class OnnxInfo:
    path: Path
    sha256: str
    inputs: tuple[tuple[str, tuple], ...]  # (name, dims): an int per static dim, a str/None per dynamic one
    precision: str
    asymmetric_qdq: tuple[str, ...] = ()  # Q/DQ nodes TensorRT refuses (see asymmetric_qdq)

    def batched_inputs(self) -> dict[str, tuple[int, ...]]:
        """name → the static dims after the batch, for every input whose batch (first) dim is dynamic.
        Inputs that are static throughout (the xyz graph's camera) need no profile."""
        out = {}
        for name, dims in self.inputs:
            if not dims or isinstance(dims[0], int):
                continue
            if not all(isinstance(d, int) and d > 0 for d in dims[1:]):
                raise ValueError(f"{self.path}: only the batch dimension may be dynamic; {name} is {list(dims)}")
            out[name] = tuple(dims[1:])
        if not out:
            raise ValueError(f"{self.path}: no input has a dynamic batch dimension (export with a dynamic batch)")
        return out


def onnx_precision(model) -> str:
    """fp32, fp16 or int8: lfsdk-export's `lfsdk.precision` metadata when present, else read from the graph
    itself: Q/DQ nodes → int8; FP16 initializers, casts or I/O → fp16; else fp32."""
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("lfsdk.precision") in ("fp32", "fp16", "int8"):
        return meta["lfsdk.precision"]
    nodes = list(model.graph.node)
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in nodes):
        return "int8"
    from onnx import TensorProto

    half = TensorProto.FLOAT16
    if any(t.data_type == half for t in model.graph.initializer):
        return "fp16"
    if any(n.op_type == "Cast" and any(a.name == "to" and a.i == half for a in n.attribute) for n in nodes):
        return "fp16"
    if any(v.type.tensor_type.elem_type == half for v in (*model.graph.input, *model.graph.output)):
        return "fp16"
    return "fp32"


def asymmetric_qdq(model) -> tuple[str, ...]:
    """Names of Q/DQ nodes with a uint8 or non-zero zero point. TensorRT only takes symmetric quantisation
    (zero point 0, signed): its parser stops with "Non-zero zero point is not supported" (TensorRT #2774,
    #4698). onnxruntime's quantize_static with QUInt8 activations makes exactly such nodes."""
    from onnx import TensorProto, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    bad = []
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2 and n.input[2] in inits:
            zp = inits[n.input[2]]
            if zp.data_type == TensorProto.UINT8 or numpy_helper.to_array(zp).any():
                bad.append(n.name or n.output[0])
    return tuple(bad)


def inspect_onnx(path: str | Path) -> OnnxInfo:
    """Input names and shapes, precision and sha256 of an ONNX file (weights are not loaded)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    import onnx  # imported only when a file is inspected

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError / ValueError / OSError depending on the damage
        raise ValueError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    initializers = {t.name for t in model.graph.initializer}
    inputs = tuple((i.name, tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                  for d in i.type.tensor_type.shape.dim))
                   for i in model.graph.input if i.name not in initializers)
    if not inputs:
        raise ValueError(f"{path}: the graph has no inputs")
    return OnnxInfo(path, file_sha256(path), inputs, onnx_precision(model), asymmetric_qdq(model))
