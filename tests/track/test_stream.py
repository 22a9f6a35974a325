"""Streams: in-order tracking, the newest-frame mailbox, the capture thread, pacing (with a fake clock)."""
import threading

import numpy as np
import pytest

from lfsdk.track import HandTracker, LatestFrame, paced, track_frames
from lfsdk.track import stream as stream_mod

from .fakes import CAMERA, ScriptedDetector


def frames(n, dt=1 / 30):
    return [(i * dt, np.zeros((8, 8), np.uint16), CAMERA) for i in range(n)]


class SlowTracker:
    """update() blocks until the test lets it go, so the capture thread runs ahead deterministically."""

    def __init__(self):
        self.go = threading.Semaphore(0)
        self.seen = []

    def update(self, depth, t, camera=None):
        self.go.acquire()
        self.seen.append(t)
        return []


def test_latest_frame_keeps_the_newest_and_counts_the_dropped():
    box = LatestFrame()
    for i in range(3):
        box.put(i)
    assert box.get() == (2, 2)
    box.put(3)
    assert box.get() == (3, 0)
    box.close()
    assert box.get() is None
    box = LatestFrame()
    box.close(OSError("camera unplugged"))
    with pytest.raises(OSError, match="unplugged"):
        box.get()
    with pytest.raises(TimeoutError):
        LatestFrame().get(timeout=0.01)


def test_sync_track_yields_every_frame_in_order():
    det = ScriptedDetector(lambda t: [(0, np.array([0.0, 0, 400]))])
    tracker = HandTracker(det, camera=CAMERA)
    out = list(tracker.track(frames(5)))
    assert [f.index for f in out] == list(range(5)) and [f.timestamp for f in out] == [i / 30 for i in range(5)]
    assert all(len(f) == 1 and f[0].id == 0 and f.dropped == 0 and f.latency_s >= 0 for f in out)
    assert [h.id for h in out[0]] == [0]


def test_async_track_processes_the_newest_frame_and_drops_the_rest():
    slow = SlowTracker()
    release = threading.Event()

    def source():
        yield from frames(3)
        release.wait(5)  # the consumer is busy with frame 0 while frames 1..5 arrive
        yield from frames(6)[3:]

    gen = track_frames(slow, source(), asynchronous=True)
    slow.go.release()
    first = next(gen)
    release.set()
    for _ in range(10):
        slow.go.release()
    rest = list(gen)
    got = [first] + rest
    assert got[-1].index == 5  # the last frame is never dropped
    assert len(got) + sum(f.dropped for f in got) == 6
    assert [f.index for f in got] == sorted(f.index for f in got)


def test_async_track_raises_the_source_error():
    def broken():
        yield from frames(1)
        raise OSError("device disconnected")

    slow = SlowTracker()
    for _ in range(3):
        slow.go.release()
    with pytest.raises(OSError, match="disconnected"):
        list(track_frames(slow, broken(), asynchronous=True))


def test_bad_source_items():
    slow = SlowTracker()
    with pytest.raises(ValueError, match="not a frame"):
        list(track_frames(slow, [3.0]))


def test_paced_waits_for_each_timestamp(monkeypatch):
    clock = {"now": 100.0}
    slept = []

    class FakeTime:
        @staticmethod
        def perf_counter():
            return clock["now"]

        @staticmethod
        def sleep(s):
            slept.append(round(s, 6))
            clock["now"] += s

    monkeypatch.setattr(stream_mod, "time", FakeTime)
    out = list(paced(frames(4, dt=0.1), speed=2.0))
    assert len(out) == 4 and slept == [0.05, 0.05, 0.05]
    with pytest.raises(ValueError, match="speed"):
        list(paced(frames(1), speed=0))
