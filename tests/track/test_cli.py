"""`lfsdk track` (lfsdk.commands.track): JSON lines per frame from a rendered sequence and a RealSense recording."""
import argparse
import json

import numpy as np
import pytest

from lfsdk.sources import SourceError, SyntheticSequence
from lfsdk.commands import track as cli

from ..api_helpers import default_model_missing, one_torch_thread  # noqa: F401
from ..sources.test_realsense import needs_rs

pytestmark = pytest.mark.skipif(bool(default_model_missing()), reason=default_model_missing() or "ok")


def track(*argv):
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    return cli.run(p.parse_args([*argv, "--backend", "torch"]))


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_synthetic_sequence_to_jsonl_and_video(tmp_path, one_torch_thread):  # noqa: F811
    out, video = tmp_path / "hands.jsonl", tmp_path / "out.mp4"
    av = pytest.importorskip("av", reason="pip install av (the video extra)")
    assert track("synthetic:crossing:4:3", "-o", str(out), "--video", str(video)) == 0
    lines = _lines(out)
    assert [r["index"] for r in lines] == [0, 1, 2, 3]
    assert [r["timestamp"] for r in lines] == pytest.approx([i / 30 for i in range(4)])
    for r in lines:
        assert sorted(h["id"] for h in r["hands"]) == [0, 1]
        for h in r["hands"]:
            assert np.array(h["joints_xyz"]).shape == (14, 3) and 0 <= h["score"] <= 1
            assert h["handedness"] in ("left", "right", "unknown") and h["timestamp"] == r["timestamp"]
    with av.open(str(video)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 4


@needs_rs
def test_realsense_recording_to_jsonl(tmp_path, one_torch_thread):  # noqa: F811
    from lfsdk.sources import record_realsense

    rec, out = tmp_path / "take.db3", tmp_path / "hands.jsonl"
    seq = SyntheticSequence("still", 3, seed=1)
    record_realsense(rec, seq)
    assert track(str(rec), "-o", str(out), "--max-hands", "1", "--no-smoothing") == 0
    lines = _lines(out)
    assert len(lines) == 3 and all(len(r["hands"]) == 1 and r["hands"][0]["id"] == 0 for r in lines)
    truth = seq.truth
    for r, t in zip(lines, truth):
        err = np.linalg.norm(np.array(r["hands"][0]["joints_xyz"]) - t[0].joints_xyz, axis=-1).mean()
        assert err < 35, err


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="jsonl"):
        track("synthetic:still:3", "-o", str(tmp_path / "x.csv"))
    with pytest.raises(ValueError, match="--max-hands"):
        track("synthetic:still:3", "--max-hands", "0")
    with pytest.raises(SourceError, match="no such folder or recording"):
        track(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="video file name"):
        track("synthetic:still:3", "--video", str(tmp_path / "x.gif"))
