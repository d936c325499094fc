"""Side-chain rotamer validation with MolProbity's Top8000 rotamer contours (as rotalyze does).

A residue's score is its Top8000 rotamericity: the fraction of reference residues of its type
lying in lower-density chi space, interpolated from the type's percentile grid at its chi
angles (rotalyze's ``evaluate``). Outlier: score < 0.003 (0.3 %); favoured: >= 0.02 (2 %);
allowed between. The 16 shipped grids are used as rotalyze uses them: PHE and TYR share
``phetyr``; Leu uses ``rota8000-leu.data``; Pro is scored on chi1 alone (``rota8000-pro.data``)
but needs all three ring chis; the 0-180 chi ranges of Asp chi2, Glu chi3 and Phe/Tyr chi2
fold those angles modulo 180. ARG and LYS 4-D grids are built from the Top8000 residue points
(:func:`~cryonb.validation.reference_data.built_rotamer_grid`). A residue is evaluated when
the atoms of all its chi angles are present (rotalyze's rule); GLY and ALA have no rotamers.
Non-outliers are named after the nearest Top8000 central rotamer (rotamer_central_values/).

>>> from cryonb import data
>>> result = rotamers(data.adk_closed())
>>> round(result.outliers_pct, 2), [(r.resname, r.seqid) for r in result.outliers][:3]
(3.43, [('ARG', '2'), ('LYS', '40'), ('GLN', '74')])
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache

import gemmi
import numpy as np

from .dihedrals import CHI_ATOMS, Torsions, residue_torsions
from .categories import CategoryCounts
from .reference_data import (Grid, MetricUnavailable, built_rotamer_grid, interpolate, load_grid,
                             require_table, top8000_dir)

METRIC = "rotamer"
GRID_FILES = {"ASN": "asn", "ASP": "asp", "CYS": "cys", "GLN": "gln", "GLU": "glu", "HIS": "his",
              "ILE": "ile", "LEU": "leu", "MET": "met", "PHE": "phetyr", "PRO": "pro",
              "SER": "ser", "THR": "thr", "TRP": "trp", "TYR": "phetyr", "VAL": "val"}
BUILT = ("ARG", "LYS")
ROTAMERIC = tuple(sorted(set(GRID_FILES) | set(BUILT)))
OUTLIER = 0.003
FAVORED = 0.02
SYMMETRIC_LAST_CHI = frozenset({"ASP", "GLU", "PHE", "TYR"})   # last chi has period 180


@dataclass(frozen=True)
class RotamerResidue:
    """One evaluated side chain: chis in degrees; score a fraction (rotalyze prints 100x)."""

    chain: str
    seqid: str
    resname: str
    chis: tuple[float, ...]
    score: float
    category: str       # "favored", "allowed" or "outlier"
    rotamer: str        # nearest Top8000 rotamer name, "OUTLIER" for outliers


@dataclass(frozen=True)
class RotamerResult(CategoryCounts):
    """Per-residue records, summary percentages, and residue types that could not be scored."""

    residues: list[RotamerResidue]
    not_evaluated: dict[str, str] = field(default_factory=dict)   # resname -> reason

    @property
    def residue_types(self) -> list[str]:
        """Residue types that were scored (sorted)."""
        return sorted({r.resname for r in self.residues})

    def summary(self) -> dict:
        """The summary numbers as a plain dict (for metrics.json)."""
        return {**super().summary(), "residue_types": self.residue_types}


def rotamer_grid(resname: str) -> Grid:
    """The Top8000 percentile grid scoring ``resname`` (read or built once); MetricUnavailable."""
    if resname in BUILT:
        return built_rotamer_grid(resname)
    if resname not in GRID_FILES:
        raise KeyError(f"{resname} has no rotamer grid; rotameric types: {', '.join(ROTAMERIC)}")
    return load_grid(METRIC, f"rotamer_grids/rota8000-{GRID_FILES[resname]}.data")


def rotamer_scores(resname: str, chis: np.ndarray) -> np.ndarray:
    """Scores (fractions) for (m, k) chi angles in degrees of residues named ``resname``."""
    grid = rotamer_grid(resname)
    chis = np.atleast_2d(np.asarray(chis, dtype=float))
    return interpolate(grid, chis[:, :grid.values.ndim])


@lru_cache(maxsize=32)
def _central_values(path: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    nchi = sum(1 for key in rows[0] if key.startswith("chi") and key.endswith("_mean"))
    names = [row["rotamer"] for row in rows]
    means = np.array([[float(row[f"chi{i + 1}_mean"]) for i in range(nchi)] for row in rows])
    esds = np.array([[float(row[f"chi{i + 1}_esd"]) for i in range(nchi)] for row in rows])
    return names, means, esds


def rotamer_names(resname: str, chis: np.ndarray) -> list[str]:
    """Nearest Top8000 central rotamer for (m, k) chi angles: periodic chi differences in units
    of each rotamer's esd (this agrees with rotalyze's named boxes far better than raw degrees)."""
    names, centres, esds = _central_values(
        str(require_table(METRIC, f"rotamer_central_values/{resname}.csv")))
    chis = np.atleast_2d(np.asarray(chis, dtype=float))[:, :centres.shape[1]]
    diff = chis[:, None, :] - centres[None, :, :]
    period = np.full(centres.shape[1], 360.0)
    if resname in SYMMETRIC_LAST_CHI:
        period[-1] = 180.0
    diff = np.mod(diff + period / 2, period) - period / 2
    return [names[i] for i in np.argmin(((diff / esds) ** 2).sum(axis=2), axis=1)]


def rotamer_category(score: float) -> str:
    """``"favored"`` (>= 2 %), ``"allowed"`` or ``"outlier"`` (< 0.3 %)."""
    return "favored" if score >= FAVORED else "allowed" if score >= OUTLIER else "outlier"


def rotamers(st: gemmi.Structure, torsions: Torsions | None = None) -> RotamerResult:
    """Score every rotameric side chain of model 1 whose chi atoms are all present.

    Raises MetricUnavailable (``"rotamer: not computed (...)"``) when no Top8000 folder is
    found or none of the needed tables is there; residue types whose own table is missing
    while others are present are listed in ``not_evaluated``.
    """
    if top8000_dir() is None:
        raise MetricUnavailable(METRIC, "Top8000 tables not found; set CRYONB_TOP8000")
    t = residue_torsions(st) if torsions is None else torsions
    records: dict[int, RotamerResidue] = {}
    skipped: dict[str, str] = {}
    for resname in ROTAMERIC:
        nchi = len(CHI_ATOMS[resname])
        idx = np.flatnonzero((t.resname == resname) & np.isfinite(t.chi[:, :nchi]).all(axis=1))
        if len(idx) == 0:
            continue
        chis = t.chi[idx, :nchi]
        try:
            scores = rotamer_scores(resname, chis)
            names = rotamer_names(resname, chis)
        except MetricUnavailable as exc:
            skipped[resname] = exc.reason
            continue
        for i, c, s, name in zip(idx, chis, scores, names):
            cat = rotamer_category(s)
            records[i] = RotamerResidue(t.chain[i], t.seqid[i], resname, tuple(map(float, c)),
                                        float(s), cat, "OUTLIER" if cat == "outlier" else name)
    if skipped and not records:
        raise MetricUnavailable(METRIC, next(iter(skipped.values())))
    return RotamerResult([records[i] for i in sorted(records)], skipped)
