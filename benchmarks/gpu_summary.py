"""Last step of benchmarks/gpu.sh: one page from whatever the earlier steps left in the output folder.

    python benchmarks/gpu_summary.py OUT_DIR [--steps FILE]

Reads OUT_DIR/bench.json (lfsdk-bench) and OUT_DIR/kernels.json (gpu_kernels.py), either of which may be
missing or partial, and writes OUT_DIR/summary.md: each step's exit status, the issue's targets (batch-1
end to end from a raw frame ≤ 0.5 ms, best-batch ≥ 30,000 frames/s, preprocessing at batch 512 ≥ 50,000
frames/s), the paper's figures (1.057 ms per frame, 946 frames/s on a GTX 1080 Ti) beside ours per stage,
and torch.compile's compile time and parity. Needs no third-party package, so it runs when nothing else does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PAPER_MS, PAPER_FPS = 1.057, 946.0
PAPER_STAGES = {"features": 0.145, "heatmaps": 0.168, "decode+fusion": 0.020, "postprocess": 0.724}
STAGES = ("preprocess", "features", "heatmaps", "decode+fusion", "postprocess")
TARGETS = {"batch1_ms": 0.5, "best_fps": 30_000.0, "preprocess_fps_512": 50_000.0}


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _mark(ok: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[ok]


def targets(bench: dict | None, kernels: dict | None) -> list[str]:
    """The issue's three numbers, each against its target and the paper."""
    rows = (bench or {}).get("rows", [])
    b1 = min((r for r in rows if r["batch"] == 1), key=lambda r: r["total_ms"], default=None)
    best = max(rows, key=lambda r: r["fps"], default=None)
    pre = next((r for r in (kernels or {}).get("rows", []) if r["op"] == "preprocess" and r["batch"] == 512), None)
    lines = ["| figure | measured | target | | paper (GTX 1080 Ti) |", "|---|---:|---:|---|---:|"]
    b1_ok = b1 and b1["total_ms"] <= TARGETS["batch1_ms"]
    lines.append("| batch 1 end to end, raw frame → joints (ms) | "
                 + (f"{b1['total_ms']:.3f} ({b1['variant']})" if b1 else "–")
                 + f" | ≤ {TARGETS['batch1_ms']} | {_mark(b1_ok)} | {PAPER_MS} |")
    lines.append("| best-batch frames/s | "
                 + (f"{best['fps']:,.0f} ({best['variant']}, batch {best['batch']})" if best else "–")
                 + f" | ≥ {TARGETS['best_fps']:,.0f} | {_mark(best and best['fps'] >= TARGETS['best_fps'])} "
                   f"| {PAPER_FPS:,.0f} |")
    lines.append("| preprocessing frames/s at batch 512 (Triton) | "
                 + (f"{pre['triton']['fps']:,.0f} ({pre['speedup']:.1f}× torch)" if pre else "–")
                 + f" | ≥ {TARGETS['preprocess_fps_512']:,.0f} | "
                   f"{_mark(pre and pre['triton']['fps'] >= TARGETS['preprocess_fps_512'])} | – |")
    return lines


def stage_split(bench: dict | None) -> list[str]:
    """ms per frame per stage at batch 1 for every variant, under the paper's row."""
    rows = [r for r in (bench or {}).get("rows", []) if r["batch"] == 1]
    lines = ["| batch 1, ms/frame | " + " | ".join(STAGES) + " | end to end |", "|---|" + "---:|" * (len(STAGES) + 1),
             "| paper (GTX 1080 Ti) | – | " + " | ".join(f"{PAPER_STAGES[s]:.3f}" for s in STAGES[1:])
             + f" | {PAPER_MS:.3f} |"]
    for r in rows:
        st = r["stages"]
        cells = [f"{st[s]['median_ms']:.4f}" if s in st else "–" for s in STAGES]
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + f" | {r['total_ms']:.4f} |")
    return lines


def compile_report(bench: dict | None) -> list[str]:
    """Every variant, torch.compile beside torch eager FP16: first-call seconds (compiles, CUDA-graph
    captures) and parity with torch FP32 in mm."""
    rows = (bench or {}).get("rows", [])
    lines = ["| variant | batch | first call s | frames/s | vs torch FP32 | parity vs FP32, mean / max mm |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = r.get("parity_mm")
        ratio = f"{r['vs_torch_fp32']:.2f}×" if r.get("vs_torch_fp32") else "–"
        lines.append(f"| {r['variant']} | {r['batch']} | {r['first_call_s']:.1f} | {r['fps']:,.0f} | {ratio} | "
                     + (f"{p['mean']:.3f} / {p['max']:.3f}" if p else "–") + " |")
    failed = (bench or {}).get("failed", {})
    lines += [f"- failed: {k}: {v}" for k, v in failed.items()]
    return lines


def steps_table(path: Path | None) -> list[str]:
    lines = ["| step | exit | seconds |", "|---|---:|---:|"]
    if path is None or not path.is_file():
        return lines + ["| (no step record) | | |"]
    for line in path.read_text().splitlines():
        name, rc, secs = (line.split() + ["?", "?"])[:3]
        note = " (timed out)" if rc in ("124", "137") else ""
        lines.append(f"| {name} | {rc}{note} | {secs} |")
    return lines


def summary(out: Path, steps: Path | None) -> str:
    bench, kernels = _load(out / "bench.json"), _load(out / "kernels.json")
    m = (bench or {}).get("machine", {})
    dry = bool((bench or {}).get("config", {}).get("device") == "cpu"
               or (kernels or {}).get("config", {}).get("dry_run"))
    head = [f"# GPU run: {m.get('gpu') or (kernels or {}).get('gpu') or 'unknown device'}", ""]
    if dry:
        head += ["**Dry run on the CPU** (tiny sizes, Triton interpreter, torch.compile off): it checks that every "
                 "step runs and writes its files; its timings say nothing about a GPU.", ""]
    head += [f"torch {m.get('torch', '?')}, triton {(kernels or {}).get('triton', '?')}, CUDA "
             f"{(kernels or {}).get('cuda', '?')}, capability {m.get('capability', '?')}; frames: "
             f"{(bench or {}).get('frames', '?')}.", ""]
    return "\n".join(head + ["## Steps", ""] + steps_table(steps)
                     + ["", "## Targets", "", "End to end: raw uint16 frames already in the device's memory → "
                        "joints in mm (preprocess, network, postprocess), medians of CUDA-event timings.", ""]
                     + targets(bench, kernels)
                     + ["", "## Per stage against the paper", ""] + stage_split(bench)
                     + ["", "## First call (torch.compile: compile time) and parity with FP32", ""]
                     + compile_report(bench)
                     + ["", "Full tables: bench.md (every variant and batch), kernels.md (every kernel); "
                        "the log of every step: gpu.log."]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="the folder gpu.sh writes into")
    p.add_argument("--steps", type=Path, help="gpu.sh's record of steps: one 'name exit seconds' per line")
    args = p.parse_args(argv)
    text = summary(args.out, args.steps)
    (args.out / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
