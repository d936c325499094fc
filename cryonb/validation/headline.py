"""The headline metrics: one list, used by every report, before/after table and run record.

``cryonb validate`` prints them, ``cryonb refine`` and notebook 05 compare them before and
after, a series reports them per frame, and every run's ``metrics.json`` holds them
(:mod:`cryonb.runs`). A metric that does not apply (no ligand, no RNA, no map) is ``None``.

>>> [m.key for m in HEADLINE][:3]
['fsc_average', 'fsc05_resolution', 'cc_mask']
>>> metric("clashscore").better(2.0, 5.0)
True
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One headline metric: its JSON key, a label, a format, MolProbity's goal (if any), which
    way is better, and whether it needs a map."""

    key: str
    label: str
    fmt: str
    goal: str = ""
    higher_is_better: bool = False
    needs_map: bool = False

    def better(self, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b

    def worst(self, values) -> float:
        """The worst of ``values`` (min when higher is better, else max)."""
        return min(values) if self.higher_is_better else max(values)


HEADLINE: tuple[Metric, ...] = (
    Metric("fsc_average", "Model-map FSC average", "{:.3f}", "", True, True),
    Metric("fsc05_resolution", "Model-map FSC=0.5", "{:.2f} Å", "", False, True),
    Metric("cc_mask", "CC_mask", "{:.3f}", "", True, True),
    Metric("qscore", "Q-score", "{:.3f}", "", True, True),
    Metric("molprobity_score", "MolProbity score", "{:.2f}"),
    Metric("clashscore", "Clashscore", "{:.2f}"),
    Metric("rama_favored_pct", "Ramachandran favoured", "{:.2f} %", "> 98 %", True),
    Metric("rama_outliers_pct", "Ramachandran outliers", "{:.2f} %", "< 0.05 %"),
    Metric("rotamer_outliers_pct", "Rotamer outliers", "{:.2f} %", "< 0.3 %"),
    Metric("cbeta_deviations", "C-beta deviations > 0.25 Å", "{:d}", "0"),
    Metric("n_twisted", "Twisted peptides", "{:d}", "0"),
    Metric("n_cis_general", "Cis non-proline peptides", "{:d}"),
    Metric("bond_rmsz", "Bond RMSZ", "{:.3f}"),
    Metric("angle_rmsz", "Angle RMSZ", "{:.3f}"),
    Metric("bond_outliers_z5", "Bonds |Z| > 5", "{:d}", "0"),
    Metric("angle_outliers_z5", "Angles |Z| > 5", "{:d}", "0"),
    Metric("ligand_bond_rmsz", "Ligand bond RMSZ", "{:.3f}"),
    Metric("ligand_angle_rmsz", "Ligand angle RMSZ", "{:.3f}"),
    Metric("rna_suiteness", "RNA suiteness", "{:.3f}", "", True),
)
KEYS: list[str] = [m.key for m in HEADLINE]
MODEL_KEYS: list[str] = [m.key for m in HEADLINE if not m.needs_map]
MAP_KEYS: list[str] = [m.key for m in HEADLINE if m.needs_map]
OPTIONAL_PREFIXES = ("ligand_", "rna_")   # None unless the model has ligands / RNA


def metric(key: str) -> Metric:
    """The headline metric named ``key``."""
    for m in HEADLINE:
        if m.key == key:
            return m
    raise KeyError(f"{key!r} is not a headline metric; they are {', '.join(KEYS)}")
