"""Fourier-space helpers: frequency grids and low-pass filters for maps."""
from __future__ import annotations

import numpy as np

from ..maps import Map


def frequency_grid(shape: tuple[int, int, int], voxel_size: np.ndarray) -> np.ndarray:
    """|s| in 1/Angstrom on the rfftn half-grid of a (nz, ny, nx) map; shape (nz, ny, nx//2+1)."""
    vx, vy, vz = np.asarray(voxel_size, dtype=np.float64).reshape(3)
    fz = np.fft.fftfreq(shape[0], d=vz)
    fy = np.fft.fftfreq(shape[1], d=vy)
    fx = np.fft.rfftfreq(shape[2], d=vx)
    return np.sqrt(fz[:, None, None] ** 2 + fy[None, :, None] ** 2 + fx[None, None, :] ** 2)


def cosine_edge(s: np.ndarray, resolution: float, width: float = 0.1) -> np.ndarray:
    """Filter that is 1 below (1 - width)/R, 0 beyond 1/R, a raised cosine between."""
    s_hi = 1.0 / resolution
    s_lo = (1.0 - width) * s_hi
    t = np.clip((s - s_lo) / (s_hi - s_lo), 0.0, 1.0)
    return 0.5 * (1 + np.cos(np.pi * t))


def lowpass(m: Map, resolution: float, width: float = 0.1) -> Map:
    """Low-pass ``m`` at ``resolution`` Å with a raised-cosine edge (see :func:`cosine_edge`)."""
    s = frequency_grid(m.shape, m.voxel_size)
    f = np.fft.rfftn(m.data.astype(np.float64)) * cosine_edge(s, resolution, width)
    return m.copy(data=np.fft.irfftn(f, s=m.shape, axes=(0, 1, 2)).astype(np.float32))
