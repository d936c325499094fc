"""Draw every figure of figures/ from the committed records, or refresh the records from runs.

Examples: cryonb figures                                   (figures/data -> figures/)
          cryonb figures --only fsc_curves
          cryonb figures --collect-batch batch1 --rama 3j6b_chain9 --fsc 3j6b_chain9 6gyn_A
          cryonb figures --collect-series series_out   (benchmarks/series_adk.py --out series_out)

Each figure is written as SVG, PNG and the CSV of its numbers; see docs/figures.md for which run
each record comes from.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CryonbError


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="figures/data", help="records folder (default: figures/data)")
    p.add_argument("--out", default="figures", help="figures folder (default: figures)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="draw only these figures")
    p.add_argument("--collect-batch", metavar="DIR", help="refresh the refinement records from a notebook-05 "
                                                          "batch folder instead of drawing")
    p.add_argument("--rama", nargs="*", default=[], metavar="ROW", help="--collect-batch: rows whose "
                                                                         "Ramachandran plots are kept")
    p.add_argument("--fsc", nargs="*", default=[], metavar="ROW", help="--collect-batch: rows whose "
                                                                        "model-map FSC curves are kept")
    p.add_argument("--collect-series", metavar="DIR", help="refresh the series records from a "
                                                           "benchmarks/series_adk.py output folder")


def main(args: argparse.Namespace) -> int:
    if args.collect_series:
        from ..figures import records
        path = records.write_records(records.series_rows(Path(args.collect_series)),
                                     Path(args.data) / "series_frames.csv")
        print(f"wrote {path}")
        return 0
    if args.collect_batch:
        return _collect(Path(args.collect_batch), Path(args.data), args.rama, args.fsc)
    from ..figures.book import make_figures
    paths = make_figures(args.data, args.out, args.only)
    for path in paths:
        print(path)
    return 0


def _collect(batch: Path, data: Path, rama: list[str], fsc: list[str]) -> int:
    from ..figures import records
    if not (batch / "summary.csv").is_file():
        raise CryonbError(batch, "is not a batch folder (no summary.csv)")
    written = [records.write_records(records.refinement_rows(batch), data / "refinement_batch.csv")]
    if rama:
        written.append(records.write_records(records.ramachandran_rows(batch, rama), data / "ramachandran.csv"))
    if fsc:
        rows = records.fsc_rows(batch, fsc) + records.half_map_rows()
        written.append(records.write_records(rows, data / "fsc.csv"))
    for path in written:
        print(f"wrote {path}")
    return 0
