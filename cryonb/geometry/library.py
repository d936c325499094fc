"""Ideal geometry of residues and links: cryonb's compact tables plus, optionally, a CCP4 monomer library.

The tables in ``monomers.json.gz`` are derived from the CCP4 monomer library by
``tools/build_restraint_tables.py`` for the 20 amino acids and A/C/G/U/DA/DC/DG/DT,
in four forms: ``internal`` (linked on both sides), ``start`` (N-terminus or 5' end),
``end`` (C-terminus or 3' end) and ``free`` (unlinked). Other residues are read at
run time from a monomer library folder (``$CLIBD_MON`` or a path given by the
caller) through gemmi, else derived from the wwPDB Chemical Component Dictionary
(:mod:`.ccd`); a residue found in none of them is unknown.

Distances are in Å, angles in degrees. Bonds carry the electron-cloud distance
(what X-ray, cryo-EM and MolProbity's clashscore use for X-H) and the nuclear one.
"""
from __future__ import annotations

import functools
import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from ..errors import InputFileError
from .ccd import ccd_entry
from .constants import NUCLEIC, OTHER, PEPTIDE

TABLES = Path(__file__).with_name("monomers.json.gz")
FORMS = ("internal", "start", "end", "free")
_PEPTIDE_GROUPS = {"peptide", "ppeptide", "mpeptide", "p-peptide", "m-peptide"}
_NUCLEIC_GROUPS = {"rna", "dna", "dna/rna"}
# Atoms a linked residue loses when the monomer library entry is a free molecule (for residues
# read at run time, where the library's modifications are not applied).
_LEAVING = {PEPTIDE: {"next": {"OXT", "HXT"}, "prev": {"H2", "H3"}},
            NUCLEIC: {"next": {"HO3'"}, "prev": {"OP3", "HOP3"}}}


@dataclass(frozen=True)
class ResidueTemplate:
    """Restraints of one residue form; atom references are indices into ``atoms``.

    atoms: names; elements, energy_types: per atom; ideal_xyz: (n, 3) Å (library model).
    bonds: (nb, 2) int, bond_ideal/bond_esd (electron cloud), bond_ideal_nucleus.
    angles: (na, 3) int, angle_ideal/angle_esd in degrees.
    torsions: (nt, 4) int, torsion_names, torsion_ideal/esd (degrees), torsion_period.
    chirals: (nc, 4) int (centre first), chiral_sign (+1, -1, 0 = either), chiral_volume (Å^3, >= 0).
    planes: list of (atom index array, esd Å), with plane_names.
    """

    name: str
    polymer: str
    atoms: tuple[str, ...]
    elements: tuple[str, ...]
    energy_types: tuple[str, ...]
    ideal_xyz: np.ndarray
    bonds: np.ndarray
    bond_ideal: np.ndarray
    bond_esd: np.ndarray
    bond_ideal_nucleus: np.ndarray
    angles: np.ndarray
    angle_ideal: np.ndarray
    angle_esd: np.ndarray
    torsions: np.ndarray
    torsion_names: tuple[str, ...]
    torsion_ideal: np.ndarray
    torsion_esd: np.ndarray
    torsion_period: np.ndarray
    chirals: np.ndarray
    chiral_sign: np.ndarray
    chiral_volume: np.ndarray
    planes: tuple[tuple[np.ndarray, float], ...]
    plane_names: tuple[str, ...]

    def index(self, name: str) -> int:
        return self.atoms.index(name)


@dataclass(frozen=True)
class LinkTemplate:
    """An inter-residue link; atoms are (side, name) with side 0 = earlier residue, 1 = later."""

    name: str
    bonds: list
    angles: list
    torsions: list
    chirals: list
    planes: list


def template_from_form(name: str, polymer: str, form: dict) -> ResidueTemplate:
    """Build a ResidueTemplate from one form of the compact JSON tables."""
    atoms = [a[0] for a in form["atoms"]]
    pos = {a: i for i, a in enumerate(atoms)}

    def idx(rows, n):
        return np.array([[pos[a] for a in r[:n]] for r in rows], dtype=np.int64).reshape(-1, n)

    def col(rows, j):
        return np.array([r[j] for r in rows], dtype=np.float64)

    tors = form["torsions"]
    return ResidueTemplate(
        name=name, polymer=polymer, atoms=tuple(atoms),
        elements=tuple(a[1] for a in form["atoms"]), energy_types=tuple(a[2] for a in form["atoms"]),
        ideal_xyz=np.array([a[3:6] for a in form["atoms"]], dtype=np.float64).reshape(-1, 3),
        bonds=idx(form["bonds"], 2), bond_ideal=col(form["bonds"], 2), bond_esd=col(form["bonds"], 3),
        bond_ideal_nucleus=col(form["bonds"], 4),
        angles=idx(form["angles"], 3), angle_ideal=col(form["angles"], 3), angle_esd=col(form["angles"], 4),
        torsions=idx([t[1:5] for t in tors], 4), torsion_names=tuple(t[0] for t in tors),
        torsion_ideal=col(tors, 5), torsion_esd=col(tors, 6), torsion_period=col(tors, 7).astype(int),
        chirals=idx(form["chirals"], 4), chiral_sign=col(form["chirals"], 4).astype(int),
        chiral_volume=col(form["chirals"], 5),
        planes=tuple((np.array([pos[a] for a in p[1]], dtype=np.int64), float(p[2])) for p in form["planes"]),
        plane_names=tuple(p[0] for p in form["planes"]),
    )


def polymer_kind(group: str) -> str:
    g = group.lower()
    return PEPTIDE if g in _PEPTIDE_GROUPS else NUCLEIC if g in _NUCLEIC_GROUPS else OTHER


@functools.lru_cache(maxsize=1)
def _tables() -> dict:
    with gzip.open(TABLES, "rt") as f:
        return json.load(f)


def standard_residues() -> frozenset[str]:
    """Names in the built-in tables: the 20 amino acids, A/C/G/U and DA/DC/DG/DT."""
    return frozenset(_tables()["residues"])


class RestraintLibrary:
    """Residue templates by (name, form), links by name, energy-type properties.

    ``monomer_dir`` (default ``$CLIBD_MON``) extends the built-in tables to other
    residues through gemmi; then the CCD (``ccd=True``); residues found nowhere are
    unknown (``template`` returns None). ``origin(name)`` says where a residue came from.
    """

    def __init__(self, monomer_dir: str | os.PathLike | None = None, ccd: bool = True):
        self.monomer_dir = monomer_dir if monomer_dir is not None else os.environ.get("CLIBD_MON") or None
        if self.monomer_dir is not None and not Path(self.monomer_dir).is_dir():
            raise InputFileError(self.monomer_dir, "monomer library folder not found")
        t = _tables()
        self.source = t["source"]
        self._residues = t["residues"]
        self._extra: dict[str, dict | None] = {}
        self.use_ccd = ccd
        self.links = {name: LinkTemplate(name, **{k: v for k, v in link.items() if k != "mods"})
                      for name, link in t["links"].items()}
        self.energy_types = {k: (v[0], v[1], v[2]) for k, v in t["energy_types"].items()}
        self._cache: dict[tuple[str, str], ResidueTemplate | None] = {}

    def polymer(self, name: str) -> str | None:
        """'peptide', 'nucleic' or 'other' for a known residue name, None for an unknown one."""
        entry = self._entry(name)
        return None if entry is None else polymer_kind(entry["group"])

    def template(self, name: str, form: str = "internal") -> ResidueTemplate | None:
        key = (name, form)
        if key not in self._cache:
            entry = self._entry(name)
            self._cache[key] = None if entry is None else template_from_form(
                name, polymer_kind(entry["group"]), entry["forms"][form])
        return self._cache[key]

    def origin(self, name: str) -> str | None:
        """'built-in', 'monomer library' or 'CCD' for a known residue name, None for an unknown one."""
        entry = self._entry(name)
        return None if entry is None else entry.get("source", "built-in")

    def hbond_class(self, energy_type: str) -> str:
        """Donor 'D', acceptor 'A', both 'B', polar hydrogen 'H' or neither 'N'."""
        return self.energy_types.get(energy_type, ("", "N", None))[1]

    def _entry(self, name: str) -> dict | None:
        if name in self._residues:
            return self._residues[name]
        if name not in self._extra:
            self._extra[name] = self._read_extra(name)
        return self._extra[name]

    def _read_extra(self, name: str) -> dict | None:
        entry = self._read_monomer_library(name)
        if entry is None and self.use_ccd:
            entry = ccd_entry(name)
        if entry is None:
            return None
        kind = polymer_kind(entry["group"])
        free = entry["forms"]["free"]
        forms = {"free": free}
        for form, sides in [("internal", ["next", "prev"]), ("start", ["next"]), ("end", ["prev"])]:
            drop = set().union(*(_LEAVING[kind][s] for s in sides)) if kind in _LEAVING else set()
            forms[form] = drop_atoms(free, drop)
        return {**entry, "forms": forms}

    def _read_monomer_library(self, name: str) -> dict | None:
        if self.monomer_dir is None or not name:
            return None
        path = Path(self.monomer_dir) / name[0].lower() / f"{name}.cif"
        if not path.exists():
            return None
        ml = gemmi.read_monomer_lib(str(self.monomer_dir), [name], ignore_missing=True)
        if name not in ml.monomers:
            return None
        cc = ml.monomers[name]
        return {"group": cc.group.name.lower(), "source": "monomer library",
                "forms": {"free": compact_form(comp_restraints(cc))}}


def comp_restraints(cc: gemmi.ChemComp) -> dict:
    """Restraints of a gemmi ChemComp as dicts keyed by atom names (editable by modifications)."""
    rt = cc.rt
    return {
        "atoms": {a.id: [a.el.name, a.chem_type, round(a.xyz.x, 3), round(a.xyz.y, 3), round(a.xyz.z, 3)]
                  for a in cc.atoms},
        "bonds": {pair_key(b.id1.atom, b.id2.atom): [b.value, b.esd, b.value_nucleus, b.esd_nucleus]
                  for b in rt.bonds},
        "angles": {(a.id1.atom, a.id2.atom, a.id3.atom): [a.value, a.esd] for a in rt.angles},
        "torsions": {(t.id1.atom, t.id2.atom, t.id3.atom, t.id4.atom): [t.label, t.value, t.esd, t.period]
                     for t in rt.torsions},
        "chirals": {c.id_ctr.atom: [c.id1.atom, c.id2.atom, c.id3.atom, chirality_sign(c.sign),
                                    round(rt.chiral_abs_volume(c), 4)] for c in rt.chirs},
        "planes": {p.label: {i.atom: p.esd for i in p.ids} for p in rt.planes},
    }


def pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def chirality_sign(s: gemmi.ChiralityType) -> int:
    return {gemmi.ChiralityType.Positive: 1, gemmi.ChiralityType.Negative: -1}.get(s, 0)


def compact_form(t: dict) -> dict:
    """comp_restraints dicts -> the JSON list form used in monomers.json.gz."""
    return {
        "atoms": [[name, *v] for name, v in t["atoms"].items()],
        "bonds": [[*k, *v] for k, v in t["bonds"].items()],
        "angles": [[*k, *v] for k, v in t["angles"].items()],
        "torsions": [[v[0], *k, *v[1:]] for k, v in t["torsions"].items()],
        "chirals": [[k, *v] for k, v in t["chirals"].items()],
        "planes": [[label, list(v), max(v.values())] for label, v in t["planes"].items() if len(v) >= 4],
    }


def drop_atoms(form: dict, names: set[str]) -> dict:
    """A compact form without the named atoms and every restraint that uses them."""
    def keep(atoms):
        return not names.intersection(atoms)

    return {
        "atoms": [a for a in form["atoms"] if a[0] not in names],
        "bonds": [b for b in form["bonds"] if keep(b[:2])],
        "angles": [a for a in form["angles"] if keep(a[:3])],
        "torsions": [t for t in form["torsions"] if keep(t[1:5])],
        "chirals": [c for c in form["chirals"] if keep(c[:4])],
        "planes": [[p[0], [a for a in p[1] if a not in names], p[2]] for p in form["planes"]
                   if len([a for a in p[1] if a not in names]) >= 4],
    }
