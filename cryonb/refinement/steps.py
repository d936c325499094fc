"""One refinement step by name: the decoder stages, the rotamer rebuild and the geometry polish."""
from __future__ import annotations

import time

import numpy as np

from .stages import StageResult, default_stages, train_stage


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
    """Geometry-only L-BFGS tethered to ``xyz`` (the seed's last step without the map)."""
    from .geometry_only import GeometryRefineConfig, refine_geometry

    st = ctx.structure.clone()
    ctx.topo.set_xyz(st, xyz)
    cfg = GeometryRefineConfig(steps=ctx.config.polish_steps, tether_sigma=ctx.config.polish_tether,
                               weights=ctx.config.weights)
    r = refine_geometry(st, cfg, ctx.library, ctx.priors, progress)
    geo_topo_xyz = ctx.topo.xyz(r.structure)
    note = f"polish: {cfg.steps} geometry-only L-BFGS iterations, rms shift {r.rms_shift:.3f} Å"
    return StageResult("polish", geo_topo_xyz, r.history, 1.0, r.seconds, [note])
