"""Atoms the map says nothing about: outside its box, at its faces or in a masked-out region.

A map smaller than the model (a cut-out, a local map, a masked map) holds no density for some
atoms. The map score would pull them into the box, or pull their neighbours into the gap their
missing density leaves, so their residues are held where they are, and atoms with no data at all
take no part in the model's projections.
"""
from __future__ import annotations

import numpy as np

from ..maps import Map

EDGE_FRACTION = 0.5   # residues with atoms less than this x resolution inside a face are held


def hold_without_map(topo, xyz: np.ndarray, m: Map, resolution: float) -> tuple[np.ndarray, list[str]]:
    """Hold every residue with an atom where ``m`` has no data; returns (no_data (N,) bool, notes).

    ``topo.atoms.held`` is set for all atoms of those residues (decoders, rotamer rebuild and
    polish then leave them in place). ``no_data`` marks atoms outside the box or in masked-out
    voxels, which the caller drops from the model's density.
    """
    no_data = m.no_data(xyz)
    near = m.no_data(xyz, margin=EDGE_FRACTION * resolution)
    if not near.any():
        return no_data, []
    residues = np.unique(topo.atoms.residue[near])
    hold = np.isin(topo.atoms.residue, residues)
    newly = hold & ~topo.atoms.held
    topo.atoms.held |= hold
    labels = [topo.residue_label(int(k)) for k in residues]
    shown = ", ".join(labels[:20]) + (f" ... ({len(labels)} in all)" if len(labels) > 20 else "")
    note = (f"held fixed, outside the map or within {EDGE_FRACTION * resolution:.1f} Å of its edge or "
            f"in a masked-out region ({int(no_data.sum())} atoms with no map data, {int(newly.sum())} "
            f"atoms newly held): {shown}")
    return no_data, [note]
