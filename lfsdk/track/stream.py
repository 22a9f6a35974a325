"""Streams of frames through a tracker: in order (`asynchronous=False`), or live (`asynchronous=True`): a
capture thread reads the source into a one-frame mailbox and a newer frame replaces one not yet taken,
so the tracker always works on the newest frame and a slow tracker drops frames instead of falling behind.
Each result carries its latency (from the moment the frame was read to its hands) and how many frames
were dropped before it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

__all__ = ["TrackFrame", "LatestFrame", "track_frames", "paced"]


@dataclass(frozen=True)
class TrackFrame:
    """The hands of one processed frame; iterating it iterates the hands."""

    index: int  # the frame's position in the source
    timestamp: float  # s, the source's
    hands: list
    latency_s: float  # from reading the frame to its hands
    dropped: int = 0  # frames the capture thread dropped since the previous result

    def __iter__(self):
        return iter(self.hands)

    def __len__(self) -> int:
        return len(self.hands)

    def __getitem__(self, i):
        return self.hands[i]


class LatestFrame:
    """A one-slot mailbox between a producer and a consumer: put() replaces an item not yet taken (counted
    as dropped), get() waits for an item and returns (item, dropped since the last get), or None once
    closed and empty; an error given to fail() is raised by the next get()."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self._dropped = 0
        self._closed = False
        self._error: BaseException | None = None

    def put(self, item: Any) -> None:
        with self._cond:
            if self._full:
                self._dropped += 1
            self._item, self._full = item, True
            self._cond.notify()

    def close(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._closed, self._error = True, error
            self._cond.notify()

    def get(self, timeout: float | None = None) -> tuple[Any, int] | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                raise TimeoutError(f"no frame within {timeout} s")
            if self._full:
                item, dropped = self._item, self._dropped
                self._item, self._full, self._dropped = None, False, 0
                return item, dropped
            if self._error is not None:
                raise self._error
            return None


def _unpack(item: Any, index: int):
    try:
        t, depth, *rest = item
    except (TypeError, ValueError):
        raise ValueError(f"source item {index} is not a frame: expected (timestamp, depth[, camera]), got "
                         f"{type(item).__name__}") from None
    return t, depth, (rest[0] if rest else None)


def paced(source: Iterable, speed: float = 1.0) -> Iterator:
    """Yield the source's frames no sooner than their timestamps allow (a recording played as if live)."""
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed!r}")
    start = t0 = None
    for i, item in enumerate(source):
        t = float(_unpack(item, i)[0])
        if start is None:
            start, t0 = time.perf_counter(), t
        wait = (t - t0) / speed - (time.perf_counter() - start)
        if wait > 0:
            time.sleep(wait)
        yield item


def track_frames(tracker, source: Iterable, *, asynchronous: bool = False, pace: bool = False) -> Iterator[TrackFrame]:
    """tracker.update over the source's frames → TrackFrame per processed frame. pace: deliver frames at
    their timestamps (for recordings, as a live camera would)."""
    src = paced(source) if pace else source
    if not asynchronous:
        for i, item in enumerate(src):
            read = time.perf_counter()
            t, depth, cam = _unpack(item, i)
            hands = tracker.update(depth, t, camera=cam)
            yield TrackFrame(i, float(t), hands, time.perf_counter() - read)
        return
    box, stop = LatestFrame(), threading.Event()

    def capture():
        try:
            for i, item in enumerate(src):
                if stop.is_set():
                    break
                box.put((i, item, time.perf_counter()))
            box.close()
        except BaseException as e:  # handed to the consumer, which raises it
            box.close(e)

    thread = threading.Thread(target=capture, name="lfsdk-capture", daemon=True)
    thread.start()
    try:
        while (got := box.get()) is not None:
            (i, item, read), dropped = got
            t, depth, cam = _unpack(item, i)
            hands = tracker.update(depth, t, camera=cam)
            yield TrackFrame(i, float(t), hands, time.perf_counter() - read, dropped)
    finally:
        stop.set()
