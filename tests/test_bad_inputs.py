"""100 bad inputs, each a clear error (InputError/ValueError naming what was wrong and what was expected) or a
flagged result (found False, NaN joints) — never a crash inside a library, never silently wrong numbers.
Then a hypothesis sweep over random arrays: every call either returns a consistent Result or raises
InputError."""
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lfsdk import HandPoseEstimator, InputError
from tests.api_helpers import fast_backend, make_frames, shared_cache, shared_model  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("shared_cache")

H, W = 48, 64
GOOD = np.full((H, W), 0, np.uint16)
GOOD[10:30, 20:40] = 500  # a flat 'hand' patch: found, finite joints


def _depth(dtype, value=500.0, at=(15, 25)):
    a = GOOD.astype(dtype)
    a[at] = value
    return a


# (id, kwargs for est(...), expected message regex); every one must raise InputError / ValueError
ERRORS = []
for shape in [(), (5,), (0,), (2, 3, H, W), (1, 1, 1, H, W), (1, 2, 3, 4, 5, 6)]:
    ERRORS.append((f"rank{len(shape)}-{shape}", dict(depth=np.zeros(shape, np.uint16)), r"\(H, W\) or \(B, H, W\)"))
for dt in [np.bool_, np.uint8, np.int8, np.uint32, np.uint64, np.complex64, np.complex128, np.object_, np.str_,
           np.bytes_, np.datetime64, np.timedelta64]:
    ERRORS.append((f"dtype-{np.dtype(dt).name}", dict(depth=np.zeros((H, W), dt)), r"dtype|numeric|not supported"))
for dt in [torch.bool, torch.uint8, torch.int8, torch.complex64]:
    ERRORS.append((f"torch-{dt}", dict(depth=torch.zeros(H, W, dtype=dt)), r"dtype"))
for dt in [np.float16, np.float32, np.float64]:
    for v in [np.nan, np.inf, -np.inf]:
        ERRORS.append((f"nonfinite-{np.dtype(dt).name}-{v}", dict(depth=_depth(dt, v)), r"NaN/inf"))
ERRORS.append(("all-nan", dict(depth=np.full((H, W), np.nan, np.float32)), r"NaN/inf"))
ERRORS.append(("nan-in-batch", dict(depth=np.stack([GOOD, _depth(np.float32, np.nan)]).astype(np.float32)), r"NaN/inf"))
for dt in [np.int16, np.int32, np.int64, np.float32, np.float64]:
    for v in [-1, -500, -32768]:
        ERRORS.append((f"negative-{np.dtype(dt).name}{v}", dict(depth=_depth(dt, v)), r"negative"))
for shape in [(0, H, W), (1, 0, W), (1, H, 0), (1, 1, 1), (3, 1, W), (0, 0)]:
    ERRORS.append((f"empty-{shape}", dict(depth=np.zeros(shape, np.uint16)), r"at least|\(H, W\)"))
for obj in [None, "depth.png", 3.5, 7, {"depth": GOOD}, [[1, 2], [3]], b"\x00\x01", object()]:
    ERRORS.append((f"type-{type(obj).__name__}", dict(depth=obj), r"depth"))
C = [32.0, 20.0, 500.0]
for bad_c, why in [([32.0, 20.0], r"\(1, 3\)"), ([C, C], r"\(1, 3\)"), ([[1.0, 2.0]], r"\(1, 3\)"),
                   ([32.0, np.nan, 500.0], "NaN"), ([np.inf, 20.0, 500.0], "NaN or inf"), ([32.0, 20.0, 0.0], "> 0"),
                   ([32.0, 20.0, -400.0], "> 0"), (np.array([True, True, True]), "real numbers"),
                   ("32,20,500", "numpy array or torch"), (np.zeros((1, 1, 3)), r"\(1, 3\)"), ([[]], r"\(1, 3\)")]:
    ERRORS.append((f"centers-{len(ERRORS)}-{why}", dict(depth=GOOD, centers=bad_c), why))
ERRORS.append(("centers-batch-mismatch", dict(depth=np.stack([GOOD] * 3), centers=[C, C]), r"\(3, 3\)"))
ERRORS.append(("centers-batch-one-for-many", dict(depth=np.stack([GOOD] * 2), centers=C), r"\(2, 3\)"))
ERRORS.append(("centers-xyz-zero-z", dict(depth=GOOD, centers=[0.0, 0.0, 0.0], center_space="xyz"), "> 0"))
for space in ["UVD", "xy", "", "mm"]:
    ERRORS.append((f"center-space-{space!r}", dict(depth=GOOD, centers=C, center_space=space), "center_space"))
for box, why in [([10, 10, 5, 30], "u1 > u0"), ([10, 30, 40, 30], "u1 > u0"), ([0, 0, np.nan, 10], "NaN"),
                 ([1, 2, 3], r"\(1, 4\)"), ([[0, 0, 10, 10]] * 2, r"\(1, 4\)"), ("0,0,10,10", "numpy array")]:
    ERRORS.append((f"boxes-{len(ERRORS)}-{why}", dict(depth=GOOD, boxes=box), why))
ERRORS.append(("boxes-and-centers", dict(depth=GOOD, boxes=[0, 0, 60, 40], centers=C), "not both"))
for cam, why in [("kinect", "unknown camera"), ("1,2,3", "unknown camera"), ("a,b,c,d", "bad camera"),
                 ("-500,500,32,24", "positive"), ("0,500,32,24", "positive"), ("nan,500,32,24", "finite"),
                 ("inf,1,1,1", "finite"), ("", "empty"), ("nyu,icvl", "unknown camera")]:
    ERRORS.append((f"camera-{cam!r}", dict(depth=GOOD, camera=cam), why))

# (id, kwargs): a result with found False for every frame and NaN joints, no exception
FLAGGED = [
    ("zeros-uint16", dict(depth=np.zeros((H, W), np.uint16))),
    ("zeros-float", dict(depth=np.zeros((2, H, W), np.float32))),
    ("all-too-far", dict(depth=np.full((H, W), 65535, np.uint16))),
    ("all-too-near", dict(depth=np.full((H, W), 3, np.uint16))),
    ("box-on-empty-corner", dict(depth=GOOD, boxes=[0, 0, 5, 5])),
    ("box-outside-image", dict(depth=GOOD, boxes=[1000, 1000, 1200, 1200])),
]


@pytest.fixture(scope="module")
def est():
    return HandPoseEstimator(shared_model()[1], backend=fast_backend(), camera="icvl")


def test_there_are_a_hundred_cases():
    assert len(ERRORS) + len(FLAGGED) >= 100, len(ERRORS) + len(FLAGGED)


def _id(name: str) -> str:
    return re.sub(r"[^\w.,'+-]+", "_", name).strip("_")


@pytest.mark.parametrize("kwargs,match", [(k, m) for _, k, m in ERRORS], ids=[_id(i) for i, _, _ in ERRORS])
def test_clear_error(est, kwargs, match):
    with pytest.raises(ValueError, match=match) as e:
        est(**kwargs)
    assert len(str(e.value)) > 20  # says what was wrong and what was expected, not just "bad input"


@pytest.mark.parametrize("kwargs", [k for _, k in FLAGGED], ids=[i for i, _ in FLAGGED])
def test_flagged(est, kwargs):
    r = est(**kwargs)
    assert not r.found.any()
    assert torch.isnan(r.joints_xyz).all() and torch.isnan(r.boxes).all()
    assert r.to_dict()["joints_xyz"][0][0] == [None, None, None]


def test_good_frame_is_not_flagged(est):
    r = est(GOOD)
    assert r.found.all() and torch.isfinite(r.joints_xyz).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hnp.arrays(dtype=st.sampled_from([np.uint16, np.int16, np.int32, np.float32, np.float64, np.uint8, np.bool_]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=40)))
def test_random_arrays_never_crash(est, a):
    try:
        r = est(a)
    except InputError as e:
        assert str(e)
        return
    frames = 1 if a.ndim == 2 else a.shape[0]
    assert r.joints_xyz.shape == (frames, 14, 3)
    found = r.found
    assert torch.isfinite(r.joints_xyz[found]).all() and torch.isnan(r.joints_xyz[~found]).all()
