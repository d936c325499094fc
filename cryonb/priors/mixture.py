"""A periodic Gaussian mixture on dihedral-angle space: a smooth, differentiable stand-in for a
Top8000 Ramachandran or rotamer table.

For angles ``x`` (..., D) in degrees the mixture is

    G(x) = sum_k a_k exp(-0.5 sum_d (wrap_d(x_d - mu_kd) / s_kd)^2)

where ``wrap_d`` folds a difference into [-P_d/2, P_d/2) for the period P_d of dimension d
(360 degrees, or 180 for a symmetric last chi). ``log_score(x) = ln(G(x) + e^-10)`` is the
quantity fitted to ``ln(R + e^-10)`` of a table of rotamericity R (a fraction in [0, 1]), so
``G`` is compared with the same favoured / allowed thresholds as the table.

>>> import torch
>>> m = PeriodicMixture(torch.tensor([[-60.0, -40.0]]), torch.tensor([[10.0, 10.0]]),
...                     torch.tensor([0.0]), torch.tensor([360.0, 360.0]))
>>> round(m.density(torch.tensor([300.0, -40.0])).item(), 6)     # -60 + 360
1.0
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from ..atomic import atomic_path

LOG_FLOOR = -10.0                 # ln C: the score of an empty region
FLOOR = math.exp(LOG_FLOOR)       # C = e^-10, added to G and R before taking logs
CHUNK_PAIRS = 1 << 20             # points x components evaluated at once in density()


def wrap(diff: torch.Tensor, period: torch.Tensor) -> torch.Tensor:
    """Fold angle differences (degrees) into [-period/2, period/2]; ``period`` broadcasts."""
    return diff - period * torch.round(diff / period)


def _density_block(x: torch.Tensor, centres: torch.Tensor, inv_width: torch.Tensor,
                   amp: torch.Tensor, period: torch.Tensor) -> torch.Tensor:
    """G at (n, D) points for all K components (no chunking) -> (n,)."""
    q = 0.0
    for d in range(centres.shape[1]):
        r = wrap(x[:, d, None] - centres[:, d], period[d]) * inv_width[:, d]
        q = q + r * r
    return torch.exp(-0.5 * q) @ amp


class PeriodicMixture(torch.nn.Module):
    """Sum of K axis-aligned wrapped Gaussians in D periodic angle dimensions (degrees).

    Parameters: ``centres`` (K, D) degrees, ``log_width`` (K, D) (widths s = exp, degrees),
    ``log_amp`` (K,) (amplitudes a = exp). Buffer ``period`` (D,) degrees. ``meta`` is a
    free-form JSON-able dict (name, thresholds, fit figures) saved alongside.
    """

    def __init__(self, centres, widths, log_amp, period, meta: dict | None = None):
        super().__init__()
        centres = torch.as_tensor(centres)
        dtype = centres.dtype if centres.is_floating_point() else torch.get_default_dtype()

        def as_t(v):
            return torch.as_tensor(v, dtype=dtype)

        self.centres = torch.nn.Parameter(as_t(centres).reshape(-1, as_t(period).numel()).clone())
        self.log_width = torch.nn.Parameter(torch.log(as_t(widths)).reshape(self.centres.shape).clone())
        self.log_amp = torch.nn.Parameter(as_t(log_amp).reshape(-1).clone())
        self.register_buffer("period", as_t(period).reshape(-1).clone())
        if (self.period <= 0).any():
            raise ValueError("periods must be positive (degrees)")
        self.meta = dict(meta or {})

    @property
    def n_components(self) -> int:
        return self.centres.shape[0]

    @property
    def ndim(self) -> int:
        return self.centres.shape[1]

    @property
    def widths(self) -> torch.Tensor:
        """(K, D) Gaussian widths in degrees."""
        return torch.exp(self.log_width)

    def density(self, x: torch.Tensor, chunk_pairs: int = CHUNK_PAIRS) -> torch.Tensor:
        """G(x) for angles ``x`` (..., D) degrees -> (...). Differentiable in x and parameters.

        Points are evaluated in blocks of about ``chunk_pairs / K``; with gradients on, each
        block is recomputed in the backward pass instead of being kept (bounded memory).
        """
        x = torch.as_tensor(x, dtype=self.centres.dtype)
        if x.shape[-1] != self.ndim:
            raise ValueError(f"expected angles of shape (..., {self.ndim}), got {tuple(x.shape)}")
        flat = x.reshape(-1, self.ndim)
        args = (self.centres, torch.exp(-self.log_width), torch.exp(self.log_amp), self.period)
        step = max(1, chunk_pairs // self.n_components)
        if flat.shape[0] <= step:
            return _density_block(flat, *args).reshape(x.shape[:-1])
        grad = torch.is_grad_enabled() and (flat.requires_grad
                                            or any(p.requires_grad for p in self.parameters()))
        parts = [checkpoint(_density_block, blk, *args, use_reentrant=False) if grad
                 else _density_block(blk, *args) for blk in flat.split(step)]
        return torch.cat(parts).reshape(x.shape[:-1])

    def log_score(self, x: torch.Tensor, **kw) -> torch.Tensor:
        """ln(G(x) + e^-10) for angles ``x`` (..., D) degrees -> (...); between -10 and ~0."""
        return torch.log(self.density(x, **kw) + FLOOR)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``mixture(x)`` is :meth:`log_score`."""
        return self.log_score(x)

    def grid_density(self, axes: list[torch.Tensor]) -> torch.Tensor:
        """G on the outer grid of D 1-D axes (degrees) -> shape (n_1, ..., n_D).

        The Gaussians are separable, so this is one matrix product of per-dimension factors
        (about K * prod(n_d) multiply-adds) rather than K * prod(n_d) * D exponentials.
        """
        if len(axes) != self.ndim:
            raise ValueError(f"expected {self.ndim} axes, got {len(axes)}")
        inv = torch.exp(-self.log_width)
        factors = []
        for d, ax in enumerate(axes):
            r = wrap(torch.as_tensor(ax, dtype=self.centres.dtype)[None, :] - self.centres[:, d, None],
                     self.period[d]) * inv[:, d, None]
            factors.append(torch.exp(-0.5 * r * r))                     # (K, n_d)
        factors[0] = factors[0] * torch.exp(self.log_amp)[:, None]
        half = (self.ndim + 1) // 2
        left, right = _outer(factors[:half]), _outer(factors[half:])
        shape = [len(a) for a in axes]
        if right is None:
            return left.sum(0).reshape(shape)
        return (left.T @ right).reshape(shape)

    # --- plain .npz files ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write centres, widths (degrees), log_amp, period (float32) and meta (JSON) to .npz."""
        arrays = {"centres": self.centres, "widths": self.widths, "log_amp": self.log_amp,
                  "period": self.period}
        arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in arrays.items()}
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, meta=np.array(json.dumps(self.meta)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> PeriodicMixture:
        """Read a mixture written by :meth:`save` (parameters as ``dtype``)."""
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: torch.as_tensor(z[k], dtype=dtype)
                      for k in ("centres", "widths", "log_amp", "period")}
            meta = json.loads(str(z["meta"]))
        return cls(arrays["centres"], arrays["widths"], arrays["log_amp"], arrays["period"], meta)

    def extra_repr(self) -> str:
        return f"K={self.n_components}, D={self.ndim}, period={self.period.tolist()}"


def _outer(factors: list[torch.Tensor]) -> torch.Tensor | None:
    """Row-wise outer product of (K, n_i) factors -> (K, prod n_i), or None for no factors."""
    if not factors:
        return None
    out = factors[0]
    for f in factors[1:]:
        out = (out[:, :, None] * f[:, None, :]).reshape(out.shape[0], -1)
    return out
