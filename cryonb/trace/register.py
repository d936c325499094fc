"""Threading a joined trace with a sequence allowing gaps: a Viterbi path scored in nats.

Every atom of a trace takes a state (direction, sequence index). Emissions are the side-chain
classifier's log-odds (:mod:`.sidechain`) of the residue type at that index, read on the grid
built in that direction; along the trace the index moves by 1 (one residue per link), 2 (a missing
C-alpha: long links) or 0 (a false atom: no residue of its own), at costs set by the link's length
(:func:`link_costs`), or jumps to any state at ``jump`` nats (a wrong link). The path's jumps cut
the trace into pieces; each piece's atoms get their sequence indices from the path directly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maps import Map
from .align import pieces, viterbi
from .sidechain import SideChainModel, read_grids, type_indices

STEPS = (0, 1, 2)


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
    insert: float = 1.5           # step of 0: a false atom
    jump: float = 10.0            # to any state: a wrong link
    weight: float = 0.7
    claimed: float = 1.0          # per atom, for a sequence index a longer trace already took


def link_costs(lengths: np.ndarray, c: PathCosts | None = None) -> np.ndarray:
    """(E, 3) cost (nats) of an index step of 0, 1 and 2 over links of ``lengths`` (E,) Å."""
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


def thread_path(m: Map, ca: np.ndarray, sequence: str, model: SideChainModel, scale: float = 1.0,
                costs: PathCosts | None = None, taken: np.ndarray | None = None
                ) -> list[tuple[np.ndarray, int, np.ndarray, float]]:
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
    path = viterbi(emit, link_costs(lengths, c), c.jump, STEPS)
    out = []
    for idx in pieces(path, STEPS):
        d = int(path[idx[0], 0])
        index = path[idx, 1]
        out.append((idx, 1 if d == 0 else -1, index, float(emit[d, idx, index].sum())))
    return out
