"""Training the conditional decoders of a model series, stage by stage, on every map at once.

Each round fixes one projection batch per map, one FRC limit and one draw of latent noise, and runs
L-BFGS on the stage's decoder: the loss is the mean map score over the maps (each model at its
map's latent) plus the balanced geometry weight times the mean geometry loss over those models.
The geometry weight is rebalanced (:func:`balance_series`) at the start of every round: after the
map-only patch stages the geometry is broken, map-only steps repair it, the seed's ratio is then
undefined and its fallback nearly zero; a round later the ratio is defined. The last step,
:func:`smooth_series`, trains every decoder jointly with the geometry evaluated at latents drawn
uniformly along the trajectory as well, so frames between the maps are as clean as the sampled
ones.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..restraints.loss import GeometryLoss
from ..refinement.geometry_only import lbfgs_round, round_lengths
from ..refinement.stages import GEOMETRY_TERMS, StageConfig, StageResult, resolution_at, two_iteration_weight
from .model import SeriesModel, SeriesStage

# Geometry terms of each stage. Unlike a single refinement, the residue stage also scores the
# Ramachandran prior: rigid residue moves turn phi/psi freely, and at low resolution the maps of a
# series pushed hinge residues into wrong basins (Met53 of AdK to phi +70) that the atom stage
# then kept, with an outlier wherever the path crossed back.
# The series keeps the term sets its DIMS benchmark was measured with (no omega, C-beta or
# residue-stage planarity yet: issue 23 added them to single refinement only).
_SINGLE_ONLY = ("omega", "cbeta", "planarity")
SERIES_GEOMETRY_TERMS = {"patches": (),
                         "residues": tuple(t for t in GEOMETRY_TERMS["residues"] if t not in _SINGLE_ONLY)
                         + ("rama",),
                         "atoms": tuple(t for t in GEOMETRY_TERMS["atoms"] if t not in ("omega", "cbeta"))}


@dataclass
class SeriesObjective:
    """Map scores (one per map, same order as ``latents``) and a geometry loss over a batch."""

    scores: list                   # MapScore per map
    latents: torch.Tensor          # (M, d) scaled latents of the maps
    geo: GeometryLoss | None
    noise: float                   # SD of latent noise, scaled units
    batch: int                     # projections per map per round
    seed: int = 0
    rng: np.random.Generator = field(init=False)

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)
        self.streams = [s.batches(self.batch, self.seed + 11 * k) for k, s in enumerate(self.scores)]

    def draw(self) -> dict:
        """One round's fixed randomness: latent noise and a projection batch per map."""
        eps = self.rng.normal(0.0, self.noise, self.latents.shape) if self.noise > 0 else 0.0
        return {"z": self.latents + torch.as_tensor(eps), "batches": [next(s) for s in self.streams]}

    def map_score(self, xyz: torch.Tensor, draw: dict, res: float) -> torch.Tensor:
        """Mean map score of models (M, N, 3), each against its own map."""
        values = [s(x, b, res).to(xyz.device) for s, x, b in zip(self.scores, xyz, draw["batches"])]
        return torch.stack(values).mean()       # on the models' device (the scores may run on a GPU)

    def geometry(self, xyz: torch.Tensor) -> dict[str, torch.Tensor]:
        """Geometry terms averaged over a batch of models (B, N, 3)."""
        values = {k: v.mean() for k, v in self.geo.terms(xyz).items()}
        values["geometry"] = self.geo.weighted(values)
        return values


def train_series_stage(model: SeriesModel, stage: SeriesStage, objective: SeriesObjective,
                       cfg: StageConfig, resolution: float, progress: bool = False) -> StageResult:
    """Train ``stage`` on top of ``model.stages`` (it is appended), the geometry weight balanced
    afresh each round; returns the loss history (with the weights, key ``geometry_weight``)."""
    t0 = time.perf_counter()
    model.stages.append(stage)
    history: dict[str, list[float]] = {}
    notes = []
    lengths = round_lengths(cfg.iterations, cfg.round_length)
    rounds = range(len(lengths))
    if progress:
        rounds = tqdm(rounds, desc=f"series {stage.kind}", unit="round", leave=False)
    for r in rounds:
        weight, why = balance_series(model, stage, objective, cfg, resolution)
        notes.append(f"{stage.kind} round {r + 1}: geometry weight {weight:.3g} ({why})")
        draw, res = objective.draw(), resolution_at(r * cfg.round_length, cfg, resolution)
        _refresh(objective, model, draw)
        loss = _stage_loss(model, objective, draw, res, weight)
        lbfgs_round(list(stage.decoder.parameters()), lambda f=loss: f()[0], lengths[r], tolerance_grad=1e-10)
        with torch.no_grad():
            _, values = loss()
        _record(history, {**values, "geometry_weight": weight}, res)
    return StageResult(stage.kind, np.zeros((0, 3)), history, weight, time.perf_counter() - t0, notes)


def _stage_loss(model, objective, draw, res, weight):
    def loss():
        xyz = model(draw["z"])
        values = {"map": objective.map_score(xyz, draw, res)}
        if objective.geo is not None and weight > 0:
            values.update(objective.geometry(xyz.cpu()))
        return values["map"] + weight * values.get("geometry", 0.0), values
    return loss


def _smooth_loss(model, objective, draw, z_all, resolution, weight):
    def loss():
        xyz = model(z_all)
        values = {"map": objective.map_score(xyz[:len(draw["z"])], draw, resolution)}
        values.update(objective.geometry(xyz.cpu()))
        return values["map"] + weight * values["geometry"], values
    return loss


def _refresh(objective, model, draw):
    if objective.geo is not None:
        with torch.no_grad():
            objective.geo.refresh(model(draw["z"]).cpu(), every_model=True)


def _record(history, values, res):
    for k, v in values.items():
        history.setdefault(k, []).append(float(v))
    history.setdefault("resolution", []).append(res)


def balance_series(model: SeriesModel, stage: SeriesStage, objective: SeriesObjective,
                   cfg: StageConfig, resolution: float) -> tuple[float, str]:
    """The seed's weight (map gain / geometry cost over two map-only iterations of the stage's
    decoder, which is then restored), on the series at the stage's first resolution; see
    :func:`~cryonb.refinement.stages.two_iteration_weight`."""
    if objective.geo is None or stage.kind == "patches":
        return 0.0, "map score only"
    draw, res = objective.draw(), resolution_at(0, cfg, resolution)
    _refresh(objective, model, draw)
    params = list(stage.decoder.parameters())

    def scores():
        xyz = model(draw["z"])
        return objective.map_score(xyz, draw, res), objective.geometry(xyz.cpu())["geometry"]

    def two_steps():
        lbfgs_round(params, lambda: scores()[0], 2, tolerance_grad=1e-10)

    return two_iteration_weight(scores, params, two_steps, cfg.geometry_scale)


def trajectory_points(latents: torch.Tensor, n: int, rng: np.random.Generator) -> torch.Tensor:
    """(n, d) points drawn uniformly by arc length along the polyline through ``latents`` (M, d)."""
    return _along(latents, lambda length: rng.uniform(0.0, length, n))


def trajectory_grid(latents: torch.Tensor, n: int) -> torch.Tensor:
    """(n, d) points evenly spaced by arc length along the polyline through ``latents`` (M, d),
    both ends included."""
    return _along(latents, lambda length: np.linspace(0.0, length, n))


def _along(latents: torch.Tensor, arc) -> torch.Tensor:
    """Points of the polyline through ``latents`` at the arc lengths ``arc(total length)``."""
    z = latents.detach().cpu().numpy()
    seg = np.linalg.norm(np.diff(z, axis=0), axis=1)
    s = arc(float(seg.sum()))
    if seg.sum() == 0:
        return torch.as_tensor(np.repeat(z[:1], len(s), 0))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    t = ((s - cum[k]) / np.where(seg[k] > 0, seg[k], 1.0))[:, None]
    return torch.as_tensor(z[k] + t * (z[k + 1] - z[k]))


def worst_latents(model: SeriesModel, geo: GeometryLoss, grid: torch.Tensor, k: int) -> torch.Tensor:
    """(k, d) latents of ``grid`` (G, d) where the models are worst: half (rounded up) with the
    most Ramachandran outliers by the Top8000 tables, the rest with the most atom pairs of the
    clash list overlapping by more than 0.4 Å; ties go to the larger weighted geometry loss."""
    if k <= 0:
        return grid[:0]
    with torch.no_grad():
        xyz = model(grid).cpu()
        loss = geo.weighted(geo.terms(xyz)).numpy()
        none = np.zeros(len(grid))
        rama = geo.rama.outliers(xyz).numpy() if geo.rama is not None else none
        clash = geo.clash.count(xyz).numpy() if geo.clash is not None else none
    picked: list[int] = []
    for flaws, n in ((rama, (k + 1) // 2), (clash, k)):
        order = [i for i in np.lexsort((-loss, -flaws)) if i not in picked]
        picked += order[:n - len(picked)]
    return grid[torch.as_tensor(picked)]


def smooth_series(model: SeriesModel, objective: SeriesObjective, iterations: int, resolution: float,
                  geometry_weight: float, n_between: int = 8, round_length: int = 20,
                  progress: bool = False, n_worst: int = 0, n_grid: int = 128) -> StageResult:
    """Train every decoder jointly: map score at the maps' latents, geometry there, at
    ``n_between`` latents drawn along the trajectory each round and at the ``n_worst`` latents of
    an ``n_grid``-point grid along it where the models are worst (:func:`worst_latents`);
    geometry weight ``geometry_weight``. A uniform draw averages the geometry
    over the path; the worst points hold the every-frame bar where a stretch of the path is bad."""
    t0 = time.perf_counter()
    params = [p for s in model.stages for p in s.decoder.parameters()]
    history: dict[str, list[float]] = {}
    lengths = round_lengths(iterations, round_length)
    grid = trajectory_grid(objective.latents, n_grid)
    rounds = range(len(lengths))
    if progress:
        rounds = tqdm(rounds, desc="series smooth", unit="round", leave=False)
    for r in rounds:
        draw = objective.draw()
        between = trajectory_points(objective.latents, n_between, objective.rng)
        worst = worst_latents(model, objective.geo, grid, n_worst)
        z_all = torch.cat([draw["z"], between, worst.to(between.dtype)])
        with torch.no_grad():
            objective.geo.refresh(model(z_all).cpu(), every_model=True)
        loss = _smooth_loss(model, objective, draw, z_all, resolution, geometry_weight)
        lbfgs_round(params, lambda f=loss: f()[0], lengths[r], tolerance_grad=1e-10)
        with torch.no_grad():
            _, values = loss()
        _record(history, values, resolution)
    note = (f"joint: geometry weight {geometry_weight:.3g} at the maps, {n_between} latents drawn between "
            f"and the {n_worst} worst of {n_grid} along the path")
    return StageResult("smooth", np.zeros((0, 3)), history, geometry_weight, time.perf_counter() - t0, [note])
