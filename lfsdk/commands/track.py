"""`lfsdk track SOURCE [-o hands.jsonl] [--video out.mp4]`: track hands through a recording, a folder of
frames, a live RealSense camera or a rendered sequence; one JSON line per frame (timestamp, and per hand
id, score, handedness, joints), a progress bar, optionally an overlay video (pip install av).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .common import add_backend_arguments, add_model_argument, make_estimator
from ..sources import RealSenseSource, open_source
from ..track.filter import OneEuroParams
from ..track.tracker import DEFAULT_SMOOTHING, HandTracker
from ..track.video import VIDEO_SUFFIXES, VideoWriter, draw_hands

__all__ = ["add_arguments", "run", "HELP"]

HELP = "track hands through a recording, a folder of frames or a live camera: one JSON line per frame"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="a folder of 16-bit PNG/.npy frames, a RealSense .bag/.db3 recording, "
                                  "realsense[:SERIAL] for a live camera, or synthetic:SCENARIO[:FRAMES[:SEED]]")
    p.add_argument("-o", "--output", help="write hands.jsonl (default: JSON lines on stdout)")
    p.add_argument("--video", help="also write an overlay video (e.g. out.mp4; needs pip install av)")
    add_model_argument(p)
    p.add_argument("--camera", help="intrinsics of a folder of frames: nyu, icvl, msra or fx,fy,cx,cy "
                                    "(recordings and cameras report their own)")
    p.add_argument("--fps", type=float, help="frame rate of a folder of frames (default: times from file names)")
    p.add_argument("--max-hands", type=int, default=2, help="hands to track at most (default 2)")
    p.add_argument("--min-score", type=float, default=0.5, help="a hand below this score is lost (default 0.5)")
    p.add_argument("--no-smoothing", action="store_true", help="report the raw joints")
    p.add_argument("--min-cutoff", type=float, default=DEFAULT_SMOOTHING.min_cutoff, help="One Euro min cutoff, Hz")
    p.add_argument("--beta", type=float, default=DEFAULT_SMOOTHING.beta, help="One Euro beta, per mm/s")
    p.add_argument("--async", dest="asynchronous", action="store_true",
                   help="capture on a thread and always process the newest frame (live cameras)")
    p.add_argument("--realtime", action="store_true",
                   help="play a recording, folder or synthetic sequence at its timestamps' pace (as a live camera; "
                        "with --async, frames the tracker has no time for are dropped)")
    add_backend_arguments(p)


def _record(frame) -> dict:
    return {"index": frame.index, "timestamp": frame.timestamp, "latency_ms": round(frame.latency_s * 1e3, 3),
            "dropped": frame.dropped, "hands": [h.to_dict() for h in frame.hands]}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if args.max_hands < 1:
        raise ValueError(f"--max-hands must be ≥ 1, got {args.max_hands}")
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() not in (".jsonl", ".json"):
        raise ValueError(f"-o {out}: expected a .jsonl file name")
    if args.video and Path(args.video).suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--video {args.video}: expected a video file name ending in {', '.join(VIDEO_SUFFIXES)}")
    smoothing = None if args.no_smoothing else OneEuroParams(args.min_cutoff, args.beta, DEFAULT_SMOOTHING.d_cutoff)
    source = open_source(args.source, camera=args.camera, fps=args.fps, realtime=args.realtime)
    est = make_estimator(args)
    tracker = HandTracker(est, max_hands=args.max_hands, min_score=args.min_score, smoothing=smoothing)
    video = VideoWriter(args.video, fps=args.fps or 30.0) if args.video else None
    sink = open(out, "w") if out else sys.stdout
    total = len(source) if hasattr(source, "__len__") else None
    frames = hands = 0
    try:
        with tqdm(total=total, unit="frame", desc="track", file=sys.stderr, disable=out is None) as bar:
            # a RealSense recording paces itself (realtime=); other sources are paced here
            pace = args.realtime and not isinstance(source, RealSenseSource)
            for frame, depth in _with_depth(tracker, source, args.asynchronous, pace):
                sink.write(json.dumps(_record(frame)) + "\n")
                frames, hands = frames + 1, hands + len(frame)
                if video is not None:
                    video.write(draw_hands(depth, frame.hands, est.config.skeleton))
                bar.update(1 + frame.dropped)
    finally:
        if out:
            sink.close()
        if video is not None:
            video.close()
    print(f"{frames} frames, {hands} hands, {tracker.stats['detections']} detections; backend "
          f"{est.backend.describe()}" + (f" → {out}" if out else "") + (f", {args.video}" if video else ""),
          file=sys.stderr)
    return 0


def _with_depth(tracker, source, asynchronous: bool, pace: bool):
    """(TrackFrame, its depth frame): the source's frames pass through here so the video can draw them."""
    last: dict = {}

    def remember():
        for i, item in enumerate(source):
            last[i] = item[1]
            yield item

    for frame in tracker.track(remember(), asynchronous=asynchronous, pace=pace):
        depth = last.pop(frame.index)
        for k in [k for k in last if k < frame.index]:
            del last[k]
        yield frame, np.asarray(depth)
