"""Conformation-dependent backbone restraints (the CDL v1.2, as cctbx/Phenix apply by default).

For each amino acid i inside a trans peptide triple (i-1, i, i+1), the ideal values and sigmas of
its backbone bonds (C(i-1)-N, N-CA, CA-CB, CA-C, C-O) and angles (C(i-1)-N-CA, N-CA-CB, N-CA-C,
CB-CA-C, CA-C-O, CA-C-N(i+1), O-C-N(i+1)) are looked up at its (phi, psi), each rounded to the
nearest 10 degrees, in the table of its class (Gly, Pro, Ile/Val or other; before a Pro or not).
A triple with a cis peptide (|omega| < 45 degrees) keeps the library values, except that a Pro
takes Engh & Huber's cis-Pro values (ring included). Termini and non-standard residues keep the
library values. The table is built by ``tools/build_cdl_table.py`` from cctbx-base.

>>> from cryonb import data
>>> from cryonb.geometry.topology import build_topology
>>> st = data.adk_closed()
>>> topo = build_topology(st, warn=False)
>>> restraints = cdl_restraints(topo, topo.xyz(st))   # the topology's restraints, backbone ideals from the CDL
>>> restraints.bonds.shape == topo.restraints.bonds.shape
True
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np

from .linking import dihedral_deg
from .named_torsions import named_torsions

TABLE = Path(__file__).with_name("cdl.npz")
CIS_LIMIT = 45.0   # degrees: cctbx's cis test for the CDL
ILE_VAL = {"ILE", "VAL"}
OTHER = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "HIS", "LEU", "LYS", "MET", "PHE", "SER",
         "THR", "TRP", "TYR"}
# Atoms of each restrained quantity: (residue offset, atom name).
ATOMS = {"CNA": [(-1, "C"), (0, "N"), (0, "CA")], "NAB": [(0, "N"), (0, "CA"), (0, "CB")],
         "NAC": [(0, "N"), (0, "CA"), (0, "C")], "BAC": [(0, "CB"), (0, "CA"), (0, "C")],
         "ACO": [(0, "CA"), (0, "C"), (0, "O")], "ACN": [(0, "CA"), (0, "C"), (1, "N")],
         "OCN": [(0, "O"), (0, "C"), (1, "N")], "CN": [(-1, "C"), (0, "N")], "NA": [(0, "N"), (0, "CA")],
         "AB": [(0, "CA"), (0, "CB")], "AC": [(0, "CA"), (0, "C")], "CO": [(0, "C"), (0, "O")],
         "CND": [(-1, "C"), (0, "N"), (0, "CD")], "AND": [(0, "CA"), (0, "N"), (0, "CD")],
         "NDG": [(0, "N"), (0, "CD"), (0, "CG")], "ABG": [(0, "CA"), (0, "CB"), (0, "CG")],
         "BGD": [(0, "CB"), (0, "CG"), (0, "CD")], "BG": [(0, "CB"), (0, "CG")],
         "GD": [(0, "CG"), (0, "CD")], "ND": [(0, "N"), (0, "CD")]}


@dataclasses.dataclass(frozen=True)
class CDLTable:
    """The shipped table: means and sigmas (groups, 36 phi bins, 36 psi bins, columns)."""

    groups: list[str]
    columns: list[str]
    mean: np.ndarray
    sigma: np.ndarray
    cis_pro_columns: list[str]
    cis_pro_mean: np.ndarray
    cis_pro_sigma: np.ndarray


@lru_cache(maxsize=1)
def load_cdl(path: str | Path = TABLE) -> CDLTable:
    """Read the CDL table shipped with cryonb."""
    d = np.load(path)
    return CDLTable(list(d["groups"]), list(d["columns"]), d["mean"].astype(np.float64),
                    d["sigma"].astype(np.float64), list(d["cis_pro_columns"]),
                    d["cis_pro_mean"].astype(np.float64), d["cis_pro_sigma"].astype(np.float64))


def cdl_group(resname: str, next_resname: str) -> str | None:
    """The CDL class of a residue followed by ``next_resname`` (None: not covered)."""
    base = ("Gly" if resname == "GLY" else "Pro" if resname == "PRO" else "IleVal" if resname in ILE_VAL
            else "NonPGIV" if resname in OTHER else None)
    if base is None:
        return None
    return f"{base}_{'xpro' if next_resname == 'PRO' else 'nonxpro'}"


def phi_psi_bin(angle_deg: np.ndarray) -> np.ndarray:
    """Table bin of an angle: nearest multiple of 10 degrees (half to even), 180 -> -180."""
    return (np.round(np.asarray(angle_deg) / 10.0).astype(int) + 18) % 36


def cdl_restraints(topo, xyz: np.ndarray, table: CDLTable | None = None):
    """A copy of ``topo.restraints`` with CDL ideals and sigmas for the backbone at ``xyz`` (n, 3) Å."""
    table = table or load_cdl()
    r = topo.restraints
    bond_ideal, bond_sigma = r.bond_ideal.copy(), r.bond_sigma.copy()
    angle_ideal, angle_sigma = r.angle_ideal.copy(), r.angle_sigma.copy()
    bond_row = {tuple(sorted(b)): k for k, b in enumerate(r.bonds.tolist())}
    angle_row = {(a[1], min(a[0], a[2]), max(a[0], a[2])): k for k, a in enumerate(r.angles.tolist())}
    for k, prev, nxt, values in _residue_values(topo, xyz, table):
        for name, (mean, sigma) in values.items():
            atoms = _atoms(topo, k, prev, nxt, ATOMS[name])
            if atoms is None or np.isnan(mean):
                continue
            if len(atoms) == 2:
                row = bond_row.get(tuple(sorted(atoms)))
                if row is not None:
                    bond_ideal[row], bond_sigma[row] = mean, sigma
            else:
                row = angle_row.get((atoms[1], min(atoms[0], atoms[2]), max(atoms[0], atoms[2])))
                if row is not None:
                    angle_ideal[row], angle_sigma[row] = mean, sigma
    return dataclasses.replace(r, bond_ideal=bond_ideal, bond_sigma=bond_sigma,
                               angle_ideal=angle_ideal, angle_sigma=angle_sigma)


def _residue_values(topo, xyz: np.ndarray, table: CDLTable):
    """Yield (residue, previous, next, {column: (mean, sigma)}) for residues the CDL updates."""
    tors = named_torsions(topo)
    angle = {name: dict(zip(res.tolist(), dihedral_deg(xyz[idx]).tolist()))
             for name, (idx, res) in tors.items() if name in ("phi", "psi", "omega")}
    prev = {lk.j: lk.i for lk in topo.links if lk.polymer}
    nxt = {lk.i: lk.j for lk in topo.links if lk.polymer}
    for k, phi in angle.get("phi", {}).items():
        psi = angle["psi"].get(k)
        omegas = (angle["omega"].get(k), angle["omega"].get(nxt.get(k)))
        if psi is None or None in omegas:
            continue
        name = topo.residues[k].name
        if min(abs(w) for w in omegas) < CIS_LIMIT:
            if name == "PRO":
                yield k, prev[k], nxt[k], dict(zip(table.cis_pro_columns,
                                                   zip(table.cis_pro_mean, table.cis_pro_sigma)))
            continue
        group = cdl_group(name, topo.residues[nxt[k]].name)
        if group is None:
            continue
        g, i, j = table.groups.index(group), phi_psi_bin(phi), phi_psi_bin(psi)
        yield k, prev[k], nxt[k], dict(zip(table.columns, zip(table.mean[g, i, j], table.sigma[g, i, j])))


def _atoms(topo, k: int, prev: int, nxt: int, spec) -> list[int] | None:
    out = []
    for offset, name in spec:
        res = topo.residues[k if offset == 0 else prev if offset < 0 else nxt]
        if name not in res.atoms:
            return None
        out.append(res.atoms[name])
    return out
