"""Fit a :class:`~cryonb.priors.mixture.PeriodicMixture` to a Top8000 table (a Grid of R values).

The loss, evaluated on every bin centre of the table, is

    mean (ln(G + C) - ln(R + C))^2  +  boundary * mean(hinge^2)

with C = e^-10. The hinge terms keep the categories of the table: a cell below a threshold t
(the allowed/outlier cut-off, then the favoured one) is pushed to G < margin * t, a cell at or
above t to G > t / margin (log space). Parameters are optimised directly with Adam; widths are
kept between ``min_width`` bins and an eighth of the period after every step.

>>> from cryonb.validation.rama import rama_tables
>>> mix, report = fit_grid(rama_tables()["cis-pro"], 16, iterations=50, thresholds=(0.002, 0.02))
>>> mix.centres.shape, 0.5 < report.agreement <= 1.0
(torch.Size([16, 2]), True)
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..validation.reference_data import Grid, interpolate
from .mixture import FLOOR, LOG_FLOOR, PeriodicMixture


@dataclass(frozen=True)
class Agreement:
    """How a mixture's categories compare with a table's, over all grid cells."""

    outlier_cells: float    # fraction of the table's outlier cells that are outliers under G
    agreement: float        # fraction of cells whose favoured/allowed/outlier category agrees
    rms_log: float          # rms of ln(G + C) - ln(R + C) over the cells
    rms: float              # rms of G - R over the cells (fractions)


@dataclass(frozen=True)
class FitReport:
    """Fit figures: the :class:`Agreement` fields plus the fit's size and cost."""

    name: str
    n_components: int
    iterations: int
    seconds: float
    outlier_cells: float
    agreement: float
    rms_log: float
    rms: float
    loss_start: float
    loss_end: float

    def as_dict(self) -> dict:
        return asdict(self)


# --- the table as tensors ---------------------------------------------------------------------

def bin_centres(grid: Grid) -> list[np.ndarray]:
    """Bin-centre coordinates (degrees) of each dimension of ``grid``: D arrays of n_d."""
    return [grid.lower[d] + (np.arange(n) + 0.5) * grid.width[d]
            for d, n in enumerate(grid.values.shape)]


def grid_periods(grid: Grid) -> np.ndarray:
    """(D,) period of each dimension: the table's range (all Top8000 tables wrap)."""
    if not np.all(grid.wrap):
        raise ValueError(f"{grid.name}: every dimension must wrap to fit a periodic mixture")
    return np.asarray(grid.upper - grid.lower, dtype=float)


def categories(values, thresholds: tuple[float, float]):
    """0 outlier (< thresholds[0]), 1 allowed, 2 favoured (>= thresholds[1]); numpy or torch."""
    low, high = thresholds
    return (values >= low).long() + (values >= high).long() if torch.is_tensor(values) \
        else (values >= low).astype(int) + (values >= high).astype(int)


def category_agreement(mixture: PeriodicMixture, grid: Grid,
                       thresholds: tuple[float, float]) -> Agreement:
    """Compare ``mixture`` with ``grid`` on every bin centre (see :class:`Agreement`)."""
    with torch.no_grad():
        g = mixture.grid_density([torch.as_tensor(a) for a in bin_centres(grid)])
        g = g.double().cpu().numpy()
    r = grid.values
    table, mix = categories(r, thresholds), categories(g, thresholds)
    out = table == 0
    log_err = np.log(g + FLOOR) - np.log(r + FLOOR)
    return Agreement(outlier_cells=float((mix[out] == 0).mean()) if out.any() else 1.0,
                     agreement=float((mix == table).mean()),
                     rms_log=float(np.sqrt(np.mean(log_err ** 2))),
                     rms=float(np.sqrt(np.mean((g - r) ** 2))))


# --- initial components -----------------------------------------------------------------------

def _wrapped_sq_dist(points: np.ndarray, centre: np.ndarray, period: np.ndarray) -> np.ndarray:
    diff = np.abs(points - centre) % period
    return (np.minimum(diff, period - diff) ** 2).sum(axis=-1)


def _draw_cells(cells: np.ndarray, weight: np.ndarray, n: int, grid: Grid, rng,
                start: list | None = None, cap: float = np.inf) -> list[np.ndarray]:
    """Draw up to ``n`` of ``cells`` (M, D) k-means++ style: probability proportional to
    ``weight`` times the squared periodic distance in bins (capped at ``cap``) to the nearest
    of ``start`` and the cells drawn so far. Returns ``start`` plus the drawn cells."""
    scale = grid.width
    period = grid_periods(grid) / scale
    chosen = list(start or [])
    d2 = np.full(len(cells), cap)
    for c in chosen:
        d2 = np.minimum(d2, _wrapped_sq_dist(cells / scale, c / scale, period))
    while len(chosen) < n:
        w = weight * d2
        if not w.sum() > 0:
            break
        c = cells[rng.choice(len(cells), p=w / w.sum())]
        chosen.append(c)
        d2 = np.minimum(d2, _wrapped_sq_dist(cells / scale, c / scale, period))
    return chosen


def _cells(grid: Grid) -> np.ndarray:
    """(n_cells, D) bin centres of ``grid`` in C order, degrees."""
    return np.stack(np.meshgrid(*bin_centres(grid), indexing="ij"), -1).reshape(-1, grid.values.ndim)


def seed_centres(grid: Grid, n_components: int, fixed: np.ndarray | None = None,
                 seed: int = 0) -> np.ndarray:
    """(K, D) initial centres (degrees): ``fixed`` first, then cells drawn k-means++ style.

    Each further centre is a cell drawn with probability proportional to its height above the
    floor, ln(R + C) + 10, times its squared distance (in bins, periodic) to the nearest centre
    so far. Cells with R = 0 are never drawn. Deterministic for a given ``seed``.
    """
    cells = _cells(grid)
    height = np.log(grid.values.reshape(-1) + FLOOR) - LOG_FLOOR
    cells, height = cells[height > 0], height[height > 0]
    start = [] if fixed is None else list(np.mod(np.atleast_2d(fixed) - grid.lower, grid_periods(grid))
                                          + grid.lower)[:n_components]
    if not start:
        start = [cells[np.argmax(height)]]
    return np.array(_draw_cells(cells, height, n_components, grid, np.random.default_rng(seed),
                                start), dtype=float)


def grow(mixture: PeriodicMixture, grid: Grid, n_new: int, thresholds: tuple[float, float],
         seed: int = 0) -> PeriodicMixture:
    """``mixture`` plus up to ``n_new`` components on cells whose category disagrees with the
    table (drawn k-means++ style, weighted by the log error), one bin wide, with amplitude
    R - G there (at least 1e-5): a start for another round of :func:`fit_grid`."""
    with torch.no_grad():
        g = mixture.grid_density([torch.as_tensor(a, dtype=mixture.centres.dtype)
                                  for a in bin_centres(grid)]).double().cpu().numpy().ravel()
    r = grid.values.ravel()
    err = np.abs(np.log(g + FLOOR) - np.log(r + FLOOR))
    bad = np.flatnonzero(categories(g, thresholds) != categories(r, thresholds))
    new = np.array(_draw_cells(_cells(grid)[bad], err[bad], n_new, grid,
                               np.random.default_rng(seed), cap=9.0)).reshape(-1, grid.values.ndim)
    idx = np.ravel_multi_index(tuple(np.floor((new - grid.lower) / grid.width).astype(int).T),
                               grid.values.shape)
    amp = np.maximum(r[idx] - g[idx], 1e-5)

    def cat(old: torch.Tensor, extra: np.ndarray) -> torch.Tensor:
        return torch.cat([old.detach(), torch.as_tensor(extra, dtype=old.dtype)])

    return PeriodicMixture(cat(mixture.centres, new), cat(mixture.widths, np.tile(grid.width, (len(new), 1))),
                           cat(mixture.log_amp, np.log(amp)),
                           mixture.period.detach(), dict(mixture.meta))


def initial_mixture(grid: Grid, centres: np.ndarray, min_width: float = 0.5,
                    dtype: torch.dtype = torch.float64) -> PeriodicMixture:
    """Mixture with components at ``centres`` (K, D): widths from the spacing of the centres,
    amplitudes scaled (10 multiplicative passes) so that G matches R at the centres."""
    period = grid_periods(grid)
    k = len(centres)
    if k > 1:
        nn = np.array([np.sqrt(np.sort(_wrapped_sq_dist(centres / grid.width, c / grid.width,
                                                      period / grid.width))[1]) for c in centres])
    else:
        nn = np.full(1, 4.0)
    widths = np.clip(0.6 * nn, 1.0, None)[:, None] * grid.width        # degrees, (K, D)
    widths = np.minimum(np.maximum(widths, min_width * grid.width), period / 8)
    target = np.maximum(interpolate(grid, centres), 1e-6)
    mix = PeriodicMixture(torch.tensor(centres, dtype=dtype), torch.tensor(widths, dtype=dtype),
                          torch.log(torch.tensor(target, dtype=dtype)), torch.tensor(period, dtype=dtype))
    with torch.no_grad():
        for _ in range(10):
            g = mix.density(mix.centres)
            mix.log_amp += 0.7 * torch.log(torch.as_tensor(target, dtype=dtype) / g)
    return mix


# --- the fit ----------------------------------------------------------------------------------

def _hinge_targets(r: torch.Tensor, thresholds: tuple[float, float], margin: float):
    """Per threshold: (mask of cells at/above it, ln upper bound below, ln lower bound above)."""
    out = []
    for t in thresholds:
        out.append((r >= t, math.log(margin * t + FLOOR), math.log(t / margin + FLOOR)))
    return out


def fit_loss(mix: PeriodicMixture, axes: list[torch.Tensor], target: torch.Tensor,
             hinges, boundary: float) -> torch.Tensor:
    """MSE of the log fit plus ``boundary`` x mean squared hinge violations (see module doc)."""
    pred = torch.log(mix.grid_density(axes) + FLOOR)
    loss = torch.mean((pred - target) ** 2)
    for above, cap, floor in hinges:
        viol = torch.where(above, torch.relu(floor - pred), torch.relu(pred - cap))
        loss = loss + boundary * torch.mean(viol ** 2)
    return loss


def _decay(step: int, iterations: int) -> float:
    """lr factor: 1 for the first two thirds, then down geometrically to 0.1 at the end."""
    tail = iterations / 3
    return 1.0 if step <= 2 * tail else 0.1 ** ((step - 2 * tail) / tail)


def fit_grid(grid: Grid, n_components: int, init_centres: np.ndarray | None = None,
             iterations: int = 2000, lr: float = 0.02, seed: int = 0,
             thresholds: tuple[float, float] = (0.001, 0.02), boundary: float = 10.0,
             margin: float = 0.8, min_width: float = 0.5, name: str | None = None,
             mixture: PeriodicMixture | None = None,
             dtype: torch.dtype = torch.float32) -> tuple[PeriodicMixture, FitReport]:
    """Fit a mixture of ``n_components`` to ``grid`` -> (mixture in float32, report).

    grid: a wrapped Top8000 table; init_centres: (M, D) degrees placed first (e.g. rotamer
    centres), the rest seeded by :func:`seed_centres`; thresholds: (outlier, favoured) cut-offs
    on R; boundary: weight of the category hinges; margin: their safety factor; min_width: the
    smallest width in bins; lr: Adam step (centres move lr * 2 bins per step); mixture: start
    from this one instead (continue a fit); dtype: of the optimisation. Decays lr by 10x over the last
    third of the iterations, and returns the best iterate by loss.
    """
    if mixture is None:
        centres = seed_centres(grid, n_components, init_centres, seed)
        mixture = initial_mixture(grid, centres, min_width)
    mix = PeriodicMixture(*(t.detach().to(dtype) for t in (mixture.centres, mixture.widths,
                                                           mixture.log_amp, mixture.period)))
    axes = [torch.as_tensor(a, dtype=dtype) for a in bin_centres(grid)]
    r = torch.as_tensor(grid.values, dtype=dtype)
    target = torch.log(r + FLOOR)
    hinges = _hinge_targets(r, thresholds, margin)
    width = torch.as_tensor(grid.width, dtype=dtype)
    lo = torch.log(min_width * width)
    hi = torch.log(mix.period / 8)
    opt = torch.optim.Adam([{"params": [mix.centres], "lr": lr * 2 * float(width.mean())},
                            {"params": [mix.log_width, mix.log_amp], "lr": lr}])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: _decay(i, iterations))
    start = time.perf_counter()
    best, best_state, first = math.inf, None, None
    for _ in range(iterations + 1):
        opt.zero_grad()
        loss = fit_loss(mix, axes, target, hinges, boundary)
        value = float(loss.detach())
        first = value if first is None else first
        if value < best:
            best, best_state = value, [p.detach().clone() for p in mix.parameters()]
        if _ == iterations:
            break
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            mix.log_width.copy_(torch.maximum(torch.minimum(mix.log_width, hi), lo))
    with torch.no_grad():
        for p, b in zip(mix.parameters(), best_state):
            p.copy_(b)
    seconds = time.perf_counter() - start
    out = PeriodicMixture(*(t.detach().float() for t in (mix.centres, mix.widths, mix.log_amp,
                                                         mix.period)))
    agree = category_agreement(out, grid, thresholds)           # as shipped: float32
    report = FitReport(name or grid.name, mix.n_components, iterations, round(seconds, 2),
                       loss_start=first, loss_end=best, **asdict(agree))
    out.meta = {"name": report.name, "thresholds": list(thresholds), "fit": report.as_dict()}
    return out, report
