"""Maps made the way other tools make them, for benchmarks that must not flatter cryonb.

cryonb's own simulator (:mod:`cryonb.density.simulate`) blurs every atom by 0.225 x resolution,
the width the refinement's Gaussians assume, and cuts with a raised cosine at the resolution.
The simulators here share none of those conventions:

* ``"gemmi"``: gemmi's ``DensityCalculatorE`` (electron form factors) with each atom's own
  B-factor plus a global B (:data:`GLOBAL_B`, unknown to the refinement), then a Butterworth
  low-pass at the resolution (a reconstruction filtered at its FSC resolution); noise falls
  with frequency as an unsharpened reconstruction's does.
* ``"eq2"``: CR-I-TASSER's equation 2, one Gaussian per heavy atom with amplitude its atomic
  number and sigma = R / (sqrt(2) pi), no B-factors, summed in real space; then sharpened
  (a negative global B) and cut by a tanh low-pass, as a sharpened map is; white noise,
  amplified at high frequency by the sharpening.

Noise is calibrated as a map's resolution is defined: the signal-to-noise power ratio in the
shell just inside 1/resolution is 1/3 in the finished (filtered) map, where the FSC of the map against its true model falls to
0.5 (a half-map FSC of 0.143). So an "8 Å map" here is as noisy at 8 Å as an experimental one.
"""
from __future__ import annotations

import gemmi
import numpy as np

from ..density.filters import frequency_grid
from ..density.noise import shell_noise
from ..io import first_model
from ..maps import Map

SIMULATORS = ("gemmi", "eq2")
GLOBAL_B = {"gemmi": 60.0, "eq2": -50.0}   # Å^2: blur or sharpening the refinement is not told
SHELL_SNR = 1.0 / 3.0                        # signal / noise power in the shell at the resolution


def simulate_other(st: gemmi.Structure, like: Map, resolution: float, simulator: str,
                   seed: int | None = 0, noise: bool = True) -> Map:
    """A map of ``st`` (first model, heavy atoms) on the grid of ``like`` at ``resolution`` Å
    made by ``simulator`` (one of :data:`SIMULATORS`), with its noise unless ``noise=False``."""
    if simulator == "gemmi":
        signal = _gemmi_density(st, like, GLOBAL_B["gemmi"])
    elif simulator == "eq2":
        signal = _bfactor(_eq2_density(st, like, resolution), like, GLOBAL_B["eq2"])
    else:
        raise ValueError(f"unknown simulator {simulator!r} (use one of {', '.join(SIMULATORS)})")
    f = _post_filter(like, resolution, simulator)
    transform = np.fft.rfftn(signal) * f
    if noise:
        transform = transform + calibrated_noise(transform, like, resolution, _noise_shape(like, simulator) * f ** 2,
                                                 seed)
    return like.copy(data=np.fft.irfftn(transform, s=signal.shape, axes=(0, 1, 2)).astype(np.float32))


def calibrated_noise(signal: np.ndarray, grid: Map, resolution: float, shape: np.ndarray,
                     seed: int | None) -> np.ndarray:
    """The transform (rfft half-grid) of Gaussian noise with power spectrum ``shape``, scaled so the
    power of ``signal`` (a transform on the same half-grid) over the noise's in the shell
    [0.9/R, 1/R] is :data:`SHELL_SNR`."""
    return shell_noise(signal, grid, resolution, shape, SHELL_SNR, np.random.default_rng(seed))


def _noise_shape(grid: Map, simulator: str) -> np.ndarray:
    s = frequency_grid(grid.shape, grid.voxel_size)
    if simulator == "gemmi":
        return np.exp(-100.0 * s ** 2 / 2)     # power falls as an envelope of B = 100 Å^2
    return np.ones_like(s)


def _post_filter(grid: Map, resolution: float, simulator: str) -> np.ndarray:
    """The reconstruction's low-pass on the rfft half-grid (applied to signal and noise alike)."""
    s = frequency_grid(grid.shape, grid.voxel_size) * resolution     # in units of 1/R
    if simulator == "gemmi":
        return 1.0 / np.sqrt(1.0 + s ** 16)                           # Butterworth, order 8
    return 0.5 * (1.0 - np.tanh((s - 1.0) / 0.05))                    # tanh edge, fall-off 0.05


def _bfactor(data: np.ndarray, grid: Map, b: float) -> np.ndarray:
    """Apply a global B (Å^2; negative sharpens): the transform times exp(-B s^2 / 4)."""
    s2 = frequency_grid(data.shape, grid.voxel_size) ** 2
    return np.fft.irfftn(np.fft.rfftn(data) * np.exp(-b * s2 / 4), s=data.shape, axes=(0, 1, 2))


def _heavy_atoms(st: gemmi.Structure):
    work = first_model(st)
    work.remove_hydrogens()
    return [a for ch in work[0] for r in ch for a in r]


def _gemmi_density(st: gemmi.Structure, grid: Map, global_b: float) -> np.ndarray:
    """gemmi DensityCalculatorE on the box (periodic), atoms' B + ``global_b``, gemmi's cut-offs."""
    work = first_model(st)
    work.remove_hydrogens()
    n = np.array(grid.shape[::-1])
    shift = gemmi.Position(*(-grid.origin))
    for a in (a for ch in work[0] for r in ch for a in r):
        a.pos = a.pos + shift
        a.b_iso = a.b_iso + global_b
    work.cell = gemmi.UnitCell(*(n * grid.voxel_size), 90, 90, 90)
    work.spacegroup_hm = "P 1"
    dc = gemmi.DensityCalculatorE()
    dc.grid.set_unit_cell(work.cell)
    dc.grid.spacegroup = gemmi.SpaceGroup("P 1")
    dc.grid.set_size(*(int(v) for v in n))
    dc.put_model_density_on_grid(work[0])
    return np.array(dc.grid, copy=True).T


def _eq2_density(st: gemmi.Structure, grid: Map, resolution: float) -> np.ndarray:
    """Sum over heavy atoms of Z / sqrt(2 pi sigma^2) exp(-|y - x|^2 / 2 sigma^2), sigma = R / (sqrt 2 pi),
    in real space within 4 sigma of each atom."""
    sigma = resolution / (np.sqrt(2.0) * np.pi)
    out = np.zeros(grid.shape, dtype=np.float64)
    axes = [grid.origin[i] + np.arange(grid.shape[2 - i]) * grid.voxel_size[i] for i in range(3)]   # x, y, z
    reach = 4 * sigma
    for a in _heavy_atoms(st):
        p = np.array([a.pos.x, a.pos.y, a.pos.z])
        sl, g = [], []
        for i in range(3):
            lo = np.searchsorted(axes[i], p[i] - reach)
            hi = np.searchsorted(axes[i], p[i] + reach)
            sl.append(slice(lo, hi))
            g.append(np.exp(-(axes[i][lo:hi] - p[i]) ** 2 / (2 * sigma ** 2)))
        block = g[2][:, None, None] * g[1][None, :, None] * g[0][None, None, :]
        out[sl[2], sl[1], sl[0]] += a.element.atomic_number / np.sqrt(2 * np.pi * sigma ** 2) * block
    return out
