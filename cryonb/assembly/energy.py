"""The assembly energy of C-alpha chains (kT units), its parts, and its change under a move.

E = E_local + E_pair + W_EM E_EM + W_CNN E_CNN, for replicas X (R, L, 3) Å of one sequence:

- E_local: per residue i, bond (i, i+1) flat within 0.1 Å of the corpus mean and harmonic beyond, the virtual angle at i+1
  and the virtual dihedral i..i+3 given that angle (:mod:`tools.fit_ca_potential` tables, looked
  up by bin);
- E_pair over pairs at least 3 apart: a clash term below the corpus' closest non-local
  distance, residue-type contact energies (quasi-chemical, a packing proxy) within the contact
  cutoff, and template restraints (flat-bottomed wells at the templates' consensus distances,
  weight W_temp, one (L, L) matrix so every pair term is one array expression);
- E_EM = -sum_atoms rho~0(x) / scale: the seed's -sum_y rho0(y) rho(y) with one Gaussian per
  C-alpha is exactly the map smoothed by that Gaussian, read at the atoms (trilinear), so a move
  costs only the atoms it moves; scale is the map's SD over the protein;
- E_CNN: the same with the density of the predicted C-alphas (the seed applies it when the two
  networks agree).

Every move of :mod:`cryonb.assembly.moves` is a rigid motion of a contiguous segment, so pairs
inside the segment keep their distances and a move's energy change is the local terms around
it, the pairs between the segment and the rest, and the map terms of its atoms.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy import ndimage

from ..maps import Map
from ..templates.density import residue_sigma
from .ca_geometry import virtual_angles, virtual_dihedrals

AMINO = "ACDEFGHIKLMNPQRSTVWY"
CLASH_WIDTH = 0.3          # Å: a clash of this depth costs 1 kT
BOND_SLACK = 0.1           # Å: bonds within the corpus mean +- this are free (4 corpus SDs)
BOND_WIDTH = 0.05          # Å: beyond the slack, this much more stretch costs 1 kT


def load_potential() -> dict:
    """The corpus-fitted tables (``cryonb/data/assembly/ca_potential.npz``)."""
    path = resources.files("cryonb") / "data" / "assembly" / "ca_potential.npz"
    with resources.as_file(path) as p, np.load(p) as z:
        return {k: z[k] for k in z.files}


@dataclass
class Weights:
    """Term weights (kT per unit of each term); the run record keeps them."""

    bond: float = 1.0
    angle: float = 1.0
    torsion: float = 1.0
    clash: float = 1.0
    contact: float = 0.5
    template: float = 1.0
    em: float = 3.0           # set on 3 corpus chains' own maps and AdK open -> closed (docs/assembly.md)
    cnn: float = 0.0


class LookupMap:
    """A smoothed map read at atoms by trilinear interpolation (0 outside the box)."""

    def __init__(self, m: Map, data: np.ndarray):
        self.origin = np.asarray(m.origin, dtype=np.float64)
        self.voxel = np.asarray(m.voxel_size, dtype=np.float64)
        self.data = np.pad(np.asarray(data, dtype=np.float64), 1)   # zero border: outside reads 0

    def __call__(self, xyz: np.ndarray) -> np.ndarray:
        f = (xyz - self.origin) / self.voxel + 1.0                  # x, y, z fractional (padded)
        shape = np.array(self.data.shape[::-1])
        f = np.clip(f, 0.0, shape - 1.000001)
        i = np.floor(f).astype(np.int64)
        t = f - i
        out = np.zeros(xyz.shape[:-1])
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    w = (np.where(dx, t[..., 0], 1 - t[..., 0]) * np.where(dy, t[..., 1], 1 - t[..., 1])
                         * np.where(dz, t[..., 2], 1 - t[..., 2]))
                    out += w * self.data[i[..., 2] + dz, i[..., 1] + dy, i[..., 0] + dx]
        return out


def em_lookup(m: Map, resolution: float, mask_xyz: np.ndarray | None = None) -> LookupMap:
    """rho~0 / scale: map ``m`` smoothed by one residue's Gaussian (:func:`residue_sigma`), divided
    by the smoothed map's SD over the voxels near ``mask_xyz`` (N, 3) Å (default: the whole box),
    with its median there subtracted, so an atom in solvent gains nothing."""
    sigma = residue_sigma(resolution) / np.asarray(m.voxel_size)[::-1]
    smooth = ndimage.gaussian_filter(np.asarray(m.data, dtype=np.float64), sigma)
    region = smooth
    if mask_xyz is not None:
        idx = np.round(m.xyz_to_index(np.asarray(mask_xyz))).astype(int)
        idx = np.clip(idx, 0, np.array(m.shape[::-1]) - 1)
        region = smooth[idx[:, 2], idx[:, 1], idx[:, 0]]
    scale = float(np.std(region)) or 1.0
    return LookupMap(m, (smooth - float(np.median(region))) / scale)


def cnn_lookup(m: Map, predicted: np.ndarray, resolution: float) -> LookupMap:
    """The predicted C-alphas' density overlap: sum_p exp(-|y - p|^2 / (4 sigma^2)) on ``m``'s grid."""
    from ..templates.density import model_density
    sigma = residue_sigma(resolution)
    grid = m.copy(data=np.zeros(m.shape, np.float32))
    wide = model_density(grid, predicted, resolution)
    return LookupMap(m, ndimage.gaussian_filter(wide.astype(np.float64), sigma / np.asarray(m.voxel_size)[::-1]))


class Energy:
    """The energy of one sequence's C-alpha chains in one map.

    sequence: one-letter codes (L). em, cnn: :class:`LookupMap` or None. restraint_distance,
    restraint_weight: (L, L) Å and weights (0: no restraint) from :func:`cryonb.assembly.restraints`.
    """

    def __init__(self, sequence: str, weights: Weights | None = None, em: LookupMap | None = None,
                 cnn: LookupMap | None = None, restraint_distance: np.ndarray | None = None,
                 restraint_weight: np.ndarray | None = None, restraint_tolerance: float = 1.0,
                 potential: dict | None = None):
        p = load_potential() if potential is None else potential
        self.w = weights or Weights()
        self.n = len(sequence)
        self.bond_mean, self.bond_sd = float(p["bond_mean"]), float(p["bond_sd"])
        self.angle_edges, self.angle_energy = p["angle_edges"], p["angle_energy"]
        self.ta_edges, self.t_edges, self.t_energy = p["torsion_angle_edges"], p["torsion_edges"], p["torsion_energy"]
        self.clash = float(p["clash_distance"])
        self.cutoff = float(p["contact_cutoff"])
        kind = np.array([AMINO.find(c) for c in sequence])
        table = np.vstack([np.hstack([p["contact_energy"], np.zeros((20, 1))]), np.zeros((1, 21))])
        sep = np.abs(np.arange(self.n)[:, None] - np.arange(self.n)[None])
        self.far = sep >= 3
        self.pair_contact = np.where(self.far, table[kind][:, kind], 0.0)
        self.r_dist = np.zeros((self.n, self.n)) if restraint_distance is None else np.asarray(restraint_distance)
        self.r_weight = np.zeros((self.n, self.n)) if restraint_weight is None else np.asarray(restraint_weight)
        self.r_tol = restraint_tolerance
        self.em, self.cnn = em, cnn

    # ------------------------------------------------------------------ per-residue local terms
    def local(self, x: np.ndarray, first: np.ndarray) -> np.ndarray:
        """(R, W) local energy of residues ``first`` (R, W) int (clipped; -1 or >= L gives 0):
        bond (i, i+1), angle at i+1, dihedral i..i+3 given the angle at i+1."""
        r = np.arange(len(x))[:, None]
        i = np.clip(first, 0, self.n - 1)
        pick = [x[r, np.clip(i + k, 0, self.n - 1)] for k in range(4)]
        valid = (first >= 0) & (first < self.n)
        b = np.abs(np.linalg.norm(pick[1] - pick[0], axis=-1) - self.bond_mean)
        stretch = np.maximum(b - BOND_SLACK, 0.0) / BOND_WIDTH
        e = np.where(valid & (first + 1 < self.n), self.w.bond * stretch ** 2, 0.0)
        quad = np.stack(pick, axis=-2)                                          # (R, W, 4, 3)
        theta = virtual_angles(quad[..., :3, :])[..., 0]
        e = e + np.where(valid & (first + 2 < self.n), self.w.angle * self._bin(self.angle_energy, self.angle_edges, theta), 0.0)
        tau = virtual_dihedrals(quad)[..., 0]
        a = np.clip(np.searchsorted(self.ta_edges, theta) - 1, 0, len(self.ta_edges) - 2)
        t = np.clip(np.searchsorted(self.t_edges, tau) - 1, 0, len(self.t_edges) - 2)
        return e + np.where(valid & (first + 3 < self.n), self.w.torsion * self.t_energy[a, t], 0.0)

    @staticmethod
    def _bin(table: np.ndarray, edges: np.ndarray, value: np.ndarray) -> np.ndarray:
        return table[np.clip(np.searchsorted(edges, value) - 1, 0, len(table) - 1)]

    # ------------------------------------------------------------------ pairs
    def pair(self, d: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Pair energy of distances ``d`` between residues ``i`` and ``j`` (broadcast shapes)."""
        return self._pair(d, self.far[i, j], self.pair_contact[i, j], self.r_dist[i, j], self.r_weight[i, j])

    def pair_rows(self, d: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Pair energy (R, k, L) of distances ``d`` (R, k, L) from residues ``seg`` (R, k) to every residue."""
        return self._pair(d, self.far[seg], self.pair_contact[seg], self.r_dist[seg], self.r_weight[seg])

    def _pair(self, d, far, contact, r_dist, r_weight) -> np.ndarray:
        clash = np.where(far & (d < self.clash), self.w.clash * ((self.clash - d) / CLASH_WIDTH) ** 2, 0.0)
        e = clash + self.w.contact * contact * _switch(d, self.cutoff)
        if self.w.template and r_weight.any():
            over = np.maximum(np.abs(d - r_dist) - self.r_tol, 0.0)
            e = e + self.w.template * r_weight * np.minimum(over, 4.0) ** 2 / 4.0
        return e

    def map_terms(self, xyz: np.ndarray) -> np.ndarray:
        """(...) map energy of atoms ``xyz`` (..., 3)."""
        e = np.zeros(xyz.shape[:-1])
        if self.em is not None and self.w.em:
            e -= self.w.em * self.em(xyz)
        if self.cnn is not None and self.w.cnn:
            e -= self.w.cnn * self.cnn(xyz)
        return e

    # ------------------------------------------------------------------ totals
    def total(self, x: np.ndarray) -> np.ndarray:
        """(R,) energy of replicas ``x`` (R, L, 3)."""
        return self.parts(x).sum(axis=1)

    def parts(self, x: np.ndarray) -> np.ndarray:
        """(R, 3) local, pair and map energy of replicas ``x`` (R, L, 3)."""
        x = np.asarray(x, dtype=np.float64)
        first = np.broadcast_to(np.arange(self.n), (len(x), self.n))
        local = self.local(x, first).sum(axis=1)
        d = np.linalg.norm(x[:, :, None] - x[:, None], axis=-1)
        i, j = np.triu_indices(self.n, 1)
        pair = self.pair(d[:, i, j], i, j).sum(axis=1)
        return np.stack([local, pair, self.map_terms(x).sum(axis=1)], axis=1)

    def delta(self, x: np.ndarray, new: np.ndarray, start: np.ndarray, k: int) -> np.ndarray:
        """(R,) energy change when residues start..start+k-1 (``start`` (R,)) of ``x`` (R, L, 3)
        take the rigidly moved coordinates ``new`` (R, k, 3)."""
        rows = np.arange(len(x))[:, None]
        seg = start[:, None] + np.arange(k)[None]                       # (R, k)
        after = x.copy()
        after[rows, seg] = new
        window = start[:, None] + np.arange(-3, k + 1)[None]            # every local term touching the segment
        d_local = (self.local(after, window) - self.local(x, window)).sum(axis=1)
        outside = np.ones((len(x), self.n), dtype=bool)
        outside[rows, seg] = False
        d_old = np.linalg.norm(x[rows, seg][:, :, None] - x[:, None], axis=-1)        # (R, k, L)
        d_new = np.linalg.norm(new[:, :, None] - x[:, None], axis=-1)
        d_pair = ((self.pair_rows(d_new, seg) - self.pair_rows(d_old, seg)) * outside[:, None, :]).sum(axis=(1, 2))
        d_map = (self.map_terms(new) - self.map_terms(x[rows, seg])).sum(axis=1)
        return d_local + d_pair + d_map


def _switch(d: np.ndarray, cutoff: float, width: float = 1.5) -> np.ndarray:
    """1 below cutoff - width, 0 beyond cutoff, a cosine between."""
    t = np.clip((d - (cutoff - width)) / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))
