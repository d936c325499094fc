"""Perturbed copies of models, for testing validation metrics and refinement."""
from __future__ import annotations

import gemmi
import numpy as np


def jitter(st: gemmi.Structure, sigma: float, seed: int = 0) -> gemmi.Structure:
    """A copy of ``st`` with isotropic Gaussian noise on every atom of every model.

    Each Cartesian coordinate (x, y and z separately) gets an independent N(0, sigma²)
    offset in Å, so the 3D displacement of an atom has RMS ``sigma * sqrt(3)`` and a
    bond length changes by about ``sigma * sqrt(2)`` RMS. Noise is drawn from
    ``np.random.default_rng(seed)`` in atom order (model, chain, residue, atom), so
    the same seed and model give the same copy. The input is not modified.
    """
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    out = st.clone()
    rng = np.random.default_rng(seed)
    for model in out:
        atoms = [a for ch in model for res in ch for a in res]
        noise = rng.normal(0.0, sigma, size=(len(atoms), 3))
        for atom, (dx, dy, dz) in zip(atoms, noise):
            p = atom.pos
            atom.pos = gemmi.Position(p.x + dx, p.y + dy, p.z + dz)
    return out
