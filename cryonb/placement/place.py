"""Global placement of a model in a map with no prior pose: FFT search, then local rigid refinement.

:func:`place` builds the template (:mod:`.template`), scores every rotation of a near-uniform set
(:mod:`.rotations`) at every translation by FFT (:mod:`.search`), refines the best distinct poses
(:mod:`.refine`) and returns a :class:`Placement`: the pose, its correlation, a z-score and the
runner-up poses.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import gemmi
import numpy as np

from ..errors import MapError, OverlapError
from ..io import model_xyz, set_model_xyz
from ..maps import Map, check_resolution, require_density
from .refine import Pose, refine_pose
from .rotations import rotation_set
from .search import lcc_map, prepare_map, search, valid_shifts
from .template import Template, build_template

MIN_SEARCH_RESOLUTION = 6.0   # Å: the search runs no finer than this
SOLVENT_VOLUME = 17.0         # Å^3 per heavy atom of protein (for a box too small to hold a model)


@dataclass
class PlacementConfig:
    """Settings of a placement (Å and degrees).

    search_resolution: the map and template are compared at this resolution (None: the map's,
    but no finer than 6 Å); voxel: the search grid (None: search_resolution / 2);
    angular_step: the rotation set's step (None: by model size, :func:`default_step`);
    candidates: distinct search poses refined; runner_ups: distinct refined poses reported;
    distinct: two poses are distinct when the model's atoms differ by more than this RMSD;
    min_plddt: leave out residues whose pLDDT (B column) is below it (None: keep all);
    threads: FFT workers (-1: every core).
    """

    search_resolution: float | None = None
    voxel: float | None = None
    angular_step: float | None = None
    candidates: int = 8
    runner_ups: int = 4
    distinct: float = 3.0
    min_plddt: float | None = None
    threads: int = -1


@dataclass
class PlacedPose:
    """A refined pose: x -> x @ rotation.T + translation (Å) moves the input model onto it;
    ``correlation`` is its LCC with the map at the search resolution (:func:`.refine.pose_lcc`)."""

    rotation: np.ndarray
    translation: np.ndarray
    correlation: float
    rmsd_to_best: float = 0.0

    def apply(self, xyz: np.ndarray) -> np.ndarray:
        """Coordinates (N, 3) Å moved by the pose."""
        return np.asarray(xyz) @ self.rotation.T + self.translation


@dataclass
class Placement:
    """The result of :func:`place`.

    best: the best pose; search_correlation: its LCC as the search scores it (its rotation, the
    best translation on the search lattice); z_score: that LCC against the search's best LCC of
    every other rotation whose pose differs from the best by more than ``distinct`` Å (those are
    not refined, so the z-score leans high by the refinement's gain); runner_ups: the next distinct
    refined poses, best first; margin: the best's correlation minus the first runner-up's;
    rotations: how many were searched; seconds: wall time; notes: what was decided on the way.
    """

    best: PlacedPose
    z_score: float
    search_correlation: float
    runner_ups: list[PlacedPose]
    rotations: int
    angular_step: float
    search_resolution: float
    voxel: float
    template_residues: int
    model_residues: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def margin(self) -> float | None:
        """Correlation of the best pose minus that of the first runner-up (None without one)."""
        return self.best.correlation - self.runner_ups[0].correlation if self.runner_ups else None

    def placed_model(self, st: gemmi.Structure) -> gemmi.Structure:
        """A copy of ``st`` (first model) moved by the best pose; every atom, hydrogens included."""
        out = st.clone()
        while len(out) > 1:
            del out[len(out) - 1]
        set_model_xyz(out, self.best.apply(model_xyz(out)))
        return out

    def as_json(self) -> dict:
        """The placement as plain numbers and lists (for a JSON file)."""
        def pose(p):
            return {"rotation": p.rotation.round(6).tolist(), "translation": p.translation.round(4).tolist(),
                    "correlation": round(p.correlation, 4), "rmsd_to_best": round(p.rmsd_to_best, 2)}
        return {"correlation": round(self.best.correlation, 4), "z_score": round(self.z_score, 2),
                "margin": None if self.margin is None else round(self.margin, 4),
                "search_correlation": round(self.search_correlation, 4), "pose": pose(self.best),
                "runner_ups": [pose(p) for p in self.runner_ups], "rotations": self.rotations,
                "angular_step": self.angular_step, "search_resolution": self.search_resolution,
                "voxel": self.voxel, "template_residues": self.template_residues,
                "model_residues": self.model_residues, "seconds": round(self.seconds, 2), "notes": self.notes}


def default_step(rg: float, resolution: float) -> float:
    """Angular step (degrees) that moves an atom at the model's radius of gyration ``rg`` (Å) by
    about ``resolution`` Å, within 15-20° (finer steps cost more than the local refinement gains)."""
    return float(np.clip(math.degrees(resolution / max(rg, 1.0)), 15.0, 20.0))


def pose_rmsd(spread: np.ndarray, a: tuple, b: tuple) -> float:
    """RMSD (Å) between two poses (rotation (3, 3), centre (3,)) of atoms whose covariance about
    their centroid is ``spread`` (3, 3)."""
    d = a[0] - b[0]
    return float(math.sqrt(max(np.trace(d @ spread @ d.T) + np.sum((a[1] - b[1]) ** 2), 0.0)))


def check_inputs(xyz: np.ndarray, m: Map, resolution: float, name: str | None) -> None:
    """MapError/OverlapError naming the map for a bad resolution, a flat map, or a box too small to
    hold half of the model (``xyz`` (N, 3) heavy atoms, Å) in any pose."""
    check_resolution(m, resolution)
    require_density(m)
    box = float(np.prod(m.box_size))
    needed = 0.5 * len(xyz) * SOLVENT_VOLUME
    if box < needed:
        raise OverlapError(f"{name or 'model'} vs {m.path or 'map'}",
                           f"the map box ({' x '.join(f'{v:.0f}' for v in m.box_size)} Å) holds {box:.0f} Å^3, "
                           f"less than half the model's volume ({2 * needed:.0f} Å^3 for {len(xyz)} heavy "
                           "atoms): no placement can overlap it; use the full map")


def place(st: gemmi.Structure, m: Map, resolution: float, config: PlacementConfig | None = None,
          progress: bool = False) -> Placement:
    """Place ``st`` (first model, all atoms one rigid body) in ``m`` at ``resolution`` Å (the map's)
    with no prior pose; see the module doc and :class:`PlacementConfig`."""
    cfg = config or PlacementConfig()
    started = time.perf_counter()
    search_res = cfg.search_resolution or max(resolution, MIN_SEARCH_RESOLUTION)
    voxel = cfg.voxel or search_res / 2
    check_inputs(model_xyz(st), m, resolution, st.name)
    if search_res > 0.5 * float(m.box_size.min()):
        raise MapError(m.path, f"search resolution {search_res:g} Å is coarser than half the box")
    template = build_template(st, search_res, voxel, cfg.min_plddt)
    notes = []
    if template.kept < template.total:
        notes.append(f"{template.total - template.kept} of {template.total} residues left out of the search "
                     f"template (pLDDT < {cfg.min_plddt:g}); they move with the rest")
    step = cfg.angular_step or default_step(template.rg, search_res)
    rotations = rotation_set(step)
    grid = prepare_map(m, search_res, voxel, template.density.shape[0], cfg.threads)
    bar = _progress(len(rotations)) if progress else None
    found = search(grid, template, rotations, cfg.threads, bar)
    if bar is not None:
        bar.close()
    spread = np.cov(template.xyz.T, bias=True)
    picks = distinct_poses(found.scores, found.rotations, found.centres, spread, cfg.distinct, cfg.candidates)
    points, values = template.points()
    refined = [refine_pose(grid, points, values, template.rg, Pose(found.rotations[k], found.centres[k], found.scores[k]))
               for k in picks]
    order = np.argsort([-p.score for p in refined])
    kept = []
    for i in order:
        if all(pose_rmsd(spread, (refined[i].rotation, refined[i].centre), (q.rotation, q.centre)) > cfg.distinct
               for q in kept):
            kept.append(refined[i])
    best = kept[0]
    on_lattice = float(lcc_map(grid, template, best.rotation, valid_shifts(grid, template), cfg.threads).max())
    z = z_score(found, on_lattice, (best.rotation, best.centre), spread, cfg.distinct)
    poses = [_placed(p, template, best, spread) for p in kept]
    placement = Placement(poses[0], z, on_lattice, poses[1:1 + cfg.runner_ups],
                          len(rotations), round(step, 2), search_res, voxel, template.kept, template.total,
                          time.perf_counter() - started, notes)
    _check_placed(placement, st, m)
    return placement


def distinct_poses(scores: np.ndarray, rotations: np.ndarray, centres: np.ndarray, spread: np.ndarray,
                   distinct: float, count: int) -> list[int]:
    """Indices of up to ``count`` best-scoring search poses, each more than ``distinct`` Å RMSD from
    every one picked before it."""
    picked: list[int] = []
    for k in np.argsort(-scores):
        if all(pose_rmsd(spread, (rotations[k], centres[k]), (rotations[j], centres[j])) > distinct for j in picked):
            picked.append(int(k))
            if len(picked) == count:
                break
    return picked


def z_score(found, score: float, pose: tuple, spread: np.ndarray, distinct: float) -> float:
    """(``score`` - mean) / SD over the search scores of the rotations whose best pose differs from
    ``pose`` (rotation (3, 3), centre (3,) Å) by more than ``distinct`` Å RMSD."""
    d = found.rotations - pose[0]
    rmsd2 = np.einsum("kij,jl,kil->k", d, spread, d) + ((found.centres - pose[1]) ** 2).sum(1)
    others = found.scores[rmsd2 > distinct ** 2]
    if len(others) < 2 or others.std() == 0:
        return float("nan")
    return float((score - others.mean()) / others.std())


def _placed(pose: Pose, template: Template, best: Pose, spread: np.ndarray) -> PlacedPose:
    rotation, translation = pose.transform(template.centre)
    rmsd = pose_rmsd(spread, (pose.rotation, pose.centre), (best.rotation, best.centre))
    return PlacedPose(rotation, translation, pose.score, rmsd)


def _check_placed(placement: Placement, st: gemmi.Structure, m: Map) -> None:
    """Note (not fail) a best pose that leaves part of the model outside the map box."""
    inside = float(m.contains(placement.best.apply(model_xyz(st))).mean())
    if inside < 0.95:
        placement.notes.append(f"{1 - inside:.0%} of the placed model's atoms lie outside the map box")


def _progress(total: int):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="rotations", unit="rot", mininterval=1.0)
