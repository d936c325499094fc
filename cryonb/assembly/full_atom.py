"""Full atoms from an assembled C-alpha chain: PULCHRA's backbone and side chains, then geometry.

PULCHRA (the ``pulchra`` package, MIT; its C-alpha optimisation and excluded-volume pass off, so
the C-alphas stay where the assembly put them) builds the backbone and side chains. Its terminal
residues collapse (the first residue's side chain within 1 Å of its C-alpha, a 1.2 Å CA-C bond):
each end is therefore given a virtual glycine first, placed so the virtual angle at the end
repeats the one next to it, and the virtual residues are removed afterwards. The project's
geometry-only refinement (:func:`cryonb.refinement.geometry_only.refine_geometry`, atoms tethered
in place) then brings bonds, angles, planes, rotamers and clashes to MolProbity grade.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import gemmi
import numpy as np

from ..io import calpha_model, read_model
from ..sequence import THREE_LETTER


def pulchra_model(xyz: np.ndarray, sequence: str, chain: str = "A") -> gemmi.Structure:
    """Backbone and side chains for C-alphas ``xyz`` (L, 3) Å of ``sequence`` (one-letter, L),
    residues numbered 1..L, C-alphas unmoved."""
    from pulchra import Pulchra
    xyz = np.asarray(xyz, dtype=np.float64)
    if len(xyz) != len(sequence) or len(xyz) < 3:
        raise ValueError(f"{len(xyz)} C-alphas for a sequence of {len(sequence)} (at least 3 needed)")
    padded = np.vstack([xyz[0] - (xyz[2] - xyz[1]), xyz, xyz[-1] + (xyz[-2] - xyz[-3])])
    names = ["GLY"] + [THREE_LETTER.get(c, "ALA") for c in sequence] + ["GLY"]
    with tempfile.TemporaryDirectory() as tmp:
        ca_path, full_path = Path(tmp) / "ca.pdb", Path(tmp) / "full.pdb"
        calpha_model([(chain, padded, names, None, None)]).write_pdb(str(ca_path))
        with warnings.catch_warnings():       # scipy's "rotation poorly defined" on straight stretches
            warnings.simplefilter("ignore", UserWarning)
            Pulchra(ca_optimize=False, optimize_xvol=False).reconstruct(str(ca_path), str(full_path))
        st = read_model(full_path)
    residues = st[0][0]
    del residues[len(residues) - 1]
    del residues[0]
    for k, res in enumerate(residues, start=1):
        res.seqid = gemmi.SeqId(k, " ")
    st.setup_entities()
    return st


def full_atom_model(xyz: np.ndarray, sequence: str, steps: int = 300, threads: int | None = None):
    """PULCHRA's model of C-alphas ``xyz`` (L, 3) Å regularised by ``steps`` iterations of
    geometry-only refinement; returns the :class:`GeometryRefineResult` (its ``structure``)."""
    from ..refinement.geometry_only import GeometryRefineConfig, refine_geometry
    return refine_geometry(pulchra_model(xyz, sequence), GeometryRefineConfig(steps=steps, threads=threads))
