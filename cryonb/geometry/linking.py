"""Inter-residue links: peptide (trans/cis, to proline or not), nucleic O3'-P, disulfide,
and the model's own links (mmCIF ``struct_conn`` / PDB ``LINK``) and metal coordination.

Polymer links are decided from chain, sequence order and residue numbering, with a
generous distance check (default 4 Å for C-N or O3'-P), so that a stretched peptide
bond in a distorted model stays restrained; distance-only linking would drop it.
Residues numbered apart are still linked when the atoms are within bonding distance.

Covalent ``struct_conn`` links (glycosylation, covalent ligands) are restrained at the sum of
covalent radii (esd 0.02 Å) with the angles at both ends (109.5 or 120 degrees, esd 3); metal
links at the typical metal-donor distance (:mod:`.metals`, esd 0.1 Å). A metal ion without
``struct_conn`` records is linked to every N, O or S donor within reach of the typical distance.
Linked pairs are excluded from clashes like any bonded pair.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .metals import DONORS, LINK_ESD, REACH, is_metal, metal_distance
from .constants import NUCLEIC, PEPTIDE

LINK_ATOMS = {PEPTIDE: ("C", "N"), NUCLEIC: ("O3'", "P")}
BONDED_DISTANCE = 2.0   # Å: linked regardless of numbering
DISULFIDE_DISTANCE = 2.5  # Å: SG-SG
COVALENT_RADIUS = {"C": 0.76, "N": 0.71, "O": 0.66, "S": 1.02, "P": 1.07, "Se": 1.20, "B": 0.84}
COVALENT_LINK_ESD = 0.02  # Å
CIS_OMEGA = 45.0        # degrees: |omega| below this gets cis restraints (cctbx's cis_threshold)
CIS_GENERAL = 30.0      # degrees: refinement links a non-proline peptide cis only below this (MolProbity's
                        # cis): cis non-Pro peptides are rare (0.03 %), a distorted trans one is not
CIS_CA_CA = 3.3         # Å: ... and only when its C-alpha atoms are this close (cis 2.9, trans 3.8)
NOISY_TWISTED = 0.05     # a model with more twisted peptides than this cannot show a cis non-Pro peptide:
                        # cis non-Pro is rare (1 in 3,000), and with 0.3 Å coordinate noise (30 % twisted)
                        # omega and C-alpha distance make false cis (2 kept in CFTR 6MSM) as often as true


@dataclass(frozen=True)
class Link:
    """A link from residue i to residue j (indices into Topology.residues)."""

    name: str       # library link (TRANS, CIS, PTRANS, PCIS, p, disulf), or 'covalent' / 'metal'
    i: int
    j: int
    polymer: bool   # backbone link (changes the residues' forms)
    atoms: tuple[str, str] | None = None   # explicit links: atom of residue i, atom of residue j
    ideal: float | None = None             # Å, explicit links
    sigma: float | None = None             # Å, explicit links

    @property
    def explicit(self) -> bool:
        return self.atoms is not None


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
               cis_threshold: float = CIS_OMEGA, cis_general: float | None = None) -> list[Link]:
    """Polymer links between consecutive residues of a chain, then disulfides; a peptide with
    |omega| < ``cis_threshold`` degrees is linked cis (< ``cis_general`` before a residue other
    than proline, when given)."""
    links, breaks, doubtful = [], [], []
    noisy = cis_general is not None and _twisted_fraction(residues, xyz) > NOISY_TWISTED
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
            general = cis_general is not None and b.name != "PRO"
            limit = min(cis_threshold, cis_general) if general else cis_threshold
            name = _link_name(a, b, xyz, limit, CIS_CA_CA if general else None)
            if noisy and general and name == "CIS":
                doubtful.append(f"{a.chain}/{a.name}{a.seqid}-{b.name}{b.seqid}")
                name = "TRANS"
            links.append(Link(name, k, k + 1, True))
        elif consecutive:
            breaks.append(f"{a.chain}/{a.name}{a.seqid}-{b.name}{b.seqid} ({first}-{second} {d:.1f} Å)")
    if doubtful:
        notes.append(f"peptides near cis linked trans, as the input's peptide geometry is too distorted to tell "
                     f"(over {NOISY_TWISTED:.0%} twisted): {', '.join(doubtful[:10])}; check them in the map")
    if breaks:
        notes.append(f"chain breaks, not linked: {'; '.join(breaks[:10])}"
                     + (f" and {len(breaks) - 10} more" if len(breaks) > 10 else ""))
    return links + disulfides(residues, xyz)


def _twisted_fraction(residues, xyz: np.ndarray) -> float:
    """Fraction of the peptides between consecutive residues that are twisted (30 < |omega| < 150)."""
    omegas = []
    for a, b in zip(residues[:-1], residues[1:]):
        names = [(a, "CA"), (a, "C"), (b, "N"), (b, "CA")]
        if a.chain == b.chain and a.polymer == PEPTIDE == b.polymer and all(n in r.atoms for r, n in names):
            omegas.append(dihedral_deg(np.array([xyz[r.atoms[n]] for r, n in names])))
    w = np.abs(np.array(omegas))
    return float(((w > 30) & (w < 150)).mean()) if len(w) else 0.0


def _link_name(a, b, xyz: np.ndarray, cis_threshold: float, ca_ca: float | None = None) -> str:
    """The library link of peptide a-b: cis when |omega| < ``cis_threshold`` (and, with ``ca_ca``,
    the C-alpha atoms closer than that many Å: 2.9 in a cis peptide, 3.8 in a trans one)."""
    if a.polymer == NUCLEIC:
        return "p"
    names = [(a, "CA"), (a, "C"), (b, "N"), (b, "CA")]
    cis = False
    if all(n in r.atoms for r, n in names):
        p = np.array([xyz[r.atoms[n]] for r, n in names])
        cis = abs(float(dihedral_deg(p))) < cis_threshold
        if ca_ca is not None:
            cis = cis and float(np.linalg.norm(p[0] - p[3])) < ca_ca
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


def find_struct_links(st, residues, xyz: np.ndarray, elements: np.ndarray, existing: list[Link],
                      notes: list[str]) -> list[Link]:
    """Links from the model's ``struct_conn``/``LINK`` records (covalent, disulfide, metal), then
    metal coordination found by distance for metals that have no such record."""
    where = {(r.chain, r.seqid, r.name): k for k, r in enumerate(residues)}
    taken = {(lk.i, lk.j) for lk in existing} | {(lk.j, lk.i) for lk in existing}
    out, skipped, pairs = [], [], set()
    for conn in st.connections:
        kind = conn.type.name
        if kind not in ("Covale", "Disulf", "MetalC") or conn.asu.name == "Different":
            continue
        ends = [_address(where, residues, p) for p in (conn.partner1, conn.partner2)]
        if any(e is None for e in ends):
            skipped.append(conn.name)
            continue
        (i, a), (j, b) = ends
        if i == j or (i, j) in taken or (i, a, j, b) in pairs or (j, b, i, a) in pairs:
            continue
        out.append(_explicit_link(kind, i, a, j, b, residues, xyz, elements))
        pairs.add((i, a, j, b))
    if skipped:
        notes.append(f"struct_conn/LINK records naming atoms absent from the model, ignored: {', '.join(skipped[:10])}")
    coordinated = {(lk.i, lk.atoms[0]) for lk in out if lk.name == "metal"} | \
                  {(lk.j, lk.atoms[1]) for lk in out if lk.name == "metal"}
    found = metal_sites(residues, xyz, elements, coordinated, taken)
    if found:
        notes.append(f"metal coordination found by distance (no LINK record): {len(found)} links, "
                     + ", ".join(f"{residues[lk.i].name}{residues[lk.i].seqid}:{lk.atoms[0]}-"
                                 f"{residues[lk.j].name}{residues[lk.j].seqid}:{lk.atoms[1]}" for lk in found[:8]))
    n_cov = sum(lk.name == "covalent" for lk in out)
    n_met = sum(lk.name == "metal" for lk in out)
    if n_cov or n_met:
        notes.append(f"links from the model's struct_conn/LINK records: {n_cov} covalent, {n_met} metal")
    return out + found


def _address(where, residues, p):
    seqid = f"{p.res_id.seqid.num}{p.res_id.seqid.icode.strip()}"
    k = where.get((p.chain_name, seqid, p.res_id.name))
    if k is None or p.atom_name not in residues[k].atoms:
        return None
    return k, p.atom_name


def _explicit_link(kind: str, i: int, a: str, j: int, b: str, residues, xyz, elements) -> Link:
    ea, eb = (elements[residues[k].atoms[name]] for k, name in ((i, a), (j, b)))
    if kind == "Disulf":
        return Link("disulf", i, j, False)
    if is_metal(ea) or is_metal(eb):
        metal, donor = (ea, eb) if is_metal(ea) else (eb, ea)
        d = metal_distance(metal, donor)
        if d is None:
            d = float(np.linalg.norm(xyz[residues[i].atoms[a]] - xyz[residues[j].atoms[b]]))
        return Link("metal", i, j, False, (a, b), d, LINK_ESD)
    ideal = COVALENT_RADIUS.get(ea, 0.77) + COVALENT_RADIUS.get(eb, 0.77)
    return Link("covalent", i, j, False, (a, b), ideal, COVALENT_LINK_ESD)


def metal_sites(residues, xyz: np.ndarray, elements: np.ndarray, coordinated: set, taken: set) -> list[Link]:
    """Links from each metal atom without a struct_conn record to the N, O and S atoms of other
    residues within the typical metal-donor distance + 0.5 Å."""
    atoms = [(k, name, idx) for k, r in enumerate(residues) for name, idx in r.atoms.items()]
    elements = [str(elements[idx]) for _, _, idx in atoms]
    metals = [n for n, e in enumerate(elements) if is_metal(e) and (atoms[n][0], atoms[n][1]) not in coordinated]
    if not metals:
        return []
    donors = [n for n, e in enumerate(elements) if e in DONORS]
    if not donors:
        return []
    tree = cKDTree(xyz[[atoms[n][2] for n in donors]])
    out = []
    for m in metals:
        k, name, idx = atoms[m]
        for q in tree.query_ball_point(xyz[idx], 3.5):
            kd, dname, didx = atoms[donors[q]]
            ideal = metal_distance(elements[m], elements[donors[q]])
            if kd == k or ideal is None or (k, kd) in taken:
                continue
            if np.linalg.norm(xyz[idx] - xyz[didx]) <= ideal + REACH:
                out.append(Link("metal", k, kd, False, (name, dname), ideal, LINK_ESD))
    return out
