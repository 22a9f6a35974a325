"""benchmarks/gpu_summary.py: the issue's targets read off hand-made bench and kernel results."""
from tests.api_helpers import load_benchmark


def load():
    return load_benchmark("gpu_summary")


def _row(variant, batch, total_ms):
    return {"variant": variant, "batch": batch, "total_ms": total_ms, "fps": 1e3 * batch / total_ms}


def test_targets_pick_the_best_batch1_and_best_throughput():
    m = load()
    bench = {"rows": [_row("torch fp32", 1, 2.0), _row("torch fp16", 1, 0.45), _row("torch fp16", 512, 12.8),
                      _row("torch fp16 compile", 512, 20.0)]}
    kernels = {"rows": [{"op": "preprocess", "batch": 512, "triton": {"fps": 40_000.0}, "speedup": 6.0}]}
    lines = m.targets(bench, kernels)
    assert "| 0.450 (torch fp16) | ≤ 0.5 | met | 1.057 |" in lines[2]
    assert "| 40,000 (torch fp16, batch 512) | ≥ 30,000 | met |" in lines[3]  # 512 / 12.8 ms
    assert "| 40,000 (6.0× torch) | ≥ 50,000 | **not met** |" in lines[4]


def test_missing_results_are_not_measured_rather_than_a_crash(tmp_path):
    m = load()
    lines = m.targets(None, None)
    assert all("not measured" in line for line in lines[2:])
    (tmp_path / "bench.json").write_text("{ cut short")  # a step killed while writing
    text = m.summary(tmp_path, None)
    assert "not measured" in text and "(no step record)" in text
