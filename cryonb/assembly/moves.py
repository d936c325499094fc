"""Monte Carlo moves of C-alpha chains, one per replica per step, vectorised over replicas.

Every move is a rigid motion of a contiguous segment of ``k`` residues, so the energy change is
local (:meth:`cryonb.assembly.energy.Energy.delta`):

- crankshaft: the segment turns about the axis through its two flanking atoms (I-TASSER's two-
  and three-bond moves for k = 1, 2; longer k turns a loop); bond lengths are kept exactly;
- end pivot: the first or last k residues turn about a random axis through the atom next to them;
- shift: the segment is translated by a small random vector (I-TASSER's segment shifts; the bond
  terms at its two ends pay for the stretch).

Each returns (start (R,), new (R, k, 3)).
"""
from __future__ import annotations

import numpy as np


def rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(R, 3, 3) rotations by ``angle`` (R,) radians about unit ``axis`` (R, 3) (Rodrigues)."""
    a = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    cross = np.zeros((len(a), 3, 3))
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -a[:, 2], a[:, 1], -a[:, 0]
    cross = cross - cross.transpose(0, 2, 1)
    outer = a[:, :, None] * a[:, None, :]
    return c * np.eye(3) + s * cross + (1 - c) * outer


def _turn(seg: np.ndarray, centre: np.ndarray, rot: np.ndarray) -> np.ndarray:
    return np.einsum("rij,rkj->rki", rot, seg - centre[:, None]) + centre[:, None]


def crankshaft(x: np.ndarray, k: int, rng: np.random.Generator, sd: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Turn residues s..s+k-1 about the axis through s-1 and s+k by N(0, ``sd`` / sqrt(k)) radians
    (a long segment, a domain between two hinges, turns less)."""
    r, n = x.shape[:2]
    start = rng.integers(1, n - k, size=r)
    rows = np.arange(r)
    before, after = x[rows, start - 1], x[rows, start + k]
    seg = x[rows[:, None], start[:, None] + np.arange(k)]
    rot = rotation(after - before, rng.normal(0.0, sd / np.sqrt(k), r))
    return start, _turn(seg, before, rot)


def end_pivot(x: np.ndarray, k: int, rng: np.random.Generator, sd: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Turn the first or the last ``k`` residues about a random axis through the next atom in, by
    N(0, ``sd`` / sqrt(k)) radians."""
    r, n = x.shape[:2]
    rows = np.arange(r)
    tail = rng.random(r) < 0.5
    start = np.where(tail, n - k, 0)
    pivot = x[rows, np.where(tail, n - k - 1, k)]
    seg = x[rows[:, None], start[:, None] + np.arange(k)]
    rot = rotation(rng.normal(size=(r, 3)), rng.normal(0.0, sd / np.sqrt(k), r))
    return start, _turn(seg, pivot, rot)


def shift(x: np.ndarray, k: int, rng: np.random.Generator, sd: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Translate residues s..s+k-1 (anywhere in the chain) by N(0, ``sd``) Å per axis."""
    r, n = x.shape[:2]
    start = rng.integers(0, n - k + 1, size=r)
    rows = np.arange(r)
    seg = x[rows[:, None], start[:, None] + np.arange(k)]
    return start, seg + rng.normal(0.0, sd, (r, 1, 3))


MOVES = {"crankshaft": crankshaft, "end_pivot": end_pivot, "shift": shift}
