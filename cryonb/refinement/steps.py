"""One refinement step by name: the decoder stages, the rotamer rebuild and the geometry polish."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import gemmi
import numpy as np
import torch

from ..geometry.chi import ChiTree
from ..geometry.library import RestraintLibrary
from ..geometry.topology import Topology
from ..maps import Map
from ..priors import Priors
from .config import RefineConfig, polish_weights
from .geometry_only import GeometryRefineConfig, refine_geometry
from .map_score import MapScore
from .rotamer_rebuild import rebuild_rotamers
from .stages import StageContext, StageResult, default_stages, train_stage

WEIGHT_RESOLUTION = 3.0  # Å: polish_map_weight holds here and scales as (3 / resolution)^2


@dataclass
class RefineContext:
    """Everything a step needs besides the coordinates it starts from."""

    topo: Topology
    library: RestraintLibrary
    map: Map | None
    resolution: float | None
    config: RefineConfig
    device: torch.device
    map_score: MapScore | None
    priors: Priors
    structure: gemmi.Structure          # the input (copied before any coordinates are written)
    notes: list[str] = field(default_factory=list)



def run_step(name: str, ctx: RefineContext, xyz: np.ndarray, progress: bool = False) -> StageResult:
    """Run step ``name`` from coordinates ``xyz`` (N, 3) Å with a RefineContext ``ctx``."""
    if name in ("patches_coarse", "patches", "residues", "atoms"):
        return _decoder_step(name, ctx, xyz, progress)
    if name == "rotamers":
        return _rotamer_step(ctx, xyz)
    if name == "polish":
        return _polish_step(ctx, xyz, progress)
    raise ValueError(f"unknown refinement step {name!r}")


def _decoder_step(name: str, ctx, xyz: np.ndarray, progress: bool) -> StageResult:
    cfg = ctx.config
    kind = "patches" if name.startswith("patches") else name
    stage_cfg = getattr(cfg, name) or default_stages(ctx.resolution)[name]
    n_patches = cfg.n_patches // 8 if name == "patches_coarse" else cfg.n_patches
    chi = ChiTree(ctx.topo) if kind == "atoms" else None
    stage_ctx = StageContext(ctx.topo, ctx.map_score, ctx.resolution, ctx.library, cfg.weights, ctx.priors,
                             cfg.seed, ctx.device)
    result = train_stage(kind, xyz, stage_cfg, stage_ctx, n_patches, chi, progress)
    result.name = name
    return result


def _rotamer_step(ctx, xyz: np.ndarray) -> StageResult:
    t0 = time.perf_counter()
    r = rebuild_rotamers(ctx.topo, xyz, ctx.map, priors=ctx.priors)
    note = f"rotamers: {len(r.changed)} side chains rebuilt" + (f" ({', '.join(r.changed[:20])}"
                                                                  f"{' ...' if len(r.changed) > 20 else ''})"
                                                                  if r.changed else "")
    return StageResult("rotamers", r.xyz, {}, 0.0, time.perf_counter() - t0, [note])


def _polish_step(ctx, xyz: np.ndarray, progress: bool) -> StageResult:
    """L-BFGS on the coordinates: every geometry term, tethered to ``xyz``, plus the map score.

    The geometry terms weigh :func:`~.config.polish_weights`; the map score (1 - FRC, in [0, 2]) weighs
    ``polish_map_weight x (3 Å / resolution)^2``, as the rings to fit grow with the square of the
    resolution. Fixed numbers rather than a balance: at the end of a refinement the geometry sits
    near its minimum, where both the two-iteration ratio and the gradient-norm ratio are noise.
    Calibrated on an experimental map and two simulated ones (3J6B chain 9 in EMD-2566 at 3.2 Å,
    where 300 pulled a model from 0.3 Å noise to 0.46 Å C-alpha RMSD from the deposited one and 170
    to 0.40 Å at the same CC_mask; the 4E43 dimer, whose CC_mask falls 0.01 at 100; AdK, where at
    5 Å a heavier map term costs Ramachandran-favoured residues). Each round sees a fresh batch of
    projections. Without a map this is the seed's final step run alone.
    """
    st = ctx.structure.clone()
    ctx.topo.set_xyz(st, xyz)
    cfg = GeometryRefineConfig(steps=ctx.config.polish_steps, tether_sigma=polish_tether(ctx.config, ctx.resolution),
                               weights=polish_weights(ctx.config, ctx.resolution),
                               converge=ctx.config.polish_converge)
    extra = None if ctx.map_score is None else _map_term(ctx)
    weight = 0.0 if extra is None else polish_map_weight(ctx.config, ctx.resolution)
    r = refine_geometry(st, cfg, ctx.library, ctx.priors, progress, extra, topology=ctx.topo)
    ran = f"{r.iterations} L-BFGS iterations" + (f" of {cfg.steps} (converged)" if r.iterations < cfg.steps else "")
    note = (f"polish: {ran} on coordinates, map weight {weight:.3g}, "
            f"tether {cfg.tether_sigma:.2g} Å, rms shift {r.rms_shift:.3f} Å")
    return StageResult("polish", ctx.topo.xyz(r.structure), r.history, weight, r.seconds, [note], r.iterations)


TETHER_RESOLUTION = 3.5   # Å: polish_tether holds here and finer, and tightens as (3.5 / resolution)^2 beyond
TETHER_FLOOR = 0.1        # Å: the tightest tether (8 Å and coarser at the default 0.5 Å)


def polish_tether(config, resolution: float | None) -> float:
    """The polish's tether (Å, per atom) at ``resolution``: ``config.polish_tether`` at
    :data:`TETHER_RESOLUTION` and finer, ``x (TETHER_RESOLUTION / resolution)^2`` coarser (as the
    map's hold on an atom weakens: the map weight and the score's curvature each fall as the
    square of the resolution), but no tighter than :data:`TETHER_FLOOR`, so geometry can still
    be mended.

    The geometry terms (the Ramachandran prior above all) pull every atom, and what holds the
    model where the map put it is the map and the tether. At 3 Å the map holds atoms; at 8 Å it
    hardly can (its score changes little when an atom moves a fraction of the resolution), and a
    0.5 Å tether let geometry alone move the true DIMS frame 0 0.49 Å C-alpha RMS (0.19 Å at 0.1 Å,
    with the same MolProbity score; 0.31 Å in its 8 Å maps at 0.22 Å). Without a map the tether is ``config.polish_tether``.
    """
    if resolution is None or resolution <= TETHER_RESOLUTION:
        return config.polish_tether
    return max(min(config.polish_tether, TETHER_FLOOR),
               config.polish_tether * (TETHER_RESOLUTION / resolution) ** 2)


def polish_map_weight(config, resolution: float) -> float:
    """The polish's map weight at ``resolution`` Å."""
    return config.polish_map_weight * (WEIGHT_RESOLUTION / resolution) ** 2


def _map_term(ctx):
    """extra(x, round) -> {"map": weighted score} for the polish step."""
    score, res, cfg = ctx.map_score, ctx.resolution, ctx.config
    batches = score.batches(cfg.polish_batch, cfg.seed + 7)
    current = {"round": None, "batch": None}
    weight = polish_map_weight(cfg, res)

    def extra(x, round_index):
        if current["round"] != round_index:
            current.update(round=round_index, batch=next(batches))
        return {"map": weight * score(x, current["batch"], res).to(x.dtype)}

    return extra
