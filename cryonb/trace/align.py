"""Threading that may break a trace: a Viterbi path of sequence places along the trace.

A trace built from predicted C-alphas can hold a wrong link (across a sheet, between helix
turns) or skip a missing C-alpha unnoticed; one gapless register then fits only part of it. Here
every atom takes a state (direction, sequence index); along the trace the index moves by 1 or 2 at
a cost set by the link's length (:func:`step_costs`: a short link is one residue, a long one may
skip one) and to any state at ``jump``. Emissions are each atom's share of the register correlation of
:mod:`.thread`: the z-scored density read at its side (in that direction) times the z-scored
profile of the residue type. The path's jumps cut the trace into pieces, each threaded gaplessly.
"""
from __future__ import annotations

import numpy as np

from .thread import profiles, read_sides, sequence_types

SKIP, JUMP = 0.5, 3.0          # penalties, in units of one atom's emission (about 1 for a good match)
SHORT, LONG = 4.6, 5.0         # Å: links shorter are one residue; longer (joins) skip one


def step_costs(lengths: np.ndarray, skip: float = SKIP) -> np.ndarray:
    """(E, 2) cost of an index step of 1 and of 2 over links of ``lengths`` (E,) Å: a link under
    4.6 Å is one residue (a step of 2 costs ``skip``), one of 4.6-5.0 Å either (the network's
    C-alphas of i and i+2 lie 4.4-5.4 Å apart at 3 Å), a longer one skips a residue (a step of 1
    costs ``skip``)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    out = np.zeros((len(lengths), 2))
    out[lengths < SHORT, 1] = skip
    out[lengths >= LONG, 0] = skip
    return out


def emissions(m, ca: np.ndarray, sequence: str, resolution: float) -> np.ndarray:
    """(2, n, L) emission of every atom of trace ``ca`` (n, 3) for every sequence index, read
    forwards (0) and backwards (1); 0 at the two end atoms."""
    types = sequence_types(sequence)
    expected = profiles(resolution)[types]                          # (L, S)
    expected = (expected - expected.mean()) / max(expected.std(), 1e-12)
    out = []
    for reverse in (False, True):
        xyz = ca[::-1] if reverse else ca
        obs, ok = read_sides(m, xyz)
        if reverse:
            obs, ok = obs[::-1], ok[::-1]
        good = obs[ok]
        z = (obs - good.mean()) / max(good.std(), 1e-12) if len(good) else obs * 0
        e = z @ expected.T / obs.shape[1]                           # (n, L)
        e[~ok] = 0.0
        out.append(e)
    return np.stack(out)


def viterbi(emit: np.ndarray, costs: np.ndarray, jump: float = JUMP) -> np.ndarray:
    """(n, 2) best (direction, index) per atom for emissions ``emit`` (2, n, L) and the costs
    (n-1, 2) of index steps of 1 and 2 between atoms; forwards the index rises, backwards it falls."""
    _, n, length = emit.shape
    score = emit[:, 0].copy()
    back = np.zeros((n, 2, length, 2), dtype=int)                   # previous (direction, index)
    for k in range(1, n):
        best_dir, best_idx = np.unravel_index(np.argmax(score), score.shape)
        new = np.full_like(score, -np.inf)
        for d, sign in ((0, 1), (1, -1)):
            for step in (1, 2):
                cost = costs[k - 1, step - 1]
                prev = np.full(length, -np.inf)
                src = np.arange(length) - sign * step
                valid = (src >= 0) & (src < length)
                prev[valid] = score[d, src[valid]] - cost
                take = prev > new[d]
                new[d, take] = prev[take]
                back[k, d, take] = np.stack([np.full(take.sum(), d), src[take]], 1)
            take = score[best_dir, best_idx] - jump > new[d]
            new[d, take] = score[best_dir, best_idx] - jump
            back[k, d, take] = (best_dir, best_idx)
        score = new + emit[:, k]
    state = np.unravel_index(np.argmax(score), score.shape)
    path = [state]
    for k in range(n - 1, 0, -1):
        state = tuple(back[k, state[0], state[1]])
        path.append(state)
    return np.array(path[::-1], dtype=int)


def pieces(path: np.ndarray) -> list[np.ndarray]:
    """Index arrays (into the trace) of the runs of ``path`` (n, 2) without a jump: same
    direction and an index step of 1 or 2 in that direction."""
    cuts = [0]
    for k in range(1, len(path)):
        d0, s0 = path[k - 1]
        d1, s1 = path[k]
        move = (s1 - s0) * (1 if d0 == 0 else -1)
        if d1 != d0 or move not in (1, 2):
            cuts.append(k)
    cuts.append(len(path))
    return [np.arange(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
