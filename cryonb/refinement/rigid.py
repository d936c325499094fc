"""Rigid-body motion of groups of atoms, differentiable (torch)."""
from __future__ import annotations

import torch


def axis_angle_to_matrix(w: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors (radians) -> (..., 3, 3) matrices (Rodrigues, safe at 0)."""
    theta2 = (w * w).sum(-1, keepdim=True)[..., None]             # (..., 1, 1)
    theta = torch.sqrt(theta2 + 1e-12)
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / (theta2 + 1e-12))
    zero = torch.zeros_like(w[..., 0])
    k = torch.stack([zero, -w[..., 2], w[..., 1],
                     w[..., 2], zero, -w[..., 0],
                     -w[..., 1], w[..., 0], zero], -1).reshape(*w.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    return eye + a * k + b * (k @ k)


def move_groups(xyz: torch.Tensor, group: torch.Tensor, centre: torch.Tensor,
                rotation: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate each group about its centre and shift it.

    xyz: (..., N, 3) Å; group: (N,) long; centre: (..., G, 3) Å; rotation: (..., G, 3) rotation
    vectors in radians; shift: (..., G, 3) Å. Returns (..., N, 3).
    """
    mats = axis_angle_to_matrix(rotation)                           # (..., G, 3, 3)
    c = centre.index_select(-2, group)                              # (..., N, 3)
    rel = (xyz - c)[..., None]                                      # (..., N, 3, 1)
    moved = (mats.index_select(-3, group) @ rel).squeeze(-1)        # (..., N, 3)
    return moved + c + shift.index_select(-2, group)
