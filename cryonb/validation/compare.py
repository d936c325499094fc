"""Output against input: did a refinement make anything worse that it should never make worse?

A refinement that raises the clashscore, twists or flips a peptide, or worsens ligand geometry
relative to its input says so (``cryonb refine`` prints each finding and writes them to
``metrics.json`` under ``harm``), so a user never trusts a run that damaged a good model.

>>> worse_than_input({"clashscore": 3.0, "n_twisted": 0}, {"clashscore": 5.2, "n_twisted": 2})
['clashscore rose from 3.00 to 5.20', 'twisted peptides rose from 0 to 2']
"""
from __future__ import annotations

# key, label, tolerance (how much worse is still the same), format
WATCHED = [("clashscore", "clashscore", 0.05, "{:.2f}"),
           ("n_twisted", "twisted peptides", 0, "{:d}"),
           ("n_cis_general", "cis non-proline peptides", 0, "{:d}"),
           ("rama_outliers", "Ramachandran outliers", 0, "{:d}"),
           ("cbeta_deviations", "C-beta deviations", 0, "{:d}"),
           ("ligand_bond_rmsz", "ligand bond RMSZ", 0.02, "{:.3f}"),
           ("ligand_angle_rmsz", "ligand angle RMSZ", 0.02, "{:.3f}")]


def worse_than_input(before: dict, after: dict) -> list[str]:
    """One sentence per watched metric that is worse in ``after`` than in ``before`` (validation
    summaries) by more than its tolerance; metrics missing from either are skipped."""
    out = []
    for key, label, tolerance, fmt in WATCHED:
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            continue
        if b > a + tolerance:
            out.append(f"{label} rose from {fmt.format(a)} to {fmt.format(b)}")
    return out
