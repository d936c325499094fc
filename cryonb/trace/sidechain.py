"""Residue types from the density around a C-alpha trace: a Gaussian classifier on a local grid.

For each atom with both neighbours the map is read on a grid in its local frame (:func:`grid_points`:
7 heights 0-6 Å along the pseudo CA->CB axis of :mod:`.pseudo` x 5 x 5 points 1 Å apart across
it, 175 values), divided by the median map value at all the C-alphas (:func:`map_scale`). Each
residue type has a mean grid and all share one covariance (linear discriminant analysis, shrunk
towards its diagonal); :meth:`SideChainModel.log_odds` gives, per atom and type, log p(grid | type)
minus log p(grid) under the mixture of types (nats; positive where the type fits better than an
average residue). The model is fitted per resolution on simulated maps of the shipped C-alpha
network's 40 training chains, read both at the network's own C-alphas there (its L most probable
peaks matched to the true ones within 3 Å) and at the true C-alphas moved by 0.5 Å per axis
(``benchmarks/fit_side_chains.py``; :data:`MODEL_PATH`), never on its validation or test chains.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..maps import Map
from .pseudo import cb_axes, sample_map

AMINO = "GASCPVTNDILMEQKHRFYW"                                   # residue types, the order of the model
HEIGHTS = np.arange(0.0, 6.5, 1.0)                               # Å along CA->CB
ACROSS = np.arange(-2.0, 2.5, 1.0)                               # Å across it, both ways
MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "trace" / "side_chains.npz"


def grid_points(ca: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, P, 3) points Å where the map is read for each atom of the trace ``ca`` (n, 3) in the
    given order (P = 7 x 5 x 5), and the mask (n,) of atoms with both neighbours. The grid's axes:
    a = CA->CB (:func:`.pseudo.cb_axes`), u = the direction to the chain's bisector made normal to
    a, v = a x u; read backwards a trace puts the grid on the mirror side."""
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    a, ok = cb_axes(ca)
    n = len(ca)
    u = np.zeros((n, 3))
    if n >= 3:
        mid = np.zeros((n, 3))
        mid[1:-1] = 0.5 * (ca[:-2] + ca[2:]) - ca[1:-1]            # towards the neighbours' midpoint
        mid[0], mid[-1] = mid[1], mid[-2]
        u = mid - (mid * a).sum(1, keepdims=True) * a
        norm = np.linalg.norm(u, axis=1, keepdims=True)
        u = np.where(norm > 1e-9, u / np.maximum(norm, 1e-9), 0.0)
    v = np.cross(a, u)
    h, p, q = np.meshgrid(HEIGHTS, ACROSS, ACROSS, indexing="ij")
    h, p, q = h.ravel(), p.ravel(), q.ravel()
    pts = (ca[:, None] + h[None, :, None] * a[:, None] + p[None, :, None] * u[:, None]
           + q[None, :, None] * v[:, None])
    return pts, ok


def map_scale(m: Map, xyz: np.ndarray) -> float:
    """Median map value at the C-alphas ``xyz`` (N, 3) Å (1 when not positive): the unit of the grids."""
    values = sample_map(m, np.asarray(xyz, dtype=np.float64).reshape(-1, 3))
    scale = float(np.median(values)) if len(values) else 1.0
    return scale if scale > 0 else 1.0


def read_grids(m: Map, ca: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(n, P) map values / ``scale`` on each atom's grid (:func:`grid_points`) and the mask (n,)."""
    pts, ok = grid_points(ca)
    return sample_map(m, pts) / scale, ok


@dataclass
class SideChainModel:
    """Class means (20, P) in :data:`AMINO` order, the shared precision matrix (P, P), the log
    prior (20,) of each type and the resolution (Å) the model was fitted at."""

    means: np.ndarray
    precision: np.ndarray
    log_prior: np.ndarray
    resolution: float

    def log_odds(self, grids: np.ndarray) -> np.ndarray:
        """(n, 20) log p(grid | type) - log sum_t prior_t p(grid | t), nats, for ``grids`` (n, P)."""
        grids = np.asarray(grids, dtype=np.float64)
        w = self.means @ self.precision                                   # (20, P)
        lin = grids @ w.T - 0.5 * np.einsum("tp,tp->t", w, self.means)[None]   # log-lik up to a constant
        mix = lin + self.log_prior[None]
        top = mix.max(1, keepdims=True)
        return lin - (top + np.log(np.exp(mix - top).sum(1, keepdims=True)))


def fit_model(grids: np.ndarray, types: np.ndarray, resolution: float, shrink: float = 0.1) -> SideChainModel:
    """LDA on ``grids`` (N, P) with residue ``types`` (N,) indices into :data:`AMINO`: class means,
    pooled within-class covariance shrunk by ``shrink`` towards its diagonal, empirical priors."""
    grids = np.asarray(grids, dtype=np.float64)
    types = np.asarray(types, dtype=int)
    counts = np.bincount(types, minlength=len(AMINO)).astype(np.float64)
    means = np.zeros((len(AMINO), grids.shape[1]))
    for t in range(len(AMINO)):
        means[t] = grids[types == t].mean(0) if counts[t] else grids.mean(0)
    resid = grids - means[types]
    cov = resid.T @ resid / max(len(grids) - len(AMINO), 1)
    cov = (1 - shrink) * cov + shrink * np.diag(np.diag(cov))
    prior = (counts + 1) / (counts + 1).sum()
    return SideChainModel(means, np.linalg.inv(cov), np.log(prior), float(resolution))


def save_models(models: list[SideChainModel], path: Path = MODEL_PATH) -> None:
    """Write models (one per resolution) to an .npz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, resolutions=np.array([m.resolution for m in models]),
                        means=np.stack([m.means for m in models]).astype(np.float32),
                        precision=np.stack([m.precision for m in models]).astype(np.float32),
                        log_prior=np.stack([m.log_prior for m in models]))


_CACHE: dict = {}


def load_model(resolution: float, path: Path = MODEL_PATH) -> SideChainModel | None:
    """The model fitted at the resolution nearest ``resolution`` Å (None without a model file)."""
    key = str(path)
    if key not in _CACHE:
        if not Path(path).exists():
            return None
        z = np.load(path)
        _CACHE[key] = [SideChainModel(z["means"][k].astype(np.float64), z["precision"][k].astype(np.float64),
                                      z["log_prior"][k], float(z["resolutions"][k])) for k in range(len(z["resolutions"]))]
    models = _CACHE[key]
    return min(models, key=lambda m: abs(m.resolution - resolution))


def type_indices(sequence: str) -> np.ndarray:
    """(L,) indices into :data:`AMINO` of a one-letter sequence; -1 for letters not in it."""
    return np.array([AMINO.find(c) for c in sequence.upper()], dtype=int)
