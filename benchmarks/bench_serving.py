"""Bounded load test of `lfsdk serve` on 127.0.0.1, beside the in-process estimator on the same frames.

    python benchmarks/bench_serving.py                         # random-weight full-size model, torch backend
    python benchmarks/bench_serving.py --model hand.onnx --backend onnxruntime --requests 500 2000
    OMP_NUM_THREADS=1 python benchmarks/bench_serving.py       # one intra-op thread in both processes

Starts `lfsdk serve` (as a user would, a child process on free loopback ports), then for each concurrency
(1 and 16 clients, each a thread with its own lfsdk.serving.Client) sends single-frame requests: at most
5,000 in all, every answer checked against the in-process estimator's joints for that frame (lost = an
exception, wrong = joints off by more than 0.01 mm; the largest difference is reported). Reports p50/p99 latency and throughput for the server
and for the in-process estimator (one frame per call, and one batch per call), and the batch sizes Triton's
dynamic batcher formed (its statistics endpoint, per concurrency). Writes JSON + Markdown to
benchmarks/results/. Needs the [serve] extra.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.serving.helpers: the same server runner the tests use

from tests.serving.helpers import ServeProcess, synthetic_frames  # noqa: E402

MAX_REQUESTS = 5000
TOLERANCE_MM = 0.01  # float32 convolutions differ by batch size and thread count by ~1e-3 mm at this scale


def in_thread(fn):
    """fn() run in a worker thread (where the server runs the estimator too), its result returned."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def percentiles(lat_s: list[float]) -> dict[str, float]:
    a = np.asarray(lat_s) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean())}


def batch_stats(http_port: int) -> dict[int, int]:
    """batch size → executions so far, from Triton's statistics endpoint."""
    url = f"http://127.0.0.1:{http_port}/v2/models/latent_fusion/stats"
    stats = json.loads(urllib.request.urlopen(url, timeout=10).read())["model_stats"][0]
    return {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in stats.get("batch_stats", [])}


def in_process(est, frames, n_calls: int, batch: int, start: int = 0) -> tuple[list[float], float]:
    """(latencies, wall) of n_calls estimator calls of `batch` frames, cycling through the frames from `start`."""
    def run():
        lat = []
        t0 = time.perf_counter()
        for i in range(n_calls):
            s = ((start + i) * batch) % (len(frames.depth) - batch + 1)
            t = time.perf_counter()
            est(frames.depth[s:s + batch])
            lat.append(time.perf_counter() - t)
        return lat, time.perf_counter() - t0

    return in_thread(run)


def load(port: int, protocol: str, frames, ref: np.ndarray, n_requests: int, concurrency: int) -> dict:
    """n_requests single-frame requests from `concurrency` client threads; every answer checked."""
    from lfsdk.serving import Client

    lat: list[float] = []
    lost, wrong, worst = [0], [0], [0.0]
    errors: list[str] = []
    lock = threading.Lock()
    per = [n_requests // concurrency + (i < n_requests % concurrency) for i in range(concurrency)]

    def worker(k: int, count: int):
        with Client(f"127.0.0.1:{port}", protocol=protocol, timeout_s=60) as c:
            for j in range(count):
                i = (k * 7919 + j) % len(frames.depth)
                t = time.perf_counter()
                try:
                    res = c(frames.depth[i], frames.camera)
                except Exception as e:  # counted as lost, first few kept for the report
                    with lock:
                        lost[0] += 1
                        errors.append(f"{type(e).__name__}: {e}"[:300])
                    continue
                dt = time.perf_counter() - t
                diff = float(np.nanmax(np.abs(res.joints_xyz[0] - ref[i])))
                same_nan = np.array_equal(np.isnan(res.joints_xyz[0]), np.isnan(ref[i]))
                with lock:
                    lat.append(dt)
                    wrong[0] += not (same_nan and diff <= TOLERANCE_MM)
                    worst[0] = max(worst[0], diff)

    threads = [threading.Thread(target=worker, args=(k, n)) for k, n in enumerate(per)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"lat": lat, "wall": time.perf_counter() - t0, "lost": lost[0], "wrong": wrong[0], "max_diff_mm": worst[0],
            "errors": errors}


def compare(srv, est, frames, ref, protocol: str, n_requests: int, concurrency: int, rounds: int) -> dict:
    """Served requests and the in-process baseline in alternating rounds, so both see the same machine load
    (this 2-core machine is shared): the baseline runs one frame per call against 1 client, and batches of
    `concurrency` frames against `concurrency` clients (what dynamic batching could at best form)."""
    port = srv.http if protocol == "http" else srv.grpc
    served = {"lat": [], "wall": 0.0, "lost": 0, "wrong": 0, "max_diff_mm": 0.0, "errors": []}
    base_lat, base_wall, base_frames = [], 0.0, 0
    before = batch_stats(srv.http)
    for r in range(rounds):
        n = n_requests // rounds + (r < n_requests % rounds)
        calls = max(1, n // concurrency)
        lat, wall = in_process(est, frames, calls, concurrency, start=r * calls)
        base_lat += lat
        base_wall += wall
        base_frames += calls * concurrency
        part = load(port, protocol, frames, ref, n, concurrency)
        for k in ("lat", "errors"):
            served[k] += part[k]
        for k in ("wall", "lost", "wrong"):
            served[k] += part[k]
        served["max_diff_mm"] = max(served["max_diff_mm"], part["max_diff_mm"])
    after = batch_stats(srv.http)
    return {
        "concurrency": concurrency, "protocol": protocol, "requests": n_requests, "rounds": rounds,
        "served": {**percentiles(served["lat"]), "requests_per_s": len(served["lat"]) / served["wall"],
                   "lost": served["lost"], "wrong": served["wrong"], "max_diff_mm": served["max_diff_mm"],
                   "errors": served["errors"][:5]},
        "in_process": {**percentiles(base_lat), "frames_per_call": concurrency, "calls": len(base_lat),
                       "frames_per_s": base_frames / base_wall},
        "batches": {b: after[b] - before.get(b, 0) for b in after if after[b] - before.get(b, 0)},
    }


def markdown(report: dict) -> str:
    lines = [f"# lfsdk serve load test — {report['date']}", "",
             f"Model: {report['model']} (backend {report['backend']}), frames {report['frame_size']} uint16, "
             f"{report['machine']}, torch threads {report['torch_threads']} (OMP_NUM_THREADS={report['OMP_NUM_THREADS']}, "
             f"the server inherits it); load average {report['loadavg_start']} at start, {report['loadavg_end']} at end "
             "(the machine is shared: compare rows of one concurrency, measured in alternating rounds).", "",
             "| concurrency | path | requests / calls | p50 ms | p99 ms | frames/s | lost | wrong | max diff mm |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["levels"]:
        s, b = r["served"], r["in_process"]
        lines.append(f"| {r['concurrency']} | lfsdk serve ({r['protocol']}), 1 frame/request | {r['requests']} | "
                     f"{s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['requests_per_s']:.1f} | {s['lost']} | {s['wrong']} | "
                     f"{s['max_diff_mm']:.2g} |")
        lines.append(f"| {r['concurrency']} | in-process estimator, {b['frames_per_call']} frame(s)/call | {b['calls']} | "
                     f"{b['p50_ms']:.1f} | {b['p99_ms']:.1f} | {b['frames_per_s']:.1f} | – | – | – |")
    lines += ["", "Batch sizes formed by Triton's dynamic batcher (batch size: executions):", ""]
    for r in report["levels"]:
        sizes = ", ".join(f"{b}: {n}" for b, n in sorted(r["batches"].items()))
        mean = sum(b * n for b, n in r["batches"].items()) / max(1, sum(r["batches"].values()))
        lines.append(f"- {r['concurrency']} client(s): {sizes} (mean {mean:.2f} frames per execution)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="checkpoint, .onnx or .engine (default: a random-weight full-size checkpoint)")
    p.add_argument("--backend", default="torch")
    p.add_argument("--protocol", choices=("http", "grpc"), default="http")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    p.add_argument("--requests", type=int, nargs="+", default=[500, 2000], help="requests per concurrency level")
    p.add_argument("--frames", type=int, default=64, help="distinct frames cycled through")
    p.add_argument("--rounds", type=int, default=5, help="alternating served / in-process rounds per level")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    if len(args.requests) != len(args.concurrency):
        p.error("give one --requests count per --concurrency level")
    if sum(args.requests) > MAX_REQUESTS or min(args.requests) < 1 or min(args.concurrency) < 1:
        p.error(f"requests must be ≥ 1 each and ≤ {MAX_REQUESTS} in all; concurrency ≥ 1")

    from lfsdk.estimator import HandPoseEstimator
    from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint

    import torch

    tmp = Path(tempfile.mkdtemp(prefix="bench_serving_"))
    model = args.model
    if model is None:
        torch.manual_seed(0)
        model = str(save_checkpoint(LatentFusion(ModelConfig()), tmp / "ckpt"))  # weights do not change timing
    frames = synthetic_frames(args.frames, seed=11)
    est = HandPoseEstimator(model, backend=args.backend, camera=frames.camera)
    ref = np.concatenate([in_thread(lambda: est(frames.depth[i:i + 8]).to_numpy().joints_xyz)
                          for i in range(0, len(frames.depth), 8)])
    loadavg = lambda: open("/proc/loadavg").read().split()[:3]  # noqa: E731
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "model": args.model or
              "random-weight LatentFusion (full size)", "backend": args.backend,
              "frame_size": list(frames.depth.shape[1:]),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "loadavg_start": loadavg(), "levels": [],
              "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "torch_threads": torch.get_num_threads()}
    srv = ServeProcess(Path(model), tmp / "serve.log", backend=args.backend, extra=("--exit-timeout", "10"),
                       threads=None)  # the server inherits this process's OMP_NUM_THREADS, as stated in the report
    srv.start()
    try:
        srv.wait_ready(180)
        load(srv.http if args.protocol == "http" else srv.grpc, args.protocol, frames, ref, 20, 2)  # warm-up
        in_process(est, frames, 3, 1)
        for conc, n in zip(args.concurrency, args.requests):
            r = compare(srv, est, frames, ref, args.protocol, n, conc, args.rounds)
            report["levels"].append(r)
            print(f"concurrency {conc}: {json.dumps(r)}", flush=True)
    finally:
        code = srv.stop()
    report["loadavg_end"] = loadavg()
    report["server_exit_code"] = code
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"serving-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M')}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {stem}.json and {stem}.md")
    bad = sum(r["served"]["lost"] + r["served"]["wrong"] for r in report["levels"])
    return 1 if bad or code != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
