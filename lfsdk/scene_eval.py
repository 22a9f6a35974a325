"""Scene benchmark: how well an estimator finds hands in rendered scenes (lfsdk.data.scenes), per scene class.

    lfsdk-eval --scenes                                        # the default model, 500 held-out scenes
    lfsdk-eval --scenes runs/default/best --n 1000 --mode single --out benchmarks/results/scenes

Per class: the detection rate (a true hand is found when a hand the estimator reports is matched to it with
a mean joint error ≤ 25 mm), the share of frames with every hand found, the share of frames with a reported
hand that matches none (on no-hand frames: false positives), the end-to-end error of matched hands next to
the oracle error (the same frame cropped at the true palm centre), handedness accuracy, and the cost of
localisation per frame. It runs today's single-hand call (`est(depth)`: one hand per frame, no side) or,
when the estimator has one, the multi-hand call `est.find_hands(depth, max_hands=...)`.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from lfsdk.data.scenes import SCENE_CLASSES, SCENE_SEEDS, SceneBatch, render_scenes
from lfsdk.estimator import HandPoseEstimator
from lfsdk.kernels import hand_center
from lfsdk.localize import find_candidates
from lfsdk.scene_metrics import FOUND_MM, Detections, scene_metrics
from lfsdk.scene_report import write_scene_report


__all__ = ["detect", "oracle_errors", "resolve_mode", "localization_cost", "run_scene_benchmark", "main"]

def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _single(res) -> Detections:
    """A Result of est(depth) (one hand per frame, no side) → Detections with K = 1."""
    r = res.to_numpy()
    n = len(r.found)
    return Detections(r.joints_xyz[:, None], r.found[:, None].astype(bool), np.where(r.found, 1.0, np.nan)[:, None],
                      r.boxes[:, None], np.full((n, 1), "", "<U5"), "single")


def _multi(hands) -> Detections:
    """What est.find_hands returns (fields (B, N, ...): joints_xyz, found, score, boxes, and left (bool) or
    handedness (str)) → Detections."""
    found = _np(hands.found).astype(bool)
    if hasattr(hands, "left"):
        side = np.where(_np(hands.left).astype(bool), "left", "right")
    else:
        side = np.asarray(getattr(hands, "handedness", np.full(found.shape, "")), dtype="<U5")
    side = np.where(found, side, "")
    score = _np(hands.score).astype(float) if hasattr(hands, "score") else np.where(found, 1.0, np.nan)
    return Detections(_np(hands.joints_xyz).astype(float), found, score, _np(hands.boxes).astype(float),
                      side, "multi")


def _concat(parts: list[Detections]) -> Detections:
    k = max(p.found.shape[1] for p in parts)

    def pad(a: np.ndarray, fill) -> np.ndarray:
        if a.shape[1] == k:
            return a
        extra = np.full((a.shape[0], k - a.shape[1], *a.shape[2:]), fill, a.dtype)
        return np.concatenate((a, extra), 1)
    return Detections(*(np.concatenate([pad(getattr(p, f), fill) for p in parts]) for f, fill in
                        (("joints_xyz", np.nan), ("found", False), ("score", np.nan), ("boxes", np.nan),
                         ("side", ""))), parts[0].mode)


def resolve_mode(est: Any, mode: str = "auto") -> str:
    """'auto' → 'multi' when the estimator has find_hands, else 'single'."""
    if mode not in ("auto", "single", "multi"):
        raise ValueError(f"mode must be 'auto', 'single' or 'multi', got {mode!r}")
    if mode == "auto":
        return "multi" if hasattr(est, "find_hands") else "single"
    if mode == "multi" and not hasattr(est, "find_hands"):
        raise ValueError("mode 'multi' needs an estimator with find_hands(depth, max_hands=...)")
    return mode


def detect(est: Any, depth: np.ndarray, mode: str = "auto", max_hands: int = 2, batch_size: int = 32) -> Detections:
    """Run the estimator on depth (N, H, W) in batches: est(depth) ('single') or est.find_hands ('multi')."""
    mode = resolve_mode(est, mode)
    parts = []
    for s in range(0, len(depth), batch_size):
        chunk = depth[s:s + batch_size]
        parts.append(_multi(est.find_hands(chunk, max_hands=max_hands)) if mode == "multi" else _single(est(chunk)))
    return _concat(parts)


def oracle_errors(est: Any, batch: SceneBatch, batch_size: int = 32, mode: str = "single") -> np.ndarray:
    """(N, MAX_HANDS) mean joint error (mm) per true hand when localisation is perfect, NaN where no hand.
    single: est(depth, centers=true palm uvd), the whole frame cropped there. multi: est.hands_at(true palms)
    — each hand's candidate region, both sides of the crop and the side the pipeline picks, one crop at the
    palm — so a left hand is mirrored and a nearer desk or the other hand is masked out, as find_hands does."""
    out = np.full(batch.joints_xyz.shape[:2], np.nan)
    if mode == "multi":
        for f in np.nonzero(batch.num_hands)[0]:
            n = int(batch.num_hands[f])
            h = est.hands_at(batch.depth[f], batch.palm_uvd[f, :n], score_threshold=0.0).to_numpy()
            out[f, :n] = np.linalg.norm(h.joints_xyz[0] - batch.joints_xyz[f, :n], axis=-1).mean(-1)
        return out
    frame, slot = np.nonzero(batch.num_hands[:, None] > np.arange(batch.joints_xyz.shape[1]))
    for s in range(0, len(frame), batch_size):
        f, k = frame[s:s + batch_size], slot[s:s + batch_size]
        res = est(batch.depth[f], centers=batch.palm_uvd[f, k]).to_numpy()
        out[f, k] = np.linalg.norm(res.joints_xyz - batch.joints_xyz[f, k], axis=-1).mean(-1)
    return out


def _per_frame_ms(fn: Callable[[np.ndarray], Any], depth: np.ndarray, batch: int, repeats: int) -> float:
    """Median over `repeats` calls of fn on `batch` frames, in ms per frame."""
    times = []
    for r in range(repeats + 1):  # the first call warms up
        chunk = depth[(r * batch) % len(depth):][:batch]
        if len(chunk) < batch:
            chunk = depth[:batch]
        t = time.perf_counter()
        fn(chunk)
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # GPU work is asynchronous: count it to its end
        if r:
            times.append((time.perf_counter() - t) * 1000 / len(chunk))
    return float(np.median(times))


def localization_cost(est: Any, depth: np.ndarray, mode: str, max_hands: int = 2,
                      batches: Sequence[int] = (1, 32), calls: int = 20) -> dict:
    """ms per frame of localisation alone and of the whole call, at each batch size (wall clock, median
    of max(3, calls / batch) calls). Localisation: the near-band centre (lfsdk.kernels.hand_center) for
    'single'; lfsdk.localize.find_candidates for 'multi'."""
    loc = _localizer(est, mode, max_hands)
    full = (lambda d: est.find_hands(d, max_hands=max_hands)) if mode == "multi" else est
    out = {}
    for b in batches:
        b = min(b, len(depth))
        n = max(3, calls // b)
        total_ms = _per_frame_ms(full, depth, b, n)
        loc_ms = _per_frame_ms(loc, depth, b, n)
        out[f"batch {b}"] = {"localize_ms": loc_ms, "total_ms": total_ms, "share": loc_ms / total_ms}
    return out


def _localizer(est: Any, mode: str, max_hands: int) -> Callable[[np.ndarray], Any]:
    if mode == "single":
        return lambda d: hand_center(torch.from_numpy(d), est.camera, band=est.band, refine=est.refine, cube=est.cube)
    cam = est.camera.tensor()
    return lambda d: find_candidates(torch.from_numpy(d), cam.expand(len(d), 4), max_hands + 1)


def run_scene_benchmark(est: Any, n: int = 500, seed: int = SCENE_SEEDS["test"], *, mode: str = "auto",
                        max_hands: int = 2, batch_size: int = 32, size: tuple[int, int] = (240, 320),
                        classes: Sequence[str] = SCENE_CLASSES, cost: bool = True,
                        progress: bool = False) -> tuple[dict, SceneBatch, Detections]:
    """Render n scenes (seed: the held-out one by default) in the estimator's camera and joint layout, run
    the estimator and the oracle, and return (report dict, scenes, detections)."""
    mode = resolve_mode(est, mode)
    t = time.perf_counter()
    batch = render_scenes(n, seed, classes, est.camera, est.config.skeleton, size, progress=progress)
    render_s = time.perf_counter() - t
    det = detect(est, batch.depth, mode, max_hands, batch_size)
    oracle = oracle_errors(est, batch, batch_size, mode)
    report = {
        "scenes": n, "seed": seed, "size": list(size), "mode": mode, "max_hands": max_hands if mode == "multi" else 1,
        "found_threshold_mm": FOUND_MM, "camera": list(est.camera.tensor().tolist()), "layout": batch.layout,
        "render_frames_per_s": n / render_s,
        "classes": scene_metrics(batch, det, oracle),
    }
    if cost:
        report["localization_cost"] = localization_cost(est, batch.depth, mode, max_hands)
    return report, batch, det


def main(argv: list[str] | None = None) -> int:
    """lfsdk-eval --scenes: the scene benchmark on a model (default: the shipped one)."""
    p = argparse.ArgumentParser(prog="lfsdk-eval --scenes", description="Find hands in rendered scenes, per class.")
    p.add_argument("model", nargs="?", default=None, help="a shipped model (default, lite) or a checkpoint / .onnx / .engine (default: auto, "
                   "as from_pretrained picks)")
    p.add_argument("--backend", default="onnxruntime", help="estimator backend (default: onnxruntime)")
    p.add_argument("--camera", default=None, help="camera preset or fx,fy,cx,cy (default: the model's)")
    p.add_argument("--n", type=int, default=500, help="number of held-out scenes (default 500)")
    p.add_argument("--seed", type=int, default=SCENE_SEEDS["test"], help="scene seed (default: the held-out one)")
    p.add_argument("--mode", default="auto", choices=("auto", "single", "multi"),
                   help="single: est(depth); multi: est.find_hands; auto: multi when the estimator has it")
    p.add_argument("--classes", default=",".join(SCENE_CLASSES),
                   help="comma-separated scene classes, cycled (default: all of them)")
    p.add_argument("--max-hands", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-cost", action="store_true", help="skip the localisation timing")
    p.add_argument("--out", default="benchmarks/results/scenes", help="report folder")
    args = p.parse_args(argv)
    if args.n < 1 or args.batch_size < 1 or args.max_hands < 1:
        print("lfsdk-eval --scenes: --n, --batch-size and --max-hands must be ≥ 1", file=sys.stderr)
        return 1
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if not classes or set(classes) - set(SCENE_CLASSES):
        print(f"lfsdk-eval --scenes: --classes must be a comma-separated list of {', '.join(SCENE_CLASSES)}; "
              f"got {args.classes!r}", file=sys.stderr)
        return 1
    try:
        kw = {"backend": args.backend, **({"camera": args.camera} if args.camera else {})}
        est = HandPoseEstimator.from_name_or_path(args.model, **kw)
        report, batch, det = run_scene_benchmark(est, args.n, args.seed, mode=args.mode, max_hands=args.max_hands,
                                                 batch_size=args.batch_size, classes=classes,
                                                 cost=not args.no_cost, progress=True)
    except (ValueError, FileNotFoundError) as e:
        print(f"lfsdk-eval --scenes: {e}", file=sys.stderr)
        return 1
    report["model"] = str(est.model_path)
    report["backend"] = est.backend.describe()
    files = write_scene_report(report, batch, det, args.out, est.cube)
    print(files[1].read_text())
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
