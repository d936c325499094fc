"""Atoms the map says nothing about: outside its box, at its faces or in a masked-out region.

A map smaller than the model (a cut-out, a local map, a masked map) holds no density for some
atoms. The map score would pull them into the box, or pull their neighbours into the gap their
missing density leaves. So atoms with no data take no part in the model's projections (the map
never pulls them), and their residues, with those at the box's faces, are tethered to where they
are (as waters are: 0.3 Å) while their restraints keep them chemically right. Frozen instead,
a noisy or strained start would keep its errors: chain A of 6GYN from 0.3 Å noise ended with
ligand bond RMSZ 8.8 in two frozen lipids at the box edge.
"""
from __future__ import annotations

import numpy as np

from ..maps import Map

EDGE_FRACTION = 0.5   # residues with atoms less than this x resolution inside a face are tethered


def tether_without_map(topo, xyz: np.ndarray, m: Map, resolution: float) -> tuple[np.ndarray, list[str]]:
    """Tether every residue with an atom where ``m`` has no data; returns (no_data (N,) bool, notes).

    ``topo.atoms.tethered`` is set for all atoms of those residues (the geometry terms then hold
    them near ``xyz``; the rotamer rebuild leaves them alone). ``no_data`` marks atoms outside the
    box or in masked-out voxels, which the caller drops from the model's density.
    """
    no_data = m.no_data(xyz)
    near = m.no_data(xyz, margin=EDGE_FRACTION * resolution)
    if not near.any():
        return no_data, []
    residues = np.unique(topo.atoms.residue[near])
    tether = np.isin(topo.atoms.residue, residues) & ~topo.atoms.held
    newly = tether & ~topo.atoms.tethered
    topo.atoms.tethered |= tether
    note = (f"outside the map or within {EDGE_FRACTION * resolution:.1f} Å of its edge or in a masked-out "
            f"region, not pulled by the map and tethered to their start (restraints kept; {int(no_data.sum())} "
            f"atoms with no map data, {int(newly.sum())} atoms newly tethered): {topo.residue_labels(residues)}")
    return no_data, [note]
