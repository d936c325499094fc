"""The bundled series example: maps along the DIMS closed -> open trajectory of AdK.

Every DIMS frame is superposed on AdK closed (1AKE) by the CORE domain, so the CORE stays put and
LID and NMP swing open, as a heterogeneity analysis would see them in one consensus frame. Maps
are simulated at evenly spaced frames on one common grid, by cryonb's simulator with white noise
or by another simulator (:mod:`.other_simulators`); the latent of a map is its frame index
normalised to [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from ..density.noise import add_noise
from ..density.simulate import SimulationConfig, box_around_points, simulate_map
from ..io import model_xyz, set_model_xyz
from ..maps import Map
from ..superpose import superpose
from .adk import adk_closed, adk_dims_frames, core_domain_mask
from .other_simulators import simulate_other


@dataclass
class SeriesCase:
    """Start model, maps with their latents and frame indices, and the true frames (same atoms)."""

    model: gemmi.Structure
    maps: list[Map]
    latents: np.ndarray          # (M, 1)
    map_frames: np.ndarray       # (M,) frame index of each map
    frames: np.ndarray           # (F, N, 3) Å, every true frame superposed by CORE
    frame_latents: np.ndarray    # (F, 1)
    resolution: float


def dims_frames_on_core() -> np.ndarray:
    """(98, N, 3) DIMS frames superposed on 1AKE by the atoms of the CORE domain."""
    closed = adk_closed()
    ref, mask = model_xyz(closed), core_domain_mask(closed)
    return np.stack([superpose(f.astype(np.float64), ref, mask) for f in adk_dims_frames()])


def adk_dims_series(resolution: float = 8.0, n_maps: int = 10, snr: float | None = 1.0, voxel_size: float = 1.5,
                    seed: int = 0, simulator: str = "cryonb") -> SeriesCase:
    """Maps at ``n_maps`` evenly spaced DIMS frames; the start model is AdK closed.

    ``simulator``: "cryonb" (:func:`~cryonb.density.simulate.simulate_map`, white noise at ``snr``,
    noise-free when it is None) or one of :data:`~.other_simulators.SIMULATORS` (their own
    conventions and noise, calibrated to the resolution; ``snr`` None makes them noise-free).
    """
    frames = dims_frames_on_core()
    picked = np.unique(np.round(np.linspace(0, len(frames) - 1, n_maps)).astype(int))
    grid = box_around_points(frames, voxel_size, padding=10.0)
    cfg = SimulationConfig(resolution=resolution, voxel_size=voxel_size)
    st = adk_closed()
    maps = []
    for k, i in enumerate(picked):
        set_model_xyz(st, frames[i])
        if simulator != "cryonb":
            maps.append(simulate_other(st, grid, resolution, simulator, seed + k, noise=snr is not None))
            continue
        m = simulate_map(st, cfg, like=grid)
        maps.append(m if snr is None else add_noise(m, snr, seed + k))
    t = np.arange(len(frames), dtype=np.float64)[:, None] / (len(frames) - 1)
    return SeriesCase(adk_closed(), maps, t[picked], picked, frames, t, resolution)
