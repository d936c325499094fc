"""From a C-alpha probability map to C-alpha atoms (the seed's greedy peak picking).

The voxel of highest value is the first atom; each next atom is the voxel of highest value at
least ``exclusion`` (3.3 Å) from every atom so far. At least L atoms (the sequence length) are
taken, then more, up to 1.2 L, while the next value is above 0.9. The naive baseline of the seed
runs the same procedure on the density itself and takes exactly L atoms.
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from ..io import calpha_model
from ..maps import Map


@dataclass
class Peaks:
    """Picked atoms: xyz (K, 3) Å in the map frame and the map value at each, in picking order."""

    xyz: np.ndarray
    value: np.ndarray
    voxel: np.ndarray   # (K, 3) int voxel indices (z, y, x)


def pick_atoms(m: Map, length: int, exclusion: float = 3.3, max_factor: float = 1.2,
               threshold: float | None = 0.9, refine: bool = True) -> Peaks:
    """The seed's procedure on map ``m`` (probabilities, or density for the baseline).

    length: L, atoms always taken (fewer only if the box runs out of voxels); then atoms up to
    ``floor(max_factor * L)`` while the next value is above ``threshold`` (None: stop at L).
    refine: move each atom to the value-weighted centroid of its 3x3x3 neighbourhood.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    most = length if threshold is None else max(length, int(np.floor(max_factor * length + 1e-9)))
    values = m.data.ravel()
    order = np.argsort(-values, kind="stable")
    blocked = np.zeros(m.shape, dtype=bool)
    is_blocked = blocked.reshape(-1)                  # a view: flat lookups see every _block
    ball = _ball_offsets(exclusion, m.voxel_size)
    picked: list[int] = []
    for flat in order:
        if len(picked) >= most or (len(picked) >= length and not values[flat] > threshold):
            break
        if is_blocked[flat]:
            continue
        picked.append(int(flat))
        _block(blocked, np.array(np.unravel_index(flat, m.shape)), ball)
    voxel = np.array(np.unravel_index(np.array(picked, dtype=np.int64), m.shape)).T.reshape(-1, 3)
    index = _centroids(m.data, voxel) if refine else voxel.astype(np.float64)
    xyz = m.origin + index[:, ::-1] * m.voxel_size
    return Peaks(xyz, values[picked].astype(np.float64), voxel)


def naive_atoms(m: Map, length: int, exclusion: float = 3.3, refine: bool = True) -> Peaks:
    """The seed's naive baseline: exactly L atoms at the highest density values, 3.3 Å apart."""
    return pick_atoms(m, length, exclusion, threshold=None, refine=refine)


def _ball_offsets(radius: float, voxel_size: np.ndarray) -> np.ndarray:
    """(K, 3) z, y, x offsets of voxel centres closer than ``radius`` Å to the central one."""
    reach = np.floor(radius / voxel_size[::-1]).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1).reshape(-1, 3)
    return grid[np.linalg.norm(grid * voxel_size[::-1], axis=1) < radius]


def _block(blocked: np.ndarray, zyx: np.ndarray, ball: np.ndarray) -> None:
    pts = zyx + ball
    pts = pts[np.all((pts >= 0) & (pts < np.array(blocked.shape)), axis=1)]
    blocked[pts[:, 0], pts[:, 1], pts[:, 2]] = True


def _centroids(data: np.ndarray, voxel: np.ndarray) -> np.ndarray:
    """(K, 3) fractional z, y, x: each voxel moved to the weighted centroid of its 3x3x3 block.

    Weights are the values minus the block's minimum (so a flat block stays put); the block is
    clipped at the box edge.
    """
    out = voxel.astype(np.float64)
    offsets = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    for k, v in enumerate(voxel):
        pts = v + offsets
        pts = pts[np.all((pts >= 0) & (pts < np.array(data.shape)), axis=1)]
        w = data[pts[:, 0], pts[:, 1], pts[:, 2]].astype(np.float64)
        w = w - w.min()
        if w.sum() > 0:
            out[k] = (w[:, None] * pts).sum(0) / w.sum()
    return out


def ca_structure(peaks: Peaks, chain: str = "A", residue: str = "UNK") -> gemmi.Structure:
    """Picked atoms as a one-chain model: residues 1..K in picking order, B-factor = 100 x value."""
    return calpha_chain(peaks.xyz, peaks.value, chain, residue)


def calpha_chain(xyz: np.ndarray, values: np.ndarray | None = None, chain: str = "A",
                 residue: str = "UNK") -> gemmi.Structure:
    """C-alpha atoms (K, 3) Å as a one-chain model, residues 1..K in the given order;
    B-factor = 100 x value (0 without values)."""
    return calpha_model([(chain, xyz, residue, None, values)], name="predicted_ca")
