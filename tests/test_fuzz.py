"""Generated odd inputs across the estimator, model files and `lfsdk estimate` (tests/fuzz_cases.py): every
case must end in a clear error (InputError/ValueError/TypeError/FileNotFoundError, BackendUnavailable for a
model file a backend cannot run, IndexError for a frame out of range) or a valid result — never non-finite
joints with found=True, never an unclear exception or a traceback.

The CI-sized run is part of the normal suite; the full one (`pytest -m fuzz tests/test_fuzz.py`, run by
`make bench`) generates over 1,000 cases and prints the counts quoted in the README."""
import importlib.util
import time
from collections import Counter

import pytest

from lfsdk import HandPoseEstimator
from tests.api_helpers import fast_backend, make_frames, one_torch_thread, shared_cache, shared_model  # noqa: F401
from tests.fuzz_cases import api_cases, cli_cases, model_cases, outcome

pytestmark = pytest.mark.usefixtures("shared_cache", "one_torch_thread")

#: cases per part: (api, model files, cli) — CI-sized and full
CI = (220, 24, 24)
FULL = (900, 160, 200)
BACKENDS = ["onnxruntime", "auto"] + (["openvino"] if importlib.util.find_spec("openvino") else [])


@pytest.fixture(autouse=True)
def keep_torch_threads():
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _run(sizes, tmp_path, seed):
    ckpt, onnx_path = shared_model()
    est = HandPoseEstimator(onnx_path, backend=fast_backend(), camera="icvl")
    frame = make_frames(1, seed=seed)[0]
    (tmp_path / "models").mkdir()
    cases = (api_cases(est, sizes[0], seed)
             + model_cases(ckpt, onnx_path, frame, tmp_path / "models", sizes[1], seed, BACKENDS)
             + cli_cases(str(onnx_path), frame, tmp_path / "cli", sizes[2], seed))
    counts, defects, seconds = Counter(), [], Counter()
    for name, thunk in cases:
        t0 = time.perf_counter()
        kind, detail = outcome(thunk)
        part = name.split("-")[0]
        seconds[part] += time.perf_counter() - t0
        counts[kind] += 1
        counts[f"{part}:{kind}"] += 1
        if kind == "defect":
            defects.append(f"{name}: {detail}")
    print(f"\nfuzz: {len(cases)} cases, {counts['error']} clear errors, {counts['valid']} valid results, "
          f"{len(defects)} defects; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if ":" in k)
          + "; seconds " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(seconds.items())))
    assert not defects, f"{len(defects)} of {len(cases)} cases:\n" + "\n".join(defects[:20])
    return counts


def test_fuzz_ci(tmp_path):
    counts = _run(CI, tmp_path, seed=2026)
    assert counts["error"] + counts["valid"] == sum(CI)
    assert counts["api:valid"] > 40 and counts["api:error"] > 40  # the generator reaches both outcomes


@pytest.mark.fuzz
def test_fuzz_full(tmp_path):
    counts = _run(FULL, tmp_path, seed=15)
    assert counts["error"] + counts["valid"] == sum(FULL) >= 1000
