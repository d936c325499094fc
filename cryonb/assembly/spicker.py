"""SPICKER clustering of assembly decoys (Zhang & Skolnick 2004, as CR-I-TASSER uses it).

All decoys are C-alpha models of one sequence, so residue i pairs with residue i. Two decoys are
neighbours when their superposed C-alpha RMSD is within the cutoff. The cutoff is searched from
3.5 Å up in 0.5 Å steps to 12 Å: the first at which the largest cluster holds at least 15 % of
the decoys, unless already at 3.5 Å it holds over 70 % (a converged run: 3.5 Å is kept). The decoy
with most neighbours is the first centre; its neighbours are its cluster and leave the pool; the
next centre is found among the rest, up to five clusters. A cluster's *combo* is the mean of its
members superposed on the centre (refitted onto the mean until it settles); its *closc* is the
member nearest the combo.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> base = np.cumsum(rng.normal(0, 2.2, (60, 3)), 0)
>>> other = np.cumsum(rng.normal(0, 2.2, (60, 3)), 0)
>>> decoys = np.stack([base + rng.normal(0, 0.5, base.shape) for _ in range(30)]
...                   + [other + rng.normal(0, 0.5, base.shape) for _ in range(10)])
>>> result = spicker(decoys)
>>> [c.size for c in result.clusters]
[30, 10]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..superpose import kabsch

CUTOFFS = tuple(np.arange(3.5, 12.01, 0.5))


@dataclass
class Cluster:
    """One SPICKER cluster: decoy indices (``members``, the centre first), the centre's index, the
    combo (L, 3) Å, the closc index and the mean RMSD (Å) of the members to the combo."""

    members: np.ndarray
    centre: int
    combo: np.ndarray
    closc: int
    mean_rmsd: float

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass
class SpickerResult:
    clusters: list[Cluster]
    cutoff: float           # Å, the neighbour cutoff the search chose
    n_decoys: int


def pairwise_rmsd(decoys: np.ndarray) -> np.ndarray:
    """(N, N) C-alpha RMSD (Å) after optimal superposition of every pair of ``decoys`` (N, L, 3).

    Batched Kabsch: the covariance of every pair, its singular values with the reflection sign, and
    RMSD^2 = (|a|^2 + |b|^2 - 2 sum s) / L for centred sets a, b.
    """
    x = np.asarray(decoys, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    n, length = x.shape[:2]
    norms = (x ** 2).sum(axis=(1, 2))
    out = np.zeros((n, n))
    for i in range(n):                                   # one row at a time: (N, 3, 3) memory
        h = np.einsum("li,nlj->nij", x[i], x[i:])
        u, s, vt = np.linalg.svd(h)
        sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
        s[:, 2] *= sign
        msd = (norms[i] + norms[i:] - 2.0 * s.sum(axis=1)) / length
        out[i, i:] = out[i:, i] = np.sqrt(np.clip(msd, 0.0, None))
    np.fill_diagonal(out, 0.0)
    return out


def choose_cutoff(rmsd: np.ndarray, cutoffs=CUTOFFS, low: float = 0.15, high: float = 0.70) -> float:
    """The neighbour cutoff (Å): the first of ``cutoffs`` whose largest cluster holds at least
    ``low`` of the decoys (3.5 Å kept when it already holds over ``high``); the last if none does."""
    n = len(rmsd)
    for k, cut in enumerate(cutoffs):
        largest = (rmsd <= cut).sum(axis=1).max() / n
        if largest >= low or (k == 0 and largest > high):
            return float(cut)
    return float(cutoffs[-1])


def spicker(decoys: np.ndarray, max_clusters: int = 5, cutoff: float | None = None,
            rmsd: np.ndarray | None = None) -> SpickerResult:
    """Cluster ``decoys`` (N, L, 3) Å; ``cutoff`` (Å) None searches it; ``rmsd`` (N, N) may be
    given when already computed. Clusters come largest first, at most ``max_clusters``."""
    decoys = np.asarray(decoys, dtype=np.float64)
    if decoys.ndim != 3 or decoys.shape[2] != 3 or len(decoys) < 1:
        raise ValueError(f"decoys must be (N, L, 3), got shape {decoys.shape}")
    rmsd = pairwise_rmsd(decoys) if rmsd is None else rmsd
    cut = choose_cutoff(rmsd) if cutoff is None else float(cutoff)
    left = np.ones(len(decoys), dtype=bool)
    clusters = []
    while left.any() and len(clusters) < max_clusters:
        near = (rmsd <= cut) & left[None, :] & left[:, None]
        counts = near.sum(axis=1)
        centre = int(np.argmax(counts))
        members = np.flatnonzero(near[centre])
        members = np.concatenate([[centre], members[members != centre]])
        clusters.append(_cluster(decoys, members, centre))
        left[members] = False
    return SpickerResult(clusters, cut, len(decoys))


def _cluster(decoys: np.ndarray, members: np.ndarray, centre: int, rounds: int = 5) -> Cluster:
    reference = decoys[centre]
    for _ in range(rounds):
        fitted = np.stack([_fit(decoys[m], reference) for m in members])
        combo = fitted.mean(axis=0)
        if np.abs(combo - reference).max() < 1e-3:
            break
        reference = combo
    dist = np.sqrt(((fitted - combo) ** 2).sum(-1).mean(-1))
    return Cluster(members, centre, combo, int(members[np.argmin(dist)]), float(dist.mean()))


def _fit(mobile: np.ndarray, target: np.ndarray) -> np.ndarray:
    r, t = kabsch(mobile, target)
    return mobile @ r.T + t
