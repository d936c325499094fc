"""cctbx's MolProbity numbers for AdK closed, clean and with 0.1 / 0.3 Å Gaussian noise per axis.

Usage: python benchmarks/molprobity_reference.py [--out DIR] [--seed N]
Needs the `validation` extra and king-probe (see cryonb.validation.molprobity). Prints one
row per model (Ramachandran, rotamer, Cβ, cis/twisted peptides, clashscore, bond/angle RMSZ
with and without the CDL) and the seconds each step took; the clean AdK open model is added
as the model behind DATA.md's clean figures.
"""
from __future__ import annotations

import argparse
import time

from cryonb import data
from cryonb.perturb import jitter
from cryonb.runs import run_folder, write_json
from cryonb.validation.molprobity import missing, molprobity_reference

COLUMNS = [("rama out %", "rama_outliers_pct", 10, ".2f"),
           ("rama fav %", "rama_favored_pct", 10, ".1f"),
           ("rota out %", "rotamer_outliers_pct", 10, ".1f"),
           ("rota out % (16)", "rotamer_outliers_pct_released", 15, ".1f"),
           ("Cb>=.25", "cbeta_deviations", 7, "d"), ("cis", "n_cis", 3, "d"),
           ("twist", "n_twisted", 5, "d"), ("clash", "clashscore", 7, ".1f"),
           ("bond Z", "bond_rmsz", 6, ".2f"), ("angle Z", "angle_rmsz", 7, ".2f"),
           ("bond Z lib", "bond_rmsz_library", 10, ".2f"), ("wall s", "wall_s", 6, ".1f")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for metrics.json")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise")
    args = parser.parse_args()
    reason = missing()
    if reason:
        raise SystemExit(f"MolProbity reference unavailable: {reason}")
    closed = data.adk_closed()
    models = [("closed", closed), ("closed +0.1", jitter(closed, 0.1, args.seed)),
              ("closed +0.3", jitter(closed, 0.3, args.seed)), ("open", data.adk_open())]
    rows = []
    for name, st in models:
        t0 = time.perf_counter()
        r = molprobity_reference(st)
        r.update(model=name, wall_s=time.perf_counter() - t0)
        rows.append(r)
    print(f"{'model':12s} " + " ".join(f"{h:>{w}s}" for h, _, w, _ in COLUMNS))
    for r in rows:
        cells = ["-".rjust(w) if r[k] is None else f"{r[k]:{w}{f}}" for _, k, w, f in COLUMNS]
        print(f"{r['model']:12s} " + " ".join(cells))
    print("\nseconds per step (child process; total includes cctbx start-up)")
    for r in rows:
        print(f"{r['model']:12s} " + " ".join(f"{k} {v:.2f}" for k, v in r["seconds"].items()))
    print("\nversions:", rows[0]["versions"])
    print("reduce:", " | ".join(rows[0]["commands"]["reduce"]))
    print("probe:", rows[0]["commands"]["probe"].split('" ', 1)[-1])
    print(f"clean AdK closed clashes ({rows[0]['n_clashes']} / {rows[0]['n_atoms_probe']} atoms):")
    for a, b, overlap in rows[0]["clashes"]:
        print(f"  {a} {b} {overlap:.3f}")
    if args.out:
        slim = [{k: v for k, v in r.items() if k not in ("rotamer_residues", "clashes")}
                for r in rows]
        print("wrote", write_json({"rows": slim}, run_folder(args.out) / "metrics.json"))


if __name__ == "__main__":
    main()
