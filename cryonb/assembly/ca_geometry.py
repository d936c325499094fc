"""C-alpha chain geometry, vectorised over replicas: virtual bonds, angles and dihedrals.

Coordinates are (..., L, 3) Å. The virtual angle at atom i is between atoms i-1, i, i+1 (degrees,
about 90 in a helix, 120 in a strand); the virtual dihedral of i..i+3 is about +50 in a helix and
-170 in a strand.

>>> import numpy as np
>>> x = np.array([[0.0, 0, 0], [3.8, 0, 0], [3.8, 3.8, 0], [3.8, 3.8, 3.8]])
>>> float(virtual_angles(x)[0])
90.0
>>> float(abs(virtual_dihedrals(x)[0]))
90.0
"""
from __future__ import annotations

import numpy as np

BREAK = 4.3      # Å: consecutive C-alphas farther apart are a chain break (cis-Pro gives 2.9)


def bonds(x: np.ndarray) -> np.ndarray:
    """(..., L-1) distances Å of consecutive C-alphas."""
    return np.linalg.norm(np.diff(x, axis=-2), axis=-1)


def virtual_angles(x: np.ndarray) -> np.ndarray:
    """(..., L-2) angle (degrees) at atoms 1..L-2."""
    a = x[..., :-2, :] - x[..., 1:-1, :]
    b = x[..., 2:, :] - x[..., 1:-1, :]
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def virtual_dihedrals(x: np.ndarray) -> np.ndarray:
    """(..., L-3) dihedral (degrees, -180..180) of atoms i..i+3 for i = 0..L-4."""
    b0 = x[..., 1:-2, :] - x[..., :-3, :]
    b1 = x[..., 2:-1, :] - x[..., 1:-2, :]
    b2 = x[..., 3:, :] - x[..., 2:-1, :]
    n1, n2 = np.cross(b0, b1), np.cross(b1, b2)
    m1 = np.cross(n1, b1 / np.maximum(np.linalg.norm(b1, axis=-1, keepdims=True), 1e-9))
    return np.degrees(np.arctan2((m1 * n2).sum(-1), (n1 * n2).sum(-1)))

