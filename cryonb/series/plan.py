"""The plan of a series refinement: its decoder stages in order (the coarse patches first), which
of them turn side chains, and the joint steps after them with their map weights."""
from __future__ import annotations

from ..geometry.chi import ChiTree
from ..refinement.steps import polish_map_weight
from .config import SeriesConfig, series_stages


def stage_plan(config: SeriesConfig, resolution: float):
    ladder = series_stages(resolution, config.iterations, config.patch_iterations, config.batch,
                           config.residue_iterations)
    for kind in config.stages:
        if kind == "patches" and config.n_patches >= 16:
            yield "patches", "patches_coarse", ladder["patches_coarse"], config.n_patches // 8
        yield kind, kind, ladder[kind], config.n_patches


def chi_tree_for(topo, kind: str, config: SeriesConfig):
    """The chi tree of a stage that turns side chains: atoms, and residues with ``residue_chi``."""
    turns = kind == "atoms" or (kind == "residues" and config.residue_chi)
    return ChiTree(topo) if turns else None


def joint_steps(config: SeriesConfig, resolution: float) -> list[tuple[str, int, float]]:
    """(name, iterations, map weight) of the joint steps after the stages: ``fit`` (map weight
    ``fit_map_factor`` x the single-refinement polish's) then ``smooth`` (the polish's own balance)."""
    polish = config.smooth_map_weight or polish_map_weight(config.start, resolution)
    return [(name, n, w) for name, n, w in (("fit", config.fit_iterations, config.fit_map_factor * polish),
                                            ("smooth", config.smooth_iterations, polish)) if n > 0]
