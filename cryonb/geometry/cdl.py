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
    """A copy of ``topo.restraints`` with CDL ideals and sigmas for the backbone at ``xyz`` (n, 3) Å.

    Builds a :class:`CDLPlan` each call; refinements that refresh the ideals keep one plan."""
    return CDLPlan(topo, table).restraints(xyz)


class CDLPlan:
    """Which backbone restraint rows each residue's CDL columns set, found once per topology, so
    that renewing the ideals at new coordinates is a few array operations (no per-residue loop).

    A residue is covered when it has phi, psi and the omegas on both sides; at coordinates where
    either omega is cis (|omega| < CIS_LIMIT) a Pro takes the cis-Pro values and others keep the
    library's, otherwise it takes its group's row of the table at its (phi, psi) bins.
    """

    def __init__(self, topo, table: CDLTable | None = None):
        self.topo, self.table = topo, table or load_cdl()
        tors = named_torsions(topo)
        quads = {name: dict(zip(res.tolist(), idx)) for name, (idx, res) in tors.items()
                 if name in ("phi", "psi", "omega")}
        prev = {lk.j: lk.i for lk in topo.links if lk.polymer}
        nxt = {lk.i: lk.j for lk in topo.links if lk.polymer}
        rows = []         # (residue, quads (4, 4): phi, psi, omega, next omega; group or -1; is Pro)
        for k, phi in quads.get("phi", {}).items():
            psi, j = quads["psi"].get(k), nxt.get(k)
            omegas = (quads["omega"].get(k), quads["omega"].get(j))
            if psi is None or j is None or any(w is None for w in omegas):
                continue
            name = topo.residues[k].name
            group = cdl_group(name, topo.residues[j].name)
            if group is None and name != "PRO":
                continue
            g = self.table.groups.index(group) if group is not None else -1
            rows.append((k, prev[k], j, np.stack([phi, psi, *omegas]), g, name == "PRO"))
        self.residues = np.array([r[0] for r in rows], dtype=np.int64)
        self.quads = np.array([r[3] for r in rows], dtype=np.int64).reshape(-1, 4, 4)
        self.group = np.array([r[4] for r in rows], dtype=np.int64)
        self.is_pro = np.array([r[5] for r in rows], dtype=bool)
        r = topo.restraints
        lookup = ({tuple(sorted(b)): k for k, b in enumerate(r.bonds.tolist())},
                  {(a[1], min(a[0], a[2]), max(a[0], a[2])): k for k, a in enumerate(r.angles.tolist())})
        self.rows = self._rows(rows, self.table.columns, *lookup)
        self.cis_rows = self._rows(rows, self.table.cis_pro_columns, *lookup)

    def _rows(self, rows, columns, bond_row: dict, angle_row: dict) -> np.ndarray:
        """(residues, columns) restraint row set by each column (bond or angle row), -1: none."""
        out = np.full((len(rows), len(columns)), -1, dtype=np.int64)
        for i, (k, prev, nxt, *_) in enumerate(rows):
            for c, name in enumerate(columns):
                atoms = _atoms(self.topo, k, prev, nxt, ATOMS[name])
                if atoms is None:
                    continue
                if len(atoms) == 2:
                    out[i, c] = bond_row.get(tuple(sorted(atoms)), -1)
                else:
                    out[i, c] = angle_row.get((atoms[1], min(atoms[0], atoms[2]), max(atoms[0], atoms[2])), -1)
        return out

    def restraints(self, xyz: np.ndarray):
        """A copy of the topology's restraints with CDL backbone ideals at ``xyz`` (n, 3) Å."""
        r, t = self.topo.restraints, self.table
        ideal = {"bond": (r.bond_ideal.copy(), r.bond_sigma.copy()),
                 "angle": (r.angle_ideal.copy(), r.angle_sigma.copy())}
        if len(self.residues):
            angles = dihedral_deg(np.asarray(xyz, dtype=np.float64)[self.quads])       # (r, 4)
            cis = np.abs(angles[:, 2:]).min(-1) < CIS_LIMIT
            trans = ~cis & (self.group >= 0)
            i, j = phi_psi_bin(angles[trans, 0]), phi_psi_bin(angles[trans, 1])
            g = self.group[trans]
            self._set(ideal, t.columns, self.rows[trans], t.mean[g, i, j], t.sigma[g, i, j])
            pro = cis & self.is_pro
            n = int(pro.sum())
            self._set(ideal, t.cis_pro_columns, self.cis_rows[pro], np.tile(t.cis_pro_mean, (n, 1)),
                      np.tile(t.cis_pro_sigma, (n, 1)))
        return dataclasses.replace(r, bond_ideal=ideal["bond"][0], bond_sigma=ideal["bond"][1],
                                   angle_ideal=ideal["angle"][0], angle_sigma=ideal["angle"][1])

    @staticmethod
    def _set(ideal: dict, columns, rows: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> None:
        """Write (residues, columns) means and sigmas into their rows, residue by residue in order."""
        for c, name in enumerate(columns):
            ok = (rows[:, c] >= 0) & ~np.isnan(mean[:, c])
            values, sigmas = ideal["bond" if len(ATOMS[name]) == 2 else "angle"]
            values[rows[ok, c]], sigmas[rows[ok, c]] = mean[ok, c], sigma[ok, c]


def _atoms(topo, k: int, prev: int, nxt: int, spec) -> list[int] | None:
    out = []
    for offset, name in spec:
        res = topo.residues[k if offset == 0 else prev if offset < 0 else nxt]
        if name not in res.atoms:
            return None
        out.append(res.atoms[name])
    return out
