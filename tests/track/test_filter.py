"""One Euro filter against the authors' reference implementation (PyPI OneEuroFilter) and by hand."""
import math

import numpy as np
import pytest

from lfsdk.track.filter import OneEuroFilter, OneEuroParams, OneEuroState, one_euro_step, smoothing_factor

reference = pytest.importorskip("OneEuroFilter", reason="pip install OneEuroFilter (the test extra)")


def _signal(seed, n=80, shape=(4, 3)):
    rng = np.random.default_rng(seed)
    t = 1.0 + np.cumsum(rng.uniform(0.01, 0.06, n))  # irregular frame times, all > 0 (the reference skips t=0)
    x = np.cumsum(rng.normal(0, 5, (n,) + shape), axis=0) + rng.normal(0, 2, (n,) + shape)
    x[n // 2:] += 60.0  # a jump: the speed term matters
    return t, x


@pytest.mark.parametrize("params", [(1.0, 0.0, 1.0), (0.3, 0.05, 1.0), (2.0, 0.5, 3.0)])
def test_matches_reference_package_elementwise(params):
    t, x = _signal(0)
    ours = OneEuroFilter(*params)
    got = np.stack([ours(xi, ti) for xi, ti in zip(x, t)])
    refs = [reference.OneEuroFilter(30.0, *params) for _ in range(x[0].size)]
    want = np.stack([[f(float(v), float(ti)) for f, v in zip(refs, xi.ravel())] for xi, ti in zip(x, t)])
    np.testing.assert_allclose(got.reshape(len(t), -1), want, rtol=1e-10, atol=1e-9)


def test_rows_start_independently():
    """One vectorised call over two hands, the second appearing later, equals two separate filters."""
    p = OneEuroParams(0.5, 0.02, 1.0)
    t, a = _signal(1, 30, (2, 3))
    _, b = _signal(2, 30, (2, 3))
    fa, fb = OneEuroFilter(0.5, 0.02, 1.0), OneEuroFilter(0.5, 0.02, 1.0)
    state = None
    for i in range(30):
        if i < 10:
            y, state = one_euro_step(a[i][None], t[i:i + 1], state, p)
            np.testing.assert_allclose(y[0], fa(a[i], t[i]))
            continue
        if i == 10:  # hand b appears: a new, fresh row
            state = OneEuroState(np.concatenate([state.x, b[i][None]]), np.concatenate([state.dx, np.zeros((1, 2, 3))]),
                                 np.append(state.t, t[i]))
        y, state = one_euro_step(np.stack([a[i], b[i]]), np.full(2, t[i]), state, p,
                                 fresh=np.array([False, i == 10]))
        np.testing.assert_allclose(y[0], fa(a[i], t[i]), rtol=1e-12)
        np.testing.assert_allclose(y[1], fb(b[i], t[i]), rtol=1e-12)


def test_first_step_by_hand():
    """Second sample: dx̂ = α_d·(x − x0)/te, fc = min_cutoff + β|dx̂|, x̂ = x0 + α(fc)(x − x0)."""
    f = OneEuroFilter(1.0, 0.1, 2.0)
    assert f(np.array([[10.0, 0, 0]]), 1.0)[0, 0] == 10.0
    te = 0.05
    a_d = 1 / (1 + 1 / (2 * math.pi * 2.0) / te)
    fc = 1.0 + 0.1 * a_d * 20 / te
    want = 10 + 20 / (1 + 1 / (2 * math.pi * fc) / te)
    assert f(np.array([[30.0, 0, 0]]), 1.05)[0, 0] == pytest.approx(want, rel=1e-12)
    assert smoothing_factor(np.array(te), 1.0) == pytest.approx(1 / (1 + 1 / (2 * math.pi) / te))


@pytest.mark.parametrize("kw", [dict(min_cutoff=0), dict(min_cutoff=-1), dict(beta=-0.1), dict(d_cutoff=0),
                                dict(min_cutoff=float("nan")), dict(beta=float("inf"))])
def test_bad_parameters(kw):
    with pytest.raises(ValueError, match="One Euro"):
        OneEuroParams(**kw)


def test_bad_samples():
    f = OneEuroFilter()
    f(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="timestamps must increase"):
        f(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        f(np.array([np.nan, 0, 0]), 2.0)
    with pytest.raises(ValueError, match="state holds"):
        f(np.zeros(4), 3.0)
    with pytest.raises(ValueError, match="one timestamp per row"):
        one_euro_step(np.zeros((2, 3)), np.zeros(3), None, OneEuroParams())
