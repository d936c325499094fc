"""Series refinement: ``refine_series(model, inputs, resolution, config)`` -> a continuous series.

Steps, each checkpointed (decoder weights) in ``out_dir/checkpoints`` when a folder is given:

0. ``start``: single refinement of the model into the map it fits best (the seed starts the
   series from a refined single model), unless ``refine_start=False``;
1. ``patches_coarse``, ``patches``, ``residues``, ``atoms``: conditional decoders trained on every
   map at once (:mod:`cryonb.series.train`), each on top of the stages before it; the residue
   stage also turns side-chain chis (``residue_chi``): with the crystal's side chains held rigid,
   fitting their density shifted the whole residue, C-alpha included;
2. ``fit``: every decoder trained jointly, all atoms against every map (map weight 10 x the
   single-refinement polish's, geometry :data:`JOINT_WEIGHTS`), geometry also at latents along the
   trajectory and at the grid latents with the most Ramachandran outliers or clashes; the
   stages' balanced weights leave models short of the maps at low resolution;
3. ``smooth``: the same at the polish's own map weight, so frames between the maps are as clean as
   the maps' own.

The result gives a model at any latent: :meth:`SeriesResult.models`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import gemmi
import numpy as np
import torch

from ..density.simulate import SIGMA_PER_RESOLUTION
from ..geometry.library import RestraintLibrary
from ..restraints.loss import GeometryLoss
from ..geometry.topology import Topology
from ..io import model_xyz, structure_from_frames
from ..priors import Priors, load_priors
from ..refinement.blur import match_blur, set_spread
from ..refinement.gmm import ModelGMM, b_factors
from ..refinement.map_score import MapScore
from ..refinement.checkpoints import fingerprint
from ..refinement.pipeline import check_inputs, refine, refine_topology
from ..refinement.projection import MapProjections
from ..refinement.record import step_records
from ..runs import finish_run, recorded
from ..refinement.stages import StageResult, geometry_loss
from ..torch_utils import resolve_device, torch_threads
from .checkpoints import SeriesCheckpoints
from .config import JOINT_WEIGHTS, SeriesConfig
from .inputs import SeriesInputs
from .outputs import frames_table, series_inputs, series_metrics, write_series_outputs
from .model import LatentScale, SeriesModel
from .plan import chi_tree_for, joint_steps, stage_plan
from .train import SERIES_GEOMETRY_TERMS, SeriesObjective, smooth_series, train_series_stage


@dataclass
class SeriesResult:
    """The trained series and the record of how it got there."""

    model: SeriesModel
    topology: Topology
    structure: gemmi.Structure           # the start model (after single refinement)
    inputs: SeriesInputs
    resolution: float
    steps: list[StageResult]
    seconds: float
    notes: list[str]
    table: list[dict] | None = None      # per-frame validation (series.outputs.frames_table), run folders only

    def models(self, latents) -> np.ndarray:
        """Coordinates (K, N, 3) Å at latents (K, d) in the inputs' units."""
        z = np.asarray(latents, dtype=np.float64).reshape(-1, self.model.latent_dim)
        return self.model.models(z)

    def trajectory(self, latents) -> gemmi.Structure:
        """A multi-model Structure, one model per latent."""
        return self.trajectory_of(self.models(latents))

    def trajectory_of(self, xyz: np.ndarray) -> gemmi.Structure:
        """A multi-model Structure from coordinates (K, N, 3) Å in topology order."""
        return structure_from_frames(self.structure, _heavy_frames(self, xyz))


def _heavy_frames(result: SeriesResult, xyz: np.ndarray) -> np.ndarray:
    """Topology-order coordinates -> the structure's own atom order (same atoms)."""
    st = result.structure.clone()
    out = []
    for x in xyz:
        result.topology.set_xyz(st, x)
        out.append(model_xyz(st))
    return np.stack(out)


def refine_series(model: gemmi.Structure, inputs: SeriesInputs, resolution: float,
                  config: SeriesConfig | None = None, out_dir: str | Path | None = None,
                  resume: bool = False, progress: bool = False, evaluate: np.ndarray | None = None
                  ) -> SeriesResult:
    """Train a model series on ``inputs`` (maps + latents) from ``model``; inputs are untouched.

    With ``out_dir``: checkpoints there (``resume=True`` continues), the models at the latents
    ``evaluate`` (K, d) (default: the maps') validated into ``result.table`` and written
    (:func:`~.outputs.write_series_outputs`), and the run record (:mod:`cryonb.runs`).
    """
    config = config or SeriesConfig()
    if out_dir is None:
        return _timed_series(model, inputs, resolution, config, None, resume, progress)
    record = {"inputs": series_inputs(inputs, resolution), "device": str(resolve_device(config.device)),
              "seed": config.seed,
              "threads": config.threads}
    with recorded(out_dir, "series", config.as_dict(), **record) as folder:
        result = _timed_series(model, inputs, resolution, config, out_dir, resume, progress)
        latents = inputs.latents if evaluate is None else np.asarray(evaluate, dtype=np.float64)
        result.table = frames_table(result, latents, progress=progress)
        write_series_outputs(result, latents, folder, result.table)
        finish_run(folder, series_metrics(result), step_records(result.steps), result.notes)
    return result


def _timed_series(model, inputs, resolution, config, out_dir, resume, progress) -> SeriesResult:
    t0 = time.perf_counter()
    with torch_threads(config.threads):
        return _refine_series(model, inputs, resolution, config, out_dir, resume, progress, t0)


def _refine_series(model, inputs, resolution, config, out_dir, resume, progress, t0) -> SeriesResult:
    name = model.name or "model"
    for m in inputs.maps:
        check_inputs(model, m, resolution, name)
    library = RestraintLibrary()
    topo = refine_topology(model, library)
    b = b_factors(topo, model)
    key = fingerprint(topo.xyz(model), inputs.maps, resolution, config, b, inputs.latents)
    ckpt = SeriesCheckpoints(Path(out_dir) / "checkpoints" if out_dir else None, key, resume)
    gmm = ModelGMM.from_topology(topo, topo.xyz(model), resolution, b)   # the refined start keeps these B
    device = resolve_device(config.device)
    scores = [MapScore(MapProjections.compute(m, resolution, config.n_orientations, config.seed + k,
                                              period=config.fourier_period), gmm, device=device,
                       projection=config.projection)
              for k, m in enumerate(inputs.maps)]
    blur_notes = _match_blur(scores, topo.xyz(model), b, resolution) if config.match_blur else []
    start, steps = _start_model(model, inputs, resolution, config, ckpt, topo, scores)
    x0 = topo.xyz(start)
    if config.weigh_rings:
        blur_notes.append(_weigh_rings(scores, x0, resolution))
    series = SeriesModel(torch.as_tensor(x0), LatentScale.fit(inputs.latents))
    run = SeriesRun(scores, series.scale(inputs.latents), topo, library, x0, load_priors(), config, resolution,
                    ckpt, progress)
    steps += [_stage(k, plan, series, run) for k, plan in enumerate(stage_plan(config, resolution))]
    steps += [_joint(name, iterations, map_weight, series, run)
              for name, iterations, map_weight in joint_steps(config, resolution)]
    notes = list(topo.notes) + blur_notes + [n for s in steps for n in s.notes]
    return SeriesResult(series, topo, start, inputs, resolution, steps, time.perf_counter() - t0, notes)


@dataclass
class SeriesRun:
    """What the stages and joint steps of one series run share besides the model series."""

    scores: list[MapScore]               # one per map
    z: torch.Tensor                      # (M, d) scaled latents of the maps
    topo: Topology
    library: RestraintLibrary
    x0: np.ndarray                       # (N, 3) Å, the start model
    priors: Priors
    config: SeriesConfig
    resolution: float
    ckpt: SeriesCheckpoints
    progress: bool


def _match_blur(scores: list, xyz: np.ndarray, b: np.ndarray, resolution: float) -> list[str]:
    """The share of the model's B-factor spread (:func:`~cryonb.refinement.blur.match_blur`) judged
    on the map the input model fits best, used for every map (one reconstruction pipeline made
    them). Judged on each map alone, the maps the model does not yet fit picked 0 for the misfit,
    not for the blur (DIMS case, gemmi's maps with B-factors: 1, 1, then 0 for the other eight)."""
    k = _best_map(xyz, scores, resolution)
    base = SIGMA_PER_RESOLUTION * resolution
    share, note = match_blur(scores[k], xyz, b, base, resolution)
    for s in scores:
        set_spread(s, base, b, share)
    return [f"{note}; judged on map {k + 1} (the input model's best fit), used for all {len(scores)}"]


def _weigh_rings(scores: list, xyz: np.ndarray, resolution: float) -> str:
    """Weigh each map's FRC rings by their signal-to-noise as the start model sees it; one note."""
    x = torch.as_tensor(xyz)
    ends = []
    for s in scores:
        w = s.weigh_rings_by_snr(x, resolution)[s.ring_indices(resolution)]
        ends.append(w[-1] / w[0])
    return (f"FRC rings weighed by signal-to-noise: the ring at {resolution:g} Å weighs "
            f"{min(ends):.2g}-{max(ends):.2g} x the lowest scored ring")


def _stage(k: int, plan: tuple, series: SeriesModel, run: SeriesRun) -> StageResult:
    """Stage ``k`` of the plan ``(kind, name, StageConfig, n_patches)``, trained or read back."""
    kind, name, cfg, n_patches = plan
    config = run.config
    stage = series.new_stage(kind, run.topo, n_patches, config.seed + k, chi_tree_for(run.topo, kind, config))
    done = run.ckpt.load(name, stage)
    if done is not None:
        series.stages.append(stage)
        return done
    geo = geometry_loss(kind, run.topo, run.library, run.x0, config.weights, run.priors, SERIES_GEOMETRY_TERMS)
    obj = SeriesObjective(run.scores, run.z, geo, config.latent_noise, cfg.batch, config.seed + 100 * k)
    done = train_series_stage(series, stage, obj, cfg, run.resolution, run.progress)
    done.name = name
    run.ckpt.save(name, stage, done)
    return done


def _joint(name: str, iterations: int, map_weight: float, series: SeriesModel, run: SeriesRun) -> StageResult:
    """Every decoder trained at once against the joint geometry weights (:data:`JOINT_WEIGHTS`)
    and the map score x ``map_weight``; geometry also at latents along the trajectory."""
    done = run.ckpt.load_all(name, series)
    if done is not None:
        return done
    config = run.config
    geo = GeometryLoss(run.topo, run.library, run.x0, config.smooth_weights or JOINT_WEIGHTS, run.priors,
                       refresh_every=0)
    obj = SeriesObjective(run.scores, run.z, geo, config.latent_noise, config.batch, config.seed + 999 + len(name))
    done = smooth_series(series, obj, iterations, run.resolution, 1.0 / map_weight, config.smooth_between,
                         progress=run.progress, n_worst=config.smooth_worst, n_grid=config.smooth_grid)
    done.name = name
    run.ckpt.save_all(name, series, done)
    return done


def _start_model(model, inputs, resolution, config, ckpt, topo, scores):
    """The start of the series: the model refined into the map it fits best (or as given)."""
    if not config.refine_start:
        return model, []
    done = ckpt.load_start()
    if done is None:
        k = _best_map(topo.xyz(model), scores, resolution)
        start_config = replace(config.start, threads=None, device=config.device, projection=config.projection)
        r = refine(model, inputs.maps[k], resolution, start_config, validate=False)
        done = StageResult("start", r.xyz, {}, 0.0, r.seconds,
                           [f"start: single refinement into {inputs.names[k]} (best fit of the input model)"])
        ckpt.save_start(done)
    st = model.clone()
    topo.set_xyz(st, done.xyz)
    return st, [done]


def _best_map(xyz: np.ndarray, scores: list, resolution: float) -> int:
    """Index of the map whose cached projections the model ``xyz`` (N, 3) fits best (all orientations)."""
    x = torch.as_tensor(xyz)
    with torch.no_grad():
        values = [float(s(x, s.all_orientations(), resolution)) for s in scores]
    return int(np.argmin(values))


