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
from ..refinement.stages import Morph
from ..torch_utils import seeded


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
    """One trained (or training) stage: its decoder, and the Morph that turns decoder output into
    moved atoms (rigid groups from the base model; centres taken per model as it arrives)."""

    morph: Morph
    decoder: Decoder

    @property
    def kind(self) -> str:
        return self.morph.kind

    def move(self, xyz: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """xyz (B, N, 3) Å, decoder output (B, n_out) -> moved (B, N, 3)."""
        return self.morph.move(xyz, out)


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
        """A fresh stage of ``kind`` whose groups come from the base model."""
        morph = Morph(kind, topo, self.base, n_patches, seed, chi_tree)
        with seeded(seed):
            decoder = Decoder(morph.n_out, n_in=self.latent_dim, hidden=hidden)
        return SeriesStage(morph, decoder)

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
