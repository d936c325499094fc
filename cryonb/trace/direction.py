"""Which way a C-alpha trace runs (N->C), from the density at its C-beta side.

Every distance, angle and dihedral of a C-alpha trace reads the same backwards, helix handedness
included, so the C-alphas alone cannot tell the direction, nor can the network's C-alpha
probability map. The density can: read N->C, pseudo C-betas (:mod:`.pseudo`) fall on the side
chains; read backwards they fall on the mirror side, between backbone and side chain. The score
is the mean density at the C-beta and 1 Å further out for one reading minus the other, in units
of the map's SD over the trace's neighbourhood.
"""
from __future__ import annotations

import numpy as np

from ..maps import Map
from .pseudo import cb_axes, sample_map

RADII = (1.53, 2.5)            # Å along CA->CB where the density is read


def side_density(m: Map, ca: np.ndarray, radii=RADII) -> np.ndarray:
    """(n,) mean map value at ``radii`` Å along each atom's CA->CB axis, trace ``ca`` (n, 3) read
    in the given order; NaN at the two ends."""
    axes, ok = cb_axes(ca)
    pts = np.asarray(ca, dtype=np.float64)[:, None, :] + np.asarray(radii)[None, :, None] * axes[:, None, :]
    values = sample_map(m, pts).mean(axis=1)
    return np.where(ok, values, np.nan)


def direction_score(m: Map, ca: np.ndarray) -> float:
    """Positive when the trace ``ca`` (n, 3) Å runs N->C in the given order: mean side density
    forwards minus backwards over the trace, divided by the SD of the map values at the C-alphas
    and their side points (0 for traces under 3 atoms)."""
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    if len(ca) < 3:
        return 0.0
    fwd = side_density(m, ca)
    rev = side_density(m, ca[::-1])[::-1]
    ok = np.isfinite(fwd) & np.isfinite(rev)
    scale = np.std(np.concatenate([fwd[ok], rev[ok], sample_map(m, ca)]))
    return float(np.mean(fwd[ok] - rev[ok]) / scale) if ok.any() and scale > 0 else 0.0


def trace_direction(m: Map, ca: np.ndarray) -> int:
    """+1 when the trace runs N->C in the given order, -1 when reversed (ties: +1)."""
    return 1 if direction_score(m, ca) >= 0 else -1
