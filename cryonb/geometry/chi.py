"""Differentiable side-chain chi rotation: turn any chi angle of a model in torch.

:class:`ChiTree` lists, for every chi angle of the model (protein chi1-chi4 and the nucleic
glycosidic chi, as :mod:`~cryonb.geometry.named_torsions` defines them), the bond it turns
about (atoms b -> c of the a-b-c-d dihedral) and the atoms beyond that bond: those found from c
through the residue's own bonds without crossing b. Chis that close a ring (Pro) or whose moving
atoms are bonded to another residue (a disulfide, a covalent link) are left out, since turning
them would break a bond.

``apply(xyz, delta)`` turns chi ``j`` by ``delta[..., j]`` radians (Rodrigues' formula about the
current b -> c axis), outermost level first (chi4, chi3, chi2, then chi1), one vectorised step
per level; a positive delta raises the dihedral by that much. Bond lengths and angles keep their
values. Gradients flow to both the coordinates and the deltas.

>>> from cryonb import data
>>> from cryonb.geometry.topology import build_topology
>>> st = data.adk_closed()
>>> topo = build_topology(st, warn=False)
>>> tree = ChiTree(topo)
>>> xyz = torch.as_tensor(topo.xyz(st))
>>> new = tree.set_chi(xyz, torch.full((tree.n,), 60.0, dtype=xyz.dtype))
>>> bool(torch.allclose(tree.chi_deg(new), torch.tensor(60.0, dtype=xyz.dtype), atol=1e-6))
True
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch

from .named_torsions import named_torsions
from .terms import dihedrals_deg

LEVELS = {"chi1": 1, "chi2": 2, "chi3": 3, "chi4": 4, "chi": 1}   # "chi": nucleic glycosidic


class ChiTree:
    """The model's rotatable chi angles and the atoms each one moves.

    n: number of chi angles; residue (n,) residue index; level (n,) 1..4; quad (n, 4) atom
    indices of the a-b-c-d dihedral; moving (n, P) indices of the atoms beyond b -> c, padded
    with -1; names (n,) 'chi1'..'chi4' or 'chi'.
    """

    def __init__(self, topo=None, *, _arrays: tuple | None = None):
        if _arrays is None:
            _arrays = _chi_arrays(topo)
        self.residue, self.level, self.quad, self.moving, self.names = _arrays
        self.n = len(self.residue)
        self._plan = [_level_plan(self, lv) for lv in (4, 3, 2, 1)]

    def select(self, mask) -> ChiTree:
        """A tree over the chis where ``mask`` (n,) is true (or at the given indices)."""
        idx = np.arange(self.n)[mask]
        arrays = (self.residue[idx], self.level[idx], self.quad[idx], self.moving[idx], self.names[idx])
        return ChiTree(_arrays=arrays)

    def compact(self) -> tuple[ChiTree, np.ndarray]:
        """(tree over the atoms it uses only, those atoms (R,)): ``tree.apply(xyz[..., atoms, :])``
        turns the same chis on an (..., R, 3) slice, far cheaper for one residue."""
        atoms = np.unique(np.concatenate([self.quad.ravel(), self.moving[self.moving >= 0]]))
        moving = np.where(self.moving >= 0, np.searchsorted(atoms, self.moving), -1)
        arrays = (self.residue, self.level, np.searchsorted(atoms, self.quad), moving, self.names)
        return ChiTree(_arrays=arrays), atoms

    def residues(self) -> np.ndarray:
        """Sorted distinct residue indices that have at least one chi."""
        return np.unique(self.residue)

    def moved_atoms(self) -> np.ndarray:
        """Sorted atom indices moved by any chi of the tree."""
        m = self.moving[self.moving >= 0]
        return np.unique(m)

    def chi_deg(self, xyz: torch.Tensor) -> torch.Tensor:
        """Current chi angles in degrees, (..., n), in (-180, 180]."""
        return dihedrals_deg(xyz, self.quad)

    def apply(self, xyz: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """xyz (..., N, 3) Å, delta (..., n) radians -> new (..., N, 3) with every chi turned
        (leading shapes broadcast: one model with a batch of deltas gives a batch of models)."""
        if delta.shape[-1] != self.n:
            raise ValueError(f"expected delta of shape (..., {self.n}), got {tuple(delta.shape)}")
        delta = delta.to(xyz.dtype)
        batch = torch.broadcast_shapes(xyz.shape[:-2], delta.shape[:-1])
        out = xyz.expand(*batch, *xyz.shape[-2:])
        delta = delta.expand(*batch, self.n)
        for plan in self._plan:
            if plan is not None:
                out = _rotate_level(out, delta, *plan)
        return out

    def set_chi(self, xyz: torch.Tensor, target_deg: torch.Tensor) -> torch.Tensor:
        """Coordinates with chi angles set to ``target_deg`` (..., n) degrees (NaN: unchanged)."""
        target = torch.as_tensor(target_deg, dtype=xyz.dtype)
        diff = target - self.chi_deg(xyz)
        diff = torch.remainder(diff + 180.0, 360.0) - 180.0
        diff = torch.where(torch.isnan(diff), torch.zeros_like(diff), diff)
        return self.apply(xyz, torch.deg2rad(diff))


def _level_plan(tree: ChiTree, level: int):
    """For one level: (atoms (A,), owning chi of each atom (A,), axis b (A,), axis c (A,))."""
    chis = np.flatnonzero(tree.level == level)
    if len(chis) == 0:
        return None
    rows, cols = np.nonzero(tree.moving[chis] >= 0)
    atoms = tree.moving[chis][rows, cols]
    owner = chis[rows]
    as_t = torch.as_tensor
    return (as_t(atoms), as_t(owner), as_t(tree.quad[owner, 1]), as_t(tree.quad[owner, 2]))


def _rotate_level(xyz: torch.Tensor, delta: torch.Tensor, atoms, owner, b, c) -> torch.Tensor:
    """Turn ``atoms`` about their chi's b -> c axis by delta[owner]; out-of-place (autograd)."""
    pb, pc, p = xyz.index_select(-2, b), xyz.index_select(-2, c), xyz.index_select(-2, atoms)
    k = pc - pb
    k = k / k.norm(dim=-1, keepdim=True)
    theta = delta.index_select(-1, owner)[..., None]
    v = p - pb
    cos, sin = torch.cos(theta), torch.sin(theta)
    rotated = (v * cos + torch.cross(k, v, dim=-1) * sin
               + k * (k * v).sum(-1, keepdim=True) * (1 - cos))
    return xyz.index_copy(-2, atoms, pb + rotated)


def _chi_arrays(topo):
    """(residue, level, quad, moving, names) arrays of the rotatable chis, sorted by residue, level."""
    tors = named_torsions(topo)
    neighbours = _intra_residue_bonds(topo)
    res_of = topo.atoms.residue
    rows = []
    for name, level in LEVELS.items():
        quads, residues = tors.get(name, (np.zeros((0, 4), np.int64), np.zeros(0, np.int64)))
        for q, k in zip(quads, residues):
            moving = _beyond(neighbours, int(q[1]), int(q[2]), res_of)
            if moving is not None:
                rows.append((int(k), level, q, moving, name))
    rows.sort(key=lambda r: (r[0], r[1]))
    width = max((len(r[3]) for r in rows), default=1)
    moving = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        moving[i, :len(r[3])] = r[3]
    return (np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] for r in rows], dtype=np.int64).reshape(-1, 4), moving,
            np.array([r[4] for r in rows], dtype=object))


def _intra_residue_bonds(topo) -> list[list[int]]:
    """Neighbour lists over all bonds; inter-residue bonds are kept so links can be detected."""
    nb: list[list[int]] = [[] for _ in range(topo.n_atoms)]
    for i, j in topo.restraints.bonds:
        nb[i].append(int(j))
        nb[j].append(int(i))
    return nb


def _beyond(nb: list[list[int]], b: int, c: int, res_of: np.ndarray) -> np.ndarray | None:
    """Atoms reachable from c without passing b (c excluded); None for a ring or a bond that
    leaves the residue (the chi cannot turn without breaking a bond)."""
    seen, queue = {c}, deque([c])
    while queue:
        a = queue.popleft()
        for x in nb[a]:
            if a == c and x == b:
                continue
            if x == b or res_of[x] != res_of[c]:
                return None
            if x not in seen:
                seen.add(x)
                queue.append(x)
    seen.discard(c)
    return np.array(sorted(seen), dtype=np.int64) if seen else None


__all__ = ["ChiTree", "LEVELS"]
