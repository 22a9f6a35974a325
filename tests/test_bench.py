"""The benchmark harness itself, on a tiny CPU run: schema, stage arithmetic, ratios, files."""
import json

import pytest
import torch

from lfsdk.bench import BASELINE, PAPER_FPS, BenchConfig, run, variants, write_report
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    torch.manual_seed(0)
    ckpt = save_checkpoint(LatentFusion(ModelConfig(num_joints=14, channels=16, fusion_channels=16)),
                           tmp_path_factory.mktemp("ckpt"))
    cfg = BenchConfig(model=str(ckpt), device="cpu", batches=(1, 3), iters=3, warmup=1,
                      backends=("torch",), frame_size=(96, 128))
    return run(cfg, progress=False)


def test_schema(report):
    assert report["schema"] == "lfsdk-bench/1"
    assert {"lfsdk_version", "date", "config", "machine", "frames", "paper", "skipped", "failed", "rows"} <= set(report)
    assert report["failed"] == {}
    assert {(r["backend"], r["precision"], r["batch"]) for r in report["rows"]} == {
        ("torch", p, b) for p in ("fp32", "bf16") for b in (1, 3)}
    for r in report["rows"]:
        assert {"preprocess", "network", "postprocess", "total", "features", "heatmaps", "decode+fusion"} <= set(r["stages"])
        for s in r["stages"].values():
            assert 0 < s["median_ms"] <= s["p99_ms"] + 1e-9
        assert r["fps"] == pytest.approx(1e3 * r["batch"] / r["total_ms"])
        assert r["vs_paper"] == pytest.approx(r["fps"] / PAPER_FPS)
    json.dumps(report)  # JSON-ready


def test_stages_add_up_to_end_to_end(report):
    for r in report["rows"]:
        assert r["stage_sum_mean_ms"] == pytest.approx(r["total_mean_ms"], rel=0.10), r


def test_ratios_are_against_torch_fp32_at_the_same_batch(report):
    rows = {(r["precision"], r["batch"]): r for r in report["rows"]}
    for b in (1, 3):
        assert rows[("fp32", b)]["vs_torch_fp32"] == pytest.approx(1.0)
        assert rows[("bf16", b)]["vs_torch_fp32"] == pytest.approx(rows[("bf16", b)]["fps"] / rows[("fp32", b)]["fps"])


def test_files_are_written(report, tmp_path):
    paths = write_report(report, tmp_path)
    assert json.loads(paths["json"].read_text())["rows"] == report["rows"]
    md = paths["md"].read_text()
    assert "| torch | bf16 | 3 |" in md and "paper (GTX 1080 Ti)" in md
    from PIL import Image
    img = Image.open(paths["png"])
    assert img.size[0] > 500 and len(set(img.convert("L").tobytes())) > 10  # a real plot, not a blank canvas


def test_variants_put_the_baseline_first_and_explain_the_rest():
    runnable, skipped = variants("cpu")
    assert runnable[0] == BASELINE
    assert "tensorrt" in skipped and skipped["tensorrt"]


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
