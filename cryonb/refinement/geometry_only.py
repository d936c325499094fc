"""Geometry-only refinement: minimise every geometry term over the coordinates, no map.

This is the seed's final polishing step run alone. Atoms are tethered to their starting
positions by a harmonic restraint (``tether_sigma`` Å per atom) so the model is regularised in
place rather than drifting towards some other ideal structure. L-BFGS on the heavy-atom
coordinates in rounds; between rounds the clash neighbour list and the conformation-dependent
ideals are renewed. Riding hydrogens follow the heavy atoms.

>>> from cryonb import data
>>> st = data.load_corpus_structure("1dx5I")          # 118 residues
>>> result = refine_geometry(st, GeometryRefineConfig(steps=20))
>>> bool(result.rms_shift < 0.2)                      # Å, tethered in place
True
>>> result.structure is not st                        # a refined copy; the input is untouched
True
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import gemmi
import numpy as np
import torch
from tqdm.auto import tqdm

from ..geometry.library import RestraintLibrary
from ..restraints.loss import GeometryLoss, GeometryWeights
from ..geometry.topology import build_topology
from ..superpose import rmsd
from ..torch_utils import torch_threads


@dataclass
class GeometryRefineConfig:
    """Settings of a geometry-only run (lengths in Å)."""

    steps: int = 1000                # L-BFGS iterations in all
    tether_sigma: float = 0.5        # Å: harmonic pull back to the starting coordinates
    refresh_every: int = 25          # L-BFGS iterations between clash-list and CDL updates
    cis_threshold: float = 90.0      # degrees: peptides keep the planar state (cis/trans) nearest the start
    cis_general: float = 30.0        # degrees: but a non-proline peptide is cis only when clearly so
    prior_ramp: float = 0.5          # fraction of the rounds over which prior weights rise from 10 % to full
    converge: float | None = None    # stop once the objective, averaged over CONVERGE_WINDOW rounds, changes
                                     # less than this (relative) after the ramp (None: run every step)
    weights: GeometryWeights = field(default_factory=GeometryWeights)
    threads: int | None = None       # torch CPU threads (None: torch's default)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class GeometryRefineResult:
    """Refined copy of the model, its coordinates and the loss history per term."""

    structure: gemmi.Structure
    xyz: np.ndarray                   # (n, 3) Å, heavy atoms in topology order
    start_xyz: np.ndarray
    history: dict[str, list[float]]  # term -> value after each round of L-BFGS
    seconds: float
    notes: list[str]
    iterations: int = 0               # L-BFGS iterations run (fewer than asked when converged)

    @property
    def rms_shift(self) -> float:
        """RMS displacement of all heavy atoms from the start (Å)."""
        return rmsd(self.xyz, self.start_xyz)


def refine_geometry(st: gemmi.Structure, config: GeometryRefineConfig | None = None,
                    library: RestraintLibrary | None = None, priors=None,
                    progress: bool = False, extra=None, topology=None) -> GeometryRefineResult:
    """Regularise model 1 of ``st``; returns a refined copy (the input is not modified).

    ``extra(x, round) -> {name: loss}``: further terms added to the objective, e.g. the map score
    (``x`` (n, 3) float64 heavy atoms in topology order; ``round`` lets them vary per round).
    ``topology``: restraints compiled earlier for this model's atoms (a refinement passes the one
    built from its input, so a peptide twisted on the way is not re-linked cis); default: built
    here from ``st``.
    """
    config = config or GeometryRefineConfig()
    with torch_threads(config.threads):
        return _refine_geometry(st, config, library, priors, progress, extra, topology)


def _refine_geometry(st, config, library, priors, progress, extra, topo=None) -> GeometryRefineResult:
    library = library or RestraintLibrary()
    t0 = time.perf_counter()
    if topo is None:
        topo = build_topology(st, library, warn=False, cis_threshold=config.cis_threshold,
                              cis_general=config.cis_general)
    x0 = topo.xyz(st).astype(np.float64)
    loss_fn = GeometryLoss(topo, library, x0, copy.deepcopy(config.weights), priors, refresh_every=0)
    start = torch.as_tensor(x0)
    x = start.clone().requires_grad_(True)
    history: dict[str, list[float]] = {}

    current = [0]

    held = torch.as_tensor(topo.atoms.held)[:, None] if topo.atoms.held.any() else None

    def coordinates():
        """x, with atoms that have no restraints held at their start."""
        return x if held is None else torch.where(held, start, x)

    def objective():
        xh = coordinates()
        values = loss_fn.terms(xh)
        total = loss_fn.weighted(values)
        values["tether_all"] = 0.5 * (((xh - start) ** 2).sum(-1).mean() / config.tether_sigma ** 2)
        added = extra(xh, current[0]) if extra is not None else {}
        values.update(added)
        return total + values["tether_all"] + sum(added.values()), values

    lengths = round_lengths(config.steps, config.refresh_every)
    rounds = range(len(lengths))
    if progress:
        rounds = tqdm(rounds, desc="geometry", unit="round")
    full = {"rama": config.weights.rama, "rotamer": config.weights.rotamer, "suite": config.weights.suite}
    n_rounds = len(rounds)
    ramp_rounds = int(np.ceil(config.prior_ramp * n_rounds))
    done = 0
    for i in rounds:
        ramp = min(1.0, 0.1 + 0.9 * i / max(1.0, config.prior_ramp * n_rounds))
        for name, value in full.items():
            setattr(loss_fn.weights, name, value * ramp)
        loss_fn.refresh(coordinates())
        current[0] = i
        before = coordinates().detach().clone()
        lbfgs_round(x, lambda: objective()[0], lengths[i])
        with torch.no_grad():
            total, values = objective()
            values["shift"] = ((coordinates() - before) ** 2).sum(-1).mean().sqrt()   # Å, rms over the round
        for k, v in {**values, "total": total}.items():
            history.setdefault(k, []).append(float(v))
        done += lengths[i]
        if converged(history["total"], ramp_rounds, config.converge):
            break
    xyz = coordinates().detach().numpy()
    out = st.clone()
    topo.set_xyz(out, xyz)
    return GeometryRefineResult(out, xyz, x0, history, time.perf_counter() - t0, list(topo.notes), done)


CONVERGE_WINDOW = 3   # rounds averaged on each side of the convergence test
CONVERGE_NOISE_Z = 2.0   # standard errors: a change of the window means smaller than this is scatter


def converged(totals: list[float], ramp_rounds: int, tolerance: float | None) -> bool:
    """Whether the objective has settled: the mean of the last :data:`CONVERGE_WINDOW` rounds differs
    from the mean of the window before by less than ``tolerance`` (relative) or by less than
    :data:`CONVERGE_NOISE_Z` standard errors of that difference, both windows after the prior ramp
    (``ramp_rounds``). Each round sees fresh map projections, so a settled model's score still
    scatters from round to round (on a small model by more than ``tolerance``); the scatter is
    estimated from the spread of the round-to-round changes over the two windows (a steady trend
    adds nothing to that spread, so a still-falling objective is not taken for scatter)."""
    w = CONVERGE_WINDOW
    if tolerance is None or len(totals) < ramp_rounds + 2 * w:
        return False
    recent = np.asarray(totals[-2 * w:], dtype=float)
    last, before = recent[w:].mean(), recent[:w].mean()
    scatter = np.sqrt(np.var(np.diff(recent), ddof=1) / 2)          # per round
    noise = CONVERGE_NOISE_Z * scatter * np.sqrt(2.0 / w)
    return abs(before - last) < max(tolerance * abs(before), noise)


def round_lengths(iterations: int, round_length: int) -> list[int]:
    """Split ``iterations`` into rounds of ``round_length`` (the last may be shorter)."""
    full, rest = divmod(max(0, iterations), max(1, round_length))
    return [round_length] * full + ([rest] if rest else [])


LBFGS_HISTORY = 20                 # curvature pairs kept by L-BFGS
LBFGS_MEMORY = 2 * 2 ** 30         # bytes: the pairs of a very large decoder are kept fewer to stay within this


def lbfgs_history(n_values: int, itemsize: int = 4) -> int:
    """Curvature pairs for ``n_values`` optimised numbers: :data:`LBFGS_HISTORY`, fewer (at least 5)
    when the pairs would take more than :data:`LBFGS_MEMORY` (a 165,000-atom model's atoms decoder
    has 127 million parameters: 20 pairs would take 20 GB)."""
    fits = LBFGS_MEMORY // max(1, 2 * itemsize * n_values)
    return int(min(LBFGS_HISTORY, max(5, fits)))


def lbfgs_round(params, loss, iterations: int, tolerance_grad: float = 1e-9) -> None:
    """Up to ``iterations`` L-BFGS iterations (strong-Wolfe line search) on leaf tensor(s) ``params``."""
    params = [params] if isinstance(params, torch.Tensor) else list(params)
    history = lbfgs_history(sum(p.numel() for p in params), params[0].element_size())
    opt = torch.optim.LBFGS(params, max_iter=iterations, history_size=history, line_search_fn="strong_wolfe",
                            tolerance_grad=tolerance_grad, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        total = loss()
        total.backward()
        return total

    opt.step(closure)
