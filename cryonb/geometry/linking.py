"""Inter-residue links: peptide (trans/cis, to proline or not), nucleic O3'-P, disulfide.

Polymer links are decided from chain, sequence order and residue numbering, with a
generous distance check (default 4 Å for C-N or O3'-P), so that a stretched peptide
bond in a distorted model stays restrained; distance-only linking would drop it.
Residues numbered apart are still linked when the atoms are within bonding distance.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .library import NUCLEIC, PEPTIDE

LINK_ATOMS = {PEPTIDE: ("C", "N"), NUCLEIC: ("O3'", "P")}
BONDED_DISTANCE = 2.0   # Å: linked regardless of numbering
DISULFIDE_DISTANCE = 2.5  # Å: SG-SG
CIS_OMEGA = 45.0        # degrees: |omega| below this gets cis restraints (cctbx's cis_threshold)


@dataclass(frozen=True)
class Link:
    """A link from residue i to residue j (indices into Topology.residues)."""

    name: str       # library link: TRANS, CIS, PTRANS, PCIS, p or disulf
    i: int
    j: int
    polymer: bool   # backbone link (changes the residues' forms)


def dihedral_deg(p: np.ndarray) -> np.ndarray:
    """Dihedral angles (degrees, (-180, 180], IUPAC sign as gemmi) of (..., 4, 3) points; NaN propagates."""
    p = np.asarray(p, dtype=float)
    b0, b1, b2 = p[..., 0, :] - p[..., 1, :], p[..., 2, :] - p[..., 1, :], p[..., 3, :] - p[..., 2, :]
    b1n = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - (b0 * b1n).sum(-1, keepdims=True) * b1n
    w = b2 - (b2 * b1n).sum(-1, keepdims=True) * b1n
    x = (v * w).sum(-1)
    y = (np.cross(b1n, v) * w).sum(-1)
    return np.degrees(np.arctan2(y, x))


def _seqnum(seqid: str) -> int:
    m = re.match(r"-?\d+", seqid)
    return int(m.group()) if m else 0


def find_links(residues, xyz: np.ndarray, library, link_distance: float, notes: list[str],
               cis_threshold: float = CIS_OMEGA) -> list[Link]:
    """Polymer links between consecutive residues of a chain, then disulfides; a peptide with
    |omega| < ``cis_threshold`` degrees is linked cis."""
    links, breaks = [], []
    for k in range(len(residues) - 1):
        a, b = residues[k], residues[k + 1]
        if a.chain != b.chain or a.polymer not in LINK_ATOMS or a.polymer != b.polymer:
            continue
        first, second = LINK_ATOMS[a.polymer]
        if first not in a.atoms or second not in b.atoms:
            breaks.append(f"{a.chain}/{a.name}{a.seqid}-{b.name}{b.seqid} (no {first} or {second})")
            continue
        d = float(np.linalg.norm(xyz[a.atoms[first]] - xyz[b.atoms[second]]))
        consecutive = _seqnum(b.seqid) - _seqnum(a.seqid) in (0, 1)
        if d <= BONDED_DISTANCE or (consecutive and d <= link_distance):
            links.append(Link(_link_name(a, b, xyz, cis_threshold), k, k + 1, True))
        elif consecutive:
            breaks.append(f"{a.chain}/{a.name}{a.seqid}-{b.name}{b.seqid} ({first}-{second} {d:.1f} Å)")
    if breaks:
        notes.append(f"chain breaks, not linked: {'; '.join(breaks[:10])}"
                     + (f" and {len(breaks) - 10} more" if len(breaks) > 10 else ""))
    return links + disulfides(residues, xyz)


def _link_name(a, b, xyz: np.ndarray, cis_threshold: float) -> str:
    if a.polymer == NUCLEIC:
        return "p"
    names = [(a, "CA"), (a, "C"), (b, "N"), (b, "CA")]
    cis = False
    if all(n in r.atoms for r, n in names):
        omega = dihedral_deg(np.array([xyz[r.atoms[n]] for r, n in names]))
        cis = abs(float(omega)) < cis_threshold
    prefix = "P" if b.name == "PRO" else ""
    return prefix + ("CIS" if cis else "TRANS")


def disulfides(residues, xyz: np.ndarray) -> list[Link]:
    """CYS SG pairs closer than 2.5 Å."""
    sg = [(k, r.atoms["SG"]) for k, r in enumerate(residues) if r.name == "CYS" and "SG" in r.atoms]
    if len(sg) < 2:
        return []
    tree = cKDTree(xyz[[s for _, s in sg]])
    pairs = sorted(tree.query_pairs(DISULFIDE_DISTANCE))
    return [Link("disulf", sg[p][0], sg[q][0], False) for p, q in pairs]
