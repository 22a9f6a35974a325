"""Hand candidates: sizes in mm against hand-computed references, the flood against scipy's labelling, and
every scene class (small, noise-free) with its candidates asserted."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from lfsdk.localize import BLOB_FEATURES, LocalizeConfig, find_candidates
from lfsdk.localize.grid import Links, flood

from . import scenes as S

COL = {n: i for i, n in enumerate(BLOB_FEATURES)}


def _cam(b: int = 1) -> torch.Tensor:
    c = S.CAM_SMALL
    return torch.tensor([c.fx, c.fy, c.cx, c.cy]).expand(b, 4)


def _find(depth: np.ndarray, k: int = 3):
    d = torch.from_numpy(np.asarray(depth, np.float32))
    return find_candidates(d if d.dim() == 3 else d[None], _cam(1 if d.dim() == 2 else len(d)), k)


def _palm_px(joints: np.ndarray) -> tuple[int, int]:
    x, y, z = joints[S.PALM]
    c = S.CAM_SMALL
    return int(round(y * c.fy / z + c.cy)), int(round(x * c.fx / z + c.cx))


def test_plate_area_and_spread_match_hand_computation():
    """A 120 × 80 mm plate facing the camera at 600 mm: area 9600 mm², spreads 120/√12 and 80/√12 mm, ~0."""
    c, z = S.CAM_SMALL, 600.0
    depth = np.zeros((S.H, S.W), np.float32)
    half_u, half_v = 60 * c.fx / z, 40 * c.fy / z  # px
    depth[int(c.cy - half_v):int(c.cy + half_v), int(c.cx - half_u):int(c.cx + half_u)] = z
    f = _find(depth).features
    assert f.shape == (1, len(BLOB_FEATURES))
    side_u, side_v = 120.0, 80.0
    assert float(f[0, COL["log_area"]].exp()) == pytest.approx(side_u * side_v, rel=0.15)
    assert float(f[0, COL["spread_major"]]) == pytest.approx(side_u / 12 ** 0.5, rel=0.1)
    assert float(f[0, COL["spread_middle"]]) == pytest.approx(side_v / 12 ** 0.5, rel=0.15)
    assert float(f[0, COL["spread_minor"]]) < 1.0
    assert float(f[0, COL["depth"]]) == pytest.approx(z)


def test_flood_is_scipys_connected_component():
    rng = np.random.default_rng(0)
    allowed = rng.random((2, 30, 40)) < 0.6
    links = Links(torch.ones(2, 30, 39, dtype=torch.bool), torch.ones(2, 29, 40, dtype=torch.bool))
    seed = np.zeros_like(allowed)
    seeds = [tuple(np.argwhere(a)[0]) for a in allowed]
    for b, (i, j) in enumerate(seeds):
        seed[b, i, j] = True
    got = flood(torch.from_numpy(seed), torch.from_numpy(allowed), links).numpy()
    for b, (i, j) in enumerate(seeds):
        lab, _ = ndimage.label(allowed[b])  # 4-connectivity
        np.testing.assert_array_equal(got[b], lab == lab[i, j])


def test_batch_equals_frames_one_by_one():
    frames = np.stack([S.lone_hand(1)[0], S.two_hands(2)[0], S.no_hand("wall")])
    together = _find(frames)
    alone = [_find(f) for f in frames]
    assert together.frame.tolist() == [i for i, a in enumerate(alone) for _ in range(len(a.frame))]
    torch.testing.assert_close(together.features, torch.cat([a.features for a in alone]))
    assert torch.equal(together.mask, torch.cat([a.mask for a in alone]))


@pytest.mark.parametrize("build", [S.lone_hand, S.arm_torso, S.specks, S.desk, S.two_hands])
def test_every_hand_has_a_candidate_at_its_palm(build):
    depth, hands = build(3)
    c = _find(depth)
    for joints, _ in hands:
        v, u = _palm_px(joints)
        near = c.mask[:, max(v - 3, 0):v + 4, max(u - 3, 0):u + 4]  # the palm joint lies inside the hand
        assert near.any(), f"{build.__name__}: no candidate reaches the palm at ({u}, {v})"


def test_specks_and_flying_pixels_are_not_candidates():
    depth, _ = S.specks(3)
    c = _find(depth)
    assert not c.mask[:, 10, 10].any() and not c.mask[:, 100:103, 140:143].any()


@pytest.mark.parametrize("kind", ["wall", "torso", "table"])
def test_no_hand_scenes_give_no_candidates(kind):
    assert len(_find(S.no_hand(kind)).frame) == 0


def test_config_checks():
    with pytest.raises(ValueError, match="grid_width"):
        LocalizeConfig(grid_width=2)
    with pytest.raises(ValueError, match="must be a number"):
        LocalizeConfig(band=float("nan"))
