"""Many residues, each scored by its own periodic mixture, in one pass.

A model's Ramachandran prior uses six mixtures (one per class) and its rotamer prior up to 18
(one per residue type). Evaluating each mixture on its own residues costs a few dozen small
tensor operations per mixture, forward and backward, which at a few thousand atoms is most of the
geometry's time. :class:`ResidueMixtures` lays the parameters of every residue's mixture side by
side (components padded with zero amplitude to the largest K) so that all residues sharing a
dimension D are scored by the same dozen operations.

>>> import torch
>>> from cryonb.priors import load_priors
>>> priors = load_priors()
>>> table = ResidueMixtures([priors.rama["general"], priors.rama["gly"]], [0, 1, 0])
>>> x = torch.tensor([[-63.0, -41.0], [80.0, 10.0], [60.0, -120.0]])
>>> s = table.log_score(x)
>>> bool(torch.allclose(s[1], priors.rama["gly"].log_score(x[1]), atol=1e-5))
True
"""
from __future__ import annotations

import numpy as np
import torch

from .mixture import FLOOR, PeriodicMixture, wrap

PAD_LOG_AMP = -1.0e4       # ln amplitude of a padding component: exp() of it is exactly 0
CHUNK_ELEMENTS = 1 << 22   # models x residues x components x D tabulated at once (forward only)


class ResidueMixtures:
    """Residue ``i`` scored by ``mixtures[which[i]]``; every mixture must have the same D.

    Parameters are copied per residue, dimension first ((D, m, K_max): each angle's tables are
    contiguous), in the dtype of the angles they are asked about; the mixtures themselves are not
    trained here (no gradient flows into them).
    """

    def __init__(self, mixtures: list[PeriodicMixture], which):
        dims = {mix.ndim for mix in mixtures}
        if len(dims) != 1:
            raise ValueError(f"mixtures of one table must share their dimension, got {sorted(dims)}")
        self.ndim = dims.pop()
        self.which = np.asarray(which, dtype=np.int64).reshape(-1)
        if len(self.which) and (self.which.min() < 0 or self.which.max() >= len(mixtures)):
            raise ValueError("mixture index out of range")
        k_max = max(mix.n_components for mix in mixtures)
        with torch.no_grad():
            centres = torch.zeros(len(mixtures), k_max, self.ndim, dtype=torch.float64)
            inv_width = torch.zeros_like(centres)
            log_amp = torch.full((len(mixtures), k_max), PAD_LOG_AMP, dtype=torch.float64)
            period = torch.stack([mix.period.double() for mix in mixtures])
            for t, mix in enumerate(mixtures):
                k = mix.n_components
                centres[t, :k] = mix.centres.double()
                inv_width[t, :k] = torch.exp(-mix.log_width.double())
                log_amp[t, :k] = mix.log_amp.double()
        rows = torch.as_tensor(self.which)
        self._params = {torch.float64: (centres[rows].permute(2, 0, 1).contiguous(),
                                        inv_width[rows].permute(2, 0, 1).contiguous(), log_amp[rows],
                                        period[rows].T.contiguous()[:, :, None])}

    def __len__(self) -> int:
        return len(self.which)

    def params(self, dtype: torch.dtype):
        """(centres (D, m, K), inverse widths (D, m, K), ln amplitudes (m, K), periods (D, m, 1))."""
        if dtype not in self._params:
            self._params[dtype] = tuple(p.to(dtype) for p in self._params[torch.float64])
        return self._params[dtype]

    def log_score(self, x: torch.Tensor) -> torch.Tensor:
        """ln(G_i(x_i) + e^-10) for angles ``x`` (..., m, D) degrees -> (..., m)."""
        return torch.log(self._per_residue(_Density, x, 1.0) + FLOOR)

    def widened_log_density(self, x: torch.Tensor, widen: float, rows: torch.Tensor | None = None) -> torch.Tensor:
        """ln G_i(x_i) with every width multiplied by ``widen``, in log-sum-exp form (finite deep in
        empty regions), for residues ``rows`` (all if None): x (..., m_rows, D) -> (..., m_rows)."""
        return self._per_residue(_LogDensity, x, widen, rows)

    def _per_residue(self, fn, x: torch.Tensor, widen: float, rows: torch.Tensor | None = None):
        centres, inv_width, log_amp, period = self.params(x.dtype)
        if rows is not None:
            centres, inv_width, period = (p.index_select(1, rows) for p in (centres, inv_width, period))
            log_amp = log_amp.index_select(0, rows)
        m, k = log_amp.shape
        if x.shape[-2:] != (m, self.ndim):
            raise ValueError(f"expected angles (..., {m}, {self.ndim}), got {tuple(x.shape)}")
        models = int(np.prod(x.shape[:-2], dtype=np.int64))
        step = max(1, CHUNK_ELEMENTS // max(1, models * k * self.ndim))
        parts = [fn.apply(x[..., i:i + step, :], centres[:, i:i + step], inv_width[:, i:i + step] / widen,
                          log_amp[i:i + step], period[:, i:i + step])
                 for i in range(0, m, step)]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def _terms(x, centres, inv_width, period):
    """Per angle d the scaled offsets r_d = wrap(x_d - mu_kd) / s_kd (..., m, K), and the
    exponents -0.5 sum_d r_d^2 (..., m, K)."""
    r = [wrap(x[..., d, None] - centres[d], period[d]) * inv_width[d] for d in range(len(centres))]
    q = r[0] * r[0]
    for rd in r[1:]:
        q = q + rd * rd
    return r, -0.5 * q


def _gradient(weight, r, inv_width) -> torch.Tensor:
    """d/dx_d of sum_k weight_k exp(-0.5 sum r^2) terms: -sum_k weight_k r_kd / s_kd -> (..., m, D)."""
    return torch.stack([-(weight * rd * inv_width[d]).sum(-1) for d, rd in enumerate(r)], dim=-1)


class _Density(torch.autograd.Function):
    """G_i(x_i) = sum_k a_ik exp(-0.5 sum_d r_ikd^2) -> (..., m), with its gradient in x formed in
    the same pass (only (..., m, D) is kept for the backward, not the (..., m, K) tables)."""

    @staticmethod
    def forward(ctx, x, centres, inv_width, log_amp, period):
        r, q = _terms(x, centres, inv_width, period)
        e = torch.exp(q + log_amp)
        ctx.save_for_backward(_gradient(e, r, inv_width))
        return e.sum(-1)

    @staticmethod
    def backward(ctx, grad):
        (d_x,) = ctx.saved_tensors
        return grad[..., None] * d_x, None, None, None, None


class _LogDensity(torch.autograd.Function):
    """ln G_i(x_i) in log-sum-exp form -> (..., m); gradient formed in the same pass."""

    @staticmethod
    def forward(ctx, x, centres, inv_width, log_amp, period):
        r, q = _terms(x, centres, inv_width, period)
        z = q + log_amp
        out = torch.logsumexp(z, dim=-1)
        ctx.save_for_backward(_gradient(torch.exp(z - out[..., None]), r, inv_width))
        return out

    @staticmethod
    def backward(ctx, grad):
        (d_x,) = ctx.saved_tensors
        return grad[..., None] * d_x, None, None, None, None
