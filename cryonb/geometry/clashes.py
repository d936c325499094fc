"""Clashes with riding hydrogens: van der Waals radii as probe/MolProbity use them.

All atoms (heavy plus riding hydrogens) carry probe's van der Waals radius
(aliphatic H 1.22, polar and aromatic H 1.05, carbonyl C 1.65, aromatic C 1.75,
other C 1.70, N 1.55, O 1.40, S 1.80 Å). A pair overlaps by ``r_i + r_j - d``. A
polar hydrogen next to an H-bond acceptor (O, an accepting N, Met/Cys S, the
Phe/Tyr ring) forms an H-bond: refinement gives it a 0.4 Å allowance, and
MolProbity's clashscore never counts it as a clash. Pairs within three bonds,
or four when one atom is a hydrogen (probe's default), are excluded. MolProbity
counts a clash when the overlap is at least 0.4 Å.

For refinement, :class:`ClashTerm` keeps up to 128 neighbours per atom from a
KD-tree, refreshed every ``refresh_every`` steps, and penalises overlaps beyond
a threshold with a squared hinge. The clashscore itself follows probe more
closely (bonds judged from distances, overlaps read from surface dots, bonded
atoms hiding dots rather than whole pairs): :func:`cryonb.validation.geometry.probe_clashes`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.spatial import cKDTree

CLASH_OVERLAP = 0.4    # Å, MolProbity's clash threshold
HBOND_ALLOWANCE = 0.4  # Å, extra overlap allowed for a polar H on an acceptor
EXCLUDED_BONDS = 3     # pairs within this many bonds never clash

# probe's electron-cloud radii (Å) by atom class.
RADII = {"H": 1.22, "Hpol": 1.05, "Har": 1.05, "C": 1.70, "Car": 1.75, "Ccarbonyl": 1.65,
         "N": 1.55, "O": 1.40, "S": 1.80, "P": 1.80, "Se": 1.90}
DEFAULT_RADIUS = 1.80
# probe's covalent radii (Å), for bonds inferred from distances as probe does
COVALENT = {"H": 0.30, "C": 0.77, "N": 0.70, "O": 0.66, "S": 1.04, "P": 1.10, "Se": 1.17}
# Metal ions and halides as probe sizes them: (contact radius, covalent radius) in Å. Metals
# contact at their ionic radius (Pauling; Shannon for the rarer ones), and their covalent radius
# is that + 0.74 (O's contact minus covalent radius), so a metal-O bond at the usual distance is a
# bond, not a 1.1 Å clash of a 1.8 Å default sphere (Mg-ATP in CFTR 6MSM).
IONS = {"Li": (0.60, 1.34), "Na": (0.95, 1.69), "Mg": (0.65, 1.39), "Al": (0.50, 1.24), "K": (1.33, 2.07),
        "Ca": (0.99, 1.73), "Mn": (0.80, 1.54), "Fe": (0.74, 1.48), "Co": (0.70, 1.44), "Ni": (0.66, 1.40),
        "Cu": (0.72, 1.46), "Zn": (0.71, 1.45), "Rb": (1.48, 2.22), "Sr": (1.10, 1.84), "Mo": (0.93, 1.67),
        "Ag": (1.26, 2.00), "Cd": (0.91, 1.65), "Cs": (1.69, 2.43), "Ba": (1.29, 2.03), "Pt": (0.63, 1.37),
        "Au": (1.10, 1.84), "Hg": (1.00, 1.74), "Pb": (0.84, 1.58), "V": (0.79, 1.53), "Cr": (0.73, 1.47),
        "W": (0.66, 1.40), "Gd": (1.05, 1.79), "Yb": (1.14, 1.88), "Tl": (1.44, 2.18),
        "F": (1.30, 0.58), "Cl": (1.77, 0.99), "Br": (1.95, 1.14), "I": (2.10, 1.33)}
RADII.update({e: r for e, (r, _) in IONS.items()})
COVALENT.update({e: c for e, (_, c) in IONS.items()})
_AROMATIC_C = {"CR6", "CR16", "CR5", "CR15", "CR56", "CR66", "CR55", "CR1", "CR1H"}
# acceptors besides O and accepting N: aromatic faces (probe's default), His ring N, Met/Cys S
_RING_ACCEPTORS = {"PHE": {"CG", "CD1", "CD2", "CE1", "CE2", "CZ"}, "TYR": {"CG", "CD1", "CD2", "CE1", "CE2", "CZ"},
                   "TRP": {"CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"},
                   "HIS": {"ND1", "NE2"}, "MET": {"SD"}, "CYS": {"SG"}}


@dataclass
class AtomSet:
    """Heavy atoms followed by riding hydrogens: radii (Å), H-bond roles, bond graph."""

    radius: np.ndarray
    polar_h: np.ndarray
    acceptor: np.ndarray
    clashable: np.ndarray          # atoms taking part (all of them)
    water: np.ndarray              # water atoms: water-water pairs never clash (as probe's "not water")
    excluded: sp.csr_matrix        # pairs within 3 bonds, 4 with a hydrogen (symmetric, boolean)
    n_heavy: int
    elements: np.ndarray

    def coordinates(self, topo, xyz: torch.Tensor) -> torch.Tensor:
        """Heavy atoms and riding hydrogens, (..., n_heavy + nh, 3)."""
        return torch.cat([xyz, topo.hydrogens.place(xyz)], dim=-2)


def atom_set(topo, library, bonds: np.ndarray | None = None) -> AtomSet:
    """Radii, H-bond roles and exclusions for a topology's heavy atoms and riding hydrogens.

    bonds: (m, 2) pairs over heavy atoms + hydrogens that define the exclusions; default the
    topology's bonds (use :func:`distance_bonds` to judge bonding from distances as probe does).
    """
    h = topo.hydrogens
    n, nh = topo.n_atoms, len(h)
    el = topo.atoms.elements
    types = topo.atoms.energy_types
    carbonyl = _carbonyl_carbons(topo)
    radius = np.array([_heavy_radius(e, t, i in carbonyl) for i, (e, t) in enumerate(zip(el, types))])
    h_radius = np.where(h.polar, RADII["Hpol"], np.where(np.isin(types[h.parent], list(_AROMATIC_C)),
                                                          RADII["Har"], RADII["H"]))
    acceptor = (el == "O") | ((el == "N") & np.isin([library.hbond_class(t) for t in types], ["A", "B"]))
    resnames = np.array([r.name for r in topo.residues])[topo.atoms.residue]
    acceptor |= np.array([name in _RING_ACCEPTORS.get(rn, ()) for rn, name in zip(resnames, topo.atoms.names)],
                         dtype=bool)
    clashable = np.ones(n + nh, bool)
    water = np.concatenate([topo.atoms.water, np.zeros(nh, bool)])
    if bonds is None:
        bonds = np.concatenate([topo.restraints.bonds, topo.extra_bonds, np.stack([h.parent, n + np.arange(nh)], 1)])
    is_h = np.concatenate([np.zeros(n, bool), np.ones(nh, bool)])
    return AtomSet(np.concatenate([radius, h_radius]), np.concatenate([np.zeros(n, bool), h.polar]),
                   np.concatenate([acceptor, np.zeros(nh, bool)]), clashable, water,
                   excluded_pairs(bonds, is_h), n, np.concatenate([el, np.full(nh, "H")]))


def excluded_pairs(bonds: np.ndarray, is_h: np.ndarray) -> sp.csr_matrix:
    """Pairs within EXCLUDED_BONDS bonds, or one bond more when either atom is a hydrogen."""
    n = len(is_h)
    near = bonded_within(bonds, n, EXCLUDED_BONDS)
    far = bonded_within(bonds, n, EXCLUDED_BONDS + 1).tocoo()
    h_pair = is_h[far.row] | is_h[far.col]
    extra = sp.csr_matrix((np.ones(h_pair.sum(), bool), (far.row[h_pair], far.col[h_pair])), shape=(n, n))
    return (near + extra).astype(bool).tocsr()


def distance_bonds(xyz: np.ndarray, elements: np.ndarray, parent: np.ndarray | None = None,
                   residue: np.ndarray | None = None) -> np.ndarray:
    """Bonds judged from distances as probe does: r_a + r_b - 0.6 < d <= r_a + r_b + 0.2 Å.

    r are covalent radii. With ``parent`` and ``residue`` ((n,) arrays), hydrogens bond as in
    probe (never to another hydrogen): a hydrogen bonds to the heavy atom ``parent`` names
    (probe's table of standard hydrogen names), or where that is -1 (a name probe's table
    lacks) to any heavy atom of its own residue.
    """
    cov = np.array([COVALENT.get(e, 0.77) for e in elements])
    pairs = cKDTree(xyz).query_pairs(2 * cov.max() + 0.2, output_type="ndarray").reshape(-1, 2)
    if parent is not None:
        i, j = pairs[:, 0], pairs[:, 1]
        h_i, h_j = elements[i] == "H", elements[j] == "H"
        ok_i = np.where(parent[i] >= 0, parent[i] == j, residue[i] == residue[j])
        ok_j = np.where(parent[j] >= 0, parent[j] == i, residue[i] == residue[j])
        pairs = pairs[(~h_i & ~h_j) | (h_i & ~h_j & ok_i) | (h_j & ~h_i & ok_j)]
    d = np.linalg.norm(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], axis=1)
    s = cov[pairs[:, 0]] + cov[pairs[:, 1]]
    return pairs[(d <= s + 0.2) & (d > s - 0.6)]


def _heavy_radius(element: str, energy_type: str, carbonyl: bool) -> float:
    if element == "C":
        return RADII["Ccarbonyl"] if carbonyl else RADII["Car"] if energy_type in _AROMATIC_C else RADII["C"]
    return RADII.get(element, DEFAULT_RADIUS)


def _carbonyl_carbons(topo) -> set[int]:
    """Carbonyl carbons in the sense of probe: an sp2 (energy type C) carbon bonded to a terminal O.

    That is the peptide C and the Asp/Asn CG, Glu/Gln CD; not the CB of Ser/Thr or Tyr CZ.
    """
    el = topo.atoms.elements
    sp2 = topo.atoms.energy_types == "C"
    b = topo.restraints.bonds
    degree = np.bincount(b.ravel(), minlength=topo.n_atoms)
    out = set()
    for i, j in b:
        for c, o in ((i, j), (j, i)):
            if el[c] == "C" and sp2[c] and el[o] == "O" and degree[o] == 1:
                out.add(int(c))
    return out


def bonded_within(bonds: np.ndarray, n: int, k: int) -> sp.csr_matrix:
    """Boolean (n, n) matrix of atom pairs joined by a path of at most k bonds (diagonal included)."""
    a = sp.coo_matrix((np.ones(len(bonds), bool), (bonds[:, 0], bonds[:, 1])), shape=(n, n)).tocsr()
    a = (a + a.T + sp.identity(n, dtype=bool, format="csr")).astype(bool)
    reach = a
    for _ in range(k - 1):
        reach = (reach @ a).astype(bool)
    return reach.tocsr()


def candidate_pairs(atoms: AtomSet, xyz: np.ndarray, cutoff: float | None = None,
                    k: int | None = None) -> np.ndarray:
    """Non-excluded pairs (i < j) closer than ``cutoff`` Å (default: largest radius sum).

    With ``k``, only each atom's k nearest atoms are considered (the refinement neighbour list).
    """
    if len(xyz) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    cutoff = cutoff if cutoff is not None else 2 * float(atoms.radius.max())
    tree = cKDTree(xyz)
    if k is None:
        pairs = tree.query_pairs(cutoff, output_type="ndarray")
    else:
        d, j = tree.query(xyz, k=min(k + 1, len(xyz)), distance_upper_bound=cutoff)
        i = np.repeat(np.arange(len(xyz)), j.shape[1])
        keep = np.isfinite(d.ravel())
        a, b = i[keep], j.ravel()[keep]
        n = np.int64(len(xyz))
        key = np.sort(np.minimum(a, b) * n + np.maximum(a, b))       # one int per pair: a fast sort
        key = key[np.r_[True, key[1:] != key[:-1]]]
        pairs = np.stack([key // n, key % n], 1)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    ok = atoms.clashable[pairs[:, 0]] & atoms.clashable[pairs[:, 1]]
    ok &= ~(atoms.water[pairs[:, 0]] & atoms.water[pairs[:, 1]])
    ok &= ~np.asarray(atoms.excluded[pairs[:, 0], pairs[:, 1]]).ravel()
    return pairs[ok].astype(np.int64)


def hbond_pairs(atoms: AtomSet, pairs: np.ndarray) -> np.ndarray:
    """(npairs,) bool: a polar hydrogen with an acceptor."""
    i, j = pairs[:, 0], pairs[:, 1]
    return (atoms.polar_h[i] & atoms.acceptor[j]) | (atoms.polar_h[j] & atoms.acceptor[i])


def allowance(atoms: AtomSet, pairs: np.ndarray) -> np.ndarray:
    """H-bond allowance (Å) per pair: polar H with an acceptor."""
    return np.where(hbond_pairs(atoms, pairs), HBOND_ALLOWANCE, 0.0)


def overlaps(atoms: AtomSet, pairs: np.ndarray, xyz: torch.Tensor, hbond_allowance: bool = True) -> torch.Tensor:
    """Overlap r_i + r_j - allowance - d (Å) per pair, (..., npairs); positive means interpenetrating."""
    return _overlaps(xyz, *pair_limits(atoms, pairs, hbond_allowance))


def pair_limits(atoms: AtomSet, pairs: np.ndarray, hbond_allowance: bool = True):
    """(first atoms (p,), second atoms (p,), contact distance r_i + r_j - allowance (p,) Å)."""
    r = atoms.radius[pairs[:, 0]] + atoms.radius[pairs[:, 1]] - (allowance(atoms, pairs) if hbond_allowance else 0)
    p = torch.as_tensor(pairs)
    return p[:, 0].contiguous(), p[:, 1].contiguous(), torch.as_tensor(r, dtype=torch.float64)


def _overlaps(xyz: torch.Tensor, first: torch.Tensor, second: torch.Tensor, limit: torch.Tensor) -> torch.Tensor:
    d = (xyz.index_select(-2, first) - xyz.index_select(-2, second)).norm(dim=-1)
    return limit.to(xyz.dtype) - d


class ClashTerm:
    """Differentiable clash penalty over a refreshed 128-neighbour list.

    loss = sum over pairs of relu(overlap - threshold)^2 / number of atoms; threshold in Å
    (default 0.3, a margin under MolProbity's 0.4 Å). The list is built on the first call and
    renewed every ``refresh_every`` calls after it (0: only by explicit :meth:`refresh`); it keeps
    the pairs within ``skin`` Å of contact at the refresh (of the 128 nearest within ``cutoff``).
    """

    def __init__(self, topo, library, neighbours: int = 128, refresh_every: int = 100,
                 threshold: float = 0.3, cutoff: float = 6.0, skin: float = 2.0):
        self.topo, self.atoms = topo, atom_set(topo, library)
        self.k, self.refresh_every, self.threshold, self.cutoff = neighbours, refresh_every, threshold, cutoff
        self.skin = skin
        self.pairs: np.ndarray | None = None
        self._made_at: np.ndarray | None = None     # coordinates the list was made at
        self.steps = 0

    def refresh(self, xyz_all: torch.Tensor, every_model: bool = False, if_moved: bool = False) -> None:
        """Renew the pair list from the first model of a batch, or the union over every model.

        With ``if_moved`` the list is kept while no atom has moved half the skin since it was made:
        a pair left out was then further than its contact distance + skin, so it still cannot
        overlap (the loss is exactly that of a fresh list)."""
        models = xyz_all.detach().reshape(-1, *xyz_all.shape[-2:]).cpu().numpy()
        models = models if every_model else models[:1]
        if if_moved and self._made_at is not None and self._made_at.shape == models.shape:
            if np.sqrt(((models - self._made_at) ** 2).sum(-1).max()) < self.skin / 2:
                return
        lists = [candidate_pairs(self.atoms, x, self.cutoff, self.k) for x in models]
        pairs = lists[0] if len(lists) == 1 else np.unique(np.concatenate(lists), axis=0)
        limits = pair_limits(self.atoms, pairs)
        with torch.no_grad():
            near = (_overlaps(torch.as_tensor(models), *limits) > -self.skin).any(0)
        keep = near.numpy()
        self.pairs = pairs[keep]
        self._limits = tuple(v[near] for v in limits)     # kept until the next refresh
        self._made_at = models.copy()

    def count(self, xyz: torch.Tensor) -> torch.Tensor:
        """(...,) pairs of the current list overlapping by more than MolProbity's 0.4 Å."""
        all_xyz = self.atoms.coordinates(self.topo, xyz)
        if self.pairs is None:
            self.refresh(all_xyz)
        return (_overlaps(all_xyz, *self._limits) > CLASH_OVERLAP).sum(-1)

    def __call__(self, xyz: torch.Tensor) -> torch.Tensor:
        all_xyz = self.atoms.coordinates(self.topo, xyz)
        if self.pairs is None or (self.refresh_every and self.steps and self.steps % self.refresh_every == 0):
            self.refresh(all_xyz)
        self.steps += 1
        over = _overlaps(all_xyz, *self._limits)
        return (torch.relu(over - self.threshold) ** 2).sum(-1) / all_xyz.shape[-2]
