"""The scene benchmark's report: scenes.json, scenes.md and scenes.png (a few scenes per class, boxes drawn)."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from lfsdk.data.scenes import SceneBatch
from lfsdk.draw import colorize_depth
from lfsdk.geometry import crop_boxes
from lfsdk.scene_metrics import FOUND_MM, Detections, match_hands

__all__ = ["scene_markdown", "scene_picture", "write_scene_report"]


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _mm(x) -> str:
    return "—" if x is None else f"{x:.1f}"


def _ms(x, digits: int) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def scene_markdown(report: dict) -> str:
    """The report as Markdown: one row per scene class, then the localisation cost."""
    lines = [f"# Scene benchmark ({report['mode']}-hand call)", "",
             f"{report['scenes']} held-out rendered scenes (seed {report['seed']}, {report['size'][1]}×"
             f"{report['size'][0]}, layout {report['layout']}); a true hand is found when a reported hand's mean "
             f"joint error to it is ≤ {report['found_threshold_mm']:g} mm. End-to-end error: true hands with a "
             "reported partner; oracle: the same hands cropped at their true palm centre (in the multi-hand "
             "call, within their own region and on the side the pipeline picks), i.e. what a perfect localisation "
             "would find with this model. "
             "Extra: frames with a reported hand that matches no true hand (on no-hand classes, false positives).",
             "", "| scene class | frames | hands | found | oracle found | all hands found | extra / false positive | "
             "reported per frame | end-to-end mm (median) | oracle mm | handedness |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in report["classes"].items():
        e2e = "—" if m["e2e_mean_mm"] is None else f"{m['e2e_mean_mm']:.1f} ({m['e2e_median_mm']:.1f})"
        side = "—" if m["handedness_accuracy"] is None else \
            f"{_pct(m['handedness_accuracy'])} of {m['handedness_judged']}"
        bold = "**" if name.startswith("all ") else ""
        lines.append(f"| {bold}{name}{bold} | {m['frames']} | {m['hands']} | {_pct(m['detection_rate'])} | "
                     f"{_pct(m.get('oracle_detection_rate'))} | {_pct(m['all_found_rate'])} | {_pct(m['false_positive_rate'])} | "
                     f"{m['reported_per_frame']:.2f} | {e2e} | {_mm(m['oracle_mean_mm'])} | {side} |")
    cost = report.get("localization_cost")
    if cost:
        lines += ["", "Localisation cost per frame (wall clock, median):", "",
                  "| batch | localisation ms/frame | whole call ms/frame | localisation share |", "|---|---|---|---|"]
        lines += [f"| {k} | {_ms(v['localize_ms'], 3)} | {_ms(v['total_ms'], 2)} | {_pct(v['share'])} |"
                  for k, v in cost.items()]
    lines += ["", f"Model: {report.get('model', '?')}, backend: {report.get('backend', '?')}. "
              f"Rendering ran at {report['render_frames_per_s']:.1f} scenes/s."]
    return "\n".join(lines) + "\n"


def _pick(batch: SceneBatch, per_class: int) -> list[list[int]]:
    """The first `per_class` frame indices of each class present, in class order."""
    classes = list(dict.fromkeys(batch.scene_class.tolist()))
    return [list(np.flatnonzero(batch.scene_class == c)[:per_class]) for c in classes]


def scene_picture(batch: SceneBatch, det: Detections, out: str | Path, cube: Sequence[float],
                  per_class: int = 3) -> Path:
    """A grid: one row per scene class, `per_class` scenes each: the depth, true hands' crop boxes (white,
    dashed) with their joints, and the reported hands' boxes (green: matched within FOUND_MM, red: not),
    labelled with error, side and score."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _pick(batch, per_class)
    err, partner = match_hands(det.joints_xyz, det.found, batch.joints_xyz, batch.num_hands)
    fig, axes = plt.subplots(len(rows), per_class, figsize=(3.2 * per_class, 2.6 * len(rows)), squeeze=False)
    for r, idx in enumerate(rows):
        for c in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(idx):
                _draw_scene(ax, batch, det, int(idx[c]), err, partner, cube)
    fig.suptitle(f"white dashed: true hands' crop boxes and joints; green: a reported hand within {FOUND_MM:g} mm\n"
                 "of a true one; red: any other reported hand (label: error, side, score)", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))  # room for the two-line legend
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return _small_png(buf, Path(out))


def _small_png(buf: io.BytesIO, out: Path) -> Path:
    """Write the PNG in `buf` to `out` with a 128-colour palette: noisy depth makes RGB PNGs ~6× larger."""
    buf.seek(0)
    Image.open(buf).convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)
    return out


def _box(ax, b, color: str, style: str = "-") -> None:
    u0, v0, u1, v1 = b
    ax.plot([u0, u1, u1, u0, u0], [v0, v0, v1, v1, v0], style, color=color, lw=1.2)


def _draw_scene(ax, batch: SceneBatch, det: Detections, i: int, err: np.ndarray, partner: np.ndarray,
                cube: Sequence[float]) -> None:
    k = int(batch.num_hands[i])
    focus = float(np.nanmin(batch.palm_uvd[i, :k, 2])) if k else None
    ax.imshow(colorize_depth(batch.depth[i], focus))
    for t in range(k):
        palm = torch.from_numpy(batch.palm_uvd[i, t:t + 1].astype(np.float32))
        _box(ax, crop_boxes(palm, torch.tensor(cube), batch.camera)[0].numpy(), "white", "--")
        ax.plot(batch.joints_uvd[i, t, :, 0], batch.joints_uvd[i, t, :, 1], ".", color="white", ms=2)
    for s in np.flatnonzero(det.found[i]):
        hit = np.flatnonzero(partner[i] == s)
        e = float(err[i, hit[0]]) if len(hit) else None
        good = e is not None and e <= FOUND_MM
        _box(ax, det.boxes[i, s], "lime" if good else "red")
        label = f"{'—' if e is None else f'{e:.0f} mm'} {det.side[i, s][:1].upper()}"
        if np.isfinite(det.score[i, s]) and det.mode == "multi":
            label += f" {det.score[i, s]:.2f}"
        u, v = np.clip(det.boxes[i, s, :2], 0, (batch.depth.shape[2] - 40, batch.depth.shape[1] - 8))
        ax.text(u + 1, v + 7, label, color="lime" if good else "red", fontsize=7)
    ax.set_xlim(0, batch.depth.shape[2]), ax.set_ylim(batch.depth.shape[1], 0)
    ax.set_title(f"{batch.scene_class[i]} #{i}", fontsize=8)


def write_scene_report(report: dict, batch: SceneBatch, det: Detections, out: str | Path,
                       cube: Sequence[float]) -> list[Path]:
    """scenes.json, scenes.md and scenes.png in folder `out` (created)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenes.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "scenes.md").write_text(scene_markdown(report))
    return [out / "scenes.json", out / "scenes.md", scene_picture(batch, det, out / "scenes.png", cube)]
