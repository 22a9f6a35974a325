"""The benchmark harness itself, on a tiny CPU run: schema, stage arithmetic, ratios, parity, files."""
import json

import numpy as np
import pytest
import torch

from lfsdk.bench import BASELINE, PAPER_FPS, BenchConfig, parity_mm, run, variant_jobs, variants, write_report
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint

VARIANTS = ("torch fp32", "torch bf16", "torch fp32 compile")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """One tiny run with the torch.compile variant, torch.compile replaced by a recorder that returns the
    model (a real compile takes ~20 s on this CPU); and the row counts each on_row call saw."""
    torch.manual_seed(0)
    model = LatentFusion(ModelConfig(num_joints=14, channels=16, fusion_channels=16))
    with torch.no_grad():  # Kaiming weights: joints that move with the input, so precisions differ in mm
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, a=0.01)
    ckpt = save_checkpoint(model, tmp_path_factory.mktemp("ckpt"))
    cfg = BenchConfig(model=str(ckpt), device="cpu", batches=(1, 3), iters=3, warmup=1,
                      backends=("torch",), frame_size=(96, 128), compile=True)
    compiles, seen = [], []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "compile", lambda model, **kw: compiles.append(kw) or model)
        report = run(cfg, progress=False, on_row=lambda r: seen.append(len(r["rows"])))
    return report, compiles, seen


@pytest.fixture(scope="module")
def report(bench):
    return bench[0]


def test_schema(report):
    assert report["schema"] == "lfsdk-bench/2"
    assert {"lfsdk_version", "date", "config", "machine", "frames", "paper", "skipped", "failed", "rows",
            "parity_reference"} <= set(report)
    assert report["failed"] == {}
    assert {(r["variant"], r["batch"]) for r in report["rows"]} == {(v, b) for v in VARIANTS for b in (1, 3)}
    assert report["config"]["compile"] and "(2 distinct, repeated)" not in report["frames"]
    for r in report["rows"]:
        assert {"preprocess", "network", "postprocess", "total", "features", "heatmaps", "decode+fusion"} <= set(r["stages"])
        for s in r["stages"].values():
            assert 0 < s["median_ms"] <= s["p99_ms"] + 1e-9
        assert r["fps"] == pytest.approx(1e3 * r["batch"] / r["total_ms"])
        assert r["vs_paper"] == pytest.approx(r["fps"] / PAPER_FPS)
        assert r["first_call_s"] > 0 and r["load_s"] > 0
    json.dumps(report)  # JSON-ready


def test_compile_variant_asks_inductor_once_per_estimator(bench):
    report, compiles, _ = bench
    assert compiles == [{"mode": "default", "dynamic": None, "backend": "inductor"}]
    row = next(r for r in report["rows"] if r["variant"] == "torch fp32 compile")
    assert row["options"] == {"compile": True} and row["backend"] == "torch"


def test_parity_against_torch_fp32(report):
    rows = {(r["variant"], r["batch"]): r for r in report["rows"]}
    for b in (1, 3):
        assert rows[("torch fp32", b)]["parity_mm"]["mean"] == pytest.approx(0.0, abs=1e-4)  # the reference path
        assert rows[("torch fp32 compile", b)]["parity_mm"]["max"] == pytest.approx(0.0, abs=1e-4)  # eager stand-in
        bf16 = rows[("torch bf16", b)]["parity_mm"]
        assert bf16["frames"] == b and 0 < bf16["mean"] <= bf16["max"]  # bf16 rounds: a real difference


def test_parity_mm_by_hand():
    ref = np.zeros((3, 2, 3))
    xyz = ref.copy()
    xyz[0, 0] = (3.0, 4.0, 0.0)  # 5 mm off
    xyz[1, 1] = (0.0, 0.0, 1.0)  # 1 mm off
    xyz[2] = np.nan  # no hand found: left out
    assert parity_mm(xyz, ref) == {"mean": pytest.approx(1.5), "max": pytest.approx(5.0), "frames": 2}
    assert parity_mm(np.full((1, 2, 3), np.nan), np.zeros((1, 2, 3))) is None


def test_report_is_handed_over_after_every_row(bench):
    report, _, seen = bench
    assert seen == list(range(1, len(report["rows"]) + 1))


def test_stages_add_up_to_end_to_end(report):
    for r in report["rows"]:
        assert r["stage_sum_mean_ms"] == pytest.approx(r["total_mean_ms"], rel=0.10), r


def test_ratios_are_against_torch_fp32_at_the_same_batch(report):
    rows = {(r["precision"], r["batch"]): r for r in report["rows"] if "compile" not in r["variant"]}
    for b in (1, 3):
        assert rows[("fp32", b)]["vs_torch_fp32"] == pytest.approx(1.0)
        assert rows[("bf16", b)]["vs_torch_fp32"] == pytest.approx(rows[("bf16", b)]["fps"] / rows[("fp32", b)]["fps"])


def test_files_are_written(report, tmp_path):
    paths = write_report(report, tmp_path)
    assert json.loads(paths["json"].read_text())["rows"] == report["rows"]
    md = paths["md"].read_text()
    assert "| torch bf16 | 3 |" in md and "| torch fp32 compile | 1 |" in md and "paper (GTX 1080 Ti)" in md
    assert "TF32 off" in md
    from PIL import Image
    img = Image.open(paths["png"])
    assert img.size[0] > 500 and len(set(img.convert("L").tobytes())) > 10  # a real plot, not a blank canvas


def test_named_report_without_plot(report, tmp_path):
    paths = write_report(report, tmp_path, name="bench", with_plot=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "bench.md"]
    assert paths["json"] == tmp_path / "bench.json"


def test_variants_put_the_baseline_first_and_explain_the_rest():
    runnable, skipped = variants("cpu")
    assert runnable[0] == BASELINE
    assert "tensorrt" in skipped and skipped["tensorrt"]


@pytest.mark.parametrize("held,ort,openvino", [("fp16", ["fp16"], []), ("fp32", ["fp32", "int8"], ["fp32", "bf16"])])
def test_variants_of_an_onnx_file_are_the_precisions_it_holds(monkeypatch, held, ort, openvino):
    from lfsdk.backends import onnxruntime, openvino as ov

    monkeypatch.setattr(onnxruntime, "onnx_precision", lambda p: held)
    monkeypatch.setattr(ov, "onnx_precision", lambda p: held)
    runnable, skipped = variants("cpu", ("torch", "onnxruntime", "openvino"), model="hand.onnx")
    assert [p for b, p in runnable if b == "onnxruntime"] == ort
    assert "torch" in skipped and not any(b == "torch" for b, _ in runnable)  # torch loads checkpoints only
    if ov.OpenVINOBackend.available("cpu"):
        assert [p for b, p in runnable if b == "openvino"] == openvino


def test_variant_jobs_on_cuda():
    """Eager FP32 baseline, CUDA graphs for every other torch variant, the compile variant last at FP16."""
    runnable = [("torch", "fp32"), ("torch", "fp16"), ("onnxruntime", "fp32")]
    jobs = variant_jobs(runnable, "cuda", compile=True)
    assert [(j.label, j.options) for j in jobs] == [
        ("torch fp32", {"cuda_graphs": False}), ("torch fp16", {"cuda_graphs": True}), ("onnxruntime fp32", {}),
        ("torch fp16 compile", {"compile": True, "cuda_graphs": True})]
    assert [j.label for j in variant_jobs(runnable, "cuda")] == ["torch fp32", "torch fp16", "onnxruntime fp32"]


def test_bad_config():
    with pytest.raises(ValueError, match="batches"):
        BenchConfig(batches=(0,))
    with pytest.raises(ValueError, match="iters"):
        BenchConfig(iters=0)


def test_cli_refuses_bad_arguments(capsys):
    from lfsdk.bench import main

    assert main(["--torch-threads", "0"]) == 2
    assert "--torch-threads must be ≥ 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--batches", "1,x"])
    for bad in ("640", "640x", "8x8"):
        with pytest.raises(SystemExit):
            main(["--frame-size", bad])
    err = capsys.readouterr().err
    assert err.count("expected WIDTHxHEIGHT") == 2 and err.count("at least 16x16") == 1


def test_frame_size_is_width_by_height():
    from lfsdk.bench import _frame_size

    assert _frame_size("640x480") == (480, 640) and _frame_size("320X240") == (240, 320)
