"""Facts about the host CPU that decide which precision is fast on it, and that label every CPU figure."""
from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path

__all__ = ["cpu_has_native_bf16", "cpu_description"]


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512_BF16 or AMX): elsewhere BF16 is emulated and
    slower than FP32 (torch BF16 at batch 8 took 19.5 s a call on an AVX2-only CPU)."""
    flags = _cpuinfo()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_description() -> str:
    """The CPU's model name, its core count and whether it computes BF16 natively."""
    name = platform.processor() or platform.machine()
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
            break
    return f"{name}, {os.cpu_count()} cores, {'native' if cpu_has_native_bf16() else 'no native'} BF16"
