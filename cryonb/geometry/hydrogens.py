"""Riding hydrogens: positions computed from heavy atoms, differentiable and batched.

Each hydrogen H rides on its parent heavy atom P and is placed from two frame
atoms A (bonded to P) and B by internal coordinates: the P-H distance (MolProbity's
electron-cloud X-H distances, as reduce places them for clashscore), the angle A-P-H
and the dihedral B-A-P-H. When P has a second heavy neighbour, B is that
neighbour (CH, CH2, aromatic and amide H); otherwise B is a neighbour of A, and
the dihedral is the library's (methyl, hydroxyl, amine, thiol: a fixed torsion,
no rotational search). Distances and angles come from the CCP4 monomer library;
dihedrals from its ideal coordinates, except the backbone amide H, which lies
in the peptide plane on the bisector (dihedral C(i-1)-CA-N-H = 180 degrees).

A hydrogen on an atom with three heavy neighbours (CA's HA, the CB-H of Val, Ile and Thr, Leu's
CG-H) points away from the mean of its three bond directions, as reduce places it, whatever the
bond angles: placed from two neighbours by ideal angles, it would sit up to 0.1 Å from reduce's
where the angles are strained (a cis-Pro CA) and decide borderline clashes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .constants import XH_LENGTH
from .linking import dihedral_deg


# Histidine is built as the neutral NE2-H tautomer (the library entry is doubly protonated).
_NOT_ADDED = {("HIS", "HD1")}
_AROMATIC = {"CR6", "CR16", "CR5", "CR15", "CR56", "CR66", "CR55", "CR1", "CR1H"}


@dataclass
class RidingHydrogens:
    """(nh,) arrays: frame atom indices into the heavy atoms, internal coordinates (Å, degrees)."""

    parent: np.ndarray
    frame_a: np.ndarray
    frame_b: np.ndarray
    length: np.ndarray
    angle: np.ndarray
    dihedral: np.ndarray
    names: np.ndarray
    residue: np.ndarray
    polar: np.ndarray      # bool: rides on N, O or S (can donate an H-bond; probe's polar H)
    frame_c: np.ndarray    # third heavy neighbour of a tertiary parent, -1 for the others

    def __len__(self) -> int:
        return len(self.parent)

    def place(self, xyz: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Hydrogen positions (..., nh, 3) from heavy-atom positions (..., n, 3)."""
        x = torch.as_tensor(xyz)
        dt = x.dtype
        p, a, b = (x[..., torch.as_tensor(i), :] for i in (self.parent, self.frame_a, self.frame_b))
        length = torch.as_tensor(self.length, dtype=dt)[:, None]
        theta = torch.as_tensor(np.radians(self.angle), dtype=dt)[:, None]
        phi = torch.as_tensor(np.radians(self.dihedral), dtype=dt)[:, None]
        h = nerf(b, a, p, length, theta, phi)
        tertiary = np.flatnonzero(self.frame_c >= 0)
        if len(tertiary):
            k = torch.as_tensor(tertiary)
            first = torch.as_tensor(self.parent[tertiary])
            sides = [x[..., torch.as_tensor(i[tertiary]), :] - x[..., first, :]
                     for i in (self.frame_a, self.frame_b, self.frame_c)]
            away = -sum(s / s.norm(dim=-1, keepdim=True) for s in sides)
            placed = x[..., first, :] + length[k] * away / away.norm(dim=-1, keepdim=True)
            h = h.index_copy(-2, k, placed)
        return h


def nerf(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, length, theta, phi) -> torch.Tensor:
    """Place D with |CD| = length, angle B-C-D = theta, dihedral A-B-C-D = phi (radians)."""
    bc = c - b
    bc = bc / bc.norm(dim=-1, keepdim=True)
    n = torch.cross(b - a, bc, dim=-1)
    n = n / n.norm(dim=-1, keepdim=True)
    m = torch.cross(n, bc, dim=-1)
    return c + length * (-torch.cos(theta) * bc + torch.sin(theta) * (torch.cos(phi) * m + torch.sin(phi) * n))


def riding_hydrogens_for(topo, library) -> RidingHydrogens:
    """Riding-hydrogen records for every template hydrogen whose frame atoms are present.

    Frames depend only on the template, the atoms present and the linked atoms, so they are
    derived once per such combination and resolved to atom indices per residue.
    """
    link_partners = _link_partners(topo, library)
    rows, frames = [], {}
    disulfide = {lk.i for lk in topo.links if lk.name == "disulf"} | {lk.j for lk in topo.links if lk.name == "disulf"}
    lost = _lost_to_links(topo)
    for k, r in enumerate(topo.residues):
        t = r.template
        if t is None:
            continue
        partners = link_partners.get(k, {})
        skip = frozenset(({"HG"} if k in disulfide and r.name == "CYS" else set()) | lost.get(k, set()))
        key = (id(t), frozenset(r.atoms), frozenset(partners), skip)
        if key not in frames:
            frames[key] = _residue_frames(t, key[1], key[2], skip)
        for name, pname, aname, bname, cname, length, angle, dihedral in frames[key]:
            b = r.atoms[bname] if bname is not None else partners[pname]
            c = r.atoms[cname] if cname is not None else -1
            rows.append((r.atoms[pname], r.atoms[aname], b, length, angle, dihedral, name, k, c))
    cols = list(zip(*rows)) if rows else [[]] * 9
    parent = np.array(cols[0], dtype=np.int64)
    elements = topo.atoms.elements
    kind = np.where(np.isin(topo.atoms.energy_types[parent], list(_AROMATIC)), "Car", elements[parent])
    length = np.array([XH_LENGTH.get(k, v) for k, v in zip(kind, cols[3])], dtype=float)
    return RidingHydrogens(parent, np.array(cols[1], dtype=np.int64), np.array(cols[2], dtype=np.int64),
                           length, np.array(cols[4], dtype=float),
                           np.array(cols[5], dtype=float), np.array(cols[6], dtype=str),
                           np.array(cols[7], dtype=np.int64), np.isin(elements[parent], ["N", "O", "S"]),
                           np.array(cols[8], dtype=np.int64))


def _lost_to_links(topo) -> dict[int, set[str]]:
    """residue -> names of the hydrogens its struct_conn links replace: every hydrogen of an atom
    bound to a metal (His NE2, Cys SG), the last-named one of an atom in a covalent link."""
    out: dict[int, set[str]] = {}
    for lk in topo.links:
        if not lk.explicit:
            continue
        for k, atom in ((lk.i, lk.atoms[0]), (lk.j, lk.atoms[1])):
            t = topo.residues[k].template
            if t is None or atom not in t.atoms:
                continue
            p = t.index(atom)
            hs = sorted(t.atoms[x] for bond in t.bonds.tolist() if p in bond for x in bond
                        if x != p and t.elements[x] == "H")
            if hs:
                out.setdefault(k, set()).update(hs if lk.name == "metal" else hs[-1:])
    return out


def _link_partners(topo, library) -> dict[int, dict[str, int]]:
    """residue -> {its atom name: index of the heavy atom it bonds to in a linked residue}
    (library links only: a struct_conn link does not change how the hydrogens are placed)."""
    out: dict[int, dict[str, int]] = {}
    for lk in topo.links:
        if lk.explicit:
            continue
        res = (topo.residues[lk.i], topo.residues[lk.j])
        for (s1, n1), (s2, n2), *_ in library.links[lk.name].bonds:
            k1, k2 = (lk.i, lk.j)[s1 - 1], (lk.i, lk.j)[s2 - 1]
            a1, a2 = res[s1 - 1].atoms.get(n1), res[s2 - 1].atoms.get(n2)
            if a1 is not None and a2 is not None:
                out.setdefault(k1, {})[n1] = a2
                out.setdefault(k2, {})[n2] = a1
    return out


def _residue_frames(t, present: frozenset, linked: frozenset, skip: frozenset) -> list[tuple]:
    """(H, parent, A, B, C, length, angle, dihedral) by atom name for the template's hydrogens;
    B is None where it is the parent's partner in a linked residue; C the third heavy neighbour of
    a tertiary parent (None for the others)."""
    out = []
    for h, name in enumerate(t.atoms):
        if t.elements[h] != "H" or (t.name, name) in _NOT_ADDED or name in skip:
            continue
        row = _frame(t, h, present, linked)
        if row is not None:
            out.append((name, *row))
    return out


def _frame(t, h: int, present: frozenset, linked: frozenset):
    """(parent, A, B, C, length, angle, dihedral) by name for template hydrogen h, or None if atoms are missing."""
    bonds = [(b, v) for b, v in zip(t.bonds.tolist(), t.bond_ideal) if h in b]
    if not bonds:
        return None
    pair, length = bonds[0]
    p = pair[0] if pair[1] == h else pair[1]
    heavy = [b[0] if b[1] == p else b[1] for b in t.bonds.tolist() if p in b]
    heavy = [x for x in heavy if t.elements[x] != "H" and t.atoms[x] in present]
    pname = t.atoms[p]
    if pname not in present or not heavy:
        return None
    a = heavy[0]
    angle = _ideal_angle(t, a, p, h)
    third = t.atoms[heavy[2]] if len(heavy) == 3 else None
    if len(heavy) > 1:
        bname, dihedral = t.atoms[heavy[1]], _ideal_dihedral(t, heavy[1], a, p, h)
    elif pname in linked:  # amide H: in the peptide plane, opposite C(i-1)
        bname, dihedral = None, 180.0
    else:
        around_a = [b[0] if b[1] == a else b[1] for b in t.bonds.tolist() if a in b]
        around_a = [x for x in around_a if x != p and t.elements[x] != "H" and t.atoms[x] in present]
        if not around_a:
            return None
        depth = _depth(t)
        b = min(around_a, key=lambda x: depth[x])     # towards the backbone, as reduce staggers
        bname, dihedral = t.atoms[b], _rotor_dihedral(t, b, a, p, h)
    return pname, t.atoms[a], bname, third, length, angle, dihedral


def _ideal_angle(t, a: int, p: int, h: int) -> float:
    for (i, j, k), v in zip(t.angles.tolist(), t.angle_ideal):
        if j == p and {i, k} == {a, h}:
            return float(v)
    u, w = t.ideal_xyz[a] - t.ideal_xyz[p], t.ideal_xyz[h] - t.ideal_xyz[p]
    return float(np.degrees(np.arccos(u @ w / np.linalg.norm(u) / np.linalg.norm(w))))


def _depth(t) -> dict[int, int]:
    """Bond-count distance of each template atom from its first atom (N, or P/O5' of a nucleotide)."""
    nbr: dict[int, list[int]] = {}
    for i, j in t.bonds.tolist():
        nbr.setdefault(i, []).append(j)
        nbr.setdefault(j, []).append(i)
    depth, todo = {0: 0}, [0]
    while todo:
        i = todo.pop(0)
        for j in nbr.get(i, []):
            if j not in depth:
                depth[j] = depth[i] + 1
                todo.append(j)
    return {i: depth.get(i, 99) for i in range(len(t.atoms))}


def _rotor_dihedral(t, b: int, a: int, p: int, h: int) -> float:
    """Dihedral B-A-P-H of a hydrogen on a rotatable or terminal group, snapped as reduce places it.

    Three hydrogens (methyl, NH3+): staggered, exactly 60/180/300 degrees from B. Two on a planar
    atom (NH2 of Asn, Gln, Arg, bases): 0 or 180. One (OH, SH): 180 (anti to B), or 0/180 where the
    library restrains it planar (Tyr OH).
    """
    on_p = [x for bond in t.bonds.tolist() if p in bond for x in bond if x != p and t.elements[x] == "H"]
    measured = {x: _ideal_dihedral(t, b, a, p, x) for x in on_p}
    if len(on_p) == 3:
        offset = (measured[on_p[0]] - 60.0 + 60.0) % 120.0 - 60.0
        return (measured[h] - offset + 180.0) % 360.0 - 180.0
    planar = len(on_p) == 2 or any(per == 2 and q[2] == p and q[3] == h
                                   for q, per in zip(t.torsions.tolist(), t.torsion_period))
    if planar:
        return 0.0 if abs(measured[h]) < 90 else 180.0
    return 180.0


def _ideal_dihedral(t, b: int, a: int, p: int, h: int) -> float:
    return float(dihedral_deg(t.ideal_xyz[[b, a, p, h]]))
