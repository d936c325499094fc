"""GMM-DNN single-model refinement: ``cryonb.refine(model, map, resolution, config)``.

The steps, each checkpointed in ``out_dir/checkpoints`` when an output folder is given:

1. ``patches_coarse`` and ``patches``: K-means patches moved rigidly by the map score alone, first
   ``n_patches // 8`` large patches from a coarse FRC limit, then ``n_patches`` (a hierarchy: many
   small patches cannot find a large domain motion by themselves);
2. ``residues``: per-residue rigid transforms with bonds, angles and clashes;
3. ``rotamers`` (before ``atoms``, at 3.5 Å and better): every side chain tried in every rotamer peak;
4. ``atoms``: per-atom offsets and chi angles with every geometry term and prior (by default only
   coarser than 3.5 Å: see :func:`default_plan`);
5. ``polish``: L-BFGS on the coordinates with every geometry term, a tether and the map score
   (``polish_steps=0`` skips it).

Without a map only the polish runs, as geometry-only refinement. Resuming reruns the first
unfinished step from the last finished one; inputs are fingerprinted so a checkpoint of other
inputs is never reused.
"""
from __future__ import annotations

import hashlib
import json
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import gemmi
import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import CryonbError
from ..density.simulate import SIGMA_PER_RESOLUTION
from ..geometry.library import RestraintLibrary
from ..geometry.linking import CIS_GENERAL
from ..geometry.topology import Topology, build_topology
from ..io import model_xyz
from ..runs import finish_run, recorded
from ..maps import Map, check_map_for_model
from ..priors import load_priors
from ..superpose import rmsd
from ..torch_utils import resolve_device, torch_threads
from ..validation.compare import worse_than_input
from ..validation.report import validate_model
from .blur import match_blur
from .config import HIGH_RESOLUTION, RefineConfig
from .coverage import tether_without_map
from .gmm import ModelGMM, b_factors, occupancies
from .map_score import MapScore
from .projection import MapProjections
from .record import refine_inputs, refine_metrics, step_records
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
        topo = self.topology if self.topology is not None else _topology_of(out)
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
        if name == "atoms" and _rebuild(config, resolution):
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


def _skip_in_place(name: str, config: RefineConfig, steps: list, x0: np.ndarray) -> str | None:
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
    if name not in IN_PLACE_SKIPS or not _judged_in_place(config):
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
    is judged in place (see :func:`_skip_in_place`): a move that small is the map's noise, not a
    motion. The true DIMS frame 0 in its own 8 Å map (noise as an experimental map's, two
    simulators) moved 0.39-0.50 Å C-alpha RMS in 8 map-only patches, 0.14 Å in cryonb's cleaner
    map; a noise-free map moved it 0.01 Å. ``step`` otherwise unchanged."""
    if step.name != "patches_coarse" or not _judged_in_place(config):
        return step
    shift = rmsd(step.xyz, x)
    if shift >= IN_PLACE:
        return step
    note = (f"patches_coarse: undone: its {shift:.2f} Å RMS move (< {IN_PLACE} Å) is within what the map's noise "
            "moves a model in place; the model is kept")
    history = {**step.history, UNDONE_SHIFT: [shift]}
    return replace(step, xyz=np.array(x, copy=True), history=history, notes=list(step.notes) + [note])


UNDONE_SHIFT = "undone_shift"   # history key: the RMS move (Å) of a coarse step that was undone


def _judged_in_place(config: RefineConfig) -> bool:
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


def _tether_uncovered(ctx, steps: list, x0: np.ndarray, x: np.ndarray) -> list[str]:
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


def _rebuild(config: RefineConfig, resolution: float | None) -> bool:
    if config.rebuild_rotamers == "auto":
        return resolution is not None and resolution <= HIGH_RESOLUTION
    return bool(config.rebuild_rotamers)


SCORE_VERSION = 3   # raise when the map score or GMM changes, so older checkpoints are not resumed


def fingerprint(xyz: np.ndarray, m: Map | list[Map] | None, resolution: float | None, config,
                b: np.ndarray | None = None, extra: np.ndarray | None = None) -> str:
    """A hash of the inputs (model coordinates and B-factors, one map or several, any ``extra``
    array such as latents) and settings, stored with checkpoints so a resume never mixes runs."""
    h = hashlib.sha256(np.ascontiguousarray(np.round(xyz, 3)).tobytes())
    if b is not None:
        h.update(np.ascontiguousarray(np.round(b, 2)).tobytes())
    for one in ([] if m is None else [m] if isinstance(m, Map) else m):
        h.update(one.data.tobytes())
        h.update(np.concatenate([one.voxel_size, one.origin]).tobytes())
    if extra is not None:
        h.update(np.ascontiguousarray(extra, dtype=np.float64).tobytes())
    settings = {k: v for k, v in config.as_dict().items() if k not in ("threads", "device")}
    h.update(json.dumps([resolution, settings, SCORE_VERSION], sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


class Checkpoints:
    """``checkpoints/<k>_<step>.npz`` files: coordinates, history, weight, seconds, notes."""

    def __init__(self, folder: Path | None, key: str):
        self.folder, self.key = folder, key
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def path(self, k: int, name: str) -> Path:
        return self.folder / f"{k}_{name}.npz"

    def load(self, k: int, name: str) -> StageResult | None:
        path = self.path(k, name)
        if self.folder is None or not path.exists():
            return None
        try:
            with np.load(path) as f:
                key = str(f["key"])
                meta = json.loads(str(f["meta"]))
                step = StageResult(name, f["xyz"], meta["history"], meta["weight"], meta["seconds"], meta["notes"])
        except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as exc:
            raise CryonbError(path, f"checkpoint is damaged ({type(exc).__name__}: {exc}); delete it to "
                                    "redo that step, or start a new run") from None
        if key != self.key:
            raise CryonbError(self.folder, "checkpoints belong to other inputs or settings; "
                              "use a fresh output folder or drop --resume")
        if step.xyz.ndim != 2 or step.xyz.shape[1] != 3 or not np.all(np.isfinite(step.xyz)):
            raise CryonbError(path, f"checkpoint holds no valid coordinates (shape {step.xyz.shape}); "
                                    "delete it to redo that step")
        return step

    def save(self, k: int, step: StageResult) -> None:
        if self.folder is None:
            return
        meta = json.dumps({"history": step.history, "weight": step.geometry_weight,
                           "seconds": step.seconds, "notes": step.notes})
        with atomic_path(self.path(k, step.name)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, xyz=step.xyz, key=self.key, meta=meta)


def _topology_of(st: gemmi.Structure, library: RestraintLibrary | None = None):
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
        topo = _topology_of(model, library)
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
            if why := _skip_in_place(step_name, config, steps, x0):
                skipped.append(why)
                continue
            if cover_notes is None and step_name != "patches_coarse":
                cover_notes = _tether_uncovered(ctx, steps, x0, x)
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
        before = after = {}
        harm: list[str] = []
        if validate:
            before, after = _validation(model, m, resolution), _validation(out, m, resolution)
            harm = worse_than_input(before, after)
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
        score = MapScore(proj, gmm, config.low_resolution, device)
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


def _validation(st: gemmi.Structure, m: Map | None, resolution: float | None) -> dict:
    """The ``cryonb validate`` summary, plus the model-map FSC averaged to the resolution."""
    report = validate_model(st, m, resolution)
    out = dict(report.summary)
    if report.fsc is not None and resolution:
        out["fsc_average"] = float(report.fsc.average(resolution))
    return out
