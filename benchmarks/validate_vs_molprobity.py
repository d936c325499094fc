"""cryonb validate next to cctbx's MolProbity (reduce + probe) on AdK closed, clean and noisy.

Usage: python benchmarks/validate_vs_molprobity.py [--seed N] [--no-timing]
Needs the `validation` extra and king-probe (see cryonb.validation.molprobity). For AdK closed
and copies with 0.1 and 0.3 Å Gaussian noise per axis (cryonb.perturb.jitter), prints each
acceptance metric twice (cryonb | MolProbity) with the difference, then the wall time of
`cryonb validate` on AdK (1,656 atoms) and on CFTR 6MSM (about 9,500 atoms).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryonb import data
from cryonb.io import write_model
from cryonb.perturb import jitter
from cryonb.validation.molprobity import missing, molprobity_reference
from cryonb.validation.report import validate_model
from cryonb.validation.rotamer import rotamers

DERIVED = {"ARG", "LYS"}   # residue types without a released Top8000 grid


def grid_types_outlier_pct(rows, outlier) -> float:
    rows = [r for r in rows if r[0] not in DERIVED]
    return 100.0 * sum(outlier(r) for r in rows) / len(rows)


def compare(st) -> list[tuple[str, float, float, str]]:
    ours = validate_model(st).summary
    ref = molprobity_reference(st)
    rota = rotamers(st)
    ours_rota = grid_types_outlier_pct([(r.resname, r.category) for r in rota.residues],
                                       lambda r: r[1] == "outlier")
    ref_rota = grid_types_outlier_pct([(r["resname"], r["outlier"]) for r in ref["rotamer_residues"]],
                                      lambda r: bool(r[1]))
    return [("Rama outliers (count)", ours["rama_outliers"], ref["rama_outliers"], "within 1"),
            ("Rotamer outliers % (16 grid types)", ours_rota, ref_rota, "within 1.5 points"),
            ("Bond RMSZ (CDL, cctbx default)", ours["bond_rmsz"], ref["bond_rmsz"], "within 10 %"),
            ("Bond RMSZ (library, CDL off)", ours["bond_rmsz_library"], ref["bond_rmsz_library"], "within 10 %"),
            ("Angle RMSZ (CDL)", ours["angle_rmsz"], ref["angle_rmsz"], "(info)"),
            ("Angle RMSZ (library)", ours["angle_rmsz_library"], ref["angle_rmsz_library"], "(info)"),
            ("C-beta deviations >= 0.25 Å", ours["cbeta_deviations"], ref["cbeta_deviations"], "within 2"),
            ("Clashscore", ours["clashscore"], ref["clashscore"], "within 15 %"),
            ("Twisted peptides", ours["n_twisted"], ref["n_twisted"], "(info)")]


def timing(st, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_model(st, Path(tmp) / "model.cif")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cryonb.cli", "validate", str(path), "--json",
                        str(Path(tmp) / "report.json")], check=True, capture_output=True)
        n = sum(1 for r in st[0][0] for _ in r) if len(st[0]) == 1 else st[0].count_atom_sites()
        print(f"cryonb validate {label} ({n} atoms): {time.perf_counter() - t0:.1f} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    reason = missing()
    if reason:
        raise SystemExit(f"MolProbity reference unavailable: {reason}")
    closed = data.adk_closed()
    for label, st in [("AdK closed", closed), ("AdK closed + 0.1 Å", jitter(closed, 0.1, args.seed)),
                      ("AdK closed + 0.3 Å", jitter(closed, 0.3, args.seed))]:
        print(f"\n{label}")
        print(f"  {'metric':<36} {'cryonb':>9} {'MolProbity':>11}  bar")
        for name, ours, ref, bar in compare(st):
            print(f"  {name:<36} {ours:>9.2f} {ref:>11.2f}  {bar}")
    if not args.no_timing:
        print()
        timing(closed, "AdK closed")
        timing(data.load_corpus_structure("6MSM"), "CFTR 6MSM")


if __name__ == "__main__":
    main()
