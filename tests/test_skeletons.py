import numpy as np
import pytest

from lfsdk.skeletons import HAND21_NAMES, LAYOUTS, coincident_joints, get_skeleton, joints_for_layout


@pytest.mark.parametrize("name,m", [("nyu", 14), ("icvl", 16), ("msra", 21)])
def test_layout_sizes_and_trees(name, m):
    sk = get_skeleton(name)
    assert sk.num_joints == m == len(sk.parents) == len(sk.colors) == sk.weights.shape[0]
    for i in range(m):  # every joint reaches the single root without a cycle
        seen, j = set(), i
        while sk.parents[j] >= 0:
            assert j not in seen
            seen.add(j)
            j = sk.parents[j]
    assert sum(p < 0 for p in sk.parents) == 1
    np.testing.assert_allclose(sk.weights.sum(1), 1.0)  # each joint is a point of the hand (affine blend)


def test_msra_is_the_hand_itself():
    j = np.random.default_rng(0).normal(size=(2, 21, 3))
    np.testing.assert_array_equal(joints_for_layout(j, "msra"), j)


def test_nyu_palm_and_wrist_corners():
    j = np.random.default_rng(1).normal(size=(21, 3))
    nyu = joints_for_layout(j, "nyu")
    idx = {n: i for i, n in enumerate(HAND21_NAMES)}
    mcps = [idx[f"{f}_mcp"] for f in ("index", "middle", "ring", "little")]
    np.testing.assert_allclose(nyu[13], j[[0] + mcps].mean(0))
    span = j[idx["index_mcp"]] - j[idx["little_mcp"]]
    np.testing.assert_allclose(nyu[11], j[0] + 0.4 * span)
    np.testing.assert_allclose(nyu[12], j[0] - 0.4 * span)
    np.testing.assert_allclose(nyu[0], j[idx["little_tip"]])


def test_coincident_joints_between_layouts():
    pairs = dict(coincident_joints("nyu", "icvl"))
    nyu, icvl = get_skeleton("nyu"), get_skeleton("icvl")
    for name in ("little_tip", "ring_tip", "middle_tip", "index_tip", "thumb_tip", "palm"):
        assert icvl.names[pairs[nyu.names.index(name)]] == name
    assert nyu.names.index("wrist_radial") not in pairs  # NYU's wrist corners exist nowhere else
    assert len(coincident_joints("msra", "msra")) == 21
    # the MSRA↔ICVL map puts ICVL's fingertips on MSRA's
    m2i = dict((j, i) for i, j in coincident_joints("msra", "icvl"))
    assert HAND21_NAMES[m2i[icvl.names.index("index_tip")]] == "index_tip"


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown joint layout"):
        get_skeleton("kinect")
    with pytest.raises(ValueError, match=r"\(\.\.\., 21, 3\)"):
        joints_for_layout(np.zeros((14, 3)), "nyu")
    assert set(LAYOUTS) == {"nyu", "icvl", "msra"}
