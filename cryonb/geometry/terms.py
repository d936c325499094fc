"""Differentiable geometry terms in torch, batched over models.

Coordinates are (..., n, 3) tensors in Å (any leading batch shape, e.g. one
model per projection image); every loss returns a tensor of the batch shape.
Gathers use ``index_select`` (its backward is a cheap ``index_add``).

* bonds and angles: Gaussian likelihood of the Z-scores, 0.5 * mean(z^2), plus an
  outlier hinge, mean(relu(|z| - 4.5)^2), so no restraint ends as a validation outlier;
* planes: least-squares plane deviations as Z-scores, plus a hinge on planar
  dihedrals beyond 10 degrees (30 for the peptide omega), as the wwPDB validation
  judges planarity;
* chirality: signed chiral volumes against their ideal values (sigma 0.2 Å^3).
"""
from __future__ import annotations

import numpy as np
import torch

HINGE_Z = 4.5
CHIRAL_SIGMA = 0.2          # Å^3, as refmac and phenix
PLANAR_HINGE_SCALE = 5.0    # degrees per unit of the planar-dihedral hinge


def gather(xyz: torch.Tensor, idx: np.ndarray | torch.Tensor) -> torch.Tensor:
    """xyz (..., n, 3) at idx (m, k) -> (..., m, k, 3)."""
    idx = torch.as_tensor(idx, dtype=torch.long)
    flat = xyz.index_select(-2, idx.reshape(-1))
    return flat.reshape(*xyz.shape[:-2], *idx.shape, 3)


def distances(xyz: torch.Tensor, pairs) -> torch.Tensor:
    p = gather(xyz, pairs)
    return (p[..., 0, :] - p[..., 1, :]).norm(dim=-1)


def angles_deg(xyz: torch.Tensor, triples) -> torch.Tensor:
    p = gather(xyz, triples)
    u, v = p[..., 0, :] - p[..., 1, :], p[..., 2, :] - p[..., 1, :]
    # atan2 of |u x v| and u.v keeps the gradient finite near 0 and 180 degrees
    return torch.rad2deg(torch.atan2(torch.cross(u, v, dim=-1).norm(dim=-1), (u * v).sum(-1)))


def dihedrals_deg(xyz: torch.Tensor, quads) -> torch.Tensor:
    """Dihedral angles in degrees, (..., m), in (-180, 180] (IUPAC sign convention)."""
    p = gather(xyz, quads)
    b0, b1, b2 = p[..., 0, :] - p[..., 1, :], p[..., 2, :] - p[..., 1, :], p[..., 3, :] - p[..., 2, :]
    b1n = b1 / b1.norm(dim=-1, keepdim=True)
    v = b0 - (b0 * b1n).sum(-1, keepdim=True) * b1n
    w = b2 - (b2 * b1n).sum(-1, keepdim=True) * b1n
    return torch.rad2deg(torch.atan2((torch.cross(b1n, v, dim=-1) * w).sum(-1), (v * w).sum(-1)))


def wrap_deg(a: torch.Tensor) -> torch.Tensor:
    return torch.remainder(a + 180.0, 360.0) - 180.0


def zscore_loss(z: torch.Tensor, hinge: float = HINGE_Z, hinge_weight: float = 1.0) -> torch.Tensor:
    """0.5 * mean(z^2) + hinge_weight * mean(relu(|z| - hinge)^2) over the last axis."""
    if z.shape[-1] == 0:
        return z.sum(-1)
    return 0.5 * (z ** 2).mean(-1) + hinge_weight * (torch.relu(z.abs() - hinge) ** 2).mean(-1)


def bond_z(xyz: torch.Tensor, r) -> torch.Tensor:
    d = distances(xyz, r.bonds)
    return (d - _t(r.bond_ideal, d)) / _t(r.bond_sigma, d)


def angle_z(xyz: torch.Tensor, r) -> torch.Tensor:
    a = angles_deg(xyz, r.angles)
    return (a - _t(r.angle_ideal, a)) / _t(r.angle_sigma, a)


def bond_loss(xyz, r, hinge: float = HINGE_Z) -> torch.Tensor:
    return zscore_loss(bond_z(xyz, r), hinge)


def angle_loss(xyz, r, hinge: float = HINGE_Z) -> torch.Tensor:
    return zscore_loss(angle_z(xyz, r), hinge)


def torsion_loss(xyz: torch.Tensor, quads, ideal: np.ndarray, sigma: np.ndarray,
                 hinge: float = HINGE_Z) -> torch.Tensor:
    """Z likelihood + hinge of dihedrals (``quads`` (m, 4)) about ``ideal`` (degrees, period 360)."""
    d = dihedrals_deg(xyz, quads)
    return zscore_loss(wrap_deg(d - _t(ideal, d)) / _t(sigma, d), hinge)


def plane_deviations(xyz: torch.Tensor, r) -> torch.Tensor:
    """Distance (Å) of each plane entry from its least-squares plane, (..., len(plane_atoms))."""
    idx = torch.as_tensor(r.plane_atoms)
    pid = torch.as_tensor(r.plane_index)
    n_planes = int(r.plane_index.max(initial=-1)) + 1
    p = xyz.index_select(-2, idx)
    count = torch.zeros(n_planes, dtype=xyz.dtype).index_add_(0, pid, torch.ones_like(pid, dtype=xyz.dtype))
    centroid = torch.zeros(*xyz.shape[:-2], n_planes, 3, dtype=xyz.dtype).index_add(-2, pid, p)
    centroid = centroid / count[:, None]
    q = p - centroid.index_select(-2, pid)
    outer = q[..., :, None] * q[..., None, :]
    cov = torch.zeros(*xyz.shape[:-2], n_planes, 3, 3, dtype=xyz.dtype).index_add(-3, pid, outer)
    _, vecs = torch.linalg.eigh(cov)
    normal = vecs[..., :, 0]
    return (q * normal.index_select(-2, pid)).sum(-1)


def planarity_loss(xyz, r, hinge_weight: float = 1.0) -> torch.Tensor:
    """Plane-deviation Z likelihood plus the planar-dihedral hinge (10 degrees; peptide 30)."""
    z = plane_deviations(xyz, r) / _t(r.plane_sigma, xyz)
    loss = 0.5 * (z ** 2).mean(-1) if z.shape[-1] else xyz.sum((-1, -2)) * 0
    if len(r.planar_dihedrals):
        dev = wrap_deg(dihedrals_deg(xyz, r.planar_dihedrals) - _t(r.planar_ideal, xyz)).abs()
        excess = torch.relu(dev - _t(r.planar_tolerance, xyz)) / PLANAR_HINGE_SCALE
        loss = loss + hinge_weight * (excess ** 2).mean(-1)
    return loss


def chiral_volumes(xyz: torch.Tensor, r) -> torch.Tensor:
    """Signed chiral volumes (Å^3): (a1 - c) . ((a2 - c) x (a3 - c)), (..., nc)."""
    p = gather(xyz, r.chirals)
    c = p[..., 0, :]
    return ((p[..., 1, :] - c) * torch.cross(p[..., 2, :] - c, p[..., 3, :] - c, dim=-1)).sum(-1)


def chirality_loss(xyz, r, sigma: float = CHIRAL_SIGMA) -> torch.Tensor:
    if len(r.chirals) == 0:
        return xyz.sum((-1, -2)) * 0
    v = chiral_volumes(xyz, r)
    either = torch.as_tensor(r.chiral_either)
    v = torch.where(either, v.abs(), v)
    return 0.5 * (((v - _t(r.chiral_ideal, v)) / sigma) ** 2).mean(-1)


def _t(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(a, dtype=like.dtype)


__all__ = ["gather", "distances", "angles_deg", "dihedrals_deg", "bond_z", "angle_z", "bond_loss",
           "angle_loss", "plane_deviations", "planarity_loss", "chiral_volumes", "chirality_loss",
           "zscore_loss", "wrap_deg", "torsion_loss"]
