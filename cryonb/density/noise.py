"""Noise at a chosen signal-to-noise ratio, and independent half maps."""
from __future__ import annotations

import numpy as np

from ..maps import Map, require_same_grid
from .filters import frequency_grid


def noise_sigma(m: Map, snr: float) -> float:
    """Standard deviation of white noise giving ``snr`` = var(signal) / var(noise) over the box."""
    if snr <= 0:
        raise ValueError(f"SNR must be positive, got {snr}")
    return float(np.sqrt(m.data.astype(np.float64).var() / snr))


def add_noise(m: Map, snr: float, seed: int | None = 0) -> Map:
    """``m`` plus white Gaussian noise at ``snr`` (variance ratio over the whole box)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, noise_sigma(m, snr), size=m.shape)
    return m.copy(data=(m.data + noise).astype(np.float32))


def half_maps(m: Map, snr: float, seed: int | None = 0) -> tuple[Map, Map]:
    """Two half maps with independent noise; their average has ``snr`` (each half has snr / 2)."""
    rng = np.random.default_rng(seed)
    sigma_half = noise_sigma(m, snr) * np.sqrt(2.0)
    halves = [m.copy(data=(m.data + rng.normal(0.0, sigma_half, size=m.shape)).astype(np.float32))
              for _ in range(2)]
    return halves[0], halves[1]


def average(a: Map, b: Map) -> Map:
    """The full map (a + b) / 2 from two half maps on one grid."""
    require_same_grid(a, b)
    return a.copy(data=(a.data + b.data) / 2)


def shell_noise(signal: np.ndarray, grid: Map, resolution: float, power: np.ndarray, snr: float,
                rng: np.random.Generator) -> np.ndarray:
    """The transform (rfft half-grid of ``grid``) of Gaussian noise with power spectrum ``power``
    (same half-grid), scaled so that the power of ``signal`` (a transform on that half-grid) over
    the noise's is ``snr`` in the shell [0.9 / resolution, 1 / resolution] (a map's resolution is
    where that ratio is about 1/3)."""
    coloured = np.fft.rfftn(rng.standard_normal(grid.shape)) * np.sqrt(power)
    s = frequency_grid(grid.shape, grid.voxel_size)
    shell = (s >= 0.9 / resolution) & (s < 1.0 / resolution)
    p_signal = (np.abs(signal[shell]) ** 2).mean()
    p_noise = (np.abs(coloured[shell]) ** 2).mean()
    return coloured * np.sqrt(p_signal / (snr * p_noise))
