"""Intel RealSense depth through pyrealsense2 (pip install 'lfsdk[realsense]'): live cameras and
recordings (.bag; librealsense 2.59 also writes .db3). Intrinsics (fx, fy, ppx, ppy) and the depth scale
are read from the stream, never typed in; depth comes out in uint16 millimetres whatever the device's unit.

`record_realsense` writes a recording from depth frames through librealsense's software device and
recorder: the same file format a camera writes, with no camera (the tests use it).
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..geometry import Camera
from .base import Frame, SourceError

__all__ = ["RealSenseSource", "record_realsense", "import_realsense", "RECORDING_SUFFIXES"]

RECORDING_SUFFIXES = (".bag", ".db3")


def import_realsense():
    """pyrealsense2, or a SourceError saying what to install."""
    try:
        import pyrealsense2 as rs
    except ImportError as e:
        if "libusb" in str(e):
            raise SourceError("pyrealsense2 cannot load: it needs Debian's libusb-1.0-0 "
                              f"(apt-get install libusb-1.0-0): {e}") from None
        raise SourceError("RealSense sources need pyrealsense2: pip install 'lfsdk[realsense]'") from None
    return rs


def _to_mm(raw: np.ndarray, depth_scale: float) -> np.ndarray:
    """Raw z16 units × depth_scale (m/unit) → uint16 mm (a copy: librealsense reuses its frame buffers)."""
    mm_per_unit = depth_scale * 1000.0
    if abs(mm_per_unit - 1.0) < 1e-6:
        return np.array(raw, dtype=np.uint16, copy=True)
    return np.clip(np.rint(raw.astype(np.float64) * mm_per_unit), 0, 65535).astype(np.uint16)


class RealSenseSource:
    """RealSenseSource("take.bag") plays a recording once; RealSenseSource() opens the first live camera
    (serial= picks one; size=(W, H) and fps= pick a depth mode, default the camera's). realtime=True plays
    a recording at its recorded pace (else as fast as it is read). After iteration starts, .camera and
    .depth_scale hold what the stream reported."""

    def __init__(self, path: str | Path | None = None, *, serial: str | None = None,
                 size: tuple[int, int] | None = None, fps: int | None = None, realtime: bool = False,
                 timeout_s: float = 5.0):
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            if self.path.suffix.lower() not in RECORDING_SUFFIXES:
                raise SourceError(f"{self.path}: not a RealSense recording (expected {', '.join(RECORDING_SUFFIXES)})")
            if not self.path.is_file():
                raise SourceError(f"{self.path}: no such recording")
            if serial is not None or size is not None or fps is not None:
                raise SourceError(f"{self.path}: serial, size and fps choose a live camera's mode, not a recording's")
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise SourceError(f"size must be (width, height) pixels, got {size!r}")
        if not timeout_s > 0:
            raise SourceError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.serial, self.size, self.fps, self.realtime, self.timeout_s = serial, size, fps, realtime, timeout_s
        self.camera: Camera | None = None
        self.depth_scale: float | None = None

    @property
    def what(self) -> str:
        return str(self.path) if self.path is not None else f"RealSense camera {self.serial or '(first found)'}"

    def __iter__(self) -> Iterator[Frame]:
        rs = import_realsense()
        try:
            yield from (self._play(rs) if self.path is not None else self._live(rs))
        except RuntimeError as e:
            if isinstance(e, SourceError):
                raise
            raise SourceError(f"{self.what}: {e}") from None

    def _set_stream(self, depth_sensor, profile) -> None:
        self.depth_scale = float(depth_sensor.get_depth_scale())
        intr = profile.as_video_stream_profile().get_intrinsics()
        self.camera = Camera(float(intr.fx), float(intr.fy), float(intr.ppx), float(intr.ppy))

    def _play(self, rs) -> Iterator[Frame]:
        """A recording through its playback device's depth sensor. Real-time is switched off before the
        sensor starts (after a pipeline has started, frames are already being dropped), and the frame
        callback hands copies over a small blocking queue, so no frame is lost however slow the reader."""
        try:
            dev = rs.context().load_device(str(self.path))
        except RuntimeError as e:
            raise SourceError(f"{self.path}: cannot open: {e}") from None
        playback = dev.as_playback()
        playback.set_real_time(bool(self.realtime))
        sensors = [s for s in dev.query_sensors() if s.is_depth_sensor()]
        profiles = [p for s in sensors for p in s.get_stream_profiles()
                    if p.stream_type() == rs.stream.depth and p.format() == rs.format.z16]
        if not profiles:
            raise SourceError(f"{self.path}: the recording holds no z16 depth stream")
        sensor = sensors[0].as_depth_sensor()
        self._set_stream(sensor, profiles[0])
        box: queue.Queue = queue.Queue(maxsize=4)
        stop = threading.Event()

        def on_frame(frame):
            depth = frame.as_depth_frame()
            item = (depth.get_timestamp() / 1000.0, _to_mm(np.asanyarray(depth.get_data()), self.depth_scale))
            while not stop.is_set():
                try:
                    box.put(item, timeout=0.1)
                    return
                except queue.Full:
                    pass

        sensor.open(profiles[0])
        sensor.start(on_frame)
        try:
            yield from self._drain(rs, box, playback)
        finally:
            stop.set()
            sensor.stop()
            sensor.close()

    def _drain(self, rs, box: queue.Queue, playback) -> Iterator[Frame]:
        waited = 0.0
        while True:
            try:
                t, depth = box.get(timeout=0.1)
            except queue.Empty:
                if playback.current_status() == rs.playback_status.stopped and box.empty():
                    return
                waited += 0.1
                if waited >= self.timeout_s:
                    raise SourceError(f"{self.what}: no depth frame within {self.timeout_s:g} s") from None
                continue
            waited = 0.0
            yield Frame(t, depth, self.camera)

    def _live(self, rs) -> Iterator[Frame]:
        pipe, cfg = rs.pipeline(), rs.config()
        if self.serial:
            cfg.enable_device(self.serial)
        w, h = self.size or (0, 0)
        cfg.enable_stream(rs.stream.depth, int(w), int(h), rs.format.z16, int(self.fps or 0))
        try:
            profile = pipe.start(cfg)
        except RuntimeError as e:
            raise SourceError(f"{self.what}: cannot open: {e}") from None
        try:
            self._set_stream(profile.get_device().first_depth_sensor(), profile.get_stream(rs.stream.depth))
            while True:
                ok, frames = pipe.try_wait_for_frames(int(self.timeout_s * 1000))
                if not ok:
                    raise SourceError(f"{self.what}: no depth frame within {self.timeout_s:g} s")
                depth = frames.get_depth_frame()
                if depth:
                    yield Frame(depth.get_timestamp() / 1000.0,
                                _to_mm(np.asanyarray(depth.get_data()), self.depth_scale), self.camera)
        finally:
            pipe.stop()


def record_realsense(path: str | Path, frames: Iterable, *, depth_scale: float = 0.001, fps: int = 30) -> int:
    """Write (timestamp s, depth (H, W) mm, Camera) frames as a RealSense recording at `path` (.db3 with
    librealsense 2.59, which plays .bag but no longer writes it)
    with librealsense's software device and recorder; depth is stored in units of depth_scale metres.
    All frames share one size and camera. Returns the number of frames written."""
    rs = import_realsense()
    path = Path(path)
    if path.suffix.lower() not in RECORDING_SUFFIXES:
        raise SourceError(f"{path}: a RealSense recording must end in {' or '.join(RECORDING_SUFFIXES)}")
    if not 0 < depth_scale <= 0.01:
        raise SourceError(f"depth_scale must be in (0, 0.01] metres per unit, got {depth_scale!r}")
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise SourceError(f"{path}: no frames to record") from None
    t0, d0, cam = first
    h, w = np.shape(d0)
    dev = rs.software_device()
    sensor = dev.add_sensor("Depth")
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = w, h, cam.fx, cam.fy, cam.cx, cam.cy
    intr.model, intr.coeffs = rs.distortion.none, [0.0] * 5
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp = rs.stream.depth, 0, 0, w, h, fps, 2
    vs.fmt, vs.intrinsics = rs.format.z16, intr
    profile = sensor.add_video_stream(vs).as_video_stream_profile()
    sensor.add_read_only_option(rs.option.depth_units, float(depth_scale))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        recorder = rs.recorder(str(path), dev)
    except RuntimeError as e:  # librealsense 2.59 writes .db3 only (and still plays .bag)
        raise SourceError(f"{path}: librealsense {getattr(rs, '__version__', '')} cannot record this file: {e}") from None
    sink = rs.frame_queue(4)
    sensor.open(profile)
    sensor.start(sink)
    n = 0
    try:
        for i, (t, depth, c) in enumerate(_chain(first, it)):
            n = i + 1
            _push(rs, sensor, sink, profile, path, i, t, depth, c, cam, (h, w), depth_scale)
    finally:
        sensor.stop()
        sensor.close()
        # the file is complete only once the recorder and the device it wraps are destroyed
        del recorder, sensor, profile, sink, dev
    return n


def _chain(first, rest):
    yield first
    yield from rest


def _push(rs, sensor, sink, profile, path, i, t, depth, cam_i, cam, hw, depth_scale) -> None:
    d = np.asarray(depth)
    if d.shape != hw or cam_i != cam:
        raise SourceError(f"{path}: frame {i} has shape {d.shape} / camera {cam_i}; every frame of a recording "
                          f"must be {hw} / {cam}")
    units = np.rint(d.astype(np.float64) / (depth_scale * 1000.0))
    if units.min() < 0 or units.max() > 65535:
        raise SourceError(f"{path}: frame {i} does not fit z16 at depth_scale {depth_scale} m")
    f = rs.software_video_frame()
    f.pixels = np.ascontiguousarray(units.astype(np.uint16))
    f.stride, f.bpp = hw[1] * 2, 2
    f.timestamp, f.domain, f.frame_number = float(t) * 1000.0, rs.timestamp_domain.hardware_clock, i
    f.profile = profile
    sensor.on_video_frame(f)
    sink.wait_for_frame(5000)
