"""The map-model score of a refinement: 1 - mean FRC between GMM and map projections.

Holds the cached map projections as tensors, draws orientation batches reproducibly, and
evaluates the score over the rings between a low cut-off and the current resolution limit
(which coarse-to-fine schedules raise during a stage).
"""
from __future__ import annotations

import numpy as np
import torch

from .gmm import ModelGMM
from .gridding import choose_projection, gridded_projections, gridding_classes
from .projection import MapProjections, frc_per_ring, gmm_projections


EVALUATION_CHUNK = 32   # images per pass when a score is evaluated without gradients
MIN_RINGS = 2           # Fourier rings the coarsest FRC limit still scores


class MapScore:
    """``score(xyz, batch, resolution)`` -> scalar tensor in [0, 2]; 0 is a perfect match.

    projection: how the model's projections are computed, "analytic" (:func:`.projection.gmm_projections`),
    "gridding" (:func:`.gridding.gridded_projections`) or "auto" (the cheaper for this model and box,
    :func:`.gridding.choose_projection`); :attr:`method` says which.
    """

    def __init__(self, projections: MapProjections, gmm: ModelGMM, low_resolution: float = 100.0,
                 device: str | torch.device = "cpu", projection: str = "auto"):
        self.proj, self.grid, self.low = projections, projections.grid, low_resolution
        self.device = torch.device(device)
        t = dict(device=self.device, dtype=torch.float32)
        self.rotations = torch.as_tensor(projections.rotations, **t)
        self.centre = torch.as_tensor(projections.centre, **t)
        self.target = (torch.as_tensor(projections.coeffs.real, **t),
                       torch.as_tensor(projections.coeffs.imag, **t))
        self.ring = torch.as_tensor(self.grid.ring, device=self.device)
        self.amplitude = gmm.amplitude_tensor(self.device)
        self.sigma = gmm.sigma_tensor(self.device)
        self.ring_weight: torch.Tensor | None = None    # (n_rings,); None: every ring alike
        self._cut: dict = {}                            # top ring -> the grid cut there (_within)
        self.method = choose_projection(self.grid, gmm.sigma, projection)

    @property
    def sigma(self) -> torch.Tensor:
        """(N,) Gaussian widths (Å); setting them (the blur match does) renews the gridding classes."""
        return self._sigma

    @sigma.setter
    def sigma(self, value: torch.Tensor) -> None:
        self._sigma = value
        self._classes = {}              # top ring -> gridding classes of these widths, made on first use

    @property
    def n_orientations(self) -> int:
        return len(self.rotations)

    @property
    def coarsest_limit(self) -> float:
        """The coarsest FRC limit (Å) that still scores :data:`MIN_RINGS` rings: a coarse-to-fine
        stage asking for less (a 40 Å start in a 50 Å box) starts here instead."""
        return self.grid.size * self.grid.pixel / (MIN_RINGS + 0.5)

    def ring_indices(self, resolution: float) -> np.ndarray:
        """Ring indices in the band [resolution, low cut-off] Å (the limit no coarser than
        :attr:`coarsest_limit`)."""
        limit = min(resolution, self.coarsest_limit)
        idx = self.grid.rings_between(self.low, limit)
        if len(idx) == 0:
            raise ValueError(f"no Fourier rings between {self.low} and {limit:.1f} Å (a {self.grid.size}-pixel "
                             f"image of {self.grid.pixel:.2f} Å pixels)")
        return idx

    def rings(self, resolution: float) -> torch.Tensor:
        """:meth:`ring_indices` as a tensor on the score's device."""
        return torch.as_tensor(self.ring_indices(resolution), device=self.device)

    def model_projections(self, xyz: torch.Tensor, batch: torch.Tensor, top_ring: int | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and imaginary coefficients (..., B, n_k) of the model's projections in ``batch``,
        at every kept frequency or, with ``top_ring``, at those of rings 0..top_ring.

        Without gradients (scores over every orientation, the blur match) the images are taken
        :data:`EVALUATION_CHUNK` at a time: the analytic form's tables grow as images x atoms x
        frequencies."""
        if not torch.is_grad_enabled() and len(batch) > EVALUATION_CHUNK:
            parts = [self.model_projections(xyz, b, top_ring) for b in batch.split(EVALUATION_CHUNK)]
            return torch.cat([p[0] for p in parts], -2), torch.cat([p[1] for p in parts], -2)
        x = xyz.to(self.device, torch.float32)
        grid = self._within(top_ring)[0]     # cost falls with the frequencies: take only those scored
        if self.method == "analytic":
            return gmm_projections(x, self.amplitude, self.sigma, self.rotations[batch], self.centre, grid)
        key = None if grid is self.grid else top_ring
        if key not in self._classes:           # coarser pixels suffice for a cut grid
            self._classes[key] = gridding_classes(grid, self.sigma.cpu().numpy())
        return gridded_projections(x, self.amplitude, self.sigma, self.rotations[batch], self.centre, grid,
                                   self._classes[key])

    def _within(self, top_ring: int | None):
        """(grid, frequency indices or None, ring per frequency) for rings 0..top_ring (None: all)."""
        if top_ring is None or top_ring >= self.grid.n_rings - 1:
            return self.grid, None, self.ring
        if top_ring not in self._cut:
            grid, keep = self.grid.within(top_ring)
            keep = torch.as_tensor(keep, device=self.device)
            self._cut[top_ring] = (grid, keep, self.ring[keep])
        return self._cut[top_ring]

    def frc(self, xyz: torch.Tensor, batch: torch.Tensor, top_ring: int | None = None) -> torch.Tensor:
        """FRC per image and ring, (..., B, n_rings), for orientations ``batch`` (B,) long; with
        ``top_ring`` only rings 0..top_ring are computed, (..., B, top_ring + 1)."""
        grid, keep, ring = self._within(top_ring)
        model = self.model_projections(xyz, batch, top_ring)
        target = (self.target[0][batch], self.target[1][batch])
        if keep is not None:
            target = (target[0][:, keep], target[1][:, keep])
        return frc_per_ring(model, target, ring, grid.n_rings)

    def __call__(self, xyz: torch.Tensor, batch: torch.Tensor, resolution: float) -> torch.Tensor:
        rings = self.ring_indices(resolution)
        idx, top = torch.as_tensor(rings, device=self.device), int(rings.max())   # no device sync
        frc = self.frc(xyz, batch, top)[..., idx]
        if self.ring_weight is None:
            return 1.0 - frc.mean()
        w = self.ring_weight[idx].to(frc.dtype)
        return 1.0 - (frc * w).sum(-1).mean() / w.sum()

    def weigh_rings_by_snr(self, xyz: torch.Tensor, resolution: float, most: float = 0.95) -> np.ndarray:
        """Weigh each ring by the inverse variance of its FRC's pull: ``n_k rho_k / (1 - rho_k^2)``,
        with rho_k the FRC of model ``xyz`` in ring k over all orientations (clipped to [0.01,
        ``most``]) and n_k the ring's coefficients; weights scaled to mean 1 over the scored rings.
        Equal weights let the rings at the resolution, where an experimental map's signal-to-noise
        is about 1/3, pull as hard as the clean low-resolution ones. Returns the (n_rings,) weights."""
        with torch.no_grad():
            rho = self.frc(xyz, self.all_orientations()).mean(0).clamp(0.01, most)
        n = torch.bincount(self.ring, minlength=self.grid.n_rings).to(rho.dtype)
        w = n * rho / (1 - rho ** 2)
        idx = self.rings(resolution)
        self.ring_weight = w / w[idx].mean()
        return self.ring_weight.cpu().numpy()

    def batches(self, size: int, seed: int = 0):
        """Endless reproducible orientation batches of ``size``, each epoch a fresh permutation."""
        rng = np.random.default_rng(seed)
        n = self.n_orientations
        size = min(size, n)
        while True:
            order = rng.permutation(n)
            for i in range(0, n - size + 1, size):
                yield torch.as_tensor(order[i:i + size], device=self.device)

    def all_orientations(self) -> torch.Tensor:
        return torch.arange(self.n_orientations, device=self.device)
