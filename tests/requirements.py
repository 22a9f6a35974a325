"""Markers for tests that need hardware or libraries this CI machine lacks (skipped here, never counted)."""
import pytest
import torch


def has_tensorrt_gpu() -> bool:
    try:
        import tensorrt  # noqa: F401
    except (ImportError, OSError):
        return False
    return torch.cuda.is_available()


requires_tensorrt = pytest.mark.skipif(not has_tensorrt_gpu(), reason="needs TensorRT and a CUDA GPU")
