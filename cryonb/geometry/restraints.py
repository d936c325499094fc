"""Heavy-atom restraint arrays gathered from residue templates and links.

Every array indexes the topology's heavy atoms. Restraints that involve a
hydrogen are left out (hydrogens ride on heavy atoms) and so are restraints
with an atom missing from the model (noted once per residue).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .linking import dihedral_deg
from .constants import PEPTIDE

PLANE_TOLERANCE = 10.0    # degrees: planar dihedrals (rings, side-chain sp2 groups)
PEPTIDE_TOLERANCE = 30.0  # degrees: the peptide omega
# Atoms often absent at chain ends without being an error in the model.
_OPTIONAL = {"OXT", "OP3", "P", "OP1", "OP2"}


@dataclass
class RestraintSet:
    """Index arrays (int64) with ideal values and sigmas (float64); angles in degrees, volumes in Å^3."""

    bonds: np.ndarray
    bond_ideal: np.ndarray
    bond_sigma: np.ndarray
    angles: np.ndarray
    angle_ideal: np.ndarray
    angle_sigma: np.ndarray
    torsions: np.ndarray
    torsion_ideal: np.ndarray
    torsion_sigma: np.ndarray
    torsion_period: np.ndarray
    torsion_names: np.ndarray
    torsion_residue: np.ndarray
    chirals: np.ndarray
    chiral_ideal: np.ndarray       # signed ideal volume; for 'either' chirality the absolute value
    chiral_either: np.ndarray      # bool: sign not restrained
    plane_atoms: np.ndarray        # flat atom indices of all planes
    plane_index: np.ndarray        # plane number of each entry in plane_atoms
    plane_sigma: np.ndarray        # per entry, Å
    planar_dihedrals: np.ndarray   # (n, 4) chains of bonded atoms inside one plane
    planar_ideal: np.ndarray       # 0 or 180 degrees
    planar_tolerance: np.ndarray   # 10 degrees, 30 for the peptide omega

    def counts(self) -> dict[str, int]:
        return {"bonds": len(self.bonds), "angles": len(self.angles), "torsions": len(self.torsions),
                "chirals": len(self.chirals), "planes": int(self.plane_index.max(initial=-1) + 1),
                "planar_dihedrals": len(self.planar_dihedrals)}

    @classmethod
    def compile(cls, residues, links, library, notes: list[str]) -> "RestraintSet":
        acc = _Accumulator()
        for k, r in enumerate(residues):
            if r.template is not None:
                _add_residue(acc, k, r, notes)
        for link in links:
            if link.explicit:
                _add_explicit_link(acc, link, residues)
            else:
                _add_link(acc, link, residues, library.links[link.name])
        return acc.finish(cls)


class _Accumulator:
    def __init__(self):
        self.rows = {f.name: [] for f in fields(RestraintSet)}
        self.n_planes = 0

    def add(self, **values):
        for k, v in values.items():
            self.rows[k].append(v)

    def plane(self, atoms: list[int], sigma: float):
        for a in atoms:
            self.add(plane_atoms=a, plane_index=self.n_planes, plane_sigma=sigma)
        self.n_planes += 1

    def finish(self, cls):
        shapes = {"bonds": 2, "angles": 3, "torsions": 4, "chirals": 4, "planar_dihedrals": 4}
        out = {}
        for f in fields(cls):
            rows = self.rows[f.name]
            if f.name in shapes:
                out[f.name] = np.array(rows, dtype=np.int64).reshape(-1, shapes[f.name])
            elif f.name in ("plane_atoms", "plane_index", "torsion_period", "torsion_residue"):
                out[f.name] = np.array(rows, dtype=np.int64)
            elif f.name == "torsion_names":
                out[f.name] = np.array(rows, dtype=str)
            elif f.name == "chiral_either":
                out[f.name] = np.array(rows, dtype=bool)
            else:
                out[f.name] = np.array(rows, dtype=np.float64)
        return cls(**out)


def _add_residue(acc: _Accumulator, k: int, r, notes: list[str]) -> None:
    t = r.template
    heavy = [e != "H" for e in t.elements]
    idx = np.array([r.atoms.get(name, -1) if h else -1 for name, h in zip(t.atoms, heavy)])
    missing = [n for n, h, i in zip(t.atoms, heavy, idx) if h and i < 0 and n not in _OPTIONAL]
    extra = sorted(set(r.atoms) - set(t.atoms))
    if missing:
        notes.append(f"{r.chain}/{r.name}{r.seqid}: missing atoms {', '.join(missing[:10])}"
                     f"{f' and {len(missing) - 10} more' if len(missing) > 10 else ''}; their restraints skipped")
    if extra:
        notes.append(f"{r.chain}/{r.name}{r.seqid}: atoms not in the {r.name} template, held fixed: "
                     f"{', '.join(extra)}")

    def present(*atoms):
        return all(idx[a] >= 0 for a in atoms)

    for (a, b), v, s in zip(t.bonds, t.bond_ideal, t.bond_esd):
        if present(a, b):
            acc.add(bonds=(idx[a], idx[b]), bond_ideal=v, bond_sigma=s)
    for (a, b, c), v, s in zip(t.angles, t.angle_ideal, t.angle_esd):
        if present(a, b, c):
            acc.add(angles=(idx[a], idx[b], idx[c]), angle_ideal=v, angle_sigma=s)
    for q, name, v, s, p in zip(t.torsions, t.torsion_names, t.torsion_ideal, t.torsion_esd, t.torsion_period):
        if present(*q) and s > 0:
            acc.add(torsions=tuple(idx[q]), torsion_ideal=v, torsion_sigma=s, torsion_period=p,
                    torsion_names=name, torsion_residue=k)
    for (c, a1, a2, a3), sign, vol in zip(t.chirals, t.chiral_sign, t.chiral_volume):
        if present(c, a1, a2, a3):
            acc.add(chirals=tuple(idx[[c, a1, a2, a3]]), chiral_ideal=sign * vol if sign else vol,
                    chiral_either=sign == 0)
    bonded = {tuple(sorted(b)) for b in t.bonds.tolist()}
    for atoms, esd in t.planes:
        atoms = [a for a in atoms if idx[a] >= 0]
        if len(atoms) >= 4:
            acc.plane([idx[a] for a in atoms], esd)
            for q in _plane_chains(atoms, bonded):
                ideal = 180.0 if abs(dihedral_deg(t.ideal_xyz[list(q)])) > 90 else 0.0
                acc.add(planar_dihedrals=tuple(idx[list(q)]), planar_ideal=ideal, planar_tolerance=PLANE_TOLERANCE)


def _plane_chains(atoms: list[int], bonded: set[tuple[int, int]]):
    """Chains a-b-c-d of bonded atoms that all lie in one plane (each chain once)."""
    inside = set(atoms)
    nbr = {a: [b for b in inside if tuple(sorted((a, b))) in bonded] for a in inside}
    seen = set()
    for b in inside:
        for c in nbr[b]:
            for a in nbr[b]:
                for d in nbr[c]:
                    if len({a, b, c, d}) == 4 and (d, c, b, a) not in seen:
                        seen.add((a, b, c, d))
                        yield (a, b, c, d)


def _add_link(acc: _Accumulator, link, residues, lt) -> None:
    sides = (residues[link.i], residues[link.j])

    def ids(*atoms):
        out = [sides[s - 1].atoms.get(name, -1) for s, name in atoms]
        return None if min(out) < 0 else out

    for a, b, v, s in lt.bonds:
        if (q := ids(a, b)) is not None:
            acc.add(bonds=tuple(q), bond_ideal=v, bond_sigma=s)
    for a, b, c, v, s in lt.angles:
        if (q := ids(a, b, c)) is not None:
            acc.add(angles=tuple(q), angle_ideal=v, angle_sigma=s)
    for name, a, b, c, d, v, s, p in lt.torsions:
        if (q := ids(a, b, c, d)) is not None and s > 0:
            acc.add(torsions=tuple(q), torsion_ideal=v, torsion_sigma=s, torsion_period=p,
                    torsion_names=name, torsion_residue=link.j if name != "psi" else link.i)
            if name == "omega" and sides[0].polymer == PEPTIDE:
                ideal = 0.0 if "CIS" in link.name else 180.0
                acc.add(planar_dihedrals=tuple(q), planar_ideal=ideal, planar_tolerance=PEPTIDE_TOLERANCE)
    # Link chiralities (only the phosphate's, of either sign, in the shipped links) are not restrained.
    for _, atoms, esd in lt.planes:
        q = [x for x in (ids(a) for a in atoms) if x is not None]
        heavy = [x[0] for x in q]
        if len(heavy) >= 4:
            acc.plane(heavy, esd)


LINK_ANGLE_ESD = 3.0   # degrees, angles at the ends of a covalent struct_conn link


def _add_explicit_link(acc: _Accumulator, link, residues) -> None:
    """A struct_conn link: its bond, and for a covalent one the angles at both ends (120 degrees
    at an atom in one of its residue's planes, else 109.5)."""
    (ri, a), (rj, b) = (residues[link.i], link.atoms[0]), (residues[link.j], link.atoms[1])
    ia, ib = ri.atoms[a], rj.atoms[b]
    acc.add(bonds=(ia, ib), bond_ideal=link.ideal, bond_sigma=link.sigma)
    if link.name != "covalent":
        return
    for res, atom, centre, other in ((ri, a, ia, ib), (rj, b, ib, ia)):
        t = res.template
        if t is None or atom not in t.atoms:
            continue
        k = t.index(atom)
        ideal = 120.0 if any(k in p for p, _ in t.planes) else 109.5
        for bond in t.bonds.tolist():
            if k in bond:
                n = t.atoms[bond[1] if bond[0] == k else bond[0]]
                if t.elements[t.index(n)] != "H" and n in res.atoms:
                    acc.add(angles=(res.atoms[n], centre, other), angle_ideal=ideal, angle_sigma=LINK_ANGLE_ESD)
