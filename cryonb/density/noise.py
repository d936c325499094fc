"""Noise at a chosen signal-to-noise ratio, and independent half maps."""
from __future__ import annotations

import numpy as np

from ..maps import Map, require_same_grid


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
