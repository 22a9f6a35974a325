"""RealSense record/playback with no camera: librealsense's software device and recorder write a recording
from rendered frames; playback must return the same depth (mm), intrinsics, depth scale and timestamps."""
import numpy as np
import pytest

from lfsdk.geometry import Camera
from lfsdk.sources import RealSenseSource, SourceError, SyntheticSequence, record_realsense
from lfsdk.sources.realsense import import_realsense

CAM = Camera(120.5, 121.0, 79.25, 60.5)


def _have_realsense():
    try:
        import_realsense()
        return True
    except SourceError:
        return False


needs_rs = pytest.mark.skipif(not _have_realsense(), reason="pyrealsense2 not usable here (pip install "
                                                            "'lfsdk[realsense]'; apt-get install libusb-1.0-0)")


def _frames():
    s = SyntheticSequence("smooth", 4, seed=2, camera=CAM, size=(120, 160))
    return [(1.5 + f.timestamp * 1.01, f.depth, f.camera) for f in s]  # non-round times, not from 0


@needs_rs
@pytest.mark.parametrize("suffix,scale", [(".db3", 0.001), (".db3", 0.0001)])
def test_record_then_play_back(tmp_path, suffix, scale):
    frames = _frames()
    path = tmp_path / f"take{suffix}"
    assert record_realsense(path, frames, depth_scale=scale) == 4
    src = RealSenseSource(path)
    got = list(src)
    assert len(got) == len(frames)
    assert src.depth_scale == pytest.approx(scale, rel=1e-6)
    for (t, d, _), g in zip(frames, got):
        assert g.timestamp == pytest.approx(t, abs=1e-6)
        assert g.depth.dtype == np.uint16
        np.testing.assert_array_equal(g.depth, d)  # at 0.1 mm units too: d·10 fits z16 here
        for k in ("fx", "fy", "cx", "cy"):
            assert getattr(g.camera, k) == pytest.approx(getattr(CAM, k), rel=1e-6)


@needs_rs
def test_recording_errors(tmp_path):
    with pytest.raises(SourceError, match="must end in"):
        record_realsense(tmp_path / "x.avi", _frames())
    with pytest.raises(SourceError, match="no frames"):
        record_realsense(tmp_path / "x.db3", [])
    frames = _frames()
    frames[2] = (frames[2][0], frames[2][1][:10], CAM)
    with pytest.raises(SourceError, match="frame 2 has shape"):
        record_realsense(tmp_path / "y.db3", frames)
    with pytest.raises(SourceError, match="does not fit z16"):
        record_realsense(tmp_path / "z.db3", _frames(), depth_scale=0.000005)  # 0.005 mm units: 450 mm needs 90000


def test_source_errors(tmp_path):
    with pytest.raises(SourceError, match="no such recording"):
        RealSenseSource(tmp_path / "none.bag")
    with pytest.raises(SourceError, match="not a RealSense recording"):
        RealSenseSource(tmp_path / "x.mp4")
    (tmp_path / "a.bag").write_bytes(b"")
    with pytest.raises(SourceError, match="choose a live camera's mode"):
        RealSenseSource(tmp_path / "a.bag", fps=30)


@needs_rs
def test_a_slow_reader_loses_no_frame(tmp_path):
    import time

    s = SyntheticSequence("still", 12, seed=0, camera=CAM, size=(30, 40), noise=False)
    path = tmp_path / "slow.db3"
    record_realsense(path, s)
    got = []
    for f in RealSenseSource(path):
        got.append(f.timestamp)
        time.sleep(0.01)  # slower than the playback thread: the callback must wait, not drop
    assert got == pytest.approx([i / 30 for i in range(12)], abs=1e-6)
