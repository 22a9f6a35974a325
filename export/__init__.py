"""lfsdk.export: ONNX export, TensorRT engine builds, parity reports."""
