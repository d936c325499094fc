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

from ..errors import ModelError
from .library import NUCLEIC, PEPTIDE, RestraintLibrary, ResidueTemplate
from .linking import CIS_OMEGA, Link, find_links
from .restraints import RestraintSet

WATER = {"HOH", "WAT", "H2O", "DOD", "TIP3", "SOL"}


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


@dataclass
class AtomTable:
    """Per-atom labels (numpy arrays of length n)."""

    names: np.ndarray
    elements: np.ndarray
    residue: np.ndarray      # index into Topology.residues
    energy_types: np.ndarray  # '' where unknown
    restrained: np.ndarray   # bool: atom belongs to a residue with a template


@dataclass
class Topology:
    """A model's restraints; see RestraintSet for the arrays (bonds, angles, ...)."""

    atoms: AtomTable
    residues: list[Residue]
    restraints: RestraintSet
    links: list[Link]
    gemmi_index: list[tuple[int, int, int]]  # (chain, residue, atom) in the gemmi model per atom
    hydrogens: object = None                  # RidingHydrogens, filled by build_topology
    notes: list[str] = field(default_factory=list)

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
        """Write (n, 3) coordinates back into ``st`` (in place)."""
        model = st[model_index]
        for k, (c, r, a) in enumerate(self.gemmi_index):
            model[c][r][a].pos = gemmi.Position(*map(float, xyz[k]))

    def residue_label(self, i: int) -> str:
        r = self.residues[i]
        return f"{r.chain}/{r.name}{r.seqid}"


def _collect_atoms(st: gemmi.Structure, model_index: int, notes: list[str]):
    """First-conformer heavy atoms per residue, plus labels; notes what was skipped."""
    if len(st) == 0 or st[model_index].count_atom_sites() == 0:
        raise ModelError(st.name or None, "model has no atoms")
    model = st[model_index]
    residues, gemmi_index, names, elements, res_of = [], [], [], [], []
    n_alt = n_h = 0
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
    return residues, gemmi_index, np.array(names), np.array(elements), np.array(res_of, dtype=np.int64)


def build_topology(st: gemmi.Structure, library: RestraintLibrary | None = None,
                   model_index: int = 0, link_distance: float = 4.0, warn: bool = True,
                   cis_threshold: float = CIS_OMEGA) -> Topology:
    """Compile the restraint topology of one model.

    library: templates (default: built-in tables, extended by $CLIBD_MON).
    link_distance: generous upper bound (Å) on a peptide C-N or nucleic O3'-P distance
    for consecutive residues to be linked. Notes (altlocs, missing atoms, unknown
    residues) are collected in ``Topology.notes`` and, with ``warn``, issued as warnings.
    cis_threshold: |omega| (degrees) under which a peptide is restrained cis (cctbx's 45 by
    default; refinement of a distorted model uses 90, the nearer of the two planar states).
    """
    from .hydrogens import riding_hydrogens_for

    library = library or RestraintLibrary()
    notes: list[str] = []
    residues, gemmi_index, names, elements, res_of = _collect_atoms(st, model_index, notes)
    xyz = np.array([[p.x, p.y, p.z] for p in
                    (st[model_index][c][r][a].pos for c, r, a in gemmi_index)]).reshape(-1, 3)
    unknown = sorted({r.name for r in residues if r.name not in WATER and library.polymer(r.name) is None})
    for r in residues:
        r.polymer = library.polymer(r.name) if r.name not in WATER else None
    links = find_links(residues, xyz, library, link_distance, notes, cis_threshold)
    _assign_forms(residues, links, library)
    if unknown:
        notes.append(f"residues not in the restraint library, excluded from geometry and kept in the output: "
                     f"{', '.join(unknown)} (set $CLIBD_MON to a CCP4 monomer library to restrain them)")
    restraints = RestraintSet.compile(residues, links, library, notes)
    energy = np.array([_energy_type(residues[res_of[i]], n) for i, n in enumerate(names)])
    table = AtomTable(names, elements, res_of, energy, np.array([residues[k].template is not None for k in res_of]))
    topo = Topology(table, residues, restraints, links, gemmi_index, notes=notes)
    topo.hydrogens = riding_hydrogens_for(topo, library)
    if warn:
        for note in notes:
            warnings.warn(f"{st.name or 'model'}: {note}", stacklevel=2)
    return topo


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
