"""Fit the shipped Ramachandran and rotamer priors to the Top8000 tables and write them.

    python tools/fit_priors.py --out cryonb/data/priors [--iterations N] [--only general LEU ...]

Writes rama_<class>.npz and rotamer_<grid>.npz (see cryonb.priors.tables.write_priors), merges
the fit figures into fit_report.json and regenerates README.md (attribution + figures) in
--out. Runs torch on one thread; needs the Top8000 tables (CRYONB_TOP8000).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from cryonb.priors import tables
from cryonb.validation import rama, rotamer

HEADER = """\
# Differentiable Ramachandran and rotamer priors (periodic Gaussian mixtures)

Each `.npz` holds one `cryonb.priors.PeriodicMixture` (float32 `centres` (K, D) and `widths`
(K, D) in degrees, `log_amp` (K,), `period` (D,) in degrees, and JSON `meta` with the name,
thresholds and fit figures). `G(x) = sum_k a_k exp(-0.5 sum_d (wrap_d(x_d - mu_kd) / s_kd)^2)`
approximates a Top8000 rotamericity table R; categories use G with MolProbity's cut-offs.
Load them with `cryonb.priors.load_priors()`.

## Data and licence

Derived from the Top8000 reference data of the Richardson lab, Duke University
(https://github.com/rlabduke/reference_data), licensed CC-BY 4.0
(https://creativecommons.org/licenses/by/4.0/): the rama8000 Ramachandran tables, the
rota8000 rotamer grids, and for ARG and LYS 4-D grids rebuilt by cryonb from the Top8000
rotamer points (`cryonb.validation.reference_data.built_rotamer_grid`). The mixtures are
fitted approximations, not the original tables. Please cite:

- Williams CJ, Headd JJ, Moriarty NW, et al. MolProbity: More and better reference data for
  improved all-atom structure validation. Protein Science 27:293-315 (2018).
  doi:10.1002/pro.3330

## How they were made

`{command}` ({when}; torch {torch} on one CPU thread, {machine}). Each table is fitted by
`cryonb.priors.fit.fit_grid`: Adam on the parameters, loss = mean squared error of
ln(G + e^-10) against ln(R + e^-10) on every bin centre, plus hinge penalties that push G below
0.8 x threshold on cells below each threshold (allowed/outlier, favoured) and above
threshold / 0.8 on cells at or above it. Ramachandran components are seeded on the table's
cells (k-means++ style, weighted by the height of ln(R + e^-10) above -10); rotamer components
at the Top8000 central rotamers and the grid's local maxima first. Component counts climb a
ladder (`cryonb.priors.tables.RAMA_LADDER`, `ROTAMER_LADDER`), each rung adding components on
the cells whose category still disagrees, until both bars hold with 0.1 % to spare.

## Fit figures (recomputed from the stored float32 parameters, on every table cell)

Bars: >= 99.5 % of the table's outlier cells are outliers under G; >= 99 % of cells agree
in category (favoured / allowed / outlier). rms_log: rms of ln(G + e^-10) - ln(R + e^-10);
rms: rms of G - R. Seconds: fitting time of that table.

| file | table | K | iterations | rms_log | rms | outlier cells kept | categories agree | seconds |
|---|---|---:|---:|---:|---:|---:|---:|---:|
"""


def render_readme(out: Path, command: str, total_s: float) -> str:
    """README text from ``out/fit_report.json``."""
    reports = json.loads((out / "fit_report.json").read_text())
    text = HEADER.format(command=command, when=time.strftime("%Y-%m-%d"), torch=torch.__version__,
                         machine=platform.machine())
    for stem, r in sorted(reports.items(), key=lambda kv: (not kv[0].startswith("rama"), kv[0])):
        text += (f"| {stem}.npz | {r['name']} | {r['n_components']} | {r['iterations']} | "
                 f"{r['rms_log']:.3f} | {r['rms']:.4f} | {100 * r['outlier_cells']:.2f} % | "
                 f"{100 * r['agreement']:.2f} % | {r['seconds']:.1f} |\n")
    size = sum(p.stat().st_size for p in out.glob("*.npz"))
    text += (f"\nTotal fitting time of this run: {total_s / 60:.1f} min. "
             f"PHE and TYR share `rotamer_phetyr.npz`. Total size of the .npz files: "
             f"{size / 1024:.0f} KiB.\n")
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=tables.DATA_DIR, help="output folder")
    parser.add_argument("--iterations", type=int, default=None,
                        help="Adam iterations per ladder rung (default: 1500 rama; rotamers by chi count, "
                             "tables.ROTAMER_ITERATIONS)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="Ramachandran classes and/or residue names to refit")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    only = set(args.only or [])
    classes = [c for c in rama.TABLES if c in only] if only else None
    residues = [r for r in tables.rotamer_fit_types() if r in only] if only else None   # TYR: fit PHE
    if only and not classes and not residues:
        parser.error(f"--only names no class of {list(rama.TABLES)} nor residue of {rotamer.ROTAMERIC}")
    kw = {} if args.iterations is None else {"rama_iterations": args.iterations,
                                             "rotamer_iterations": args.iterations}
    start = time.perf_counter()
    tables.write_priors(args.out, classes=classes, residues=residues, progress=lambda line: print(line, flush=True), **kw)
    total = time.perf_counter() - start
    command = "python tools/fit_priors.py " + " ".join(sys.argv[1:] if argv is None else argv)
    (args.out / "README.md").write_text(render_readme(args.out, command.strip(), total))
    print(f"total {total / 60:.1f} min -> {args.out}")


if __name__ == "__main__":
    main()
