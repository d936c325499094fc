"""GMM-DNN single-model refinement: ``cryonb.refine(model, map, resolution, config)``.

The steps, each checkpointed in ``out_dir/checkpoints`` when an output folder is given:

1. ``patches_coarse`` and ``patches``: K-means patches moved rigidly by the map score alone, first
   ``n_patches // 8`` large patches from a coarse FRC limit, then ``n_patches`` (a hierarchy: many
   small patches cannot find a large domain motion by themselves);
2. ``residues``: per-residue rigid transforms with bonds, angles and clashes;
3. ``rotamers`` (before ``atoms``, at 3.5 Å and better): every side chain tried in every rotamer peak;
4. ``atoms``: per-atom offsets and chi angles with every geometry term and prior (by default only
   coarser than 3.5 Å: see :func:`~.plan.default_plan`);
5. ``polish``: L-BFGS on the coordinates with every geometry term, a tether and the map score
   (``polish_steps=0`` skips it).

Without a map only the polish runs, as geometry-only refinement. Resuming reruns the first
unfinished step from the last finished one; inputs are fingerprinted so a checkpoint of other
inputs is never reused.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import gemmi
import numpy as np

from ..errors import CryonbError
from ..density.simulate import SIGMA_PER_RESOLUTION
from ..geometry.library import RestraintLibrary
from ..geometry.linking import CIS_GENERAL
from ..geometry.topology import Topology, build_topology
from ..io import model_xyz
from ..runs import finish_run, recorded
from ..maps import Map, check_map_for_model
from ..priors import load_priors
from ..torch_utils import resolve_device, torch_threads
from .blur import match_blur
from .config import RefineConfig
from .gmm import ModelGMM, b_factors, occupancies
from .map_score import MapScore
from .projection import MapProjections
from .checkpoints import Checkpoints, fingerprint
from .plan import keep_if_map_agrees, keep_model_in_place, plan_steps, skip_in_place, tether_uncovered
from .record import refine_inputs, refine_metrics, step_records, validate_result
from .stages import StageResult
from .steps import RefineContext, run_step


@dataclass
class RefineResult:
    """The refined copy of the model and the record of how it got there."""

    structure: gemmi.Structure
    xyz: np.ndarray                      # (N, 3) Å, heavy atoms in topology order
    start_xyz: np.ndarray
    steps: list[StageResult]             # one per step, in order; each holds its model (xyz)
    before: dict                         # validation summary of the input
    after: dict                          # validation summary of the result
    seconds: float
    notes: list[str]
    topology: Topology | None = None     # the restraint topology the coordinates are ordered by
    harm: list[str] = field(default_factory=list)   # what got worse than the input (compare.py)
    template: gemmi.Structure | None = None          # the input, whose atom layout the topology indexes

    def stage_model(self, name: str) -> gemmi.Structure:
        """The model as it left step ``name`` (first conformer, heavy atoms, as the output)."""
        step = next(s for s in self.steps if s.name == name)
        out = (self.template if self.template is not None else self.structure).clone()
        topo = self.topology if self.topology is not None else refine_topology(out)
        topo.set_xyz(out, step.xyz)
        return output_model(out)[0]


def output_model(st: gemmi.Structure) -> tuple[gemmi.Structure, list[str]]:
    """The refined model as written: the first conformer only, without the input's hydrogens
    (refinement moves one conformer of heavy atoms; alternates and hydrogens that did not take
    part would not match it). Returns the model and a note on what was left out."""
    n_alt = sum(1 for ch in st[0] for r in ch for a in r if a.altloc not in ("\0", "A"))
    n_h = sum(1 for ch in st[0] for r in ch for a in r if a.is_hydrogen())
    if not n_alt and not n_h:
        return st, []
    out = st.clone()
    out.remove_alternative_conformations()
    out.remove_hydrogens()
    parts = ([f"{n_alt} alternate-conformer atoms"] if n_alt else []) + ([f"{n_h} hydrogens"] if n_h else [])
    return out, [f"output: the refined first conformer only; {' and '.join(parts)} of the input left out "
                 "(they did not take part in the refinement; rebuild hydrogens with reduce if needed)"]


def check_inputs(st: gemmi.Structure, m: Map | None, resolution: float | None, name: str) -> None:
    """Fail fast on a map that cannot support the refinement."""
    if m is None:
        return
    check_map_for_model(model_xyz(st), m, resolution, name)


def refine_topology(st: gemmi.Structure, library: RestraintLibrary | None = None):
    return build_topology(st, library or RestraintLibrary(), warn=False, cis_threshold=90.0,
                          cis_general=CIS_GENERAL)


def refine(model: gemmi.Structure, m: Map | None, resolution: float | None,
           config: RefineConfig | None = None, out_dir: str | Path | None = None,
           resume: bool = False, progress: bool = False, validate: bool = True) -> RefineResult:
    """Refine model 1 of ``model`` into map ``m`` at ``resolution`` Å; returns a refined copy.

    ``m=None`` runs geometry-only refinement. With ``out_dir``, each finished step is
    checkpointed there, ``resume=True`` continues from the last finished step, and the run
    record (:mod:`cryonb.runs`: config, status, metrics, steps) is written there. The input
    structure and map are never modified.
    """
    config = config or RefineConfig()
    if out_dir is None:
        return _refine(model, m, resolution, config, None, resume, progress, validate)
    inputs = refine_inputs(model, m, resolution, sum(1 for _ in model[0].all()))
    with recorded(out_dir, "refine", config.as_dict(), inputs=inputs, device=str(resolve_device(config.device)),
                  seed=config.seed, threads=config.threads) as folder:
        result = _refine(model, m, resolution, config, out_dir, resume, progress, validate)
        finish_run(folder, refine_metrics(result), step_records(result.steps), result.notes)
    return result


def _refine(model, m, resolution, config: RefineConfig, out_dir, resume, progress, validate) -> RefineResult:
    t0 = time.perf_counter()
    with torch_threads(config.threads):
        name = model.name or "model"
        check_inputs(model, m, resolution, name)
        library = RestraintLibrary()
        topo = refine_topology(model, library)
        x0 = topo.xyz(model)
        device = resolve_device(config.device)
        key = fingerprint(x0, m, resolution, config, b_factors(topo, model))
        folder = Path(out_dir) / "checkpoints" if out_dir is not None else None
        if folder is not None and not resume and folder.exists() and any(folder.glob("*.npz")):
            raise CryonbError(folder, "holds checkpoints of an earlier run: pass --resume to continue "
                              "it, or choose a new output folder")
        ckpt = Checkpoints(folder, key)
        ctx = _context(model, topo, library, x0, m, resolution, config, device)
        steps, x, skipped, cover_notes = [], x0, [], None
        for k, step_name in enumerate(plan_steps(config, m is not None, resolution)):
            if why := skip_in_place(step_name, config, steps, x0):
                skipped.append(why)
                continue
            if cover_notes is None and step_name != "patches_coarse":
                cover_notes = tether_uncovered(ctx, steps, x0, x)
            done = ckpt.load(k, step_name) if resume else None
            if done is None:
                done = keep_if_map_agrees(run_step(step_name, ctx, x, progress), ctx, x)
                done = keep_model_in_place(done, config, x)
                ckpt.save(k, done)
            steps.append(done)
            x = done.xyz
        out = model.clone()
        topo.set_xyz(out, x)
        out, out_notes = output_model(out)
        before, after, harm = validate_result(model, out, m, resolution) if validate else ({}, {}, [])
        notes = (list(topo.notes) + occupancy_notes(topo, model) + ctx.notes + (cover_notes or [])
                 + [n for s in steps for n in s.notes] + skipped + out_notes)
        return RefineResult(out, x, x0, steps, before, after, time.perf_counter() - t0, notes, topo, harm,
                            model.clone())


def _context(st, topo, library, x0, m, resolution, config, device) -> RefineContext:
    score, notes = None, []
    if m is not None:
        proj = MapProjections.compute(m, resolution, config.n_orientations, config.seed,
                                      period=config.fourier_period)
        bs = b_factors(topo, st) if config.gmm_b_factors else None
        gmm = ModelGMM.from_topology(topo, x0, resolution, bs)
        gmm.amplitude *= occupancies(topo, st)      # a partly occupied atom holds part of its density
        score = MapScore(proj, gmm, config.low_resolution, device, config.projection)
        notes.append(f"map score: {score.method} projections of {len(x0)} atoms ({len(proj.rotations)} "
                     f"orientations, {proj.grid.size}-pixel period)")
        if bs is not None and config.match_blur:
            notes.append(match_blur(score, x0, bs, SIGMA_PER_RESOLUTION * resolution, resolution)[1])
    return RefineContext(topo, library, m, resolution, config, device, score, load_priors(), st, notes)


def occupancy_notes(topo, st: gemmi.Structure) -> list[str]:
    """Say which atoms have zero occupancy: restrained and moved with their residue, no density."""
    zero = np.flatnonzero(occupancies(topo, st) == 0.0)
    if not len(zero):
        return []
    residues = dict.fromkeys(int(k) for k in topo.atoms.residue[zero])
    return [f"{len(zero)} atoms with zero occupancy add no density to the model (restrained, moved by "
            f"geometry only): {topo.residue_labels(residues)}"]


