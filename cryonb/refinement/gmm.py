"""The model as a Gaussian mixture: one isotropic Gaussian per heavy atom.

Amplitude: the atom's forward electron scattering factor (:func:`electron_amplitudes`), as in a
cryo-EM potential map (and in maps simulated by :mod:`cryonb.density.simulate`); width: the
resolution blur ``0.225 x resolution`` Å (the molmap convention also used by
:mod:`cryonb.density.simulate`), widened per atom by its B-factor above the model's lowest
(``sigma^2 += (B - B_min) / 8 pi^2``), so a mobile loop weighs in the high-resolution rings as
little as it does in the map. Centres are the atom coordinates in Å in the map's frame (the map
origin is handled by the projections, which work about the map centre in absolute coordinates).
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np
import torch

from ..density.simulate import SIGMA_PER_RESOLUTION


@dataclass
class ModelGMM:
    """xyz: (N, 3) Å start coordinates; amplitude: (N,) f_e(0) in Å; sigma: (N,) Å per atom."""

    xyz: np.ndarray
    amplitude: np.ndarray
    sigma: np.ndarray

    @classmethod
    def from_topology(cls, topo, xyz: np.ndarray, resolution: float,
                      b_factors: np.ndarray | None = None) -> "ModelGMM":
        """The GMM of the topology's heavy atoms at ``xyz`` (N, 3) Å; ``b_factors`` (N,) Å^2."""
        if any(gemmi.Element(e).atomic_number == 1 for e in topo.atoms.elements):
            raise ValueError("the GMM holds heavy atoms only; hydrogens reached it")
        z = electron_amplitudes(topo.atoms.elements)
        b = np.zeros(len(z)) if b_factors is None else np.asarray(b_factors, dtype=np.float64)
        if b.shape != z.shape or not np.all(np.isfinite(b)):
            raise ValueError(f"b_factors: expected {len(z)} finite values, got shape {b.shape}")
        return cls(np.asarray(xyz, dtype=np.float64).copy(), z, spread_sigma(SIGMA_PER_RESOLUTION * resolution, b))

    def amplitude_tensor(self, device="cpu", dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(self.amplitude, device=device, dtype=dtype)

    def sigma_tensor(self, device="cpu", dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(self.sigma, device=device, dtype=dtype)


def spread_sigma(base_sigma: float, b: np.ndarray, share: float = 1.0) -> np.ndarray:
    """(N,) Gaussian widths (Å): ``base_sigma`` widened by ``share`` of each B above the lowest
    (Å^2), ``sigma^2 = base^2 + share (B - B_min) / 8 pi^2``."""
    b = np.asarray(b, dtype=np.float64)
    return np.sqrt(base_sigma ** 2 + share * (b - b.min()) / (8 * np.pi ** 2))


def electron_amplitudes(elements) -> np.ndarray:
    """(N,) forward electron scattering factor f_e(0) (Å) of each element (ITC Table 4.3.2.2,
    gemmi's ``c4322``): the weight of an atom in a cryo-EM potential map, where O (1.98) weighs
    less than C (2.51) and S (5.16) about twice C, unlike electron counts. An unknown element
    (X, as in a UNX 'unknown atom or ion') weighs as gemmi's table has it (as O)."""
    return np.array([sum(gemmi.Element(e).c4322.a) for e in elements], dtype=np.float64)


def b_factors(topo, st: gemmi.Structure) -> np.ndarray:
    """(N,) isotropic B-factors (Å^2) of the topology's atoms in model 1 of ``st``."""
    model = st[0]
    return np.array([model[c][r][a].b_iso for c, r, a in topo.gemmi_index], dtype=np.float64)


def occupancies(topo, st: gemmi.Structure) -> np.ndarray:
    """(N,) occupancies of the topology's atoms in model 1 of ``st``, clipped to [0, 1]."""
    model = st[0]
    occ = np.array([model[c][r][a].occ for c, r, a in topo.gemmi_index], dtype=np.float64)
    return np.clip(np.nan_to_num(occ, nan=1.0), 0.0, 1.0)
