"""C-beta ideal positions: the residue-class values of MolProbity's cbetadev, as a validation
measure and as restraints (two dihedrals per residue, as phenix's ``c_beta_restraints``).

The ideal CB is built from N, C and CA twice: with the angle C-CA-CB and the dihedral N-C-CA-CB,
and with the angle N-CA-CB and the dihedral C-N-CA-CB; MolProbity reports the distance of CB from
the mean of the two (an outlier at >= 0.25 Å). Refinement restrains the two dihedrals.
"""
from __future__ import annotations

import numpy as np

# residue class -> (CA-CB distance Å, angle C-CA-CB, dihedral N-C-CA-CB, angle N-CA-CB, dihedral C-N-CA-CB)
CBETA_IDEAL = {"ALA": (1.536, 110.1, 122.9, 110.6, -122.6), "PRO": (1.530, 112.2, 115.1, 103.0, -120.7),
               "beta": (1.540, 109.1, 123.4, 111.5, -122.0), "other": (1.530, 110.1, 122.8, 110.5, -122.6)}
BETA_BRANCHED = {"VAL", "THR", "ILE"}
DIHEDRAL_SIGMA = 2.5   # degrees, as phenix's c_beta_restraints


def cbeta_class(resname: str) -> str:
    return resname if resname in ("ALA", "PRO") else "beta" if resname in BETA_BRANCHED else "other"


def cbeta_dihedrals(topo) -> tuple[np.ndarray, np.ndarray]:
    """(m, 4) atom indices (N, C, CA, CB) and (C, N, CA, CB) of every peptide residue with a CB,
    and their (m,) ideal dihedrals in degrees."""
    quads, ideal = [], []
    for r in topo.residues:
        if r.polymer != "peptide" or not all(a in r.atoms for a in ("N", "CA", "C", "CB")):
            continue
        p = CBETA_IDEAL[cbeta_class(r.name)]
        n, ca, c, cb = (r.atoms[a] for a in ("N", "CA", "C", "CB"))
        quads += [(n, c, ca, cb), (c, n, ca, cb)]
        ideal += [p[2], p[4]]
    return np.array(quads, dtype=np.int64).reshape(-1, 4), np.array(ideal, dtype=np.float64)
