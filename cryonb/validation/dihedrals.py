"""Backbone (phi, psi, omega) and side-chain (chi1-chi4) dihedrals with MolProbity's definitions.

Only the 20 standard amino acids are measured, in the first model and the first conformer
of alternate locations. Residue i is linked to the previous amino acid of its chain when
C(i-1)-N(i) < 2.0 Angstrom: the distance test cctbx's ramalyze uses when no restraints are
given (a peptide bond is 1.33 Angstrom; a break leaves the atoms several Angstrom apart, and
matching ramalyze matters more than tolerating badly stretched bonds). A residue after a
break has no phi or omega; one before a break has no psi. Chi angles use MolProbity's atoms
(Val and Ile chi1 to CG1, Thr chi1 to OG1, His chi2 to ND1, Asp/Asn chi2 to OD1, Glu/Gln chi3
to OE1, Pro chi3 CB-CG-CD-N). Missing atoms give NaN. Angles are degrees in (-180, 180].
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from ..errors import ModelError
from ..geometry.linking import dihedral_deg as dihedral_angles

LINK_CUTOFF = 2.0   # Angstrom, C(i-1)-N(i)
CIS_LIMIT = 90.0    # |omega| below this is cis-like (ramalyze's split for the cis/trans-Pro classes)

_CHI_CORE = [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD")]
CHI_ATOMS: dict[str, list[tuple[str, str, str, str]]] = {
    "GLY": [], "ALA": [],
    "SER": [("N", "CA", "CB", "OG")],
    "CYS": [("N", "CA", "CB", "SG")],
    "THR": [("N", "CA", "CB", "OG1")],
    "VAL": [("N", "CA", "CB", "CG1")],
    "ILE": [("N", "CA", "CB", "CG1"), ("CA", "CB", "CG1", "CD1")],
    "LEU": [_CHI_CORE[0], ("CA", "CB", "CG", "CD1")],
    "ASP": [_CHI_CORE[0], ("CA", "CB", "CG", "OD1")],
    "ASN": [_CHI_CORE[0], ("CA", "CB", "CG", "OD1")],
    "HIS": [_CHI_CORE[0], ("CA", "CB", "CG", "ND1")],
    "PHE": [_CHI_CORE[0], ("CA", "CB", "CG", "CD1")],
    "TYR": [_CHI_CORE[0], ("CA", "CB", "CG", "CD1")],
    "TRP": [_CHI_CORE[0], ("CA", "CB", "CG", "CD1")],
    "MET": [_CHI_CORE[0], ("CA", "CB", "CG", "SD"), ("CB", "CG", "SD", "CE")],
    "GLU": _CHI_CORE + [("CB", "CG", "CD", "OE1")],
    "GLN": _CHI_CORE + [("CB", "CG", "CD", "OE1")],
    "PRO": _CHI_CORE + [("CB", "CG", "CD", "N")],
    "LYS": _CHI_CORE + [("CB", "CG", "CD", "CE"), ("CG", "CD", "CE", "NZ")],
    "ARG": _CHI_CORE + [("CB", "CG", "CD", "NE"), ("CG", "CD", "NE", "CZ")],
}
STANDARD_AA = frozenset(CHI_ATOMS)

# Backbone torsions as (residue offset, atom name) quadruples: -1 previous, 0 this, +1 next.
_BACKBONE = {
    "phi": ((-1, "C"), (0, "N"), (0, "CA"), (0, "C")),
    "psi": ((0, "N"), (0, "CA"), (0, "C"), (1, "N")),
    "omega": ((-1, "CA"), (-1, "C"), (0, "N"), (0, "CA")),
}


@dataclass(frozen=True)
class Torsions:
    """Per-residue dihedrals (degrees, NaN when undefined) of the standard amino acids, (n,) each."""

    chain: np.ndarray         # chain names
    seqid: np.ndarray         # sequence number with insertion code, e.g. "27" or "27A"
    resname: np.ndarray
    next_resname: np.ndarray  # name of the linked next residue, "" at a chain end or break
    phi: np.ndarray
    psi: np.ndarray
    omega: np.ndarray         # peptide bond before this residue: CA(i-1)-C(i-1)-N(i)-CA(i)
    chi: np.ndarray           # (n, 4): chi1..chi4

    def __len__(self) -> int:
        return len(self.resname)


def is_cis(omega: np.ndarray) -> np.ndarray:
    """True where a peptide is cis-like (|omega| < 90 degrees), as ramalyze splits cis/trans-Pro."""
    return np.abs(np.asarray(omega, dtype=float)) < CIS_LIMIT


def _first_conformer_atoms(res: gemmi.Residue) -> dict[str, np.ndarray]:
    return {a.name: np.array(a.pos.tolist()) for a in res.first_conformer()}


def _amino_acids(st: gemmi.Structure) -> list[tuple[str, gemmi.Residue, dict, bool]]:
    """(chain, residue, atoms, linked-to-previous) for every standard amino acid in model 1."""
    if len(st) == 0:
        raise ModelError(st.name or None, "structure has no models")
    out = []
    for chain in st[0]:
        prev_c = None
        for res in chain:
            if res.name not in STANDARD_AA:
                prev_c = None
                continue
            atoms = _first_conformer_atoms(res)
            linked = (prev_c is not None and "N" in atoms
                      and float(np.linalg.norm(atoms["N"] - prev_c)) < LINK_CUTOFF)
            out.append((chain.name, res, atoms, linked))
            prev_c = atoms.get("C")
    return out


def residue_torsions(st: gemmi.Structure) -> Torsions:
    """phi, psi, omega and chi1-chi4 of every standard amino acid in the first model of ``st``."""
    residues = _amino_acids(st)
    n = len(residues)
    quads = np.full((n, 7, 4, 3), np.nan)
    next_name = [""] * n
    for i, (_, res, atoms, linked) in enumerate(residues):
        linked_next = i + 1 < n and residues[i + 1][3]
        if linked_next:
            next_name[i] = residues[i + 1][1].name
        neighbours = {-1: residues[i - 1][2] if linked else None, 0: atoms,
                      1: residues[i + 1][2] if linked_next else None}
        torsions = list(_BACKBONE.values()) + [tuple((0, a) for a in names)
                                               for names in CHI_ATOMS[res.name]]
        for t, quad in enumerate(torsions):
            for j, (offset, name) in enumerate(quad):
                source = neighbours[offset]
                if source is not None and name in source:
                    quads[i, t, j] = source[name]
    angles = dihedral_angles(quads) if n else np.zeros((0, 7))
    return Torsions(
        chain=np.array([r[0] for r in residues], dtype=object),
        seqid=np.array([str(r[1].seqid).strip() for r in residues], dtype=object),
        resname=np.array([r[1].name for r in residues], dtype=object),
        next_resname=np.array(next_name, dtype=object),
        phi=angles[:, 0], psi=angles[:, 1], omega=angles[:, 2], chi=angles[:, 3:7])
