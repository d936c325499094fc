"""Fit, write and load the shipped priors: one mixture per Ramachandran class and rotamer type.

Each Top8000 table is fitted with :func:`~cryonb.priors.fit.fit_grid`. Unless a component
count is given, the counts of a short ladder are tried in turn and the first fit that meets
the bars (:data:`BARS`: >= 99.5 % of the table's outlier cells are outliers, >= 99 % of cells
agree in category, each with a little slack) is kept; the ladder ends at the largest count,
which is kept whatever its figures.

>>> import torch
>>> priors = load_priors()
>>> alpha, left = priors.rama["general"].log_score(torch.tensor([[-63.0, -41.0], [60.0, -120.0]]))
>>> bool(alpha > left)                         # the alpha helix is favoured, (60, -120) is not
True
>>> bool(priors.rotamer["LEU"].density(torch.tensor([[-65.0, 175.0]]))[0] > 0.1)   # Leu mt
True
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import maximum_filter

from ..atomic import atomic_path
from ..validation import rama, rotamer
from ..validation.reference_data import Grid, require_table
from .fit import FitReport, bin_centres, fit_grid, grow
from .mixture import PeriodicMixture

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "priors"
BARS = (0.995, 0.99)         # (outlier cells kept as outliers, category agreement) fractions
SLACK = 0.001                # the ladder asks for BARS + SLACK
RAMA_LADDER = (128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 2500)
ROTAMER_LADDER = {1: (32, 48, 64), 2: (25, 50, 75, 100, 150, 200),
                  3: (64, 128, 192, 256, 384), 4: (160, 240, 320, 400, 480, 640)}
ROTAMER_ITERATIONS = {1: 2000, 2: 2000, 3: 1500, 4: 800}    # Adam steps per ladder rung
RAMA_BOUNDARY = 10.0         # hinge weights (fit_grid's ``boundary``)
ROTAMER_BOUNDARY = 100.0


def rama_thresholds(name: str) -> tuple[float, float]:
    """(allowed, favoured) cut-offs of a Ramachandran class."""
    return rama.ALLOWED.get(name, rama.ALLOWED_OTHER), rama.FAVORED


ROTAMER_THRESHOLDS = (rotamer.OUTLIER, rotamer.FAVORED)


def rotamer_file_key(resname: str) -> str:
    """File key of a rotamer type: the Top8000 grid name (``phetyr`` for PHE and TYR)."""
    return rotamer.GRID_FILES.get(resname, resname.lower())


def meets_bars(report: FitReport, slack: float = 0.0) -> bool:
    """True when ``report`` reaches :data:`BARS` (plus ``slack``)."""
    return report.outlier_cells >= BARS[0] + slack and report.agreement >= BARS[1] + slack


def _ladder_fit(grid: Grid, ladder, n_components, name: str, thresholds, seed: int = 0,
                init_centres=None, **kw) -> tuple[PeriodicMixture, FitReport]:
    """Fit with ``n_components``; or with the ladder's first count, then grow (``fit.grow``)
    to each next count and fit again until the bars are met. The report sums all rounds."""
    first = ladder[0] if n_components is None else n_components
    mix, rep = fit_grid(grid, first, init_centres=init_centres, name=name, thresholds=thresholds,
                        seed=seed, **kw)
    iterations, seconds = rep.iterations, rep.seconds
    for k in ladder[1:] if n_components is None else ():
        if meets_bars(rep, SLACK):
            break
        start = grow(mix, grid, k - mix.n_components, thresholds, seed)
        mix, rep = fit_grid(grid, start.n_components, mixture=start, name=name,
                            thresholds=thresholds, seed=seed, **kw)
        iterations, seconds = iterations + rep.iterations, seconds + rep.seconds
    rep = replace(rep, iterations=iterations, seconds=round(seconds, 2))
    mix.meta["fit"] = rep.as_dict()
    return mix, rep


def fit_rama_class(name: str, n_components: int | None = None, iterations: int = 1500,
                   seed: int = 0, **kw) -> tuple[PeriodicMixture, FitReport]:
    """Fit the Top8000 table of Ramachandran class ``name`` (a key of ``rama.TABLES``).

    Components are seeded on the table's cells (see ``fit.seed_centres``); extra keywords go
    to :func:`~cryonb.priors.fit.fit_grid`. MetricUnavailable without Top8000.
    """
    grid = rama.rama_tables()[name]
    kw.setdefault("boundary", RAMA_BOUNDARY)
    return _ladder_fit(grid, RAMA_LADDER, n_components, f"rama {name}", iterations=iterations,
                       seed=seed, thresholds=rama_thresholds(name), **kw)


def rotamer_seeds(resname: str, grid: Grid) -> np.ndarray:
    """(M, D) initial centres, degrees: the Top8000 central rotamer values, then the grid's
    local maxima (3^D neighbourhoods, periodic) that are not outliers, highest first."""
    _, means, _ = rotamer._central_values(
        str(require_table(rotamer.METRIC, f"rotamer_central_values/{resname}.csv")))
    values = grid.values
    peaks = (maximum_filter(values, size=3, mode="wrap") == values) & (values >= rotamer.OUTLIER)
    idx = np.argwhere(peaks)
    idx = idx[np.argsort(-values[tuple(idx.T)], kind="stable")]
    axes = bin_centres(grid)
    maxima = np.array([[axes[d][i[d]] for d in range(values.ndim)] for i in idx])
    return np.concatenate([means[:, :values.ndim], maxima.reshape(-1, values.ndim)])


def fit_rotamer_type(resname: str, n_components: int | None = None, iterations: int | None = None,
                     seed: int = 0, **kw) -> tuple[PeriodicMixture, FitReport]:
    """Fit the Top8000 rotamer grid of ``resname`` (one of ``rotamer.ROTAMERIC``).

    PRO uses its chi1 grid, PHE and TYR the shared phetyr grid, ARG and LYS the 4-D grids
    built from the Top8000 points. Components start at the central rotamers and grid maxima.
    ``iterations`` per rung defaults to :data:`ROTAMER_ITERATIONS` by number of chis.
    """
    grid = rotamer.rotamer_grid(resname)
    iterations = iterations or ROTAMER_ITERATIONS[grid.values.ndim]
    kw.setdefault("boundary", ROTAMER_BOUNDARY)
    return _ladder_fit(grid, ROTAMER_LADDER[grid.values.ndim], n_components,
                       f"rotamer {resname}", init_centres=rotamer_seeds(resname, grid),
                       iterations=iterations, seed=seed, thresholds=ROTAMER_THRESHOLDS, **kw)


def rotamer_fit_types() -> list[str]:
    """One residue name per distinct rotamer grid (TYR shares PHE's)."""
    seen, out = set(), []
    for res in rotamer.ROTAMERIC:
        if rotamer_file_key(res) not in seen:
            seen.add(rotamer_file_key(res))
            out.append(res)
    return out


def write_priors(out_dir: str | os.PathLike = DATA_DIR, rama_iterations: int = 1500,
                 rotamer_iterations: int | None = None, classes=None, residues=None,
                 progress=print) -> dict[str, FitReport]:
    """Fit every Ramachandran class and rotamer grid and write ``rama_<class>.npz`` and
    ``rotamer_<grid>.npz`` to ``out_dir`` plus ``fit_report.json``; returns the reports by
    file stem. ``classes`` / ``residues`` restrict the work; ``progress`` gets one line each."""
    out = Path(out_dir)
    reports: dict[str, FitReport] = {}
    for name in rama.TABLES if classes is None else classes:
        mix, rep = fit_rama_class(name, iterations=rama_iterations)
        mix.save(out / f"rama_{name}.npz")
        reports[f"rama_{name}"] = rep
        if progress:
            progress(_line(rep))
    for res in rotamer_fit_types() if residues is None else residues:
        mix, rep = fit_rotamer_type(res, iterations=rotamer_iterations)
        mix.save(out / f"rotamer_{rotamer_file_key(res)}.npz")
        reports[f"rotamer_{rotamer_file_key(res)}"] = rep
        if progress:
            progress(_line(rep))
    summary = out / "fit_report.json"
    old = json.loads(summary.read_text()) if summary.exists() else {}
    old.update({k: r.as_dict() for k, r in reports.items()})
    summary.write_text(json.dumps(old, indent=1) + "\n")
    return reports


def install_priors(src: str | os.PathLike, dest: str | os.PathLike = DATA_DIR) -> list[Path]:
    """Copy the ``rama_*.npz`` / ``rotamer_*.npz`` files of ``src`` (and its fit_report.json,
    merged) into ``dest`` (default: the package's data/priors); returns the written paths."""
    src, dest = Path(src), Path(dest)
    written = []
    for path in sorted([*src.glob("rama_*.npz"), *src.glob("rotamer_*.npz")]):
        with atomic_path(dest / path.name) as tmp:
            shutil.copyfile(path, tmp)
        written.append(dest / path.name)
    if (src / "fit_report.json").exists():
        summary = dest / "fit_report.json"
        merged = json.loads(summary.read_text()) if summary.exists() else {}
        merged.update(json.loads((src / "fit_report.json").read_text()))
        summary.write_text(json.dumps(merged, indent=1) + "\n")
        written.append(summary)
    _load.cache_clear()
    return written


def _line(r: FitReport) -> str:
    return (f"{r.name:18s} K={r.n_components:5d} rms_log={r.rms_log:.3f} "
            f"outliers={100 * r.outlier_cells:.2f}% agree={100 * r.agreement:.2f}% {r.seconds:.1f}s")


@dataclass(frozen=True)
class Priors:
    """The shipped mixtures: ``rama[class]`` and ``rotamer[resname]`` (TYR is PHE's object)."""

    rama: dict[str, PeriodicMixture] = field(default_factory=dict)
    rotamer: dict[str, PeriodicMixture] = field(default_factory=dict)
    path: Path | None = None


def load_priors(path: str | os.PathLike | None = None) -> Priors:
    """Read the mixtures in ``path`` (default: the package's ``data/priors``), once per path.

    The mixtures are shared between callers: copy one before changing its parameters.
    """
    return _load(str(Path(path or DATA_DIR).resolve()))


@lru_cache(maxsize=4)
def _load(path: str) -> Priors:
    folder = Path(path)
    missing = [f"rama_{n}.npz" for n in rama.TABLES if not (folder / f"rama_{n}.npz").exists()]
    missing += [f"rotamer_{rotamer_file_key(r)}.npz" for r in rotamer.ROTAMERIC
                if not (folder / f"rotamer_{rotamer_file_key(r)}.npz").exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing prior files {', '.join(sorted(set(missing)))}; "
                                "run tools/fit_priors.py --out <folder>")
    rama_mix = {n: PeriodicMixture.load(folder / f"rama_{n}.npz") for n in rama.TABLES}
    by_key = {rotamer_file_key(r): None for r in rotamer.ROTAMERIC}
    by_key = {k: PeriodicMixture.load(folder / f"rotamer_{k}.npz") for k in by_key}
    for m in [*rama_mix.values(), *by_key.values()]:
        m.requires_grad_(False)
    rot = {r: by_key[rotamer_file_key(r)] for r in rotamer.ROTAMERIC}
    return Priors(rama_mix, rot, folder)
