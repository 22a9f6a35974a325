"""lfsdk-bench's report files: Markdown tables and the throughput / per-stage plot, from the report dict
that lfsdk.bench.run returns (written again after every measured row, so a run cut short keeps its rows).

    paths = write_report(report, "benchmarks/results")               # <date>-<device>.{json,md,png}
    paths = write_report(report, out_dir, name="bench", with_plot=False)  # bench.{json,md}
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .stages import PAPER_MS

__all__ = ["PAPER_FPS", "PAPER_MS_PER_FRAME", "SPLIT", "device_label", "markdown", "plot", "write_report"]

PAPER_FPS = 946.0
PAPER_MS_PER_FRAME = 1.057
#: the stages drawn in the split plot, in pipeline order (network sub-stages replace "network" when known)
SPLIT = ("preprocess", "features", "heatmaps", "decode+fusion", "postprocess")


def device_label(report: dict) -> str:
    m = report["machine"]
    name = m.get("gpu") or f"cpu{m['threads']}t"
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").lower()


def _parity(r: dict) -> str:
    p = r.get("parity_mm")
    return f"{p['mean']:.3f} / {p['max']:.3f}" if p else "–"


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# lfsdk-bench {report['date']}", "",
             f"Device: {m.get('gpu', 'CPU ' + m['cpu'])} · torch {m['torch']} · {m['threads']} threads · "
             f"lfsdk {report['lfsdk_version']}", f"Frames: {report['frames']}",
             f"Model: `{report['config']['model']}`", "",
             "torch fp32 runs in IEEE FP32 (TF32 off for convolutions and matmuls); it is the baseline, eager "
             "without CUDA graphs. Parity: distance of each joint to torch fp32's on the same frames, mean / max "
             "mm. First call: the estimator's first call (torch.compile's compile and CUDA-graph capture).", "",
             "| variant | batch | end-to-end ms (median) | p99 ms | ms/frame | frames/s | vs torch FP32 | "
             "vs paper (946 fps) | parity mm | first call s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        ratio = f"{r['vs_torch_fp32']:.2f}×" if r["vs_torch_fp32"] else "–"
        lines.append(f"| {r['variant']} | {r['batch']} | {r['total_ms']:.3f} | "
                     f"{r['stages']['total']['p99_ms']:.3f} | {r['ms_per_frame']:.4f} | {r['fps']:,.0f} | "
                     f"{ratio} | {r['vs_paper']:.2f}× | {_parity(r)} | {r['first_call_s']:.2f} |")
    lines += ["", "Per-stage medians, ms per frame (network sub-stages from an instrumented pass where the "
              "backend can split it):", "",
              "| variant | batch | " + " | ".join(SPLIT) + " | network |",
              "|---|---:|" + "---:|" * (len(SPLIT) + 1),
              "| paper (GTX 1080 Ti) | 1 | – | " + " | ".join(
                  f"{PAPER_MS[s]:.3f}" for s in SPLIT[1:]) + " | 0.333 |"]
    for r in report["rows"]:
        st = r["stages"]
        cell = lambda s: f"{st[s]['median_ms'] / r['batch']:.4f}" if s in st else "–"  # noqa: E731
        lines.append(f"| {r['variant']} | {r['batch']} | " + " | ".join(cell(s) for s in SPLIT)
                     + f" | {cell('network')} |")
    for title, d in (("Not run here", report["skipped"]), ("Failed", report["failed"])):
        if d:
            lines += ["", f"{title}:", ""] + [f"- {k}: {v}" for k, v in d.items()]
    return "\n".join(lines) + "\n"


def _split_bars(report: dict) -> tuple[int, list[tuple[str, dict]]]:
    smallest = min(r["batch"] for r in report["rows"])
    bars = [("paper", {s: PAPER_MS.get(s, 0.0) for s in SPLIT})]
    for r in report["rows"]:
        if r["batch"] == smallest:
            st = r["stages"]
            split = {s: st[s]["median_ms"] / r["batch"] for s in SPLIT if s in st}
            if not any(s in st for s in ("features", "heatmaps", "decode+fusion")) and "network" in st:
                split["features"] = st["network"]["median_ms"] / r["batch"]  # unsplit network: one block
            bars.append((r["variant"].replace(" ", "\n", 1), split))
    return smallest, bars


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    series: dict[str, list[tuple[int, float]]] = {}
    for r in report["rows"]:
        series.setdefault(r["variant"], []).append((r["batch"], r["fps"]))
    for label, pts in series.items():
        pts.sort()
        ax1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax1.axhline(PAPER_FPS, color="grey", ls="--", label="paper (GTX 1080 Ti)")
    ax1.set(xscale="log", yscale="log", xlabel="batch", ylabel="frames/s (end to end)",
            title=f"throughput — {report['machine'].get('gpu', 'CPU')}")
    ax1.legend(fontsize=7)
    smallest, bars = _split_bars(report)
    bottom = np.zeros(len(bars))
    for s in SPLIT:
        vals = np.array([b[1].get(s, 0.0) for b in bars])
        ax2.bar([b[0] for b in bars], vals, bottom=bottom, label=s)
        bottom += vals
    ax2.set(ylabel="ms per frame", title=f"per-stage split, batch {smallest} (paper: batch 1)")
    ax2.tick_params(axis="x", labelsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict, out_dir: str | Path, *, name: str | None = None,
                 with_plot: bool = True) -> dict[str, Path]:
    """Write <name>.{json,md} (and .png with rows and with_plot) into out_dir; name defaults to
    <date>-<device>. Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = name or f"{time.strftime('%Y-%m-%d')}-{device_label(report)}"
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md", "png": out / f"{stem}.png"}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["md"].write_text(markdown(report))
    if with_plot and report["rows"]:
        plot(report, paths["png"])
    return paths
