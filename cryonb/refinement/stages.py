"""The three decoder stages of GMM-DNN refinement and their training loop.

* ``patches``: K-means patches of residue centres, each moved rigidly; map score only.
* ``residues``: one rigid transform per residue; map + bond, angle, planarity, omega, clash.
* ``atoms``: per-atom offsets and side-chain chi updates; map + every geometry term.

Each stage trains one fresh :class:`~cryonb.refinement.decoders.Decoder` (L-BFGS) whose output moves
the model it is given; its result is the next stage's starting model (the seed's recipe for one
map). The geometry weight of each stage is balanced automatically: two map-only iterations
measure how much geometry one unit of map score costs, and the weight is their ratio.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from ..geometry.chi import ChiTree
from ..geometry.library import RestraintLibrary
from ..restraints.loss import GeometryLoss, GeometryWeights
from ..geometry.topology import Topology
from ..priors import Priors
from ..torch_utils import seeded
from .decoders import Decoder
from .geometry_only import lbfgs_round, round_lengths
from .map_score import MapScore
from .patches import atom_groups, kmeans_patches
from .rigid import move_groups

STAGES = ("patches", "residues", "atoms")
# The residue stage holds peptides planar: turning a rigid residue about its C-N bond twists omega
# without changing a bond length or angle.
GEOMETRY_TERMS = {"patches": (), "residues": ("bond", "angle", "planarity", "omega", "clash", "tether"),
                  "atoms": ("bond", "angle", "planarity", "omega", "cbeta", "chirality", "clash", "rama",
                            "rotamer", "suite", "tether")}


@dataclass
class StageConfig:
    """Settings of one decoder stage (resolutions in Å)."""

    iterations: int = 300
    start_resolution: float | None = None   # coarse-to-fine: FRC limit rises from here to the target
    ramp: float = 0.5                       # fraction of the iterations spent raising the limit
    geometry_scale: float = 1.0             # multiplies the automatically balanced geometry weight
    batch: int = 32                         # projections per round (fixed within a round)
    hidden: int = 256
    round_length: int = 20                  # iterations per round; the FRC limit and batch change between


def default_stages(resolution: float) -> dict[str, StageConfig]:
    """Stage settings measured on AdK (domain motion of 15 Å at 5 Å, noise polishing at 3 Å).

    ``patches_coarse`` (n_patches // 8 patches) starts from a 40 Å FRC limit to find large domain
    motions; ``patches`` refines them from twice the resolution; the atoms stage leans on geometry
    (geometry_scale 1000 on top of the balanced weight), where the map has done its work.
    """
    return {"patches_coarse": StageConfig(iterations=200, start_resolution=max(40.0, 4 * resolution),
                                          ramp=0.7),
            "patches": StageConfig(iterations=200, start_resolution=2 * resolution),
            "residues": StageConfig(iterations=200),
            "atoms": StageConfig(iterations=300, geometry_scale=1000.0)}


@dataclass
class StageResult:
    """Coordinates after the stage (N, 3) Å and what happened on the way."""

    name: str
    xyz: np.ndarray
    history: dict[str, list[float]]
    geometry_weight: float
    seconds: float
    notes: list[str] = field(default_factory=list)
    iterations: int | None = None      # optimiser iterations run (None: not an optimisation)


def group_centres(xyz: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """((B,) G, 3) mean position of each group's atoms in models ``xyz`` ((B,) N, 3)."""
    sums = xyz.new_zeros(*xyz.shape[:-2], n_groups, 3).index_add(-2, group, xyz)
    return sums / torch.bincount(group, minlength=n_groups).to(xyz.dtype)[:, None]


class Morph:
    """How a stage's decoder output moves the model: rigid groups or atoms, each optionally
    followed by turns of the side-chain chis of ``chi_tree`` (rigid groups: a series' residues)."""

    def __init__(self, kind: str, topo, base: torch.Tensor, n_patches: int = 64, seed: int = 0,
                 chi_tree=None, rotation_scale: float = 0.1, shift_scale: float = 1.0):
        self.kind, self.base, self.chi = kind, base, None
        self.rotation_scale, self.shift_scale = rotation_scale, shift_scale
        x = base.detach().cpu().numpy()
        if kind in ("patches", "residues"):
            res_group = (kmeans_patches(topo, x, n_patches, seed) if kind == "patches"
                         else np.arange(len(topo.residues)))
            group = atom_groups(topo, res_group)
            _, group = np.unique(group, return_inverse=True)
            self.n_groups = int(group.max()) + 1
            self.group = torch.as_tensor(group, device=base.device)
            self.centre = group_centres(base, self.group, self.n_groups)
            self.n_move = 6 * self.n_groups
        elif kind == "atoms":
            self.n_move = 3 * len(x)
        else:
            raise ValueError(f"unknown stage {kind!r}; stages are {STAGES}")
        self.chi = chi_tree
        self.n_out = self.n_move + (chi_tree.n if chi_tree is not None else 0)
        held = getattr(topo.atoms, "held", None)
        self.held = None if held is None or not held.any() else torch.as_tensor(held, device=base.device)[:, None]

    def __call__(self, out: torch.Tensor) -> torch.Tensor:
        """Decoder output (B, n_out) -> coordinates (B, N, 3) Å, moving the base model."""
        return self.move(self.base, out, None if self.kind == "atoms" else self.centre)

    def move(self, xyz: torch.Tensor, out: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
        """Move models ``xyz`` ((B,) N, 3) Å by decoder output (B, n_out); rigid groups turn about
        ``centre`` ((B,) G, 3), by default each model's own group centres (a model series)."""
        out = out.to(xyz.dtype)
        moved = self._move(xyz, out[:, :self.n_move], centre)
        if self.chi is not None:
            moved = self.chi.apply(moved, self.rotation_scale * out[:, self.n_move:])
        if self.held is not None:   # atoms without restraints never move
            moved = torch.where(self.held, xyz, moved)
        return moved

    def _move(self, xyz, out, centre):
        if self.kind == "atoms":
            n = xyz.shape[-2]
            return xyz + 0.1 * out.reshape(-1, n, 3)
        g = self.n_groups
        if centre is None:
            centre = group_centres(xyz, self.group, g)
        rot = self.rotation_scale * out[:, :3 * g].reshape(-1, g, 3)
        shift = self.shift_scale * out[:, 3 * g:].reshape(-1, g, 3)
        return move_groups(xyz, self.group, centre, rot, shift)


def geometry_loss(kind: str, topo, library, xyz: np.ndarray, weights: GeometryWeights, priors,
                  terms: dict[str, tuple[str, ...]] | None = None):
    """The stage's geometry loss (None for the map-only patch stage); ``terms`` by stage kind,
    default :data:`GEOMETRY_TERMS`."""
    active = (terms or GEOMETRY_TERMS)[kind]
    if not active:
        return None
    w = GeometryWeights(**{k: (v if k in active else 0.0) for k, v in weights.as_dict().items()})
    return GeometryLoss(topo, library, xyz, w, priors, refresh_every=0)


def resolution_at(step: int, cfg: StageConfig, target: float) -> float:
    """FRC resolution limit (Å) at ``step``: geometric ramp from start_resolution to target."""
    start = cfg.start_resolution or target
    t = min(1.0, step / max(1.0, cfg.ramp * cfg.iterations))
    return float(start * (target / start) ** t)


def _new_decoder(morph: Morph, cfg: StageConfig, seed: int, device) -> Decoder:
    with seeded(seed):
        decoder = Decoder(morph.n_out, hidden=cfg.hidden)
    return decoder.to(device)


def balance_weight(morph: Morph, map_score, geo, cfg: StageConfig, target: float, seed: int,
                   device) -> tuple[float, str]:
    """Geometry weight = map-score gain / geometry-score loss over two map-only iterations.

    The iterations use the stage's own optimiser and first batch from a fresh decoder (which is
    then discarded). When the ratio is undefined (geometry improved or the map did not), the
    weight falls back to the ratio of the two gradient norms at the start.
    """
    if geo is None:
        return 0.0, "map score only"
    dec = _new_decoder(morph, cfg, seed, device)
    batch = next(map_score.batches(cfg.batch, seed + 1))
    res = resolution_at(0, cfg, target)

    def scores():
        xyz = morph(dec(dec.constant_input()))[0]
        return map_score(xyz, batch, res), geo(xyz.cpu())

    def two_steps():
        _optimise(dec, lambda: scores()[0], replace(cfg, round_length=2))

    return two_iteration_weight(scores, list(dec.parameters()), two_steps, cfg.geometry_scale)


def two_iteration_weight(scores, params: list, two_steps, scale: float) -> tuple[float, str]:
    """``scale`` x (map gain / geometry cost) over ``two_steps()`` of map-only optimisation of
    ``params``, which are then restored; ``scores() -> (map, geometry)``. Falls back to the ratio
    of the two gradient norms at the start when the two-iteration ratio is undefined."""
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        m0, g0 = (float(v) for v in scores())
    two_steps()
    with torch.no_grad():
        m2, g2 = (float(v) for v in scores())
        for p, s in zip(params, saved):
            p.copy_(s)
    gain, cost = m0 - m2, g2 - g0
    if gain > 0 and cost > 0:
        ratio = gain / cost
        return scale * ratio, f"map gain {gain:.3g} / geometry cost {cost:.3g} = {ratio:.3g}"
    m, g = scores()
    gm = torch.autograd.grad(m, params, retain_graph=True)
    gg = torch.autograd.grad(g, params)
    ratio = float(torch.sqrt(sum((v * v).sum() for v in gm)) / torch.sqrt(sum((v * v).sum() for v in gg) + 1e-30))
    return scale * ratio, (f"two-iteration ratio undefined (map gain {gain:.3g}, geometry cost "
                           f"{cost:.3g}); gradient-norm ratio {ratio:.3g}")


@dataclass
class StageContext:
    """What the decoder stages of one refinement share; ``map_score`` None means geometry only."""

    topo: Topology
    map_score: MapScore | None
    resolution: float
    library: RestraintLibrary | None = None
    weights: GeometryWeights = field(default_factory=GeometryWeights)
    priors: Priors | None = None
    seed: int = 0
    device: torch.device | str = "cpu"


def train_stage(kind: str, xyz: np.ndarray, cfg: StageConfig, ctx: StageContext, n_patches: int = 64,
                chi_tree: ChiTree | None = None, progress: bool = False) -> StageResult:
    """Train one stage's decoder from ``xyz`` (N, 3) Å."""
    t0 = time.perf_counter()
    topo, map_score, resolution, seed, device = ctx.topo, ctx.map_score, ctx.resolution, ctx.seed, ctx.device
    base = torch.as_tensor(np.asarray(xyz, dtype=np.float64), device=device)
    morph = Morph(kind, topo, base, n_patches, seed, chi_tree if kind == "atoms" else None)
    geo = geometry_loss(kind, topo, ctx.library, xyz, ctx.weights, ctx.priors)
    if map_score is None:
        weight, why = 1.0, "no map: geometry only"
    else:
        weight, why = balance_weight(morph, map_score, geo, cfg, resolution, seed, device)
    dec = _new_decoder(morph, cfg, seed, device)
    batches = map_score.batches(cfg.batch, seed + 1) if map_score is not None else None
    history: dict[str, list[float]] = {}

    def objective(batch, res):
        moved = morph(dec(dec.constant_input()))[0]
        values = {}
        if map_score is not None:
            values["map"] = map_score(moved, batch, res)
        if geo is not None:
            values.update(geo.terms(moved.cpu()))   # geometry runs on the CPU
            values["geometry"] = geo.weighted({k: v for k, v in values.items() if k != "map"})
        return values.get("map", 0.0) + weight * values.get("geometry", 0.0), values

    lengths = round_lengths(cfg.iterations, cfg.round_length)
    rounds = range(len(lengths))
    if progress:
        rounds = tqdm(rounds, desc=f"stage {kind}", unit="round", leave=False)
    for r in rounds:
        batch = next(batches) if batches is not None else None
        res = resolution_at(r * cfg.round_length, cfg, resolution)
        with torch.no_grad():
            before = morph(dec(dec.constant_input()))[0]
        if geo is not None:
            geo.refresh(before.cpu())
        _optimise(dec, lambda b=batch, lim=res: objective(b, lim)[0], replace(cfg, round_length=lengths[r]))
        with torch.no_grad():
            _, values = objective(batch, res)
            values["shift"] = ((morph(dec(dec.constant_input()))[0] - before) ** 2).sum(-1).mean().sqrt()
        for k, v in values.items():
            history.setdefault(k, []).append(float(v))
        history.setdefault("resolution", []).append(res)
    with torch.no_grad():
        final = morph(dec(dec.constant_input()))[0].cpu().numpy()
    notes = [f"{kind}: geometry weight {weight:.3g} ({why})"]
    return StageResult(kind, final, history, float(weight), time.perf_counter() - t0, notes, sum(lengths))


def _optimise(dec: Decoder, loss, cfg: StageConfig) -> None:
    """One round: ``cfg.round_length`` L-BFGS iterations on the decoder."""
    lbfgs_round(list(dec.parameters()), loss, cfg.round_length, tolerance_grad=1e-10)
