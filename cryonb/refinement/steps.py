"""One refinement step by name: the decoder stages, the rotamer rebuild and the geometry polish."""
from __future__ import annotations

import time

import numpy as np

from .stages import StageResult, default_stages, train_stage

MAP_FROM_ROUND = 1   # the polish's first round is geometry only


def run_step(name: str, ctx, xyz: np.ndarray, progress: bool = False) -> StageResult:
    """Run step ``name`` from coordinates ``xyz`` (N, 3) Å with a RefineContext ``ctx``."""
    if name in ("patches_coarse", "patches", "residues", "atoms"):
        return _decoder_step(name, ctx, xyz, progress)
    if name == "rotamers":
        return _rotamer_step(ctx, xyz)
    if name == "polish":
        return _polish_step(ctx, xyz, progress)
    raise ValueError(f"unknown refinement step {name!r}")


def _decoder_step(name: str, ctx, xyz: np.ndarray, progress: bool) -> StageResult:
    from ..geometry.chi import ChiTree

    cfg = ctx.config
    kind = "patches" if name.startswith("patches") else name
    stage_cfg = getattr(cfg, name) or default_stages(ctx.resolution)[name]
    n_patches = cfg.n_patches // 8 if name == "patches_coarse" else cfg.n_patches
    chi = ChiTree(ctx.topo) if kind == "atoms" else None
    result = train_stage(kind, ctx.topo, xyz, ctx.map_score, stage_cfg, ctx.resolution, ctx.library,
                         cfg.weights, ctx.priors, cfg.seed, n_patches, chi, ctx.device, progress)
    result.name = name
    return result


def _rotamer_step(ctx, xyz: np.ndarray) -> StageResult:
    from .rotamer_rebuild import rebuild_rotamers

    t0 = time.perf_counter()
    r = rebuild_rotamers(ctx.topo, xyz, ctx.map, priors=ctx.priors)
    note = f"rotamers: {len(r.changed)} side chains rebuilt" + (f" ({', '.join(r.changed[:20])}"
                                                                  f"{' ...' if len(r.changed) > 20 else ''})"
                                                                  if r.changed else "")
    return StageResult("rotamers", r.xyz, {}, 0.0, time.perf_counter() - t0, [note])


def _polish_step(ctx, xyz: np.ndarray, progress: bool) -> StageResult:
    """L-BFGS on the coordinates: every geometry term, tethered to ``xyz``, plus the map score.

    The map weight is ``polish_map_weight`` times the ratio of the geometry and map gradient norms
    at ``xyz``; the map joins after the first round (geometry only, so a one-round polish of a
    distorted model only regularises it), each round seeing a fresh batch of projections. Without
    a map this is the seed's final step run alone.
    """
    from .geometry_only import GeometryRefineConfig, refine_geometry

    st = ctx.structure.clone()
    ctx.topo.set_xyz(st, xyz)
    cfg = GeometryRefineConfig(steps=ctx.config.polish_steps, tether_sigma=ctx.config.polish_tether,
                               weights=ctx.config.weights)
    extra, weight = (None, 0.0) if ctx.map_score is None else _map_term(ctx, xyz)
    r = refine_geometry(st, cfg, ctx.library, ctx.priors, progress, extra)
    note = (f"polish: {cfg.steps} L-BFGS iterations on coordinates, map weight {weight:.3g} from round "
            f"{MAP_FROM_ROUND if extra else '-'}, rms shift {r.rms_shift:.3f} Å")
    return StageResult("polish", ctx.topo.xyz(r.structure), r.history, weight, r.seconds, [note])


def _map_term(ctx, xyz: np.ndarray):
    """(extra(x, round) -> {"map": weighted score}, map weight) for the polish step."""
    import torch

    from ..geometry.loss import GeometryLoss

    score, res, cfg = ctx.map_score, ctx.resolution, ctx.config
    batches = score.batches(cfg.polish_batch, cfg.seed + 7)
    x = torch.as_tensor(np.asarray(xyz, dtype=np.float64)).requires_grad_(True)
    geo = GeometryLoss(ctx.topo, ctx.library, xyz, cfg.weights, ctx.priors, refresh_every=0)
    g_geo = torch.autograd.grad(geo(x), x)[0].norm()
    g_map = torch.autograd.grad(score(x, next(batches), res), x)[0].norm()
    weight = float(cfg.polish_map_weight * g_geo / (g_map + 1e-30))
    current = {"round": None, "batch": None}

    def extra(x, round_index):
        if round_index < MAP_FROM_ROUND:
            return {}
        if current["round"] != round_index:
            current.update(round=round_index, batch=next(batches))
        return {"map": weight * score(x, current["batch"], res).to(x.dtype)}

    return extra, weight
