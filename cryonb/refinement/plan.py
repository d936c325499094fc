"""The plan of a single refinement: which steps run, and which results are kept.

:func:`plan_steps` orders the steps of a configuration; the in-place rule skips the fine patches,
residues and atoms decoder for a model the coarse patches find in place (:func:`skip_in_place`,
:func:`keep_model_in_place`); :func:`keep_if_map_agrees` undoes a map-only step that fits the
map worse; :func:`tether_uncovered` holds residues the map does not cover.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..superpose import rmsd
from .config import HIGH_RESOLUTION, RefineConfig
from .coverage import tether_without_map


def plan_steps(config: RefineConfig, has_map: bool, resolution: float | None) -> list[str]:
    """The ordered step names this configuration runs."""
    if not has_map:
        if not config.polish_steps:
            raise ValueError("without a map only the geometry polish runs, and polish_steps is 0")
        return ["polish"]
    steps = []
    for name in config.stages or default_plan(resolution):
        if name == "patches" and config.coarse_patches and config.n_patches >= 16:
            steps.append("patches_coarse")
        if name == "atoms" and rebuilds_rotamers(config, resolution):
            steps.append("rotamers")
        steps.append(name)
    if config.polish_steps:
        steps.append("polish")
    return steps


def default_plan(resolution: float | None) -> tuple[str, ...]:
    """Decoder stages run by default: all three, but no atoms decoder at 3.5 Å and better.

    At high resolution the polish (coordinates moved directly by map and geometry) does the
    atoms decoder's work better: on AdK with 0.3 Å noise in its 3 Å map, patches + residues +
    polish reach FSC 0.722 with MolProbity 0.98, while adding the atoms decoder (and rotamer
    rebuild) ends at FSC 0.711 with clashscore 3.3. ``stages=("patches", "residues", "atoms")``
    asks for it explicitly.
    """
    if resolution is not None and resolution <= HIGH_RESOLUTION:
        return ("patches", "residues")
    return ("patches", "residues", "atoms")


IN_PLACE = 1.0   # Å: coarse patches moving the model less than this RMS found no large motion


IN_PLACE_SKIPS = ("patches", "residues", "atoms")


def skip_in_place(name: str, config: RefineConfig, steps: list, x0: np.ndarray) -> str | None:
    """Why step ``name`` is skipped because the model is already in place, or None to run it.

    The map-only fine patches and the per-residue rigid bodies are for models that must travel.
    A model in place gains nothing from them and they overfit the map: the deposited 3J6B chain 9
    in its own (experimental, 3.2 Å) map moved 0.16 Å in the coarse step, then 0.96 Å C-alpha RMS
    in 64 map-only patches (35 twisted peptides, lower CC_mask); from 0.3 Å noise, the residue
    stage took it from 0.55 to 0.99 Å and the polish ended at 0.69 Å, against 0.47 Å without
    residues. With ``in_place="auto"`` (and the default plan: stages named by the user always run)
    they are skipped when the coarse patches moved the model less than :data:`IN_PLACE` Å RMS;
    ``True`` always skips them, ``False`` never.
    """
    if name not in IN_PLACE_SKIPS or not judged_in_place(config):
        return None   # in_place=False, or stages the user asked for by name: they run
    if config.in_place is True:
        return f"{name}: skipped (in_place=True)"
    shift = coarse_shift(steps, x0)
    if shift is None or shift >= IN_PLACE:
        return None
    return (f"{name}: skipped: the coarse patches moved the model {shift:.2f} Å RMS (< {IN_PLACE} Å), so it "
            "is in place, where map-only patches and rigid residues overfit the map (in_place=False runs them)")


MAP_ONLY_STEPS = ("patches_coarse", "patches")


def keep_if_map_agrees(step, ctx, x: np.ndarray):
    """A map-only patch step whose result fits the map worse at the full resolution than its start
    (all cached orientations) is undone, with a note: it followed low-resolution features the model
    does not explain (the neighbouring chains' density in a cut-out around one chain of 6GYN pulled
    8 coarse patches 25 Å away). ``step`` otherwise unchanged."""
    if step.name not in MAP_ONLY_STEPS or ctx.map_score is None:
        return step
    score, every = ctx.map_score, ctx.map_score.all_orientations()
    with torch.no_grad():
        before = float(score(torch.as_tensor(x), every, ctx.resolution))
        after = float(score(torch.as_tensor(step.xyz), every, ctx.resolution))
    if after <= before:
        return step
    shift = rmsd(step.xyz, x)
    note = (f"{step.name}: undone: its {shift:.2f} Å RMS move fits the map worse at {ctx.resolution:g} Å "
            f"(1 - FRC {before:.3f} -> {after:.3f}); it followed density the model does not explain")
    return replace(step, xyz=np.array(x, copy=True), notes=list(step.notes) + [note])


def keep_model_in_place(step, config: RefineConfig, x: np.ndarray):
    """The coarse patches' move undone, with a note, when it is below :data:`IN_PLACE` and the model
    is judged in place (see :func:`skip_in_place`): a move that small is the map's noise, not a
    motion. The true DIMS frame 0 in its own 8 Å map (noise as an experimental map's, two
    simulators) moved 0.39-0.50 Å C-alpha RMS in 8 map-only patches, 0.14 Å in cryonb's cleaner
    map; a noise-free map moved it 0.01 Å. ``step`` otherwise unchanged."""
    if step.name != "patches_coarse" or not judged_in_place(config):
        return step
    shift = rmsd(step.xyz, x)
    if shift >= IN_PLACE:
        return step
    note = (f"patches_coarse: undone: its {shift:.2f} Å RMS move (< {IN_PLACE} Å) is within what the map's noise "
            "moves a model in place; the model is kept")
    history = {**step.history, UNDONE_SHIFT: [shift]}
    return replace(step, xyz=np.array(x, copy=True), history=history, notes=list(step.notes) + [note])


UNDONE_SHIFT = "undone_shift"   # history key: the RMS move (Å) of a coarse step that was undone


def judged_in_place(config: RefineConfig) -> bool:
    """Whether the in-place rule applies: ``in_place=True``, or "auto" with the default plan."""
    return config.in_place is True or (config.in_place == "auto" and config.stages is None)


def coarse_shift(steps: list, x0: np.ndarray) -> float | None:
    """RMS shift (Å) of the coarse patches step among ``steps``, None if it did not run."""
    k = next((i for i, s in enumerate(steps) if s.name == "patches_coarse"), None)
    if k is None:
        return None
    if UNDONE_SHIFT in steps[k].history:
        return float(steps[k].history[UNDONE_SHIFT][0])
    start = x0 if k == 0 else steps[k - 1].xyz
    return rmsd(steps[k].xyz, start)


def tether_uncovered(ctx, steps: list, x0: np.ndarray, x: np.ndarray) -> list[str]:
    """Tether the residues the map does not cover (:func:`~.coverage.tether_without_map`) from here
    on, and drop their atoms without map data from the model's density, unless the coarse patches
    found a large motion: a model moving into its map may start partly outside the box (AdK open
    on the closed map), and must be free to come in."""
    if ctx.map is None:
        return []
    shift = coarse_shift(steps, x0)
    if shift is not None and shift >= IN_PLACE:
        outside = int(ctx.map.no_data(x).sum())
        return [f"{outside} atoms outside the map not tethered: the model is moving (coarse patches "
                f"{shift:.2f} Å RMS)"] if outside else []
    no_data, notes = tether_without_map(ctx.topo, x, ctx.map, ctx.resolution)
    if no_data.any():
        ctx.map_score.amplitude[torch.as_tensor(no_data, device=ctx.map_score.amplitude.device)] = 0.0
    return notes


def rebuilds_rotamers(config: RefineConfig, resolution: float | None) -> bool:
    if config.rebuild_rotamers == "auto":
        return resolution is not None and resolution <= HIGH_RESOLUTION
    return bool(config.rebuild_rotamers)
