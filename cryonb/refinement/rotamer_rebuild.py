"""Rotamer rebuild for high-resolution maps: try every rotamer peak, keep the best fit to the map.

The seed's side-chain step, in two stages:

1. Discrete rebuild. Each residue with chi angles has as candidates its input chis, its current
   chis and every peak of its rotamer prior (:func:`rotamer_peaks`). All candidates of all residues
   of one type are fitted to the map at once (``fit_steps`` Adam steps on their chis: map values at
   the moved atoms, a clash hinge, a ``fit_tether_deg`` pull to the peak) and scored by the mean map
   value at the atoms their chis move (map scaled to mean 0 / SD 1 over the box, trilinear
   interpolation). Then residue by residue in sequence order, the model updated as they go, a
   candidate is rejected when a moved atom comes closer than the sum of van der Waals radii minus
   ``clash_overlap`` to an atom of another residue; the best survivor replaces the input only when it
   scores at least ``min_gain`` SD higher, otherwise the residue keeps (or returns to) its input
   chis. The first pass checks clashes only against atoms that no chi moves (backbone, CB, waters,
   ligands), so two misplaced side chains sitting in each other's density cannot lock each other
   out; later passes check against the whole model.
2. Local refinement (:func:`refine_chi_local`): Adam on one delta per chi, all at once, maximising
   the interpolated map at the moved atoms plus the rotamer prior
   (:class:`~cryonb.restraints.torsion_priors.RotamerTerm`) minus a squared clash hinge, with a
   ``tether_deg`` pull to the chis it starts from.

Rotamer peaks come from the fitted prior mixtures (:mod:`cryonb.priors`), not from a fixed
rotamer list: gradient ascent on the mixture's log-density from each component centre finds the
mixture's modes; modes in the favoured region (Top8000 rotamericity >= 2 %) are kept, the
highest first, dropping any within ``merge_deg`` of one already kept in every chi.

>>> from cryonb import data, density
>>> from cryonb.geometry.topology import build_topology
>>> st = data.adk_closed()
>>> del st[0][0][12:]                                   # the first 12 residues, to be quick
>>> topo = build_topology(st, warn=False)
>>> m = density.simulate_map(st, density.SimulationConfig(resolution=2.5))
>>> result = rebuild_rotamers(topo, topo.xyz(st), m)
>>> result.changed                                      # each side chain already sits in its density
[]
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from ..errors import ModelError
from ..geometry.chi import ChiTree
from ..geometry.clashes import DEFAULT_RADIUS, RADII
from ..geometry.named_torsions import CHI
from ..restraints.torsion_priors import RotamerTerm
from ..maps import Map, check_overlap
from ..priors import load_priors
from ..priors.mixture import wrap
from ..torch_utils import torch_threads
from ..validation.rotamer import FAVORED, SYMMETRIC_LAST_CHI


@dataclass
class RebuildConfig:
    """Settings of a rotamer rebuild (distances in Å, angles in degrees, map values in SD)."""

    clash_overlap: float = 0.5           # a clash: heavy atoms closer than the vdW radii sum minus this
    environment: float = 5.0             # other residues' atoms this near a candidate are checked
    fit_steps: int = 30                  # Adam steps fitting each candidate to the map
    fit_lr_deg: float = 2.0              # their learning rate, degrees per step
    fit_tether_deg: float = 15.0         # sigma of the pull of a fitted candidate to its peak
    min_gain: float = 0.1                # SD of mean side-chain density a new rotamer must win by
    merge_deg: float = 20.0              # prior modes closer than this in every chi are one peak
    passes: int = 2                      # sweeps over the chain; the first ignores other side chains
    local_steps: int = 100               # Adam steps of the local chi refinement (0: none)
    lr_deg: float = 0.5                  # its learning rate, degrees per step
    prior_weight: float = 1.0            # rotamer prior per residue against summed atom densities
    clash_weight: float = 10.0           # squared clash hinge (per Å^2) in the local refinement
    tether_deg: float = 10.0             # sigma of a harmonic pull of each chi to its start (0: none)
    changed_deg: float = 30.0            # a residue whose chi moves more than this has changed
    progress: bool = False               # tqdm bar over residue types
    threads: int | None = None           # torch CPU threads during the run (None: torch's default)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RebuildResult:
    """New coordinates and the chi angles before/after, one entry per chi of ``ChiTree(topo)``."""

    xyz: np.ndarray              # (N, 3) Å, heavy atoms in topology order
    changed: list[str]           # residue labels with any chi moved by more than changed_deg
    chi_before: np.ndarray       # (n,) degrees
    chi_after: np.ndarray        # (n,) degrees
    chi_residue: np.ndarray      # (n,) residue index of each chi
    chi_level: np.ndarray        # (n,) 1..4
    seconds: float


class MapSampler:
    """Trilinear values of a map scaled to mean 0 / SD 1 at positions (..., P, 3) Å (0 outside)."""

    def __init__(self, m: Map, dtype: torch.dtype = torch.float64):
        d = m.data.astype(np.float64)
        d = (d - d.mean()) / (d.std() or 1.0)
        self.grid = torch.as_tensor(d, dtype=dtype)[None, None]                   # (1, 1, z, y, x)
        self.origin = torch.as_tensor(m.origin, dtype=dtype)
        self.voxel = torch.as_tensor(m.voxel_size, dtype=dtype)
        self.size = torch.as_tensor(m.data.shape[::-1], dtype=dtype).clamp(min=2)  # nx, ny, nz

    def __call__(self, xyz: torch.Tensor) -> torch.Tensor:
        idx = (xyz.to(self.grid.dtype) - self.origin) / self.voxel               # x, y, z voxels
        g = 2 * idx / (self.size - 1) - 1                                        # grid_sample's (x, y, z)
        out = torch.nn.functional.grid_sample(self.grid, g.reshape(1, 1, 1, -1, 3), mode="bilinear",
                                              padding_mode="zeros", align_corners=True)
        return out.reshape(xyz.shape[:-1])


_PEAKS: dict[tuple, np.ndarray] = {}


def rotamer_peaks(mixture, merge_deg: float = 20.0, steps: int = 60) -> np.ndarray:
    """(P, D) favoured modes of a rotamer mixture, degrees, most populated first (cached)."""
    key = (id(mixture), merge_deg)
    if key not in _PEAKS:
        _PEAKS[key] = _find_peaks(mixture, merge_deg, steps)
    return _PEAKS[key]


def _find_peaks(mixture, merge_deg: float, steps: int) -> np.ndarray:
    with torch.no_grad():
        start = mixture.centres.detach().double()
        s = mixture.log_score(start)
        start, s = start[s >= math.log(FAVORED) - 1.0], s[s >= math.log(FAVORED) - 1.0]
    x = _greedy_unique(start.numpy(), s.numpy(), mixture.period.double().numpy(), merge_deg)
    x = torch.as_tensor(x).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=2.0)
    for _ in range(steps):
        opt.zero_grad()
        (-mixture.log_score(x).sum()).backward()
        opt.step()
    with torch.no_grad():
        period = mixture.period.double()
        x = wrap(x.detach(), period)
        s = mixture.log_score(x).double()
    fav = (s >= math.log(FAVORED)).numpy()
    return _greedy_unique(x.numpy()[fav], s.numpy()[fav], period.numpy(), merge_deg)


def _greedy_unique(x: np.ndarray, s: np.ndarray, period: np.ndarray, merge_deg: float) -> np.ndarray:
    """Rows of ``x`` (P, D) by falling ``s``, skipping any within merge_deg (every angle) of a kept one."""
    kept: list[int] = []
    for i in np.argsort(-s, kind="stable"):
        d = np.abs(np.mod(x[kept] - x[i] + period / 2, period) - period / 2)
        if not kept or (d.max(-1) > merge_deg).all():
            kept.append(int(i))
    return x[kept].reshape(-1, x.shape[1])


def chi_periods(topo, tree: ChiTree) -> np.ndarray:
    """(n,) period of each chi in degrees: 180 for the symmetric last chi of Asp/Glu/Phe/Tyr."""
    names = [topo.residues[k].name for k in tree.residue]
    return np.array([180.0 if r in SYMMETRIC_LAST_CHI and lv == len(CHI[r]) else 360.0
                     for r, lv in zip(names, tree.level)])


def chi_change(before: np.ndarray, after: np.ndarray, period: np.ndarray) -> np.ndarray:
    """|after - before| per chi, degrees, folded by each chi's period."""
    d = np.mod(after - before + period / 2, period) - period / 2
    return np.abs(d)


def rebuild_rotamers(topo, xyz: np.ndarray, m: Map, config: RebuildConfig | None = None,
                     priors=None) -> RebuildResult:
    """Rebuild side chains into map ``m``: discrete rotamer search, then local chi refinement.

    topo: Topology; xyz: (N, 3) Å heavy atoms in topology order (not modified); priors:
    :class:`~cryonb.priors.Priors` (default: the shipped ones).
    """
    t0 = time.perf_counter()
    config = config or RebuildConfig()
    priors = priors or load_priors()
    _check_input(topo, xyz, m)
    with torch_threads(config.threads):
        out, before, after, tree = _rebuild(topo, xyz, m, config, priors)
    moved = chi_change(before, after, chi_periods(topo, tree)) > config.changed_deg
    changed = [topo.residue_label(int(k)) for k in np.unique(tree.residue[moved])]
    return RebuildResult(out, changed, before, after, tree.residue.copy(), tree.level.copy(),
                         time.perf_counter() - t0)


def _rebuild(topo, xyz: np.ndarray, m: Map, config: RebuildConfig, priors):
    """(new xyz (N, 3), chi before (n,), chi after (n,), tree): both stages of rebuild_rotamers."""
    tree = ChiTree(topo)
    x0 = torch.as_tensor(np.array(xyz, dtype=np.float64))
    sampler = MapSampler(m)
    x = x0
    solid = np.ones(topo.n_atoms, bool)
    solid[tree.moved_atoms()] = False
    chi_input = tree.chi_deg(x0).numpy()
    for i in range(config.passes):
        x = _discrete_pass(topo, tree, x, chi_input, sampler, priors, config, solid | (i > 0))
    out = x.numpy().copy()
    if config.local_steps > 0:
        out = refine_chi_local(topo, out, m, config, priors, tree=tree, sampler=sampler)
    keep = np.zeros(topo.n_atoms, bool)
    for mask in (getattr(topo.atoms, "held", None), getattr(topo.atoms, "tethered", None)):
        if mask is not None:
            keep |= mask
    if keep.any():   # held and tethered residues (no restraints, or no map) keep their side chains
        out[keep] = np.asarray(xyz)[keep]
    return out, chi_input, tree.chi_deg(torch.as_tensor(out)).numpy(), tree


def _check_input(topo, xyz: np.ndarray, m: Map) -> None:
    """ModelError for coordinates that do not fit the topology; OverlapError for a model off the map."""
    shape = np.shape(xyz)
    if shape != (topo.n_atoms, 3):
        raise ModelError(None, f"expected coordinates of shape ({topo.n_atoms}, 3) for the topology's "
                               f"heavy atoms, got {shape}")
    if not np.all(np.isfinite(xyz)):
        raise ModelError(None, "coordinates contain NaN or infinite values")
    check_overlap(np.asarray(xyz), m)


def vdw_radii(topo) -> np.ndarray:
    """(N,) probe's van der Waals radius of each heavy atom by element, Å."""
    return np.array([RADII.get(e, DEFAULT_RADIUS) for e in topo.atoms.elements])


@dataclass
class _TypeFit:
    """Candidates of all residues of one type: row 0 the input chis (as given, not fitted), row 1
    the current ones, then each peak; all but row 0 fitted to the map."""

    residues: np.ndarray         # (m,) residue indices
    atoms: np.ndarray            # (R,) atom indices of their chi trees
    rows: list[np.ndarray]       # per residue: the rows of ``atoms`` its chis move
    coords: torch.Tensor         # (C, R, 3) Å
    score: torch.Tensor          # (C, m) mean map SD at each residue's moved atoms


def _discrete_pass(topo, tree: ChiTree, x: torch.Tensor, chi_input: np.ndarray, sampler: MapSampler,
                   priors, config: RebuildConfig, solid: np.ndarray) -> torch.Tensor:
    """Fit every candidate (per residue type, batched), then pick residue by residue in sequence
    order, clash-checking against the ``solid`` (N,) atoms of the model as updated so far; a
    residue keeps its input chis ``chi_input`` (n,) unless a clash-free candidate beats them by
    ``min_gain``. Returns new (N, 3) coordinates."""
    radius = vdw_radii(topo)
    names = np.array([topo.residues[k].name for k in tree.residue])
    types = [t for t in dict.fromkeys(names) if t in priors.rotamer]
    if config.progress:
        types = tqdm(types, desc="rotamers", unit="type")
    fits = [f for t in types if (f := _fit_type(topo, tree, x, chi_input, t, priors.rotamer[t], sampler,
                                                radius, solid, config)) is not None]
    order = sorted((int(k), f, i) for f in fits for i, k in enumerate(f.residues))
    for k, f, i in order:
        rows = torch.as_tensor(f.rows[i])
        cand = f.coords.index_select(1, rows)
        ok = ~_clashes(topo, k, x.numpy(), f.atoms[f.rows[i]], cand.numpy(), radius, solid,
                       config.clash_overlap)
        score = torch.where(torch.as_tensor(ok), f.score[:, i], torch.tensor(-math.inf, dtype=x.dtype))
        best = int(torch.argmax(score))
        if float(score[best]) < float(f.score[0, i]) + config.min_gain:
            best = 0
        x = x.index_copy(0, torch.as_tensor(f.atoms[f.rows[i]]), cand[best])
    return x


def _fit_type(topo, tree: ChiTree, x: torch.Tensor, chi_input: np.ndarray, name: str, mix,
              sampler: MapSampler, radius: np.ndarray, solid: np.ndarray,
              config: RebuildConfig) -> _TypeFit | None:
    """Candidates of every residue named ``name`` with all its chis, each fitted to the map."""
    nchi = len(CHI[name])
    res, counts = np.unique(tree.residue[np.array([topo.residues[k].name == name for k in tree.residue])],
                            return_counts=True)
    res = res[counts == nchi]
    if len(res) == 0 or mix.ndim > nchi:
        return None
    mask = np.isin(tree.residue, res)
    local, atoms = tree.select(mask).compact()
    peaks = rotamer_peaks(mix, config.merge_deg)
    target = np.full((len(peaks) + 2, len(res), nchi), np.nan)          # row 1: the current chis
    target[0] = chi_input[mask].reshape(len(res), nchi)
    target[2:, :, :peaks.shape[1]] = peaks[:, None, :]
    xr = x[atoms]
    start = local.set_chi(xr.expand(len(target), *xr.shape), torch.as_tensor(target.reshape(len(target), -1)))
    moved = local.moved_atoms()
    owner = np.searchsorted(res, topo.atoms.residue[atoms[moved]])
    pairs, limit = _fit_pairs(topo, x.numpy(), atoms, moved, start[:, moved].numpy(), radius, solid, config)
    y = _fit_candidates(local, start, torch.as_tensor(moved), pairs, limit, x, sampler, config)
    with torch.no_grad():
        dens = sampler(y[:, moved])
        own = torch.as_tensor(owner)
        score = torch.zeros(len(y), len(res), dtype=y.dtype).index_add(1, own, dens)
        score = score / torch.as_tensor(np.bincount(owner), dtype=y.dtype)
        y[0] = start[0]
    return _TypeFit(res, atoms, [moved[owner == i] for i in range(len(res))], y, score)


def _fit_candidates(local: ChiTree, start: torch.Tensor, moved: torch.Tensor, pairs: torch.Tensor,
                    limit: torch.Tensor, x: torch.Tensor, sampler: MapSampler,
                    config: RebuildConfig) -> torch.Tensor:
    """Adam on the chis of candidates ``start`` (C, R, 3): -map values at the moved atoms, a clash
    hinge 0.2 Å beyond the limits of ``pairs`` and a harmonic tether (``fit_tether_deg``) keeping
    each candidate near its rotamer peak; returns fitted (C, R, 3)."""
    flat, env, limit = pairs[:, 0], x.index_select(0, pairs[:, 1]), limit + 0.2
    delta = torch.zeros(start.shape[0], local.n, dtype=start.dtype, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=math.radians(config.fit_lr_deg))
    for _ in range(config.fit_steps):
        opt.zero_grad()
        p = local.apply(start, delta).index_select(-2, moved)
        d = (p.reshape(-1, 3).index_select(0, flat) - env).norm(dim=-1)
        loss = (-sampler(p).sum() + config.clash_weight * (torch.relu(limit - d) ** 2).sum()
                + 0.5 * ((delta / math.radians(config.fit_tether_deg)) ** 2).sum())
        loss.backward()
        opt.step()
    with torch.no_grad():
        return local.apply(start, delta)


def _fit_pairs(topo, xyz: np.ndarray, atoms: np.ndarray, moved: np.ndarray, points: np.ndarray,
               radius: np.ndarray, solid: np.ndarray, config: RebuildConfig):
    """Clash pairs for the fit: (flat index into points (C, M, 3), environment atom) and limits (Å).

    The environment is every ``solid`` atom of another residue within ``environment`` Å of a
    candidate atom, except atoms that move with the candidates themselves.
    """
    c, mm = points.shape[:2]
    near = cKDTree(xyz).query_ball_point(points.reshape(-1, 3), config.environment)
    flat = np.repeat(np.arange(c * mm), [len(n) for n in near])
    env = np.concatenate([np.asarray(n, dtype=np.int64) for n in near]) if len(flat) else flat
    atom = atoms[moved][flat % mm]
    res = topo.atoms.residue
    keep = (res[env] != res[atom]) & solid[env] & ~np.isin(env, atoms[moved])
    flat, env, atom = flat[keep], env[keep], atom[keep]
    limit = radius[atom] + radius[env] - config.clash_overlap
    return torch.as_tensor(np.stack([flat, env], 1)), torch.as_tensor(limit)


def _clashes(topo, k: int, xyz: np.ndarray, atoms: np.ndarray, cand: np.ndarray, radius: np.ndarray,
             solid: np.ndarray, overlap: float) -> np.ndarray:
    """(C,) bool: a candidate (C, R, 3) of residue k's atoms ``atoms`` (R,) has an atom closer than
    the vdW radii sum minus ``overlap`` to a ``solid`` atom of another residue in ``xyz``."""
    c, r = cand.shape[:2]
    reach = radius[atoms].max() + radius.max() - overlap
    near = cKDTree(xyz).query_ball_point(cand.reshape(-1, 3), reach)
    flat = np.repeat(np.arange(c * r), [len(n) for n in near])
    if len(flat) == 0:
        return np.zeros(c, bool)
    env = np.concatenate([np.asarray(n, dtype=np.int64) for n in near])
    atom = atoms[flat % r]
    d = np.linalg.norm(cand.reshape(-1, 3)[flat] - xyz[env], axis=1)
    bad = (topo.atoms.residue[env] != k) & solid[env] & (d < radius[atom] + radius[env] - overlap)
    return np.bincount(flat[bad] // r, minlength=c) > 0


def refine_chi_local(topo, xyz: np.ndarray, m: Map, config: RebuildConfig | None = None, priors=None,
                     tree: ChiTree | None = None, sampler: MapSampler | None = None) -> np.ndarray:
    """Refine every chi at once by Adam; returns new (N, 3) Å coordinates (input not modified).

    Loss, divided by the number of residues with chis: -(sum of map SD values at the moved atoms)
    + prior_weight * RotamerTerm + clash_weight * sum(relu(limit - d)^2) over moved atoms and
    heavy atoms of other residues within 6 Å at the start (limit: vdW radii sum - clash_overlap)
    + a harmonic tether of ``tether_deg`` on each chi change.
    """
    config = config or RebuildConfig()
    priors = priors or load_priors()
    tree = tree or ChiTree(topo)
    sampler = sampler or MapSampler(m)
    x0 = torch.as_tensor(np.array(xyz, dtype=np.float64))
    moved = torch.as_tensor(tree.moved_atoms())
    pairs, limit = _contact_pairs(topo, x0.numpy(), tree.moved_atoms(), config)
    rot = RotamerTerm(topo, priors.rotamer)
    n_res = max(len(tree.residues()), 1)
    delta = torch.zeros(tree.n, dtype=x0.dtype, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=math.radians(config.lr_deg))
    for _ in range(config.local_steps):
        opt.zero_grad()
        x = tree.apply(x0, delta)
        fit = sampler(x.index_select(0, moved)).sum()
        d = (x.index_select(0, pairs[:, 0]) - x.index_select(0, pairs[:, 1])).norm(dim=-1)
        clash = (torch.relu(limit - d) ** 2).sum()
        loss = -fit + config.prior_weight * rot(x) * rot.n + config.clash_weight * clash
        if config.tether_deg > 0:
            loss = loss + 0.5 * ((delta / math.radians(config.tether_deg)) ** 2).sum()
        loss = loss / n_res
        loss.backward()
        opt.step()
    with torch.no_grad():
        return tree.apply(x0, delta).numpy().copy()


def _contact_pairs(topo, xyz: np.ndarray, moved: np.ndarray, config: RebuildConfig, cutoff: float = 6.0):
    """(pairs (p, 2) tensor, clash limits (p,) Å) between moved atoms and other residues' atoms."""
    res = topo.atoms.residue
    is_moved = np.zeros(len(xyz), bool)
    is_moved[moved] = True
    near = cKDTree(xyz).query_ball_point(xyz[moved], cutoff)
    rows = [(i, j) for i, js in zip(moved, near) for j in js
            if res[j] != res[i] and (not is_moved[j] or i < j)]
    pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
    radius = vdw_radii(topo)
    limit = radius[pairs[:, 0]] + radius[pairs[:, 1]] - config.clash_overlap
    return torch.as_tensor(pairs), torch.as_tensor(limit)


__all__ = ["RebuildConfig", "RebuildResult", "MapSampler", "rotamer_peaks", "rebuild_rotamers",
           "refine_chi_local", "chi_periods", "chi_change"]
