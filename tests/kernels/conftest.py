"""Kernel tests run the Triton kernels on the CPU through the interpreter: TRITON_INTERPRET must be set before
triton is first imported (`make test` sets it; this covers running pytest directly)."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from lfsdk.geometry import Camera  # noqa: E402
from lfsdk.kernels import triton_available  # noqa: E402

needs_triton = pytest.mark.skipif(not triton_available(), reason="triton does not import")


def camera_for(h: int, w: int) -> Camera:
    """A camera whose field of view suits an H×W test frame (NYU-like focal length relative to width)."""
    return Camera(0.92 * w, 0.92 * w, w / 2, h / 2)


@pytest.fixture
def cuda_or_skip():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
