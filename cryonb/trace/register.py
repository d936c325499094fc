"""Threading a joined trace with a sequence allowing gaps: a Viterbi path scored in nats.

Every atom of a trace takes a state (direction, sequence index). Emissions are the side-chain
classifier's log-odds (:mod:`.sidechain`) of the residue type at that index, read on the grid
built in that direction; along the trace the index moves by 1 (one residue per link) or 2 (a missing
C-alpha: long links) at costs set by the link's length (:func:`link_costs`), an atom may be a false
one (``insert`` nats, no emission, it keeps the index before it), or the path jumps to any state
(``jump`` nats, less over a join of fragments: a wrong link). The path's jumps and turns cut the
trace into pieces; each piece's atoms get their sequence indices from the path directly (a false
atom repeats the index before it). Traces are threaded longest first, and residues a longer trace
took cost ``claimed`` nats per atom.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maps import Map
from .sidechain import SideChainModel, read_grids, type_indices


@dataclass
class PathCosts:
    """Costs (nats) of :func:`link_costs` and :func:`thread_path`. A link shorter than ``short``
    Å is one residue, one longer than ``long`` Å (C-alpha i to i+2: 5.4-7.3 Å) skips one; between
    either. ``weight`` scales the classifier's log-odds (below 1: less trusted)."""

    short: float = 4.6
    long: float = 5.0
    skip: float = 3.0             # step of 2 over a short link
    skip_mid: float = 1.0         # step of 2 over a link between short and long
    skip_long: float = 0.2        # step of 2 over a long link
    single_mid: float = 1.0       # step of 1 over a link between short and long
    single_long: float = 3.0      # step of 1 over a long link
    insert: float = 1.5           # a false atom (no emission)
    jump: float = 12.0            # to any state: a wrong link
    jump_join: float = 6.0        # the same over a join of two fragments (:func:`.connect.join_fragments`)
    weight: float = 0.7
    claimed: float = 1.0          # per atom, for a sequence index a longer trace already took


def link_costs(lengths: np.ndarray, c: PathCosts | None = None) -> np.ndarray:
    """(E, 3) cost (nats) of an index step of 0 (column 0: ``insert``; :func:`viterbi_gaps`
    prices false atoms itself), 1 and 2 over links of ``lengths`` (E,) Å."""
    c = c or PathCosts()
    lengths = np.asarray(lengths, dtype=np.float64)
    short, long = lengths < c.short, lengths >= c.long
    mid = ~short & ~long
    out = np.zeros((len(lengths), 3))
    out[:, 0] = c.insert
    out[:, 1] = np.where(long, c.single_long, np.where(mid, c.single_mid, 0.0))
    out[:, 2] = np.where(short, c.skip, np.where(mid, c.skip_mid, c.skip_long))
    return out


def class_emissions(m: Map, ca: np.ndarray, sequence: str, model: SideChainModel, scale: float = 1.0,
                    weight: float = 1.0) -> np.ndarray:
    """(2, n, L) emission (nats) of every atom of trace ``ca`` (n, 3) for every sequence index:
    ``weight`` x the log-odds of that index's residue type on the grid read forwards (0) or
    backwards (1); 0 at the two end atoms and for unknown residue types. ``scale``: the map's unit
    (:func:`.sidechain.map_scale`)."""
    types = type_indices(sequence)
    known = types >= 0
    out = np.zeros((2, len(ca), len(sequence)))
    for d, xyz in enumerate((ca, ca[::-1])):
        grids, ok = read_grids(m, xyz, scale)
        odds = model.log_odds(grids)                                # (n, 20)
        e = np.zeros((len(ca), len(sequence)))
        e[:, known] = odds[:, types[known]]
        e[~ok] = 0.0
        out[d] = weight * (e[::-1] if d == 1 else e)
    return out


def viterbi_gaps(emit: np.ndarray, costs: np.ndarray, jump: np.ndarray, insert: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best path for emissions ``emit`` (2, n, L) nats, step costs ``costs`` (n-1, 3) of index steps
    0, 1, 2 (column 0 unused) and ``jump`` (n-1,) per link. Each atom is either the residue at its
    index (emits) or a false atom after it (``insert`` nats per such atom, no emission; the next
    residue is reached from it as from the residue before). Returns per atom the direction (n,)
    0 forwards / 1 backwards, the index (n,), and whether a jump leads to it (n,) bool."""
    _, n, length = emit.shape
    match = emit[:, 0].copy()                              # (2, L) atom k is residue s
    gap = np.full((2, length), -np.inf)                     # atom k is false, residue s before it
    back = np.zeros((n, 2, 2, length, 3), dtype=np.int64)  # (direction, kind, index) of atom k-1
    jumped = np.zeros((n, 2, 2, length), dtype=bool)
    idx = np.arange(length)
    for k in range(1, n):
        both = np.stack([match, gap], 1)                    # (2, 2, L)
        top = np.unravel_index(np.argmax(both), both.shape)
        new_m = np.full((2, length), -np.inf)
        new_g = np.full((2, length), -np.inf)
        for d, sign in ((0, 1), (1, -1)):
            for kind, prev in ((0, match[d]), (1, gap[d])):
                for step in (1, 2):
                    src = idx - sign * step
                    ok = (src >= 0) & (src < length)
                    val = np.full(length, -np.inf)
                    val[ok] = prev[src[ok]] - costs[k - 1, step]
                    take = val > new_m[d]
                    new_m[d, take] = val[take]
                    back[k, d, 0, take] = np.stack([np.full(take.sum(), d), np.full(take.sum(), kind), src[take]], 1)
                val = prev - insert
                take = val > new_g[d]
                new_g[d, take] = val[take]
                back[k, d, 1, take] = np.stack([np.full(take.sum(), d), np.full(take.sum(), kind), idx[take]], 1)
            val = both[top] - jump[k - 1]
            take = val > new_m[d]
            new_m[d, take] = val
            back[k, d, 0, take] = top
            jumped[k, d, 0, take] = True
        match, gap = new_m + emit[:, k], new_g
    both = np.stack([match, gap], 1)
    state = np.unravel_index(np.argmax(both), both.shape)
    states, jumps = [state], [False]
    for k in range(n - 1, 0, -1):
        jumps.append(bool(jumped[k][state]))
        state = tuple(back[k][state])
        states.append(state)
    states, jumps = np.array(states[::-1]), np.array(jumps[::-1])
    jumps = np.roll(jumps, 1)
    jumps[0] = False
    return states[:, 0], states[:, 2], jumps


def thread_path(m: Map, ca: np.ndarray, sequence: str, model: SideChainModel, scale: float = 1.0,
                costs: PathCosts | None = None, taken: np.ndarray | None = None,
                joins: np.ndarray | None = None) -> list[tuple[np.ndarray, int, np.ndarray, float]]:
    """Pieces of the trace ``ca`` (n, 3) Å threaded with gaps: per piece (idx (k,) into the
    trace, direction +1 N->C in the trace's order / -1 reversed, sequence index (k,) of each atom
    in the trace's order, emission sum in nats). ``taken`` (L,) bool: sequence indices other
    traces hold, each costing ``costs.claimed`` per atom placed there."""
    c = costs or PathCosts()
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    emit = class_emissions(m, ca, sequence, model, scale, c.weight)
    if taken is not None:
        emit = emit - c.claimed * np.asarray(taken, dtype=np.float64)[None, None, :]
    lengths = np.linalg.norm(np.diff(ca, axis=0), axis=1)
    jump = np.full(len(lengths), c.jump)
    if joins is not None:
        jump[np.asarray(joins, bool)] = c.jump_join
    direction, index, jumped = viterbi_gaps(emit, link_costs(lengths, c), jump, c.insert)
    cuts = [0] + [k for k in range(1, len(ca)) if jumped[k] or direction[k] != direction[k - 1]] + [len(ca)]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        idx = np.arange(a, b)
        d = int(direction[a])
        out.append((idx, 1 if d == 0 else -1, index[idx], float(emit[d, idx, index[idx]].sum())))
    return out
