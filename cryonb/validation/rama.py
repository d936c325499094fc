"""Ramachandran validation with MolProbity's Top8000 contours (as cctbx's ramalyze does).

Each amino acid with both phi and psi falls into one of six classes, tested in this order:
Gly; trans-Pro / cis-Pro (cis when the peptide before the Pro has |omega| < 90 degrees,
ramalyze's split); pre-Pro (followed by a Pro, not Gly/Pro itself); Ile/Val; general. Its
score is the class's rama8000 table (percentile of Top8000 residues in lower-density regions)
interpolated bilinearly at (phi, psi). Favoured: score >= 0.02; allowed: >= 0.0005 (general),
0.002 (cis-Pro) or 0.001 (others); else outlier.

>>> from cryonb import data
>>> result = ramachandran(data.adk_closed())
>>> round(result.favored_pct, 1), result.outliers
(95.8, [])
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from .dihedrals import Torsions, is_cis, residue_torsions
from .categories import CategoryCounts
from .reference_data import Grid, interpolate, load_grid

METRIC = "rama"
TABLES = {
    "general": "rama8000-general-noGPIVpreP.data",
    "gly": "rama8000-gly-sym.data",
    "cis-pro": "rama8000-cispro.data",
    "trans-pro": "rama8000-transpro.data",
    "pre-pro": "rama8000-prepro-noGP.data",
    "ile-val": "rama8000-ileval-nopreP.data",
}
FAVORED = 0.02
ALLOWED = {"general": 0.0005, "cis-pro": 0.002}   # all other classes: 0.001
ALLOWED_OTHER = 0.001


@dataclass(frozen=True)
class RamaResidue:
    """One evaluated residue: angles in degrees; score is a fraction (MolProbity prints 100x)."""

    chain: str
    seqid: str
    resname: str
    rama_class: str     # one of TABLES
    phi: float
    psi: float
    score: float
    category: str       # "favored", "allowed" or "outlier"


@dataclass(frozen=True)
class RamaResult(CategoryCounts):
    """Per-residue records and summary percentages over the evaluated residues."""

    residues: list[RamaResidue]



def rama_tables() -> dict[str, Grid]:
    """The six Top8000 rama8000 tables by class (read once); MetricUnavailable without them."""
    return {cls: load_grid(METRIC, f"rama/{name}") for cls, name in TABLES.items()}


def rama_classes(t: Torsions) -> np.ndarray:
    """(n,) MolProbity Ramachandran class of each residue of ``t``."""
    return classify(t.resname, t.next_resname, t.omega)


def classify(resname, next_resname, omega) -> np.ndarray:
    """(n,) class from residue names, the next residue's names and the omega (degrees, NaN when
    unknown) of the peptide before each residue."""
    resname, next_resname = np.asarray(resname, dtype=object), np.asarray(next_resname, dtype=object)
    classes = np.full(len(resname), "general", dtype=object)
    pro = resname == "PRO"
    classes[np.isin(resname, ["ILE", "VAL"])] = "ile-val"
    classes[next_resname == "PRO"] = "pre-pro"
    classes[pro & is_cis(omega)] = "cis-pro"
    classes[pro & ~is_cis(omega)] = "trans-pro"
    classes[resname == "GLY"] = "gly"
    return classes


def rama_scores(classes: np.ndarray, phi: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """Top8000 scores (fractions) at (phi, psi) degrees for residues of the given classes."""
    tables = rama_tables()
    classes = np.asarray(classes, dtype=object)
    points = np.column_stack([phi, psi]).astype(float)
    scores = np.full(len(classes), np.nan)
    for cls in np.unique(classes):
        sel = classes == cls
        scores[sel] = interpolate(tables[cls], points[sel])
    return scores


def rama_category(rama_class: str, score: float) -> str:
    """``"favored"``, ``"allowed"`` or ``"outlier"`` by MolProbity's cut-offs."""
    if score >= FAVORED:
        return "favored"
    return "allowed" if score >= ALLOWED.get(rama_class, ALLOWED_OTHER) else "outlier"


def ramachandran(st: gemmi.Structure, torsions: Torsions | None = None) -> RamaResult:
    """Evaluate every amino acid of model 1 that has both phi and psi.

    Raises :class:`~cryonb.validation.reference_data.MetricUnavailable` (``str()`` reads
    ``"rama: not computed (...)"``) when the Top8000 tables cannot be found.
    """
    t = residue_torsions(st) if torsions is None else torsions
    rama_tables()                                     # fail early and clearly without tables
    ok = np.flatnonzero(np.isfinite(t.phi) & np.isfinite(t.psi))
    classes = rama_classes(t)[ok]
    scores = rama_scores(classes, t.phi[ok], t.psi[ok])
    residues = [RamaResidue(t.chain[i], t.seqid[i], t.resname[i], c, float(t.phi[i]),
                            float(t.psi[i]), float(s), rama_category(c, s))
                for i, c, s in zip(ok, classes, scores)]
    return RamaResult(residues)
