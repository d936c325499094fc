"""Simulate a cryo-EM map from a model at a given resolution and voxel size.

Two density models:

* ``"electron"`` (default): electron scattering factors (gemmi's
  DensityCalculatorE) with each atom's B-factor, then a low-pass filter that
  removes all information beyond 1/resolution.
* ``"gaussian"``: the GMM of the GMM-DNN paper: one isotropic Gaussian per
  heavy atom, amplitude = atomic number Z, sigma = 0.225 x resolution (the
  molmap convention), then the same low-pass filter.

The low-pass edge is a raised cosine from 0.9/R to 1/R, so the map holds no
signal beyond the requested resolution and a model-map FSC crosses 0.5 there.
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from ..errors import CryonbError
from ..io import first_model, model_xyz
from ..maps import Map, check_overlap
from .filters import frequency_grid, lowpass

SIGMA_PER_RESOLUTION = 0.225


@dataclass
class SimulationConfig:
    """How to simulate a map; resolution and voxel_size in Angstrom, padding in Angstrom."""

    resolution: float = 4.0
    voxel_size: float = 1.0
    method: str = "electron"        # "electron" or "gaussian"
    padding: float = 10.0           # margin around the model when no box is given
    cubic: bool = True              # make the box cubic when it is derived from the model
    b_factor: float | None = None   # override every atom's B-factor (electron method)


MAX_BOX_VOXELS = 1024 ** 3   # 4 GiB of float32: the largest box made around a model


def box_around_model(st: gemmi.Structure, voxel_size: float, padding: float = 10.0,
                     cubic: bool = True) -> Map:
    """An empty Map whose box holds the model's first model with ``padding`` Å on every side.

    Box edges are even numbers of voxels; with ``cubic`` all three are equal.
    """
    return box_around_points(model_xyz(st), voxel_size, padding, cubic)


def box_around_points(xyz: np.ndarray, voxel_size: float, padding: float = 10.0,
                      cubic: bool = True) -> Map:
    """An empty Map whose box holds points ``xyz`` (..., 3) Å with ``padding`` Å on every side."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    lo, hi = xyz.min(0) - padding, xyz.max(0) + padding
    n = np.ceil((hi - lo) / voxel_size).astype(int)
    n += n % 2
    if cubic:
        n[:] = n.max()
    if np.prod(n.astype(float)) > MAX_BOX_VOXELS:
        raise CryonbError(None, f"a box of {' x '.join(map(str, n))} voxels around the model ({np.ptp(xyz, 0).max():.0f} Å "
                                f"across, voxel size {voxel_size:g} Å, padding {padding:g} Å) is larger than "
                                f"{MAX_BOX_VOXELS:.3g} voxels: use a coarser --voxel-size or less --padding")
    centre = (lo + hi) / 2
    origin = centre - (n - 1) / 2 * voxel_size
    origin = np.round(origin / voxel_size) * voxel_size   # keep the origin on the voxel lattice
    return Map(np.zeros(n[::-1], dtype=np.float32), voxel_size, origin)


def simulate_map(st: gemmi.Structure, config: SimulationConfig | None = None,
                 like: Map | None = None) -> Map:
    """Simulate a map of ``st`` (first model) at ``config.resolution``.

    ``like``: a map whose grid (shape, voxel size, origin) to use; otherwise a
    box around the model (:func:`box_around_model`). Returns a new Map.
    """
    cfg = config or SimulationConfig()
    if not (np.isfinite(cfg.resolution) and cfg.resolution > 0):
        raise ValueError(f"resolution must be a finite number > 0 Å (got {cfg.resolution})")
    if cfg.resolution < 2 * (like.voxel_size.max() if like else cfg.voxel_size) - 1e-6:
        raise ValueError(f"resolution {cfg.resolution} Å is finer than Nyquist for the voxel size")
    if like is not None:
        check_overlap(model_xyz(st), like, st.name)
    grid = like if like is not None else box_around_model(st, cfg.voxel_size, cfg.padding, cfg.cubic)
    if cfg.method == "electron":
        data = _electron_density(st, grid, cfg)
    elif cfg.method == "gaussian":
        data = gaussian_density(model_xyz(st), _atomic_numbers(st), grid,
                                SIGMA_PER_RESOLUTION * cfg.resolution)
    else:
        raise ValueError(f"unknown density method {cfg.method!r} (use 'electron' or 'gaussian')")
    out = grid.copy(data=data.astype(np.float32))
    out.path = None
    return lowpass(out, cfg.resolution)


def model_map(st: gemmi.Structure, like: Map, b_factor: float | None = None, check: bool = True) -> Map:
    """The model's density on the grid of ``like`` to Nyquist, without low-pass (for model-map FSC).

    Raises OverlapError when most of the model lies outside the map box (unless ``check`` is False:
    a neighbour partly in a box cut around another chain).
    """
    if check:
        check_overlap(model_xyz(st), like, st.name)
    cfg = SimulationConfig(resolution=2 * float(like.voxel_size.max()), b_factor=b_factor)
    return like.copy(data=_electron_density(st, like, cfg).astype(np.float32))


def _padded(grid: Map, margin_voxels: int) -> tuple[np.ndarray, np.ndarray]:
    shape = np.array(grid.shape[::-1]) + 2 * margin_voxels
    return shape, grid.origin - margin_voxels * grid.voxel_size


def _electron_density(st: gemmi.Structure, grid: Map, cfg: SimulationConfig) -> np.ndarray:
    """Electron-scattering density on ``grid``'s lattice, computed with a margin so nothing wraps."""
    margin = int(np.ceil(8.0 / grid.voxel_size.min()))
    shape, origin = _padded(grid, margin)
    work = first_model(st)
    work.remove_hydrogens()
    shift = gemmi.Position(*(-origin))
    for res in (r for ch in work[0] for r in ch):
        for atom in res:
            atom.pos = atom.pos + shift
            if cfg.b_factor is not None:
                atom.b_iso = cfg.b_factor
    work.cell = gemmi.UnitCell(*(shape * grid.voxel_size), 90, 90, 90)
    work.spacegroup_hm = "P 1"
    dc = gemmi.DensityCalculatorE()
    dc.grid.set_unit_cell(work.cell)
    dc.grid.spacegroup = gemmi.SpaceGroup("P 1")
    dc.grid.set_size(*(int(v) for v in shape))
    b_min = min(a.b_iso for r in work[0][0] for a in r) if len(work[0]) else 0.0
    spacing = float(grid.voxel_size.max())
    dc.blur = max(0.0, 8 * np.pi ** 2 / 1.1 * spacing ** 2 - b_min)   # sample narrow atoms safely
    dc.put_model_density_on_grid(work[0])
    data = np.array(dc.grid, copy=True).T                              # (z, y, x)
    data = _unblur(data, grid.voxel_size, dc.blur)
    m = margin
    return data[m:-m, m:-m, m:-m]


def _unblur(data: np.ndarray, voxel_size: np.ndarray, blur: float) -> np.ndarray:
    """Undo an added isotropic B (blur, Å^2): multiply the transform by exp(+B s^2 / 4)."""
    if blur <= 0:
        return data
    s2 = frequency_grid(data.shape, voxel_size) ** 2
    return np.fft.irfftn(np.fft.rfftn(data) * np.exp(blur * s2 / 4), s=data.shape, axes=(0, 1, 2))


def _atomic_numbers(st: gemmi.Structure) -> np.ndarray:
    return np.array([a.element.atomic_number for ch in st[0] for r in ch for a in r], dtype=np.float64)


def gaussian_density(xyz: np.ndarray, amplitude: np.ndarray, grid: Map, sigma: float) -> np.ndarray:
    """Sum of isotropic Gaussians A exp(-|x - mu|^2 / (2 sigma^2)) on ``grid``, cut at 4 sigma.

    xyz: (N, 3) Angstrom; amplitude: (N,); sigma: Angstrom. Returns (nz, ny, nx) float64.
    """
    out = np.zeros(grid.shape, dtype=np.float64)
    idx = grid.xyz_to_index(xyz)                       # (N, 3) in x, y, z voxel units
    radius = np.ceil(4 * sigma / grid.voxel_size).astype(int)
    offsets = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij"), -1)
    offsets = offsets.reshape(-1, 3)                   # (K, 3) x, y, z
    shape_xyz = np.array(grid.shape[::-1])
    for chunk in np.array_split(np.arange(len(xyz)), max(1, len(xyz) // 256)):
        base = np.round(idx[chunk]).astype(int)
        pts = base[:, None, :] + offsets[None]          # (n, K, 3)
        d = (pts - idx[chunk][:, None, :]) * grid.voxel_size
        val = amplitude[chunk, None] * np.exp(-(d ** 2).sum(-1) / (2 * sigma ** 2))
        ok = np.all((pts >= 0) & (pts < shape_xyz), axis=-1)
        p = pts[ok]
        np.add.at(out, (p[:, 2], p[:, 1], p[:, 0]), val[ok])
    return out
