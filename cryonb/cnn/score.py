"""How well predicted C-alpha atoms match the true ones, ignoring residue order (the seed's CRscore).

The seed (CR-I-TASSER, eq. 1): CRscore = (1/L) sum_i 1 / (1 + (d_ij / d0)^2), "where L is the target
length, d_ij is the distance between ith atom in the 3D-CNN model and jth atom in the native
structure, where the ij correspondence is established by a greedy method selecting the
nonredundant ij pairs of the shortest distance", with d0 = 1.24 (N - 15)^(1/3) - 1.8 from the
TM-score. Here N = L (the number of true C-alphas unless a length is given), pairs are taken closest
first with each atom used at most once and no distance cutoff, and d0 is kept at 0.5 Å or more as
in the TM-score program (the formula is negative for L < 19). Recall and precision count the pairs
closer than 3 Å among the true and the predicted atoms; RMSD is over every pair (the seed's
Supplementary Fig. 1b) and over the pairs closer than the cutoff.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial.distance import cdist


@dataclass
class CAScore:
    """CRscore, recall and precision at ``cutoff`` Å, RMSD (Å) of all pairs and of close pairs."""

    crscore: float
    recall: float
    precision: float
    rmsd: float | None          # None without pairs
    rmsd_close: float | None
    n_predicted: int
    n_true: int
    n_close: int
    d0: float
    cutoff: float

    def as_dict(self) -> dict:
        return asdict(self)


def tm_d0(length: int) -> float:
    """The TM-score distance scale d0 = 1.24 (L - 15)^(1/3) - 1.8 Å, at least 0.5 Å."""
    return max(0.5, 1.24 * float(np.cbrt(length - 15)) - 1.8)


def greedy_pairs(predicted: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest-first one-to-one pairing of predicted (K, 3) and true (L, 3) atoms.

    Returns indices into predicted, indices into true, and the distances (Å), min(K, L) pairs in
    order of increasing distance (ties broken by index, so the pairing is deterministic).
    """
    if len(predicted) == 0 or len(true) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    d = cdist(predicted, true)
    order = np.argsort(d, axis=None, kind="stable")
    used_p = np.zeros(len(predicted), bool)
    used_t = np.zeros(len(true), bool)
    pairs = []
    for flat in order:
        i, j = divmod(int(flat), len(true))
        if used_p[i] or used_t[j]:
            continue
        used_p[i] = used_t[j] = True
        pairs.append((i, j))
        if len(pairs) == min(len(predicted), len(true)):
            break
    i, j = np.array(pairs).T
    return i, j, d[i, j]


def ca_score(predicted: np.ndarray, true: np.ndarray, length: int | None = None,
             cutoff: float = 3.0) -> CAScore:
    """Score predicted C-alphas (K, 3) against true ones (L, 3), both Å in one frame.

    length: the target length L of the CRscore (default: the number of true atoms).
    """
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 3)
    true = np.asarray(true, dtype=np.float64).reshape(-1, 3)
    n = len(true) if length is None else int(length)
    if n < 1:
        raise ValueError("the target length must be at least 1")
    _, _, d = greedy_pairs(predicted, true)
    d0 = tm_d0(n)
    close = d < cutoff
    return CAScore(crscore=float(np.sum(1 / (1 + (d / d0) ** 2)) / n),
                   recall=float(close.sum() / max(len(true), 1)),
                   precision=float(close.sum() / max(len(predicted), 1)),
                   rmsd=_rms(d), rmsd_close=_rms(d[close]), n_predicted=len(predicted),
                   n_true=len(true), n_close=int(close.sum()), d0=d0, cutoff=cutoff)


def _rms(d: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(d ** 2))) if len(d) else None
