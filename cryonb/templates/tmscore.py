"""TM-score of a model to a target over a given residue correspondence (the TM-score program's search).

The TM-score (Zhang & Skolnick 2004) of paired C-alphas: max over superpositions of
(1/L) sum 1 / (1 + (d_i / d0)^2), L the target length, d0 = 1.24 (L - 15)^(1/3) - 1.8 Å. The best
superposition is searched as the TM-score program does: Kabsch fits on contiguous seed fragments
(lengths L, L/2, L/4, ... down to 4 pairs, at several starts), each extended by refitting on the
pairs closer than a search distance until the set stops changing. For a template, the pairs come
from its sequence alignment to the query (the template model a threading alignment gives).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> target = np.cumsum(rng.normal(0, 2.2, (80, 3)), 0)
>>> round(tm_score(target + 5.0, target), 3)
1.0
>>> bent = target.copy(); bent[40:] += 8.0
>>> 0.4 < tm_score(bent, target) < 0.7
True
"""
from __future__ import annotations

import numpy as np

from ..cnn.score import tm_d0
from ..superpose import kabsch


def tm_score(model: np.ndarray, target: np.ndarray, length: int | None = None, iterations: int = 20) -> float:
    """TM-score of paired C-alphas ``model`` (P, 3) and ``target`` (P, 3) Å, normalised by
    ``length`` (default P: the target's residue count when every target residue is paired)."""
    return tm_superposition(model, target, length, iterations)[0]


def tm_superposition(model: np.ndarray, target: np.ndarray, length: int | None = None,
                     iterations: int = 20) -> tuple[float, np.ndarray, np.ndarray]:
    """(TM-score, R (3, 3), t (3,)) of paired C-alphas: ``model @ R.T + t`` is the superposition on
    ``target`` that gives the score (identity and zero when fewer than 3 pairs)."""
    model = np.asarray(model, dtype=np.float64).reshape(-1, 3)
    target = np.asarray(target, dtype=np.float64).reshape(-1, 3)
    n = len(model)
    length = n if length is None else int(length)
    best = (0.0, np.eye(3), np.zeros(3))
    if n < 3 or length < 1:
        return best
    d0 = tm_d0(length)
    search = float(np.clip(d0, 4.5, 8.0))
    for seed in _seeds(n):
        sel = seed
        for _ in range(iterations):
            if sel.sum() < 3:
                break
            r, t = kabsch(model[sel], target[sel])
            d = np.linalg.norm(model @ r.T + t - target, axis=1)
            score = float((1.0 / (1.0 + (d / d0) ** 2)).sum() / length)
            if score > best[0]:
                best = (score, r, t)
            new = d < search
            if new.sum() < 3:
                new = d <= np.sort(d)[2]
            if np.array_equal(new, sel):
                break
            sel = new
    return best


def _seeds(n: int) -> list[np.ndarray]:
    """Masks (n,) of contiguous fragments: lengths n, n/2, n/4 ... >= 4, starts every half-length."""
    out, size = [], n
    while size >= 4:
        step = max(size // 2, 1)
        for start in range(0, n - size + 1, step):
            mask = np.zeros(n, bool)
            mask[start:start + size] = True
            out.append(mask)
        size //= 2
    return out or [np.ones(n, bool)]


def template_tm_score(template_xyz: np.ndarray, template_index: np.ndarray, query_index: np.ndarray,
                      target_xyz: np.ndarray) -> float:
    """TM-score to the target (L, 3) of a template's C-alphas (T, 3) through its alignment: template
    residue ``template_index[k]`` sits on query (= target) residue ``query_index[k]``; normalised by L."""
    ti, qi = np.asarray(template_index, int), np.asarray(query_index, int)
    return tm_score(np.asarray(template_xyz)[ti], np.asarray(target_xyz)[qi], length=len(target_xyz))
