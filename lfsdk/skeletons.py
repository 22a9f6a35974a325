"""Joint layouts of the public depth hand-pose datasets, and how each is read off lfsdk's 21-joint hand.

The synthetic renderer (lfsdk.data.synthetic) poses a 21-joint hand in MSRA order:

    0 wrist, then four joints per finger, base to tip: index, middle, ring, little (MCP, PIP, DIP, TIP)
    and thumb (CMC, MCP, IP, TIP) — see HAND21_NAMES.

Every layout is a linear function of those 21 joints: a (M, 21) weight matrix whose rows are one-hot where
the dataset's joint is one of ours, or an average where it is not (NYU's palm centre, its two wrist
corners). So `joints_for_layout(j21, layout) = weights @ j21`, and two layouts' joints coincide exactly
where their weight rows are equal (`coincident_joints`).

Sources: NYU Hand Pose — the 14 of 36 joints used by the field (Tompson et al. 2014; DeepPrior++'s
indices [0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32]); ICVL — 16 joints (Tang et al. 2014);
MSRA 2015 — 21 joints (Sun et al. 2015).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Skeleton", "HAND21_NAMES", "HAND21_PARENTS", "FINGER_COLORS", "LAYOUTS", "get_skeleton",
    "joints_for_layout", "coincident_joints",
]

#: Colours per finger for drawing (RGB 0–1): thumb, index, middle, ring, little, palm/wrist.
FINGER_COLORS = {
    "thumb": (0.89, 0.10, 0.11), "index": (1.00, 0.50, 0.00), "middle": (0.20, 0.63, 0.17),
    "ring": (0.12, 0.47, 0.71), "little": (0.42, 0.24, 0.60), "palm": (0.40, 0.40, 0.40),
}

_FINGERS = ("index", "middle", "ring", "little", "thumb")
#: lfsdk's 21-joint hand (MSRA order). The thumb's four slots are CMC, MCP, IP, TIP.
HAND21_NAMES = ("wrist",) + tuple(
    f"{f}_{j}" for f in _FINGERS for j in (("cmc", "mcp", "ip", "tip") if f == "thumb" else ("mcp", "pip", "dip", "tip")))
HAND21_PARENTS = (-1,) + tuple(p for base in range(1, 21, 4) for p in (0, base, base + 1, base + 2))


@dataclass(frozen=True)
class Skeleton:
    """One dataset's joint layout. `weights` (M, 21) maps lfsdk's 21-joint hand onto it."""

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for a root; bones are (i, parents[i]) for drawing
    fingers: tuple[str, ...]  # per joint, a FINGER_COLORS key
    weights: np.ndarray

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def colors(self) -> tuple[tuple[float, float, float], ...]:
        return tuple(FINGER_COLORS[f] for f in self.fingers)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        return tuple((i, p) for i, p in enumerate(self.parents) if p >= 0)


def _h(name: str) -> int:
    return HAND21_NAMES.index(name)


def _rows(spec: list) -> np.ndarray:
    """Each entry: a HAND21 name (one-hot) or a dict {name: weight} (a fixed blend)."""
    w = np.zeros((len(spec), 21))
    for i, s in enumerate(spec):
        for k, v in ({s: 1.0} if isinstance(s, str) else s).items():
            w[i, _h(k)] = v
    w.setflags(write=False)
    return w


def _finger(n: str) -> str:
    return "palm" if n.startswith(("wrist", "palm")) else n.split("_")[0]


# The palm centre: mean of the wrist and the four finger MCPs. NYU's two wrist corners: the wrist moved
# ±0.4 of the index–little MCP span across the hand (its radial / ulnar side).
_PALM = {"wrist": 0.2, "index_mcp": 0.2, "middle_mcp": 0.2, "ring_mcp": 0.2, "little_mcp": 0.2}
_WRIST_RADIAL = {"wrist": 1.0, "index_mcp": 0.4, "little_mcp": -0.4}
_WRIST_ULNAR = {"wrist": 1.0, "index_mcp": -0.4, "little_mcp": 0.4}


def _msra() -> Skeleton:
    return Skeleton("msra", HAND21_NAMES, HAND21_PARENTS, tuple(_finger(n) for n in HAND21_NAMES),
                    _rows(list(HAND21_NAMES)))


def _nyu() -> Skeleton:
    # Order of the 14-joint NYU subset: per finger tip then mid (little, ring, middle, index), the thumb's
    # tip, mid and root, the two wrist corners, the palm centre.
    names = ("little_tip", "little_mid", "ring_tip", "ring_mid", "middle_tip", "middle_mid", "index_tip",
             "index_mid", "thumb_tip", "thumb_mid", "thumb_root", "wrist_radial", "wrist_ulnar", "palm")
    spec = ["little_tip", "little_pip", "ring_tip", "ring_pip", "middle_tip", "middle_pip", "index_tip",
            "index_pip", "thumb_tip", "thumb_ip", "thumb_mcp", _WRIST_RADIAL, _WRIST_ULNAR, _PALM]
    parents = (1, 13, 3, 13, 5, 13, 7, 13, 9, 10, 13, 13, 13, -1)
    return Skeleton("nyu", names, parents, tuple(_finger(n) for n in names), _rows(spec))


def _icvl() -> Skeleton:
    names = ("palm", "thumb_root", "thumb_mid", "thumb_tip", "index_root", "index_mid", "index_tip",
             "middle_root", "middle_mid", "middle_tip", "ring_root", "ring_mid", "ring_tip",
             "little_root", "little_mid", "little_tip")
    spec = [_PALM, "thumb_mcp", "thumb_ip", "thumb_tip", "index_mcp", "index_pip", "index_tip",
            "middle_mcp", "middle_pip", "middle_tip", "ring_mcp", "ring_pip", "ring_tip",
            "little_mcp", "little_pip", "little_tip"]
    parents = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
    return Skeleton("icvl", names, parents, tuple(_finger(n) for n in names), _rows(spec))


LAYOUTS: dict[str, Skeleton] = {s.name: s for s in (_nyu(), _icvl(), _msra())}


def get_skeleton(layout: str | Skeleton) -> Skeleton:
    """A Skeleton by name ('nyu', 'icvl', 'msra'), or the Skeleton itself."""
    if isinstance(layout, Skeleton):
        return layout
    key = str(layout).lower()
    if key not in LAYOUTS:
        raise ValueError(f"unknown joint layout {layout!r}: expected one of {sorted(LAYOUTS)}")
    return LAYOUTS[key]


def joints_for_layout(joints21: np.ndarray, layout: str | Skeleton) -> np.ndarray:
    """(..., 21, 3) joints of lfsdk's hand → (..., M, 3) joints of `layout` (a weighted sum per joint)."""
    j = np.asarray(joints21)
    if j.shape[-2:] != (21, 3):
        raise ValueError(f"expected (..., 21, 3) hand joints, got shape {j.shape}")
    return np.einsum("mk,...kc->...mc", get_skeleton(layout).weights, j)


def coincident_joints(src: str | Skeleton, dst: str | Skeleton) -> list[tuple[int, int]]:
    """(i_src, i_dst) pairs of joints that are the same point of the hand in both layouts."""
    a, b = get_skeleton(src).weights, get_skeleton(dst).weights
    return [(i, j) for i in range(len(a)) for j in range(len(b)) if np.allclose(a[i], b[j])]
