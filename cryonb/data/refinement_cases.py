"""The bundled refinement examples: AdK open into a closed-state map, and noisy AdK polishing.

Both maps are simulated (electron scattering factors, low-passed at the resolution) with white
noise, so the right answer is known: the closed structure (PDB 1AKE).
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi

from ..density.noise import add_noise
from ..density.simulate import SimulationConfig, simulate_map
from ..io import model_xyz, set_model_xyz
from ..maps import Map
from ..perturb import jitter
from ..superpose import superpose
from .adk import adk_closed, adk_open, core_domain_mask


@dataclass
class RefinementCase:
    """A start model, a map, its resolution (Å) and the true model (same atom order)."""

    name: str
    model: gemmi.Structure
    map: Map
    resolution: float
    reference: gemmi.Structure


def adk_domain_motion(resolution: float = 5.0, snr: float = 1.0, seed: int = 0) -> RefinementCase:
    """AdK open (4AKE) placed on the closed state by its CORE domain, and a closed-state map.

    The open model is superposed on 1AKE over the CORE residues (1-29, 60-121, 160-214), as a
    user would place it before refining; LID and NMP are then 6-7 Å C-alpha RMSD away.
    ``snr``: signal-to-noise variance ratio over the box (see :func:`cryonb.density.add_noise`).
    """
    closed, start = adk_closed(), adk_open()
    mask = core_domain_mask(start)
    set_model_xyz(start, superpose(model_xyz(start), model_xyz(closed), mask))
    start.name = "adk_open_on_core"
    m = simulate_map(closed, SimulationConfig(resolution=resolution, voxel_size=1.0))
    return RefinementCase("adk_domain_motion", start, add_noise(m, snr, seed), resolution, closed)


def adk_polish(resolution: float = 3.0, sigma: float = 0.3, snr: float = 1.0, seed: int = 0
               ) -> RefinementCase:
    """AdK closed with ``sigma`` Å coordinate noise, in its own map at ``resolution``."""
    closed = adk_closed()
    start = jitter(closed, sigma, seed=seed)
    start.name = f"adk_closed_noise{sigma:g}"
    m = simulate_map(closed, SimulationConfig(resolution=resolution, voxel_size=1.0))
    return RefinementCase("adk_polish", start, add_noise(m, snr, seed), resolution, closed)
