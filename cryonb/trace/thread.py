"""Gapless threading of a sequence onto a C-alpha trace, scored by side-chain density.

For each atom of a trace (read in one direction) the map is read at points along the pseudo
CA->CB axis (:mod:`.pseudo`). Each residue type predicts a profile there: a C-beta (none for
glycine) and the rest of its side chain as a Gaussian of its heavy-atom count at its centroid
(distance along the axis and off it, from :data:`SIDE_CHAINS`), blurred by the map's resolution.
A register (the sequence index of the trace's first place) assigns a residue type to every atom;
its score is the Pearson correlation, over all atoms and points, of the read density with the
threaded profiles: the density correlation of a C-beta-plus-centroid model, which rewards big
side chains where the density reaches far and small ones where it stops at the C-beta. Every
offset and both directions are scored; the margin is the best score minus the best one off by
more than one residue (or in the other direction).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maps import Map
from ..sequence import structure_sequence  # noqa: F401  (its home is cryonb.sequence; kept importable here)
from .pseudo import cb_axes, sample_map

# Side chains by one-letter code: heavy atoms beyond CA (C-beta included), and their centroid's
# distance along the CA->CB axis and off it (Å): means over the 40 training chains of the shipped
# C-alpha network (5,000 residues). Glycine has none.
SIDE_CHAINS = {
    "G": (0, 0.00, 0.00), "A": (1, 1.53, 0.00), "S": (2, 1.78, 0.66), "C": (2, 1.90, 0.83),
    "P": (3, 1.43, 1.22), "V": (3, 1.91, 0.46), "T": (3, 1.89, 0.46), "N": (4, 2.10, 1.32),
    "D": (4, 2.09, 1.33), "I": (4, 2.21, 0.66), "L": (4, 2.31, 1.22), "M": (4, 2.60, 1.33),
    "E": (5, 2.72, 1.38), "Q": (5, 2.66, 1.44), "K": (5, 3.04, 1.68), "H": (6, 2.42, 2.03),
    "R": (7, 3.57, 1.93), "F": (7, 2.53, 2.28), "Y": (8, 2.70, 2.65), "W": (10, 2.71, 2.71),
}
TYPES = "".join(SIDE_CHAINS) + "X"                    # X: unknown, the mean profile
RADII = (0.0, 1.5, 2.5, 3.5, 4.5)                      # Å along CA->CB where the map is read
RINGS = (0.0, 1.5)                                     # Å off the axis (rings read at 6 points)
SPREAD = 0.8                                            # Å, scatter of side-chain atoms about a centroid


@dataclass
class Register:
    """The best threading of a sequence onto one trace.

    direction: +1 when the trace's atom order runs N->C, -1 when reversed. offset: the sequence
    index (0-based) of the trace's first place in that direction. score: Pearson correlation of
    the best register; margin: best minus the best off by more than one residue or reversed.
    scores: (2, R) the score of every offset, forwards then reversed (NaN where it does not fit).
    """

    direction: int
    offset: int
    score: float
    margin: float
    scores: np.ndarray


def points_frame(radii=RADII, rings=RINGS, n_around: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Where the map is read around a CA->CB axis: (along, off) Å of each read point (S, 2) and,
    for each, the (n_around, 2) in-plane unit offsets; a point with off = 0 is read once."""
    pts = np.array([(a, o) for a in radii for o in rings if a > 0 or o == 0], dtype=np.float64)
    angle = 2 * np.pi * np.arange(n_around) / n_around
    return pts, np.stack([np.cos(angle), np.sin(angle)], 1)


def profiles(resolution: float, radii=RADII, rings=RINGS) -> np.ndarray:
    """(21, S) side-chain density each residue type predicts at the read points of
    :func:`points_frame` (values averaged around the axis), at ``resolution`` Å (Gaussian sigma
    0.225 x resolution); row 20 is the mean."""
    pts, _ = points_frame(radii, rings)
    r, rho = pts[:, 0], pts[:, 1]
    s2 = (0.225 * resolution) ** 2
    rows = []
    for n, along, off in SIDE_CHAINS.values():
        row = np.zeros(len(pts))
        if n >= 1:
            row += _ring_gaussian(r - 1.53, rho, 0.0, s2)
        if n >= 2:
            rest_along, rest_off = (n * along - 1.53) / (n - 1), n * off / (n - 1)
            w2 = s2 + SPREAD ** 2
            row += (n - 1) * (s2 / w2) ** 1.5 * _ring_gaussian(r - rest_along, rho, rest_off, w2)
        rows.append(row)
    rows.append(np.mean(rows, axis=0))
    return np.array(rows)


def _ring_gaussian(dz: np.ndarray, rho: np.ndarray, off: float, w2: float) -> np.ndarray:
    """Mean over a ring of radius rho (at height dz) of a Gaussian (variance w2) centred ``off``
    from the axis at a random angle: exp(-(dz^2 + rho^2 + off^2) / 2w2) I0(rho off / w2)."""
    x = rho * off / w2
    return np.exp(-(dz ** 2 + rho ** 2 + off ** 2) / (2 * w2) + x) * np.i0(x) * np.exp(-x)




def sequence_types(sequence: str) -> np.ndarray:
    """(L,) indices into :data:`TYPES` of a one-letter sequence (unknown letters: X)."""
    return np.array([TYPES.index(c) if c in SIDE_CHAINS else len(TYPES) - 1 for c in sequence.upper()], int)


def read_sides(m: Map, ca: np.ndarray, radii=RADII, rings=RINGS) -> tuple[np.ndarray, np.ndarray]:
    """(n, S) map values at the read points (:func:`points_frame`, rings averaged) around each
    atom's CA->CB axis for the trace ``ca`` (n, 3) in the given order, and the mask (n,) of atoms
    with both neighbours (the only ones scored)."""
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    axes, ok = cb_axes(ca)
    u, v = _perpendicular(axes)
    pts, around = points_frame(radii, rings)
    side = (around[:, 0, None, None] * u[None] + around[:, 1, None, None] * v[None])     # (A, n, 3)
    xyz = (ca[None, None] + pts[:, 0, None, None, None] * axes[None, None]
           + pts[:, 1, None, None, None] * side[None])                                  # (S, A, n, 3)
    return sample_map(m, xyz).mean(axis=1).T, ok


def _perpendicular(axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (n, 3) each perpendicular to ``axes`` (n, 3) and to each other."""
    helper = np.where(np.abs(axes[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    u = np.cross(axes, helper)
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    return u, np.cross(axes, u)


def register_scores(observed: np.ndarray, ok: np.ndarray, positions: np.ndarray, types: np.ndarray,
                    expected: np.ndarray) -> np.ndarray:
    """(R,) Pearson correlation for every offset r = 0..L-span: atom k gets residue r + positions[k].

    observed (n, S) map values, ok (n,) atoms scored, positions (n,) places along the trace,
    types (L,) residue types, expected (T, S) profiles. Empty when the trace is longer than L.
    """
    span = int(positions.max()) + 1 if len(positions) else 0
    n_offsets = len(types) - span + 1
    obs, pos = observed[ok], positions[ok]
    if n_offsets < 1 or len(obs) < 2:
        return np.full(max(n_offsets, 0), np.nan)
    cross = obs @ expected.T                                  # (k, T)
    e_sum, e_sq = expected.sum(1), (expected ** 2).sum(1)
    assigned = types[np.arange(n_offsets)[:, None] + pos[None, :]]          # (R, k)
    count = obs.size
    sxy = cross[np.arange(len(pos))[None, :], assigned].sum(1)
    sy, syy = e_sum[assigned].sum(1), e_sq[assigned].sum(1)
    sx, sxx = obs.sum(), (obs ** 2).sum()
    num = count * sxy - sx * sy
    den = np.sqrt(max(count * sxx - sx ** 2, 0.0) * np.maximum(count * syy - sy ** 2, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def thread_trace(m: Map, ca: np.ndarray, positions: np.ndarray, sequence: str, resolution: float) -> Register:
    """Best register of ``sequence`` on the trace ``ca`` (n, 3) Å with places ``positions`` (n,),
    both directions, on map ``m`` at ``resolution`` Å."""
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    positions = np.asarray(positions, dtype=int)
    positions = positions - positions.min() if len(positions) else positions
    types, expected = sequence_types(sequence), profiles(resolution)
    obs_f, ok_f = read_sides(m, ca)
    obs_r, ok_r = read_sides(m, ca[::-1])
    back = positions.max() - positions[::-1] if len(positions) else positions
    scores = np.stack([register_scores(obs_f, ok_f, positions, types, expected),
                       register_scores(obs_r, ok_r, back, types, expected)]) if len(positions) else np.zeros((2, 0))
    return best_register(scores)


def best_register(scores: np.ndarray) -> Register:
    """The best (direction, offset) of (2, R) scores and its margin (NaN scores: none fits)."""
    if scores.size == 0 or not np.isfinite(scores).any():
        return Register(1, 0, float("nan"), float("nan"), scores)
    d, r = np.unravel_index(np.nanargmax(scores), scores.shape)
    rivals = scores.copy()
    rivals[d, max(r - 1, 0):r + 2] = np.nan
    rival = np.nanmax(rivals) if np.isfinite(rivals).any() else np.nan
    best = float(scores[d, r])
    return Register(1 if d == 0 else -1, int(r), best, float(best - rival) if np.isfinite(rival) else float("nan"), scores)
