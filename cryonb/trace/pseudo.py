"""Side-chain directions from a C-alpha trace, and map values at points.

A C-beta is placed from three consecutive C-alphas in the frame of the virtual bonds:
b = unit(CA_i - CA_i-1), c = unit(CA_i+1 - CA_i), d = unit(b - c) (outward bisector),
x = unit(b × c), t = d × x; CB = CA_i + 1.156 d - 0.922 x - 0.175 t Å (means over 5,112 residues
of the 40 training chains of the shipped C-alpha network; the true C-beta lies 0.37 Å RMS away).
Reversing the trace keeps d and flips x and t, so the C-beta of the other direction is the mirror
image: the C-beta side of the trace is the only thing about a C-alpha trace that tells its
direction (every C-alpha distance, angle and dihedral is the same read backwards).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

from ..maps import Map

CB_FRAME = (1.156, -0.922, -0.175)      # C-beta in the (d, x, t) frame, Å


def cb_axes(ca: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit CA->CB directions (n, 3) of a trace ``ca`` (n, 3) Å in N->C order, and a mask (n,)
    of atoms with both neighbours (the ends take their neighbour's direction)."""
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    n = len(ca)
    axes = np.zeros((n, 3))
    ok = np.zeros(n, bool)
    if n < 3:
        return axes, ok
    b = _unit(ca[1:-1] - ca[:-2])
    c = _unit(ca[2:] - ca[1:-1])
    d = _unit(b - c)
    x = _unit(np.cross(b, c))
    t = np.cross(d, x)
    v = CB_FRAME[0] * d + CB_FRAME[1] * x + CB_FRAME[2] * t
    axes[1:-1] = _unit(v)
    axes[0], axes[-1] = axes[1], axes[-2]
    ok[1:-1] = np.isfinite(axes[1:-1]).all(1) & (np.linalg.norm(b - c, axis=1) > 1e-6)
    axes[~np.isfinite(axes)] = 0.0
    return axes, ok


def pseudo_cb(ca: np.ndarray) -> np.ndarray:
    """C-beta positions (n, 3) Å of a trace ``ca`` (n, 3) in N->C order (1.53 Å along :func:`cb_axes`)."""
    axes, _ = cb_axes(ca)
    return np.asarray(ca, dtype=np.float64).reshape(-1, 3) + 1.53 * axes


def sample_map(m: Map, xyz: np.ndarray) -> np.ndarray:
    """Map values at points ``xyz`` (..., 3) Å by trilinear interpolation; 0 outside the box."""
    xyz = np.asarray(xyz, dtype=np.float64)
    idx = m.xyz_to_index(xyz.reshape(-1, 3))[:, ::-1].T          # (3, P) z, y, x
    values = map_coordinates(m.data, idx, order=1, mode="constant", cval=0.0)
    return values.reshape(xyz.shape[:-1])


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)
