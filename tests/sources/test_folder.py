import numpy as np
import pytest
from PIL import Image

from lfsdk.geometry import Camera
from lfsdk.sources import FolderSource, SourceError, open_source


def _png(path, a):
    Image.fromarray(a.astype(np.uint16)).save(path)


def _frames(n, seed=0):
    return [np.random.default_rng((seed, i)).integers(0, 3000, (6, 8)).astype(np.uint16) for i in range(n)]


def test_png_and_npy_frames_with_a_frame_rate(tmp_path):
    fr = _frames(12)
    for i, a in enumerate(fr):  # natural order: frame2 before frame10
        if i % 2:
            np.save(tmp_path / f"frame{i}.npy", a.astype(np.float32))
        else:
            _png(tmp_path / f"frame{i}.png", a)
    src = FolderSource(tmp_path, "icvl", fps=25)
    got = list(src)
    assert len(src) == 12 and [f.timestamp for f in got] == [i / 25 for i in range(12)]
    for f, a in zip(got, fr):
        assert f.depth.dtype == np.uint16 and np.array_equal(f.depth, a) and f.camera == Camera.icvl()


def test_timestamps_from_file_names(tmp_path):
    fr = _frames(3)
    for ms, a in zip((1700000000500, 1700000000533, 1700000000567), fr):
        _png(tmp_path / f"depth_{ms}.png", a)
    got = list(FolderSource(tmp_path, "1,1,0,0", time_unit="ms"))
    assert [round(f.timestamp - 1700000000.5, 6) for f in got] == [0.0, 0.033, 0.067]
    assert all(np.array_equal(f.depth, a) for f, a in zip(got, fr))


def test_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="no such folder"):
        FolderSource(tmp_path / "nope", "icvl", fps=30)
    with pytest.raises(SourceError, match="no .png or .npy"):
        FolderSource(tmp_path, "icvl", fps=30)
    _png(tmp_path / "a.png", _frames(1)[0])
    with pytest.raises(SourceError, match="give camera"):
        FolderSource(tmp_path, None, fps=30)
    with pytest.raises(SourceError, match="no timestamp at the end of the file name"):
        FolderSource(tmp_path, "icvl")
    with pytest.raises(SourceError, match="fps must be a positive"):
        FolderSource(tmp_path, "icvl", fps=0)
    with pytest.raises(SourceError, match="time_unit"):
        FolderSource(tmp_path, "icvl", time_unit="h")
    np.save(tmp_path / "b.npy", np.full((6, 8), np.nan, np.float32))
    with pytest.raises(SourceError, match="b.npy: depth holds NaN"):
        list(FolderSource(tmp_path, "icvl", fps=30))
    (tmp_path / "b.npy").unlink()
    np.save(tmp_path / "c.npy", np.zeros((2, 6, 8), np.uint16))
    with pytest.raises(SourceError, match=r"c.npy: expected one \(H, W\) depth frame"):
        list(FolderSource(tmp_path, "icvl", fps=30))


def test_open_source_strings(tmp_path):
    _png(tmp_path / "a.png", _frames(1)[0])
    assert isinstance(open_source(str(tmp_path), camera="icvl", fps=30), FolderSource)
    seq = open_source("synthetic:still:5:3")
    assert (seq.scenario, len(seq), seq.seed) == ("still", 5, 3)
    for bad, msg in (("synthetic:", "SCENARIO"), ("synthetic:still:x", "FRAMES must be an integer"),
                     ("synthetic:juggle", "unknown synthetic scenario"), (str(tmp_path / "x.bag"), "no such recording"),
                     (str(tmp_path / "x.mkv"), "Azure Kinect"), (str(tmp_path / "none"), "no such folder or recording"),
                     (str(tmp_path / "a.png"), "not a source")):
        with pytest.raises(SourceError, match=msg):
            open_source(bad)
