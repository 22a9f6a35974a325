"""The ball around a point (area, spreads, fill of a plate against hand-computed values), the logistic fit
(recovers the parameters data were drawn from) and the scorer's JSON."""
import math

import numpy as np
import pytest
import torch

from lfsdk.localize.ball import ball, ball_center, ball_features
from lfsdk.localize.score import HandScorer, Logistic, fit_logistic

from . import scenes as S


def _cams(k: int = 1) -> torch.Tensor:
    c = S.CAM_SMALL
    return torch.tensor([[c.fx, c.fy, c.cx, c.cy]]).expand(k, 4)


def test_ball_of_a_plate_is_its_disk():
    """A wall facing the camera at the ball's centre depth: the ball holds a disk of radius R: area πR²,
    spreads R/2, R/2 and 0, fill 1; its centre of mass is the ball's centre."""
    r, z = 80.0, 500.0
    plate = torch.full((1, S.H, S.W), z)
    centre = torch.tensor([[S.CAM_SMALL.cx, S.CAM_SMALL.cy, z]])
    b = ball(plate, centre, _cams(), r)
    f = ball_features(b)[0]
    assert math.exp(float(f[0])) == pytest.approx(math.pi * r * r, rel=0.05)
    assert float(f[1]) == pytest.approx(r / 2, rel=0.05) and float(f[2]) == pytest.approx(r / 2, rel=0.05)
    assert float(f[3]) < 1.0 and float(f[4]) == pytest.approx(1.0)
    torch.testing.assert_close(ball_center(b, centre, _cams()), centre, atol=0.5, rtol=0)


def test_ball_centre_moves_towards_the_mass():
    """Half a plate (columns right of the centre only): the centre of mass moves right by 4R/(3π) mm."""
    r, z = 80.0, 500.0
    plate = torch.full((1, S.H, S.W), z)
    plate[:, :, : int(S.CAM_SMALL.cx) + 1] = 0
    centre = torch.tensor([[S.CAM_SMALL.cx, S.CAM_SMALL.cy, z]])
    moved = ball_center(ball(plate, centre, _cams(), r), centre, _cams())
    du_mm = float(moved[0, 0] - centre[0, 0]) * z / S.CAM_SMALL.fx
    assert du_mm == pytest.approx(4 * r / (3 * math.pi), rel=0.08)


def test_fit_logistic_recovers_the_generating_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6000, 2)) * [2.0, 0.5] + [1.0, -3.0]
    w_true, b_true = np.array([1.5, -2.0]), 0.3  # on standardised features
    z = ((x - x.mean(0)) / x.std(0, ddof=1)) @ w_true + b_true
    y = rng.random(len(x)) < 1 / (1 + np.exp(-z))
    m = fit_logistic(torch.from_numpy(x), torch.from_numpy(y), ("a", "b"), l2=0.0)
    np.testing.assert_allclose(m.weights, w_true, atol=0.15)
    assert m.bias == pytest.approx(b_true, abs=0.1)
    p = m({"a": torch.from_numpy(x[:, 0]), "b": torch.from_numpy(x[:, 1])}).numpy()
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), atol=0.06)


def test_scorer_json_round_trip_and_bad_files(tmp_path):
    s = HandScorer(hand=Logistic(("log_area",), (9.0,), (1.0,), (2.0,), -1.0), threshold=0.7, info={"seed": 1})
    s.save(tmp_path / "hands.json")
    assert HandScorer.load(tmp_path / "hands.json") == s
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        HandScorer.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="recenter"):
        HandScorer(recenter="elbow")
    with pytest.raises(ValueError, match="stds > 0"):
        Logistic(("a",), (0.0,), (0.0,), (1.0,), 0.0)
