"""How well a placed C-alpha model explains the map: a local Pearson correlation (the seed's PCC).

The model density is one Gaussian per C-alpha, wide enough for a whole residue at the map's
resolution: sigma^2 = (R / (pi sqrt 2))^2 + RESIDUE_SIGMA^2 (the seed's equation 2 width for
resolution R, widened by the spread of a residue's atoms about its C-alpha). The correlation is
taken over the voxels within ``mask_radius`` of any C-alpha, so the score is the fit of the model
where it is, not the emptiness of the rest of the box.

>>> import numpy as np
>>> from cryonb.maps import Map
>>> xyz = np.array([[10.0, 10.0, 10.0], [13.8, 10.0, 10.0], [15.0, 13.6, 10.0]])
>>> grid = Map(np.zeros((25, 25, 25), np.float32), np.ones(3))
>>> m = grid.copy(data=model_density(grid, xyz, 4.0))
>>> round(density_correlation(m, xyz, 4.0), 3)
1.0
>>> round(density_correlation(m, xyz + [0.0, 0.0, 4.0], 4.0), 2) < 0.5
True
>>> bool(density_correlation(m, xyz[:2], 4.0, region=xyz) < density_correlation(m, xyz[:2], 4.0))
True
"""
from __future__ import annotations

import numpy as np

from ..maps import Map

RESIDUE_SIGMA = 1.5     # Å: RMS spread of a residue's heavy atoms about its C-alpha (about 1.2-2 Å)


def residue_sigma(resolution: float) -> float:
    """Gaussian width (Å) of one residue's density at ``resolution`` (Å)."""
    return float(np.hypot(resolution / (np.pi * np.sqrt(2.0)), RESIDUE_SIGMA))


def _voxels_near(m: Map, xyz: np.ndarray, radius: float) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Voxel indices (z, y, x arrays) and centres (V, 3) Å of the voxels within ``radius`` Å of any
    atom of ``xyz`` (N, 3) and inside the box."""
    from scipy.spatial import cKDTree
    shape = np.array(m.shape[::-1])
    lo = np.clip(np.floor(m.xyz_to_index(xyz.min(0) - radius)).astype(int), 0, shape - 1)
    hi = np.clip(np.ceil(m.xyz_to_index(xyz.max(0) + radius)).astype(int), 0, shape - 1)
    axes = [np.arange(lo[a], hi[a] + 1) for a in range(3)]
    ix, iy, iz = (g.ravel() for g in np.meshgrid(*axes, indexing="ij"))
    centres = m.origin + np.stack([ix, iy, iz], 1) * m.voxel_size
    dist, _ = cKDTree(xyz).query(centres, distance_upper_bound=radius)
    keep = np.isfinite(dist)
    return (iz[keep], iy[keep], ix[keep]), centres[keep]


def _density_at(centres: np.ndarray, xyz: np.ndarray, sigma: float) -> np.ndarray:
    """Sum of the Gaussians (width ``sigma`` Å, cut at 3 sigma) of atoms ``xyz`` at points ``centres`` (V, 3)."""
    from scipy.spatial import cKDTree
    pairs = cKDTree(centres).sparse_distance_matrix(cKDTree(xyz), 3 * sigma, output_type="coo_matrix")
    return np.bincount(pairs.row, np.exp(-0.5 * (pairs.data / sigma) ** 2), minlength=len(centres))


def model_density(m: Map, xyz: np.ndarray, resolution: float) -> np.ndarray:
    """The C-alpha model's density on the grid of ``m`` (same shape), zero beyond 3 sigma."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    sigma = residue_sigma(resolution)
    out = np.zeros(m.shape, np.float32)
    index, centres = _voxels_near(m, xyz, 3 * sigma)
    out[index] = _density_at(centres, xyz, sigma)
    return out


def density_correlation(m: Map, xyz: np.ndarray, resolution: float, mask_radius: float | None = None,
                        region: np.ndarray | None = None) -> float:
    """Pearson correlation of map ``m`` with the density of C-alphas ``xyz`` (N, 3) Å over the voxels
    within ``mask_radius`` Å of an atom (default: 2 sigma of :func:`residue_sigma`) or of a
    ``region`` atom (R, 3) Å (the predicted C-alphas: the molecule's density that a template leaves
    unexplained then counts against it). NaN when fewer than 10 such voxels lie in the box or
    either density is flat there."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    radius = 2 * residue_sigma(resolution) if mask_radius is None else mask_radius
    mask_atoms = xyz if region is None else np.vstack([xyz, np.asarray(region, dtype=np.float64).reshape(-1, 3)])
    index, centres = _voxels_near(m, mask_atoms, radius)
    if len(index[0]) < 10:
        return float("nan")
    model = _density_at(centres, xyz, residue_sigma(resolution))
    data = m.data[index].astype(np.float64)
    model -= model.mean()
    data -= data.mean()
    norm = np.sqrt((model ** 2).sum() * (data ** 2).sum())
    return float((model * data).sum() / norm) if norm > 0 else float("nan")
