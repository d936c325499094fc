"""Favoured / allowed / outlier tallies shared by the Ramachandran and rotamer results."""
from __future__ import annotations


class CategoryCounts:
    """Mixin for results with ``residues`` whose records carry ``category``
    ("favored", "allowed" or "outlier"); percentages are over the evaluated residues."""

    residues: list

    @property
    def n_evaluated(self) -> int:
        return len(self.residues)

    def _pct(self, category: str) -> float:
        n = sum(r.category == category for r in self.residues)
        return 100.0 * n / self.n_evaluated if self.residues else float("nan")

    @property
    def favored_pct(self) -> float:
        return self._pct("favored")

    @property
    def allowed_pct(self) -> float:
        return self._pct("allowed")

    @property
    def outliers_pct(self) -> float:
        return self._pct("outlier")

    @property
    def outliers(self) -> list:
        return [r for r in self.residues if r.category == "outlier"]

    @property
    def n_outliers(self) -> int:
        return len(self.outliers)

    def summary(self) -> dict:
        """The summary numbers as a plain dict (for metrics.json)."""
        return {"n_evaluated": self.n_evaluated, "favored_pct": self.favored_pct,
                "allowed_pct": self.allowed_pct, "outliers_pct": self.outliers_pct,
                "n_outliers": self.n_outliers}
