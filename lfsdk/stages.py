"""The one naming scheme for per-stage timing, shared by every backend and profiler.

Stages follow the paper's runtime split (IV-B.2: feature extraction, latent heatmap regression, fusion,
post-processing) plus our preprocessing. Network-internal names — ONNX node names, TensorRT layer names,
torch module paths — carry the module path of the LatentFusion submodule they come from
(`/features/…`, `/branches.N/…`, `/decode/…`, `/fusion/…`), and `stage_of` maps them onto a stage.
"""
from __future__ import annotations

import re

__all__ = ["STAGES", "NETWORK_STAGES", "PAPER_MS", "stage_of"]

STAGES = ("preprocess", "features", "heatmaps", "decode+fusion", "postprocess")
NETWORK_STAGES = STAGES[1:4]
#: The paper's per-frame split on a GTX 1080 Ti (ms); preprocessing is not reported there.
PAPER_MS = {"features": 0.145, "heatmaps": 0.168, "decode+fusion": 0.020, "postprocess": 0.724}

_RULES = (
    (re.compile(r"(^|[/.])features([/.]|$)"), "features"),
    (re.compile(r"(^|[/.])branches[/.]\d+([/.]|$)"), "heatmaps"),
    (re.compile(r"(^|[/.])(decode|fusion|omega)([/.]|$)"), "decode+fusion"),
    (re.compile(r"(^|[/.])(postprocess|backproject)([/.]|$)"), "postprocess"),
    (re.compile(r"(^|[/.])(preprocess|crop|center)([/.]|$)"), "preprocess"),
)


def stage_of(name: str) -> str | None:
    """Stage of a node/layer/module name, from the first module path it contains; None if it has none.

    Fused TensorRT layers join several node names ("/features/…/Conv + /features/…/Relu"); the first
    path decides, so a fused layer counts once.
    """
    best = None
    for pattern, stage in _RULES:
        m = pattern.search(name)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), stage)
    return best[1] if best else None
