"""The GPU benchmark script cannot run here; its --dry-run (CPU, Triton interpreter, tiny frames) can, so the
script's plumbing (ops, parity report, timing loop, JSON + Markdown) is exercised on every `make test`."""
import json

import pytest

from tests.api_helpers import load_benchmark


def load_script():
    return load_benchmark("gpu_kernels")


def test_percentile_and_slug():
    m = load_script()
    xs = [float(i) for i in range(1, 101)]
    assert m.percentile(xs, 50) == 51.0 and m.percentile(xs, 99) == 99.0 and m.percentile(xs, 100) == 100.0
    assert m.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


def test_results_are_written_after_every_batch(tmp_path, monkeypatch):
    """A run cut short keeps the batches it finished: on_batch gets the result after each batch size, and
    main writes it each time (timing and kernels stubbed: the plumbing is under test here; the real dry run
    is tests/benchmarks/test_gpu_sh.py)."""
    m = load_script()
    timing = {"median_ms": 1.0, "p99_ms": 1.0, "fps": 1.0}
    monkeypatch.setattr(m, "make_ops", lambda frames, camera, cube, args: ({}, {}))
    monkeypatch.setattr(m, "_batch_rows", lambda ops, par, b, args, cuda: [
        {"op": "preprocess", "batch": b, "triton": timing, "torch": timing, "speedup": 1.0, "parity": None}])
    written = []
    real_write = m.write

    def write(res, out, name):
        written.append(len(res["rows"]))
        return real_write(res, out, name)
    monkeypatch.setattr(m, "write", write)
    assert m.main(["--dry-run", "--batches", "1", "2", "3", "--out", str(tmp_path), "--name", "k"]) == 0
    assert written == [1, 2, 2]  # after each batch (a dry run keeps batches 1 and 2), then the final write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json", "k.md"]
    assert [r["batch"] for r in json.loads((tmp_path / "k.json").read_text())["rows"]] == [1, 2]


def test_refuses_without_cuda_unless_dry_run():
    m = load_script()
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit, match="no CUDA device"):
        m.run(m.parse_args(["--batches", "1"]))


def test_markdown_reports_the_target():
    m = load_script()
    timing = {"median_ms": 2.0, "p99_ms": 2.5, "fps": 256_000.0}
    slow = {"median_ms": 20.0, "p99_ms": 22.0, "fps": 25_600.0}
    res = {"gpu": "NVIDIA H100", "date": "2026-11-26T00:00:00+00:00", "torch": "2.x", "triton": "3.x", "cuda": "12",
           "config": {"height": 480, "width": 640, "dtype": "uint16", "size": 128, "mode": "bilinear",
                      "refine": True, "cube_mm": 250.0, "warmup": 10, "iters": 100, "dry_run": False,
                      "timer": "cuda events"},
           "target": {"batch": 512, "fps": 50_000, "speedup": 5.0, "measured_fps": 256_000.0,
                      "measured_speedup": 10.0, "met": True},
           "rows": [{"op": "preprocess", "batch": 512, "triton": timing, "torch": slow, "speedup": 10.0,
                     "parity": {"crop_norm_max": 0.0, "center_found_equal": True}}]}
    md = m.markdown(res)
    assert "| preprocess | 512 | 2.0000 | 2.5000 | 256,000 | 20.0000 | 25,600 | 10.0× |" in md
    assert "256,000 frames/s, 10.0× → **met**" in md and "Dry run" not in md
