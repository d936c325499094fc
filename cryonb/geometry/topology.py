"""Restraint topology: index arrays with ideal values and sigmas, compiled once per model.

``build_topology(st)`` walks the first model of a gemmi Structure and returns a
:class:`Topology` over its heavy atoms (hydrogens in the file are ignored; riding
hydrogens are rebuilt from the heavy atoms, see ``hydrogens.py``). Links between
residues are decided from chain, sequence order and residue numbering, with a
generous distance check, so a badly distorted model keeps its peptide restraints.
Atom indices refer to ``Topology.atoms`` order; ``Topology.xyz(st)`` gives the
matching (n, 3) coordinates.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import gemmi
import numpy as np
from scipy.spatial import cKDTree

from ..errors import ModelError
from .clashes import COVALENT
from .hydrogens import RidingHydrogens, riding_hydrogens_for
from .library import RestraintLibrary, ResidueTemplate
from .linking import CIS_OMEGA, Link, find_links, find_struct_links
from .constants import NUCLEIC, PEPTIDE
from .restraints import RestraintSet

WATER = {"HOH", "WAT", "H2O", "DOD", "TIP3", "TIP", "SOL", "D2O"}


@dataclass
class Residue:
    """One residue of the model as the topology sees it."""

    chain: str
    seqid: str
    name: str
    atoms: dict[str, int]            # atom name -> index into Topology.atoms
    template: ResidueTemplate | None  # None: unknown residue or water, excluded from geometry
    form: str = "free"
    polymer: str | None = None

    @property
    def is_water(self) -> bool:
        return self.name in WATER

    @property
    def is_ion(self) -> bool:
        """A single-atom residue known to the library (metal or halide ion)."""
        return (self.template is not None and len(self.atoms) == 1 and len(self.template.bonds) == 0
                and next(iter(self.atoms)) in self.template.atoms)


@dataclass
class AtomTable:
    """Per-atom labels (numpy arrays of length n)."""

    names: np.ndarray
    elements: np.ndarray
    residue: np.ndarray      # index into Topology.residues
    energy_types: np.ndarray  # '' where unknown
    restrained: np.ndarray   # bool: atom belongs to a residue with a template and is in it
    held: np.ndarray = None  # bool: no restraint known (unknown residue or atom): never moved
    tethered: np.ndarray = None  # bool: water or ion, held near its start by a tether
    water: np.ndarray = None     # bool: atom of a water


@dataclass
class Topology:
    """A model's restraints; see RestraintSet for the arrays (bonds, angles, ...)."""

    atoms: AtomTable
    residues: list[Residue]
    restraints: RestraintSet
    links: list[Link]
    gemmi_index: list[tuple[int, int, int]]  # (chain, residue, atom) in the gemmi model per atom
    hydrogens: RidingHydrogens | None = None  # filled by build_topology
    notes: list[str] = field(default_factory=list)
    # (m, 2) bonds judged from distances inside held residues: clash exclusions, not restraints
    extra_bonds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    @property
    def n_atoms(self) -> int:
        return len(self.atoms.names)

    def xyz(self, st: gemmi.Structure, model_index: int = 0) -> np.ndarray:
        """(n, 3) float64 coordinates of the topology's atoms in ``st`` (same atom layout)."""
        model = st[model_index]
        out = np.empty((self.n_atoms, 3))
        for k, (c, r, a) in enumerate(self.gemmi_index):
            p = model[c][r][a].pos
            out[k] = (p.x, p.y, p.z)
        return out

    def set_xyz(self, st: gemmi.Structure, xyz: np.ndarray, model_index: int = 0) -> None:
        """Write (n, 3) coordinates back into ``st`` (in place).

        Atoms of ``st`` outside the topology (alternate conformers, hydrogens in the file) move
        with it: each by the shift of the topology atom of its residue with the same name, else of
        the nearest one (a hydrogen's parent), so the output stays one consistent model.
        """
        model = st[model_index]
        old = self.xyz(st, model_index)
        shift = np.asarray(xyz, dtype=np.float64) - old
        for k, (c, r, a) in enumerate(self.gemmi_index):
            model[c][r][a].pos = gemmi.Position(*map(float, xyz[k]))
        for (c, r), members in self._followers(st, model_index).items():
            res = model[c][r]
            for a, k in members:
                res[a].pos = res[a].pos + gemmi.Position(*map(float, shift[k]))

    def _followers(self, st: gemmi.Structure, model_index: int) -> dict:
        """(chain, residue) -> [(atom index in the residue, topology atom it moves with)]."""
        model = st[model_index]
        mine: dict[tuple[int, int], dict[int, int]] = {}
        for k, (c, r, a) in enumerate(self.gemmi_index):
            mine.setdefault((c, r), {})[a] = k
        out = {}
        for (c, r), inside in mine.items():
            res = model[c][r]
            if len(res) == len(inside):
                continue
            by_name = {res[a].name: k for a, k in inside.items()}
            pos = {k: np.array(res[a].pos.tolist()) for a, k in inside.items()}
            members = []
            for a in range(len(res)):
                if a in inside:
                    continue
                k = by_name.get(res[a].name)
                if k is None:
                    p = np.array(res[a].pos.tolist())
                    k = min(pos, key=lambda j: float(np.sum((pos[j] - p) ** 2)))
                members.append((a, k))
            out[(c, r)] = members
        return out

    def residue_labels(self, residues, limit: int = 20) -> str:
        """Labels of residue indices ``residues``, comma-separated: the first ``limit``, then a count."""
        labels = [self.residue_label(int(k)) for k in residues]
        return ", ".join(labels[:limit]) + (f" ... ({len(labels)} in all)" if len(labels) > limit else "")

    def residue_label(self, i: int) -> str:
        r = self.residues[i]
        return f"{r.chain}/{r.name}{r.seqid}"


def _collect_atoms(st: gemmi.Structure, model_index: int, notes: list[str]):
    """First-conformer heavy atoms per residue, plus labels; notes what was skipped."""
    if len(st) == 0 or st[model_index].count_atom_sites() == 0:
        raise ModelError(st.name or None, "model has no atoms")
    model = st[model_index]
    if len(st) > 1:
        notes.append(f"the file holds {len(st)} models; model {model.num or model_index + 1} only is used "
                     "(split the file to refine the others)")
    residues, gemmi_index, names, elements, res_of = [], [], [], [], []
    n_alt = n_h = n_dup = 0
    for ci, chain in enumerate(model):
        for ri, res in enumerate(chain):
            atoms, first_alt = {}, None
            for ai, atom in enumerate(res):
                if atom.is_hydrogen():
                    n_h += 1
                    continue
                if atom.altloc != "\0":
                    first_alt = first_alt or atom.altloc
                    if atom.altloc != first_alt or atom.name in atoms:
                        n_alt += 1
                        continue
                if atom.name in atoms:
                    n_dup += 1
                    continue
                atoms[atom.name] = len(names)
                gemmi_index.append((ci, ri, ai))
                names.append(atom.name)
                elements.append(atom.element.name)
                res_of.append(len(residues))
            residues.append(Residue(chain.name, str(res.seqid.num) + res.seqid.icode.strip(), res.name, atoms, None))
    if n_alt:
        notes.append(f"alternate conformations: using the first conformer only ({n_alt} atoms skipped)")
    if n_h:
        notes.append(f"{n_h} hydrogen atoms in the file ignored: riding hydrogens are rebuilt from heavy atoms")
    if n_dup:
        notes.append(f"{n_dup} atoms repeated within their residue (same name, no altloc): the first copy used")
    return residues, gemmi_index, np.array(names), np.array(elements), np.array(res_of, dtype=np.int64)


def build_topology(st: gemmi.Structure, library: RestraintLibrary | None = None,
                   model_index: int = 0, link_distance: float = 4.0, warn: bool = True,
                   cis_threshold: float = CIS_OMEGA, cis_general: float | None = None) -> Topology:
    """Compile the restraint topology of one model.

    library: templates (default: built-in tables, extended by $CLIBD_MON).
    link_distance: generous upper bound (Å) on a peptide C-N or nucleic O3'-P distance
    for consecutive residues to be linked. Notes (altlocs, missing atoms, unknown
    residues) are collected in ``Topology.notes`` and, with ``warn``, issued as warnings.
    cis_threshold: |omega| (degrees) under which a peptide is restrained cis (cctbx's 45 by
    default; refinement of a distorted model uses 90, the nearer of the two planar states).
    cis_general: the same before a residue other than proline, when given (refinement: 30).
    """
    library = library or RestraintLibrary()
    notes: list[str] = []
    residues, gemmi_index, names, elements, res_of = _collect_atoms(st, model_index, notes)
    xyz = np.array([[p.x, p.y, p.z] for p in
                    (st[model_index][c][r][a].pos for c, r, a in gemmi_index)]).reshape(-1, 3)
    for r in residues:
        r.polymer = library.polymer(r.name) if r.name not in WATER else None
    links = find_links(residues, xyz, library, link_distance, notes, cis_threshold, cis_general)
    links += find_struct_links(st, residues, xyz, elements, links, notes)
    _assign_forms(residues, links, library)
    restraints = RestraintSet.compile(residues, links, library, notes)
    energy = np.array([_energy_type(residues[res_of[i]], n) for i, n in enumerate(names)])
    table = _atom_table(residues, names, elements, res_of, energy)
    _note_sources(residues, table, library, notes)
    topo = Topology(table, residues, restraints, links, gemmi_index, notes=notes,
                    extra_bonds=held_bonds(table, xyz))
    topo.hydrogens = riding_hydrogens_for(topo, library)
    if warn:
        for note in notes:
            warnings.warn(f"{st.name or 'model'}: {note}", stacklevel=2)
    return topo


def _atom_table(residues, names, elements, res_of, energy) -> AtomTable:
    """Per-atom labels with the restrained / held / tethered / water masks."""
    in_template = np.array([residues[k].template is not None and n in residues[k].template.atoms
                            for k, n in zip(res_of, names)], dtype=bool)
    water = np.array([residues[k].is_water for k in res_of], dtype=bool)
    tethered = water | np.array([residues[k].is_ion for k in res_of], dtype=bool)
    held = ~in_template & ~tethered
    return AtomTable(names, elements, res_of, energy, in_template, held, tethered, water)


def _note_sources(residues, table: AtomTable, library: RestraintLibrary, notes: list[str]) -> None:
    """Say which residues were restrained from the CCD or a monomer library, which are held."""
    by_origin: dict[str, set[str]] = {}
    for r in residues:
        if r.template is not None:
            by_origin.setdefault(library.origin(r.name) or "", set()).add(r.name)
    for origin in ("monomer library", "CCD"):
        if by_origin.get(origin):
            how = ("the CCP4 monomer library" if origin == "monomer library" else
                   "the wwPDB Chemical Component Dictionary (ideal geometry, esd 0.02 Å, 3 degrees)")
            notes.append(f"restrained from {how}: {', '.join(sorted(by_origin[origin]))}")
    unknown = sorted({r.name for r in residues if r.template is None and not r.is_water})
    if unknown:
        labels = [f"{r.chain}/{r.name}{r.seqid}" for r in residues if r.name in unknown]
        notes.append(f"held fixed, no restraints known (not in the built-in tables, a monomer library or "
                     f"the CCD): {', '.join(unknown)} ({len(labels)} residues: {', '.join(labels[:10])}"
                     f"{' ...' if len(labels) > 10 else ''})")
    n_water = int(table.water.sum())
    n_ion = int((table.tethered & ~table.water).sum())
    if n_water or n_ion:
        notes.append(f"tethered to their start, taking part in clashes: {n_water} water and {n_ion} ion atoms")


def held_bonds(table: AtomTable, xyz: np.ndarray) -> np.ndarray:
    """(m, 2) atom pairs of one held residue within bonding distance (covalent radii + 0.4 Å)."""
    idx = np.flatnonzero(table.held)
    if len(idx) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = cKDTree(xyz[idx]).query_pairs(3.0, output_type="ndarray").reshape(-1, 2)
    i, j = idx[pairs[:, 0]], idx[pairs[:, 1]]
    cov = np.array([COVALENT.get(e, 1.2) for e in table.elements])
    d = np.linalg.norm(xyz[i] - xyz[j], axis=1)
    keep = (table.residue[i] == table.residue[j]) & (d <= cov[i] + cov[j] + 0.4)
    return np.stack([i[keep], j[keep]], 1).astype(np.int64)


def _assign_forms(residues: list[Residue], links: list[Link], library: RestraintLibrary) -> None:
    has_prev = {lk.j for lk in links if lk.polymer}
    has_next = {lk.i for lk in links if lk.polymer}
    for k, r in enumerate(residues):
        if r.polymer is None:
            continue
        linked = (k in has_prev, k in has_next)
        r.form = {(True, True): "internal", (False, True): "start",
                  (True, False): "end", (False, False): "free"}[linked]
        r.template = library.template(r.name, r.form)


def _energy_type(res: Residue, name: str) -> str:
    t = res.template
    if t is None or name not in t.atoms:
        return ""
    return t.energy_types[t.index(name)]


__all__ = ["Topology", "Residue", "AtomTable", "build_topology", "PEPTIDE", "NUCLEIC", "warnings"]
