"""The model as a Gaussian mixture: one isotropic Gaussian per heavy atom.

Amplitude: the atomic number (electrons), so a sulfur weighs more than a carbon; width:
``0.225 x resolution`` Å, the molmap convention also used by :mod:`cryonb.density.simulate`.
Centres are the atom coordinates in Å in the map's frame (the map origin is handled by the
projections, which work about the map centre in absolute coordinates).
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np
import torch

from ..density.simulate import SIGMA_PER_RESOLUTION


@dataclass
class ModelGMM:
    """xyz: (N, 3) Å start coordinates; amplitude: (N,) electrons; sigma: Å."""

    xyz: np.ndarray
    amplitude: np.ndarray
    sigma: float

    @classmethod
    def from_topology(cls, topo, xyz: np.ndarray, resolution: float) -> "ModelGMM":
        """The GMM of the topology's heavy atoms at coordinates ``xyz`` (N, 3) Å."""
        z = np.array([gemmi.Element(e).atomic_number for e in topo.atoms.elements], dtype=np.float64)
        if np.any(z <= 1):
            raise ValueError("the GMM holds heavy atoms only; hydrogens reached it")
        return cls(np.asarray(xyz, dtype=np.float64).copy(), z, SIGMA_PER_RESOLUTION * resolution)

    def amplitude_tensor(self, device="cpu", dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(self.amplitude, device=device, dtype=dtype)
