"""Named backbone and side-chain torsions as index arrays (for priors and reports).

Protein: phi, psi, omega (of the peptide before the residue), chi1-chi4.
Nucleic acids: alpha-zeta and chi (O4'-C1'-N9-C4 for purines, O4'-C1'-N1-C2 for pyrimidines).
Neighbours come from the topology's polymer links, so chain breaks are respected.
"""
from __future__ import annotations

import numpy as np

CHI = {
    "ARG": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "NE"), ("CG", "CD", "NE", "CZ")],
    "ASN": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "OD1")],
    "ASP": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "OD1")],
    "CYS": [("N", "CA", "CB", "SG")],
    "GLN": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "OE1")],
    "GLU": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "OE1")],
    "HIS": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "ND1")],
    "ILE": [("N", "CA", "CB", "CG1"), ("CA", "CB", "CG1", "CD1")],
    "LEU": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")],
    "LYS": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "CE"), ("CG", "CD", "CE", "NZ")],
    "MET": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "SD"), ("CB", "CG", "SD", "CE")],
    "PHE": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")],
    "PRO": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD")],
    "SER": [("N", "CA", "CB", "OG")],
    "THR": [("N", "CA", "CB", "OG1")],
    "TRP": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")],
    "TYR": [("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")],
    "VAL": [("N", "CA", "CB", "CG1")],
}
# (offset of the residue holding each atom: -1 previous, 0 this, +1 next; atom name)
PROTEIN = {"phi": [(-1, "C"), (0, "N"), (0, "CA"), (0, "C")],
           "psi": [(0, "N"), (0, "CA"), (0, "C"), (1, "N")],
           "omega": [(-1, "CA"), (-1, "C"), (0, "N"), (0, "CA")]}
NUCLEIC = {"alpha": [(-1, "O3'"), (0, "P"), (0, "O5'"), (0, "C5'")],
           "beta": [(0, "P"), (0, "O5'"), (0, "C5'"), (0, "C4'")],
           "gamma": [(0, "O5'"), (0, "C5'"), (0, "C4'"), (0, "C3'")],
           "delta": [(0, "C5'"), (0, "C4'"), (0, "C3'"), (0, "O3'")],
           "epsilon": [(0, "C4'"), (0, "C3'"), (0, "O3'"), (1, "P")],
           "zeta": [(0, "C3'"), (0, "O3'"), (1, "P"), (1, "O5'")]}
PURINES = {"A", "G", "DA", "DG"}


def named_torsions(topo) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (atom indices (m, 4), residue indices (m,)) over the residues where all atoms exist."""
    prev = {lk.j: lk.i for lk in topo.links if lk.polymer}
    nxt = {lk.i: lk.j for lk in topo.links if lk.polymer}
    out: dict[str, list] = {}
    for k, r in enumerate(topo.residues):
        if r.polymer == "peptide":
            defs = dict(PROTEIN)
            defs.update({f"chi{n + 1}": [(0, a) for a in q] for n, q in enumerate(CHI.get(r.name, []))})
        elif r.polymer == "nucleic":
            defs = dict(NUCLEIC)
            defs["chi"] = [(0, a) for a in (("O4'", "C1'", "N9", "C4") if r.name in PURINES
                                            else ("O4'", "C1'", "N1", "C2"))]
        else:
            continue
        for name, atoms in defs.items():
            idx = _resolve(topo, k, atoms, prev, nxt)
            if idx is not None:
                out.setdefault(name, []).append((idx, k))
    return {name: (np.array([i for i, _ in rows], dtype=np.int64), np.array([k for _, k in rows], dtype=np.int64))
            for name, rows in out.items()}


def _resolve(topo, k: int, atoms, prev: dict, nxt: dict) -> list[int] | None:
    idx = []
    for offset, name in atoms:
        res = k if offset == 0 else prev.get(k) if offset < 0 else nxt.get(k)
        if res is None or name not in topo.residues[res].atoms:
            return None
        idx.append(topo.residues[res].atoms[name])
    return idx
