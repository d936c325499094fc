"""Rerank a folder of templates by how well they match the C-alphas predicted in a map (CR-I-TASSER).

Each protein chain of every PDB/mmCIF file in --templates (an AlphaFold or homology model is one
more template) is aligned to the query sequence (parasail, BLOSUM62; identity, coverage and a
shuffled-sequence z-score: the sequence ranking), its query-aligned C-alphas are placed on the
C-alphas the network predicts in the map by fingerprint matching, and scored by CRscore against
them (the rank) and by the correlation of the map with the placed C-alphas (the density rank).
--ca takes C-alphas from `cryonb predict-ca` instead of running the network.

Writes into the run folder OUT: ranking.csv (rank, template, chain, length, identity, coverage,
zscore, rank_sequence, crscore, density, rank_density, n_aligned, n_paired, placed),
placed/NN_<template>_<chain>.cif (the --top best templates' chains moved onto the map),
predicted_ca.cif and the run record (config.json, status.json, metrics.json, steps.json).
A template file that cannot be read is skipped with a warning naming it.

Example: cryonb rerank --map emd.mrc --resolution 3.4 --sequence query.fasta --templates pool/ --out rerank/
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CryonbError
from . import check_new_run_folder, check_positive, lock_run_folder, read_first_model, read_map_and_sequence


def add_args(p: argparse.ArgumentParser) -> None:
    add_query_args(p)
    p.add_argument("--templates", required=True, metavar="DIR", help="folder of template models (PDB/mmCIF)")
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="write the N best templates placed on the map (default 10)")
    p.add_argument("--shuffles", type=int, default=100, metavar="N",
                   help="shuffled sequences per template for the alignment z-score (default 100)")


def add_query_args(p: argparse.ArgumentParser) -> None:
    """The options `cryonb rerank` and `cryonb trace` share."""
    p.add_argument("--map", required=True, metavar="FILE", help="density map (MRC/CCP4)")
    p.add_argument("--resolution", type=float, required=True, metavar="Å", help="the map's resolution in Å")
    p.add_argument("--sequence", required=True, metavar="FASTA", help="the query chain's sequence (one FASTA record)")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder for the outputs")
    p.add_argument("--ca", metavar="FILE",
                   help="C-alphas from `cryonb predict-ca` (PDB/mmCIF) instead of running the network")
    p.add_argument("--weights", metavar="FILE", help="trained network (default: the shipped weights)")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch device (default auto)")


def read_query(args: argparse.Namespace, inputs: tuple = ()):
    """Checked map, sequence and optional C-alphas (xyz, probabilities) of the shared options;
    the run folder locked. CryonbError naming the option or file for anything wrong."""
    check_positive(resolution=args.resolution, threads=args.threads)
    out = Path(args.out)
    check_new_run_folder(out, args.out, (args.map, args.sequence, args.ca, *inputs))
    m, sequence = read_map_and_sequence(args.map, args.sequence, args.resolution)
    ca = values = None
    if not args.ca:
        from .predict_ca import check_length
        check_length(len(sequence), m, f"--sequence ({args.sequence}) of")
    else:
        ca, values = _calphas(args.ca)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    lock_run_folder(out)
    return m, sequence, ca, values


def _calphas(path: str):
    """C-alphas (K, 3) Å of a predict-ca file and their probabilities (its B column / 100; None when
    not within 0-100); CryonbError naming the file when it holds fewer than 21."""
    import numpy as np

    from ..io import calpha
    st = read_first_model(path)
    _, xyz = calpha(st)
    if len(xyz) < 21:
        raise CryonbError(path, f"holds {len(xyz)} C-alpha atoms; at least 21 are needed")
    import gemmi
    found = (r.find_atom("CA", "*", gemmi.Element("C")) for ch in st[0] for r in ch)
    b = np.array([a.b_iso for a in found if a is not None])      # the atoms calpha() read, in its order
    return xyz, (b / 100 if b.min() >= 0 and b.max() <= 100 else None)


def read_template_folder(folder: str, out: str):
    """The template pool of ``folder`` (:func:`cryonb.templates.read_pool`); CryonbError when it is
    missing, not a folder, or the run folder ``out`` itself."""
    templates = Path(folder)
    if not templates.is_dir():
        raise CryonbError(folder, "no such folder of templates" if not templates.exists() else "is not a folder")
    if Path(out).resolve() == templates.resolve():
        raise CryonbError(out, "is the template folder; the placed templates would join the pool")
    from ..templates import read_pool
    return read_pool(templates)


def main(args: argparse.Namespace) -> int:
    if args.top < 0 or args.shuffles < 0:
        raise CryonbError(None, "--top and --shuffles must be >= 0")
    pool = read_template_folder(args.templates, args.out)
    m, sequence, ca, values = read_query(args)
    from ..templates.pipeline import RerankConfig, rerank_map
    config = RerankConfig(shuffles=args.shuffles, top=args.top, weights=args.weights, device=args.device)
    ranking = rerank_map(m, args.resolution, sequence, pool, args.out, ca, values, config, progress=True)
    from ..templates.rerank import ranking_text
    print(ranking_text(ranking.table, "rank", 10))
    print(f"wrote {Path(args.out) / 'ranking.csv'} ({len(ranking.table)} templates) and "
          f"{min(args.top, len(ranking.placed))} placed templates under {Path(args.out) / 'placed'}")
    if ranking.table and ranking.table[0]["crscore"] < 0.5:
        print("WARNING: no template reaches CRscore 0.5 (the seed's 'good' template): none matches the "
              "predicted C-alphas well", file=sys.stderr)
    return 0
