"""One validation report: MolProbity metrics, map fit, per-residue table, and what was not computed.

``validate_model(st, map, resolution)`` returns a :class:`ValidationReport` whose
``summary`` holds the headline numbers (:mod:`.headline`) under stable JSON keys: bond and angle RMSZ against the
conformation-dependent library (cctbx's default), ``*_rmsz_library`` against the plain CCP4
library values. A metric that cannot be computed here (reference tables absent, no residues of
a kind) is ``None`` in the summary and explained in ``unavailable``, never a silent zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import gemmi
import numpy as np

from ..density.fsc import FSCCurve
from ..errors import MapError
from ..geometry.cdl import cdl_restraints
from ..geometry.library import RestraintLibrary
from ..geometry.topology import build_topology
from ..maps import Map
from . import geometry
from .dihedrals import residue_torsions
from .map_fit import map_fit_metrics
from .headline import MAP_KEYS
from .rama import ramachandran
from .reference_data import CREDIT, MetricUnavailable
from .rotamer import rotamers
from .suites import suites



@dataclass
class ValidationReport:
    summary: dict
    residues: list[dict]
    outliers: list[geometry.Outlier]
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fsc: FSCCurve | None = None   # model vs map, when a map was given

    def as_json(self) -> dict:
        return {**self.summary, "unavailable": self.unavailable, "notes": self.notes,
                "outliers": [o.__dict__ for o in self.outliers], "residues": self.residues,
                "reference_data": CREDIT}


def molprobity_score(clashscore: float, rotamer_outliers_pct: float, rama_favored_pct: float) -> float:
    """MolProbity score (Chen et al. 2010): lower is better, comparable to a crystallographic resolution."""
    return (0.426 * math.log(1 + clashscore)
            + 0.33 * math.log(1 + max(0.0, rotamer_outliers_pct - 1))
            + 0.25 * math.log(1 + max(0.0, (100 - rama_favored_pct) - 2)) + 0.5)


def validate_model(st: gemmi.Structure, m: Map | None = None, resolution: float | None = None,
                   library: RestraintLibrary | None = None) -> ValidationReport:
    """Validate the first model of ``st`` (and its fit to map ``m`` at ``resolution`` Å if given)."""
    library = library or RestraintLibrary()
    topo = build_topology(st, library, warn=False)
    xyz = topo.xyz(st)
    s: dict = {"n_residues": sum(r.polymer is not None for r in topo.residues), "n_atoms": topo.n_atoms}
    unavailable: dict[str, str] = {}
    rows = {k: {"chain": r.chain, "seqid": r.seqid, "resname": r.name} for k, r in enumerate(topo.residues)
            if r.polymer is not None}
    by_id = {(r["chain"], r["seqid"]): r for r in rows.values()}

    cov, outliers = geometry.covalent_geometry(topo, xyz, cdl_restraints(topo, xyz))
    s.update(cov)
    library_values, _ = geometry.covalent_geometry(topo, xyz)
    s.update(bond_rmsz_library=library_values["bond_rmsz"], angle_rmsz_library=library_values["angle_rmsz"])
    dev, dev_res = geometry.cbeta_deviations(topo, xyz)
    s["cbeta_deviations"] = int((dev >= geometry.CBETA_OUTLIER).sum())
    for d, k in zip(dev, dev_res):
        rows[k]["cbeta_deviation"] = round(float(d), 3)
    omega = geometry.omega_summary(topo, xyz)
    s.update({k: v for k, v in omega.items() if k.startswith("n_")})
    s["twisted_residues"] = omega["twisted_residues"]
    s["cis_general_residues"] = [label for label in omega["cis_residues"] if "/PRO" not in label]
    s["clashscore"], clash_pairs, s["n_atoms_with_h"] = geometry.clash_list(topo, library, xyz)
    outliers += clash_pairs
    _torsion_metrics(st, s, unavailable, by_id)
    _suites(st, s, unavailable)
    if None in (s.get("rama_favored_pct"), s.get("rotamer_outliers_pct")):
        s["molprobity_score"] = None
        unavailable["molprobity_score"] = "needs the Ramachandran and rotamer metrics"
    else:
        s["molprobity_score"] = molprobity_score(s["clashscore"], s["rotamer_outliers_pct"], s["rama_favored_pct"])
    fsc = _map_metrics(st, m, resolution, s, unavailable, by_id) if m is not None else None
    return ValidationReport(s, list(rows.values()), outliers, unavailable, list(topo.notes), fsc)


def _torsion_metrics(st, s: dict, unavailable: dict, by_id: dict) -> None:
    torsions = residue_torsions(st)
    try:
        rama = ramachandran(st, torsions)
        s.update(rama_favored_pct=rama.favored_pct, rama_allowed_pct=rama.allowed_pct,
                 rama_outliers_pct=rama.outliers_pct, rama_outliers=rama.n_outliers)
        for r in rama.residues:
            by_id.get((r.chain, r.seqid), {}).update(rama=r.category, rama_class=r.rama_class,
                                                     phi=round(r.phi, 1), psi=round(r.psi, 1))
    except MetricUnavailable as e:
        for k in ("rama_favored_pct", "rama_allowed_pct", "rama_outliers_pct", "rama_outliers"):
            s[k] = None
            unavailable[k] = e.reason
    try:
        rota = rotamers(st, torsions)
        s.update(rotamer_outliers_pct=rota.outliers_pct, rotamer_favored_pct=rota.favored_pct,
                 rotamer_outliers=rota.n_outliers)
        for r in rota.residues:
            by_id.get((r.chain, r.seqid), {}).update(rotamer=r.rotamer, rotamer_score=round(r.score, 4))
        for name, why in rota.not_evaluated.items():
            unavailable[f"rotamer {name}"] = why
    except MetricUnavailable as e:
        for k in ("rotamer_outliers_pct", "rotamer_favored_pct", "rotamer_outliers"):
            s[k] = None
            unavailable[k] = e.reason
    for k in ("rama_favored_pct", "rama_outliers_pct", "rotamer_outliers_pct"):
        if isinstance(s.get(k), float) and np.isnan(s[k]):
            s[k] = None
            unavailable[k] = "no residues to evaluate"


def _suites(st, s: dict, unavailable: dict) -> None:
    res = suites(st)
    s["n_rna_suites"] = res.n_suites
    s["rna_suiteness"] = float(res.mean_suiteness) if res.n_suites else None
    s["rna_suite_outliers"] = res.n_outliers if res.n_suites else None


def _map_metrics(st, m: Map, resolution: float | None, s: dict, unavailable: dict, by_id: dict):
    if resolution is None or not resolution > 0:
        raise MapError(m.path, "a map needs a resolution (Å) for model-map FSC, CC_mask and Q-score")
    fit = map_fit_metrics(st, m, resolution)
    for k in MAP_KEYS:
        s[k] = fit[k]
    for rq in fit["qscore_residues"]:
        by_id.get((rq.chain, rq.seqid), {})["qscore"] = round(float(rq.q), 3)
    return fit["fsc_curve"]
