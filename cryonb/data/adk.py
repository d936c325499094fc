"""Adenylate kinase: open (4AKE), closed (1AKE) and the DIMS closed->open transition.

From the MDAnalysisTests package, cleaned to PDB naming (no hydrogens, chain A)
and cached in the user data folder on first use. The three share one atom order.
"""
from __future__ import annotations

import gemmi
import numpy as np

from ..atomic import atomic_path
from ..io import read_model, structure_from_frames, write_model
from .charmm import clean_charmm, read_bundled
from .dcd import read_dcd
from .sources import cache_dir, mdanalysis_test_file

CACHE = "adk-v1"   # bump when the cleaning changes, so stale cached files are not reused
CORE_DOMAIN = [(1, 29), (60, 121), (160, 214)]   # residue ranges used to superpose AdK states


def _cleaned(name: str) -> gemmi.Structure:
    cached = cache_dir() / CACHE / f"{name}.pdb"
    if not cached.exists():
        raw = read_bundled(mdanalysis_test_file(f"{name}.pdb"))
        st, _ = clean_charmm(raw)
        write_model(st, cached)
    return read_model(cached)


def adk_open() -> gemmi.Structure:
    """AdK open state (PDB 4AKE), 214 residues, 1656 heavy atoms, chain A."""
    return _cleaned("adk_open")


def adk_closed() -> gemmi.Structure:
    """AdK closed state (PDB 1AKE, with Ap5A removed), same atom order as :func:`adk_open`."""
    return _cleaned("adk_closed")


def adk_dims_frames() -> np.ndarray:
    """DIMS closed->open transition, float32 (98, 1656, 3) Angstrom, in the cleaned atom order."""
    cached = cache_dir() / CACHE / "adk_dims_heavy.npy"
    if not cached.exists():
        raw = read_bundled(mdanalysis_test_file("adk_open.pdb"))
        _, kept = clean_charmm(raw)
        frames = read_dcd(mdanalysis_test_file("adk_dims.dcd"))[:, kept]
        with atomic_path(cached) as tmp, open(tmp, "wb") as fh:
            np.save(fh, frames)
    return np.load(cached)


def adk_dims() -> gemmi.Structure:
    """The DIMS trajectory as a 98-model Structure (model 1 closed ... model 98 open)."""
    return structure_from_frames(adk_open(), adk_dims_frames())


def core_domain_mask(st: gemmi.Structure) -> np.ndarray:
    """Boolean (N,) mask over the atoms of model 1 that lie in the AdK CORE domain."""
    seq = [r.seqid.num for ch in st[0] for r in ch for _ in r]
    return np.array([any(a <= s <= b for a, b in CORE_DOMAIN) for s in seq])
