"""Restraints for any residue from the wwPDB Chemical Component Dictionary (CCD).

``biotite.structure.info`` ships the whole CCD (ideal coordinates, bond orders, stereo
configurations, leaving atoms). For a residue that is neither in cryonb's tables nor in a CCP4
monomer library, :func:`ccd_entry` derives restraints the way ligand-restraint generators do
(eLBOW, acedrg), from the component's ideal coordinates:

* bonds: every CCD bond at its ideal length, esd 0.02 Å; a bond to a metal at the typical
  metal-donor distance (:mod:`.metals`), esd 0.05 Å; the terminal O of a carboxylate, nitro,
  phosphate or sulfate group at their mean length (delocalised; the CCD draws one Kekule form);
* angles: every bonded triple at its ideal value, esd 3.0 degrees, except those through a metal
  (the CCD's coordinates are poor there; the metal's distances and planes hold it);
* planes (esd 0.02 Å): each three-connected sp2 atom with its neighbours and each double or
  aromatic bond with both atoms' neighbours (kept where the ideal coordinates are planar within
  0.25 Å, or a metal is in the group, as haem's iron in its pyrrole planes); each aromatic ring
  with its first substituents and each flat three-connected N, planar within 0.05 Å;
* chirality: CCD stereo centres (R/S) signed as in the ideal coordinates; other sp3 atoms with
  three heavy neighbours restrained in volume but not in sign (either hand);
* no torsions: a ligand's conformation is the map's to decide.

Energy types (for clash radii and H-bond roles) follow the CCP4 names from element, aromaticity,
hybridisation and attached hydrogens. Entries are cached as JSON per component in
``<cache>/ccd/<biotite version>/`` (the first lookup in a process loads the CCD, about 4 s).
"""
from __future__ import annotations

import functools
import json
import re
from itertools import combinations

import gemmi
import numpy as np

from ..atomic import atomic_path
from ..data.sources import cache_dir
from .constants import XH_LENGTH
from .metals import is_metal, metal_distance

BOND_ESD, METAL_BOND_ESD = 0.02, 0.05   # Å
ANGLE_ESD = 3.0                         # degrees
PLANE_ESD = 0.02                        # Å
PLANAR_WITHIN = 0.05                    # Å: largest deviation of a plane in the ideal coordinates
SP2_PLANAR_WITHIN = 0.25                # Å: the same for sp2 groups (a check on the bond orders)
_NAME = re.compile(r"^[A-Za-z0-9]{1,5}$")


def polymer_group(ccd_type: str) -> str:
    """CCD chem_comp.type -> a CCP4 monomer-library group ('peptide', 'rna', 'dna', 'non-polymer')."""
    t = ccd_type.upper()
    if "PEPTIDE LINKING" in t:
        return "peptide"
    if "RNA LINKING" in t:
        return "rna"
    if "DNA LINKING" in t:
        return "dna"
    return "non-polymer"


def ccd_entry(name: str) -> dict | None:
    """``{"group", "forms": {"free": compact form}, "source"}`` for CCD component ``name``, or None
    when the CCD lacks it (or it has no coordinates). Cached on disk per component."""
    if not _NAME.match(name):
        return None
    path = _cache_path(name)
    if path is not None and path.exists():
        return json.loads(path.read_text())
    entry = _derive(name)
    if path is not None:
        with atomic_path(path) as tmp:
            with open(tmp, "w") as fh:
                json.dump(entry, fh)
    return entry


def _cache_path(name: str):
    try:
        import biotite   # heavy: loaded only when a component is read from the CCD
        return cache_dir() / "ccd" / biotite.__version__ / f"{name}.json"
    except (ImportError, OSError):
        return None


@functools.lru_cache(maxsize=None)
def _derive(name: str) -> dict | None:
    comp = _read_component(name)
    if comp is None:
        return None
    atoms, elements, xyz, stereo, aromatic_atom, bonds = comp
    return {"group": polymer_group(comp_type(name)), "source": "CCD",
            "forms": {"free": compact_restraints(atoms, elements, xyz, stereo, aromatic_atom, bonds)}}


def comp_type(name: str) -> str:
    import biotite.structure.info as info
    col = info.get_from_ccd("chem_comp", name, "type")
    return "" if col is None else str(col.as_array()[0])


def _read_component(name: str):
    """Atom names, elements, (n, 3) ideal coordinates, stereo flags, aromatic flags and bonds
    [(i, j, order, aromatic)] of a CCD component, or None."""
    try:
        import biotite.structure.info as info
    except ImportError:
        return None

    def col(category, column):
        c = info.get_from_ccd(category, name, column)
        return None if c is None else c.as_array()

    try:
        names = col("chem_comp_atom", "atom_id")
    except (KeyError, ValueError):
        return None
    if names is None or len(names) == 0:
        return None
    xyz = _coordinates(col, len(names))
    if xyz is None:
        return None
    elements = [gemmi.Element(str(e)).name for e in col("chem_comp_atom", "type_symbol")]
    stereo = _flags(col("chem_comp_atom", "pdbx_stereo_config"), len(names), ("R", "S"))
    aromatic = _flags(col("chem_comp_atom", "pdbx_aromatic_flag"), len(names), ("Y",))
    pos = {str(n): i for i, n in enumerate(names)}
    bonds = []
    a1, a2 = col("chem_comp_bond", "atom_id_1"), col("chem_comp_bond", "atom_id_2")
    if a1 is not None:
        order = col("chem_comp_bond", "value_order")
        arom = _flags(col("chem_comp_bond", "pdbx_aromatic_flag"), len(a1), ("Y",))
        for k, (i, j) in enumerate(zip(a1, a2)):
            if str(i) in pos and str(j) in pos:
                bonds.append((pos[str(i)], pos[str(j)], str(order[k]).upper(), bool(arom[k])))
    return [str(n) for n in names], elements, xyz, stereo, aromatic, bonds


def _coordinates(col, n: int) -> np.ndarray | None:
    for prefix in ("pdbx_model_Cartn_{}_ideal", "model_Cartn_{}"):
        cols = [col("chem_comp_atom", prefix.format(a)) for a in "xyz"]
        if any(c is None for c in cols):
            continue
        try:
            xyz = np.array([[float(v) for v in c] for c in cols]).T
        except ValueError:   # '?' for missing values
            continue
        if xyz.shape == (n, 3) and np.all(np.isfinite(xyz)):
            return xyz
    return None


def _flags(values, n: int, true: tuple[str, ...]) -> list[bool]:
    if values is None:
        return [False] * n
    return [str(v).upper() in true for v in values]


# ----------------------------------------------------------------------------- restraints
def compact_restraints(atoms: list[str], elements: list[str], xyz: np.ndarray, stereo: list[bool],
                       aromatic: list[bool], bonds: list[tuple]) -> dict:
    """The compact JSON form (as in ``monomers.json.gz``) of a component's restraints."""
    n = len(atoms)
    nbr: list[list[int]] = [[] for _ in range(n)]
    for i, j, *_ in bonds:
        nbr[i].append(j)
        nbr[j].append(i)
    sp2 = [False] * n
    for i, j, order, arom in bonds:
        if order in ("DOUB", "TRIP", "AROM") or arom:
            sp2[i] = sp2[j] = True
    sp2 = [s or a for s, a in zip(sp2, aromatic)]
    types = energy_types(elements, nbr, sp2, aromatic)
    out = {"atoms": [[atoms[i], elements[i], types[i], *np.round(xyz[i], 3).tolist()] for i in range(n)],
           "bonds": [], "angles": [], "torsions": [], "chirals": [], "planes": []}
    length = _resonant_lengths(elements, xyz, nbr, bonds)
    for i, j, *_ in bonds:
        d = length.get((i, j), float(np.linalg.norm(xyz[i] - xyz[j])))
        ideal = _electron_length(elements, i, j, d)
        esd = METAL_BOND_ESD if is_metal(elements[i]) or is_metal(elements[j]) else BOND_ESD
        out["bonds"].append([atoms[i], atoms[j], round(ideal, 4), esd, round(d, 4), esd])
    metal = [is_metal(e) for e in elements]
    for c in range(n):
        for a, b in combinations(nbr[c], 2):
            if metal[a] or metal[b] or metal[c]:
                continue
            out["angles"].append([atoms[a], atoms[c], atoms[b], round(_angle(xyz, a, c, b), 2), ANGLE_ESD])
    out["chirals"] = _chirals(atoms, elements, xyz, nbr, sp2, stereo)
    out["planes"] = [[f"plane{k + 1}", [atoms[i] for i in p], PLANE_ESD]
                     for k, p in enumerate(_planes(xyz, nbr, sp2, aromatic, bonds, elements))]
    return out


def _resonant_lengths(elements, xyz, nbr, bonds) -> dict[tuple[int, int], float]:
    """Bonds from a C, N, P or S to two or more terminal O of mixed bond order (carboxylate,
    nitro, phosphate, sulfate): the CCD draws one Kekule structure, the group is delocalised,
    so each such bond gets the mean length of the group."""
    heavy = [[j for j in nbr[i] if elements[j] != "H"] for i in range(len(nbr))]
    order = {(i, j): o for i, j, o, _ in bonds} | {(j, i): o for i, j, o, _ in bonds}
    out = {}
    for c, el in enumerate(elements):
        if el not in ("C", "N", "P", "S"):
            continue
        terminal = [o for o in heavy[c] if elements[o] == "O" and len(heavy[o]) == 1]
        if len(terminal) < 2 or len({order[(c, o)] for o in terminal}) < 2:
            continue
        mean = float(np.mean([np.linalg.norm(xyz[c] - xyz[o]) for o in terminal]))
        for o in terminal:
            out[(c, o)] = out[(o, c)] = mean
    return out


def _electron_length(elements, i: int, j: int, d: float) -> float:
    """X-H bonds at MolProbity's electron-cloud length, metal bonds at the typical distance,
    others at the ideal coordinates' length."""
    if elements[i] == "H" or elements[j] == "H":
        heavy = elements[j] if elements[i] == "H" else elements[i]
        return XH_LENGTH.get(heavy, d)
    for m, x in ((i, j), (j, i)):
        if is_metal(elements[m]):
            return metal_distance(elements[m], elements[x]) or d
    return d


def _angle(xyz, a: int, c: int, b: int) -> float:
    u, v = xyz[a] - xyz[c], xyz[b] - xyz[c]
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v)), u @ v)))


def _chirals(atoms, elements, xyz, nbr, sp2, stereo) -> list[list]:
    out = []
    for c in range(len(atoms)):
        heavy = sorted((a for a in nbr[c] if elements[a] != "H"), key=lambda a: atoms[a])
        if sp2[c] or len(heavy) < 3 or is_metal(elements[c]) or len(nbr[c]) != 4:
            continue
        a1, a2, a3 = heavy[:3]
        v = float((xyz[a1] - xyz[c]) @ np.cross(xyz[a2] - xyz[c], xyz[a3] - xyz[c]))
        sign = (1 if v > 0 else -1) if stereo[c] else 0
        out.append([atoms[c], atoms[a1], atoms[a2], atoms[a3], sign, round(abs(v), 4)])
    return out


def _planes(xyz, nbr, sp2, aromatic, bonds, elements) -> list[list[int]]:
    """Planar groups (atom index lists) verified in the ideal coordinates, without duplicates."""
    groups = []   # (atoms, tolerance Å; None: always planar)
    metal = [is_metal(e) for e in elements]
    for i in range(len(nbr)):
        if len(nbr[i]) == 3 and sp2[i]:
            groups.append(({i, *nbr[i]}, SP2_PLANAR_WITHIN))
        elif len(nbr[i]) == 3 and elements[i] == "N" and _flat_centre(xyz, i, nbr[i]):
            groups.append(({i, *nbr[i]}, PLANAR_WITHIN))
    for i, j, order, arom in bonds:
        if order in ("DOUB", "AROM") or arom:
            groups.append(({i, j, *nbr[i], *nbr[j]}, SP2_PLANAR_WITHIN))
    for ring in _aromatic_rings(nbr, aromatic):
        groups.append((set(ring).union(*(nbr[a] for a in ring)), PLANAR_WITHIN))
    out, seen = [], set()
    for g, tolerance in groups:
        key = tuple(sorted(g))
        if len(key) < 4 or key in seen:
            continue
        if any(metal[a] for a in key) or _max_plane_deviation(xyz[list(key)]) <= tolerance:
            seen.add(key)
            out.append(list(key))
    return out


def _flat_centre(xyz, i: int, nbr: list[int]) -> bool:
    """A three-connected atom whose angles sum to 360 degrees (an amide or aniline N)."""
    total = sum(_angle(xyz, a, i, b) for a, b in combinations(nbr, 2))
    return total > 357.0


def _aromatic_rings(nbr, aromatic) -> list[list[int]]:
    """5- and 6-membered rings of aromatic atoms (each once)."""
    rings, seen = [], set()

    def walk(path):
        if len(path) > 6:
            return
        for nxt in nbr[path[-1]]:
            if nxt == path[0] and len(path) >= 5:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    rings.append(list(path))
            elif nxt not in path and aromatic[nxt] and nxt > path[0]:
                walk(path + [nxt])

    for start in range(len(nbr)):
        if aromatic[start]:
            walk([start])
    return rings


def _max_plane_deviation(p: np.ndarray) -> float:
    q = p - p.mean(axis=0)
    normal = np.linalg.svd(q)[2][-1]
    return float(np.abs(q @ normal).max())


def energy_types(elements, nbr, sp2, aromatic) -> list[str]:
    """CCP4 energy types from element, aromaticity, hybridisation and attached hydrogens."""
    out = []
    for i, el in enumerate(elements):
        n_h = sum(elements[j] == "H" for j in nbr[i])
        if el == "H":
            parent = elements[nbr[i][0]] if nbr[i] else "C"
            out.append({"N": "HNH1", "O": "HOH1", "S": "HSH1"}.get(parent, "HCH"))
        elif el == "C":
            if aromatic[i]:
                out.append("CR16" if n_h else "CR6")
            elif sp2[i]:
                out.append(("C", "C1", "C2")[min(n_h, 2)])
            else:
                out.append(("CT", "CH1", "CH2", "CH3")[min(n_h, 3)])
        elif el == "N":
            if aromatic[i]:
                out.append("NR16" if n_h else "NR6")
            elif sp2[i] or len(nbr[i]) == 3 and n_h == 0:
                out.append(("N", "NH1", "NH2")[min(n_h, 2)])
            else:
                out.append(("NT", "NT1", "NT2", "NT3")[min(n_h, 3)])
        elif el == "O":
            heavy = [j for j in nbr[i] if elements[j] != "H"]
            if n_h:
                out.append("OH1")
            elif len(heavy) == 2:
                out.append("O2")
            elif heavy and elements[heavy[0]] == "P":
                out.append("OP")
            else:
                out.append("O")
        elif el == "S":
            out.append("SH1" if n_h else ("S2" if len(nbr[i]) <= 2 else "S3"))
        else:
            out.append(el.upper())
    return out
