"""Build C-alpha traces from the C-alphas predicted in a map and thread the sequence onto them.

The network's C-alphas (or --ca from `cryonb predict-ca`) are linked under 18 distance cutoffs
(3.8-5.5 Å, links kept by vote), joined into traces, turned N->C by the density at pseudo
C-betas, and threaded with the query sequence without gaps (scored by side-chain density);
a trace is cut where the threading jumps. See docs/templates.md for how far to trust the
register: it is reliable only where the predicted C-alphas are accurate.

Writes into the run folder OUT: traces.cif (one C-alpha chain per trace, longest first, residues
named and numbered by the threaded sequence; UNK where a trace is too short to thread),
traces.csv (chain, atoms, first_residue, last_residue, threaded, direction_score, score, margin),
predicted_ca.cif and the run record (config.json, status.json, metrics.json, steps.json).

Example: cryonb trace --map emd.mrc --resolution 3.4 --sequence query.fasta --out traces/
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .rerank import add_query_args, read_query


def add_args(p: argparse.ArgumentParser) -> None:
    add_query_args(p)


def main(args: argparse.Namespace) -> int:
    m, sequence, ca, values = read_query(args)
    from ..trace.pipeline import trace_map, trace_rows
    result = trace_map(m, args.resolution, sequence, args.out, ca, values, weights=args.weights, device=args.device)
    rows = trace_rows(result)
    threaded = [r for r in rows if r["threaded"]]
    print(f"{len(rows)} traces ({sum(r['atoms'] for r in rows)} atoms), longest {rows[0]['atoms'] if rows else 0}; "
          f"{len(threaded)} threaded")
    for r in threaded[:10]:
        print(f"  chain {r['chain']}: {r['atoms']} atoms, residues {r['first_residue']}-{r['last_residue']}, "
              f"score {r['score']:.3f} margin {r['margin']:.3f}")
    out = Path(args.out)
    print(f"wrote {out / 'traces.cif'} and {out / 'traces.csv'}")
    return 0
