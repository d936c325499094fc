"""Covalent-geometry validation with MolProbity's definitions.

* bond and angle RMSZ over heavy-atom restraints (CCP4 monomer library ideals and
  esds), with counts of |Z| > 4 and > 5;
* C-beta deviations: distance of CB from its ideal position built from N, C and CA
  (the average of the two constructions of Prekin/MolProbity's cbetadev, with its
  per-residue-class ideal values); outliers above 0.25 Å;
* peptide omega: cis (|omega| < 30 degrees) and twisted (30 <= |omega| < 150), with
  cis-proline counted apart;
* clashscore: riding hydrogens added, clashes (overlap >= 0.4 Å) per 1000 atoms.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import clashes
from ..geometry.linking import dihedral_deg
from ..geometry.terms import angle_z, bond_z

CBETA_OUTLIER = 0.25  # Å
# residue class -> (CA-CB distance Å, angle C-CA-CB, dihedral N-C-CA-CB, angle N-CA-CB, dihedral C-N-CA-CB)
CBETA_IDEAL = {"ALA": (1.536, 110.1, 122.9, 110.6, -122.6), "PRO": (1.530, 112.2, 115.1, 103.0, -120.7),
               "beta": (1.540, 109.1, 123.4, 111.5, -122.0), "other": (1.530, 110.1, 122.8, 110.5, -122.6)}
_BETA_BRANCHED = {"VAL", "THR", "ILE"}


@dataclass
class Outlier:
    kind: str
    residue: str
    atoms: str
    value: float


def covalent_geometry(topo, xyz: np.ndarray) -> tuple[dict, list[Outlier]]:
    """Bond and angle RMSZ and outlier counts; outliers listed with |Z| > 4."""
    r = topo.restraints
    x = torch.as_tensor(xyz, dtype=torch.float64)
    out, listed = {}, []
    for kind, z, idx in (("bond", bond_z(x, r).numpy(), r.bonds), ("angle", angle_z(x, r).numpy(), r.angles)):
        out[f"{kind}_rmsz"] = float(np.sqrt(np.mean(z ** 2))) if len(z) else float("nan")
        out[f"{kind}_outliers_z4"] = int((np.abs(z) > 4).sum())
        out[f"{kind}_outliers_z5"] = int((np.abs(z) > 5).sum())
        out[f"n_{kind}s"] = int(len(z))
        for k in np.flatnonzero(np.abs(z) > 4):
            atoms = "-".join(topo.atoms.names[idx[k]])
            listed.append(Outlier(kind, topo.residue_label(topo.atoms.residue[idx[k][1 if kind == "angle" else 0]]),
                                  atoms, float(z[k])))
    return out, listed


def ideal_cbeta(n: np.ndarray, ca: np.ndarray, c: np.ndarray, resnames) -> np.ndarray:
    """Ideal CB positions (m, 3) from backbone atoms (m, 3) each, by residue class."""
    params = np.array([CBETA_IDEAL[_cbeta_class(r)] for r in resnames]).reshape(-1, 5)
    dist, ang1, dih1, ang2, dih2 = (params[:, i:i + 1] for i in range(5))
    t = lambda a: torch.as_tensor(a)  # noqa: E731
    from ..geometry.hydrogens import nerf
    b1 = nerf(t(n), t(c), t(ca), t(dist), t(np.radians(ang1)), t(np.radians(dih1))).numpy()
    b2 = nerf(t(c), t(n), t(ca), t(dist), t(np.radians(ang2)), t(np.radians(dih2))).numpy()
    mid = (b1 + b2) / 2 - ca
    return ca + mid * dist / np.linalg.norm(mid, axis=1, keepdims=True)


def _cbeta_class(resname: str) -> str:
    return resname if resname in ("ALA", "PRO") else "beta" if resname in _BETA_BRANCHED else "other"


def cbeta_deviations(topo, xyz: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Per-residue C-beta deviation (Å) for residues with N, CA, C, CB; and their residue indices."""
    rows = [(k, [r.atoms[a] for a in ("N", "CA", "C", "CB")]) for k, r in enumerate(topo.residues)
            if r.polymer == "peptide" and r.name != "GLY" and all(a in r.atoms for a in ("N", "CA", "C", "CB"))]
    if not rows:
        return np.zeros(0), []
    idx = np.array([a for _, a in rows])
    names = [topo.residues[k].name for k, _ in rows]
    ideal = ideal_cbeta(xyz[idx[:, 0]], xyz[idx[:, 1]], xyz[idx[:, 2]], names)
    return np.linalg.norm(xyz[idx[:, 3]] - ideal, axis=1), [k for k, _ in rows]


def peptide_omegas(topo, xyz: np.ndarray) -> list[tuple[int, float]]:
    """(index of the residue after the peptide, omega in degrees) for each peptide link."""
    out = []
    for lk in topo.links:
        if not lk.polymer or topo.residues[lk.i].polymer != "peptide":
            continue
        a, b = topo.residues[lk.i], topo.residues[lk.j]
        names = [(a, "CA"), (a, "C"), (b, "N"), (b, "CA")]
        if all(n in r.atoms for r, n in names):
            out.append((lk.j, float(dihedral_deg(xyz[[r.atoms[n] for r, n in names]]))))
    return out


def omega_summary(topo, xyz: np.ndarray) -> dict:
    om = peptide_omegas(topo, xyz)
    cis = [k for k, w in om if abs(w) < 30]
    twisted = [k for k, w in om if 30 <= abs(w) < 150]
    pro = {k for k, _ in om if topo.residues[k].name == "PRO"}
    return {"n_cis_proline": len([k for k in cis if k in pro]), "n_cis_general": len([k for k in cis if k not in pro]),
            "n_twisted": len(twisted), "n_peptides": len(om),
            "cis_residues": [topo.residue_label(k) for k in cis],
            "twisted_residues": [topo.residue_label(k) for k in twisted]}


def clash_list(topo, library, xyz: np.ndarray, threshold: float = clashes.CLASH_OVERLAP,
               probe_bonding: bool = True):
    """Clashscore (clashes per 1000 atoms, hydrogens included) and the clashing pairs.

    As MolProbity: riding hydrogens added; a clash is an overlap >= 0.4 Å between atoms
    more than 3 bonds apart (4 with a hydrogen), H-bonded pairs never clash; with
    ``probe_bonding`` bonds are judged from distances as probe does, so a stretched bond
    in a distorted model counts as a clash (as on the wwPDB server).
    """
    x = torch.as_tensor(xyz, dtype=torch.float64)
    allx = torch.cat([x, topo.hydrogens.place(x)], dim=-2)
    bonds = None
    if probe_bonding:
        elements = np.concatenate([topo.atoms.elements, np.full(len(topo.hydrogens), "H")])
        bonds = clashes.distance_bonds(allx.numpy(), elements)
    atoms = clashes.atom_set(topo, library, bonds)
    pairs = clashes.candidate_pairs(atoms, allx.numpy())
    pairs = pairs[~clashes.hbond_pairs(atoms, pairs)]
    over = clashes.overlaps(atoms, pairs, allx, hbond_allowance=False).numpy()
    hit = np.flatnonzero(over >= threshold)
    n_all = int(atoms.clashable.sum())
    listed = [Outlier("clash", _atom_label(topo, pairs[k, 0]), _atom_label(topo, pairs[k, 1]), float(over[k]))
              for k in hit[np.argsort(-over[hit])]]
    return 1000.0 * len(hit) / max(n_all, 1), listed, n_all


def _atom_label(topo, a: int) -> str:
    if a < topo.n_atoms:
        return f"{topo.residue_label(topo.atoms.residue[a])}:{topo.atoms.names[a]}"
    h = a - topo.n_atoms
    return f"{topo.residue_label(topo.hydrogens.residue[h])}:{topo.hydrogens.names[h]}"
