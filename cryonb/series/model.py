"""A continuous model series: decoders that turn a latent coordinate into a model.

The single-refinement decoders (:mod:`cryonb.refinement.decoders`) read a constant; here they read
the latent vector of a conformation, scaled to [-1, 1] per dimension over the input latents, plus
small Gaussian noise while training (the seed's trick for a smooth map from latent to model).
Stages stack: each trained stage moves the model the previous stages produced at the same latent,
so ``xyz(z) = stage_k(... stage_1(base, z) ..., z)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..refinement.decoders import Decoder
from ..refinement.patches import atom_groups, kmeans_patches
from ..refinement.rigid import move_groups


@dataclass
class LatentScale:
    """Affine map of latents onto [-1, 1] per dimension: ``(z - centre) / half_width``."""

    centre: np.ndarray      # (d,)
    half_width: np.ndarray  # (d,), never 0

    @classmethod
    def fit(cls, latents: np.ndarray) -> "LatentScale":
        z = np.asarray(latents, dtype=np.float64)
        lo, hi = z.min(0), z.max(0)
        return cls((lo + hi) / 2, np.where(hi > lo, (hi - lo) / 2, 1.0))

    def __call__(self, latents) -> torch.Tensor:
        z = torch.as_tensor(np.asarray(latents, dtype=np.float64))
        return (z - torch.as_tensor(self.centre)) / torch.as_tensor(self.half_width)


@dataclass
class SeriesStage:
    """One trained (or training) stage: its kind, decoder and how decoder output moves atoms."""

    kind: str                        # "patches", "residues" or "atoms"
    decoder: Decoder
    group: torch.Tensor | None = None   # (N,) long: rigid group of each atom (patches, residues)
    n_groups: int = 0
    chi: object = None               # ChiTree for the atoms stage (or None)
    rotation_scale: float = 0.1
    shift_scale: float = 1.0

    def move(self, xyz: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """xyz (B, N, 3) Å, decoder output (B, n_out) -> moved (B, N, 3)."""
        out = out.to(xyz.dtype)
        if self.kind == "atoms":
            n = xyz.shape[-2]
            moved = xyz + 0.1 * out[:, :3 * n].reshape(-1, n, 3)
            return self.chi.apply(moved, self.rotation_scale * out[:, 3 * n:]) if self.chi is not None else moved
        g = self.n_groups
        centre = _group_centres(xyz, self.group, g)
        rot = self.rotation_scale * out[:, :3 * g].reshape(-1, g, 3)
        shift = self.shift_scale * out[:, 3 * g:].reshape(-1, g, 3)
        return move_groups(xyz, self.group, centre, rot, shift)


def _group_centres(xyz: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """(B, G, 3) mean position of each group's atoms."""
    sums = xyz.new_zeros(*xyz.shape[:-2], n_groups, 3).index_add(-2, group, xyz)
    counts = torch.bincount(group, minlength=n_groups).to(xyz.dtype)
    return sums / counts[:, None]


@dataclass
class SeriesModel:
    """Base coordinates (N, 3) Å, the latent scaling and the stages trained so far."""

    base: torch.Tensor
    scale: LatentScale
    stages: list[SeriesStage] = field(default_factory=list)

    @property
    def latent_dim(self) -> int:
        return len(self.scale.centre)

    def new_stage(self, kind: str, topo, n_patches: int = 64, seed: int = 0, chi_tree=None,
                  hidden: int = 256) -> SeriesStage:
        """A fresh stage of ``kind`` whose groups come from the current mean model."""
        torch.manual_seed(seed)
        n = self.base.shape[0]
        if kind == "atoms":
            n_out = 3 * n + (chi_tree.n if chi_tree is not None else 0)
            stage = SeriesStage(kind, None, chi=chi_tree)
        else:
            x = self.base.detach().cpu().numpy()
            res_group = (kmeans_patches(topo, x, n_patches, seed) if kind == "patches"
                         else np.arange(len(topo.residues)))
            _, group = np.unique(atom_groups(topo, res_group), return_inverse=True)
            stage = SeriesStage(kind, None, torch.as_tensor(group), int(group.max()) + 1)
            n_out = 6 * stage.n_groups
        stage.decoder = Decoder(n_out, n_in=self.latent_dim, hidden=hidden)
        return stage

    def __call__(self, z: torch.Tensor, stages: list[SeriesStage] | None = None) -> torch.Tensor:
        """Scaled latents (B, d) -> models (B, N, 3) Å through ``stages`` (default: all)."""
        xyz = self.base.expand(z.shape[0], *self.base.shape)
        for stage in self.stages if stages is None else stages:
            xyz = stage.move(xyz, stage.decoder(z.to(torch.float32)))
        return xyz

    def models(self, latents) -> np.ndarray:
        """Unscaled latents (K, d) -> coordinates (K, N, 3) Å, no noise."""
        with torch.no_grad():
            return self(self.scale(latents)).numpy()
