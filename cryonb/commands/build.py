"""Build a refined model from a sequence, a map and a template folder: predict-ca, rerank, trace, assemble, refine.

Runs the whole second pipeline in order, each step in its own run folder under OUT (rerank/,
trace/, assembly/, refine/, each with its run record): the network's C-alphas, templates reranked
and placed, C-alpha traces, replica-exchange assembly with SPICKER clusters and eTM-scores, full
atoms, and model 1 refined into the map (GMM-DNN, as `cryonb refine`). Run the same command again
after an interruption: finished steps are skipped and the assembly resumes from its checkpoint.

Writes OUT/model_1.cif (the refined model 1), the steps' folders and the build's run record
(config.json, status.json, metrics.json, steps.json).

Example: cryonb build --map emd.mrc --resolution 4 --sequence query.fasta --templates pool/ --out build/
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import check_new_run_folder, check_positive, lock_run_folder, read_map_and_sequence
from .rerank import read_template_folder


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--map", required=True, metavar="FILE", help="density map (MRC/CCP4)")
    p.add_argument("--resolution", type=float, required=True, metavar="Å", help="the map's resolution in Å")
    p.add_argument("--sequence", required=True, metavar="FASTA", help="the query chain's sequence (one FASTA record)")
    p.add_argument("--templates", required=True, metavar="DIR", help="folder of template models (PDB/mmCIF)")
    p.add_argument("--out", required=True, metavar="DIR", help="build folder (rerun with the same folder to resume)")
    p.add_argument("--replicas", type=int, default=40, metavar="N", help="assembly replicas (default 40)")
    p.add_argument("--steps", type=int, default=20000, metavar="N", help="Monte Carlo steps per replica (default 20000)")
    p.add_argument("--shuffles", type=int, default=100, metavar="N", help="shuffles for the alignment z-score (default 100)")
    p.add_argument("--geometry-steps", type=int, default=200, metavar="N",
                   help="geometry-only iterations of each assembled full-atom model (default 200)")
    p.add_argument("--no-refine", action="store_true", help="stop at the assembly's full-atom model 1")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")


def main(args: argparse.Namespace) -> int:
    check_positive(resolution=args.resolution, replicas=args.replicas, steps=args.steps, shuffles=args.shuffles,
                   threads=args.threads, geometry_steps=args.geometry_steps)
    out = Path(args.out)
    check_new_run_folder(out, args.out, (args.map, args.sequence, args.templates))
    pool = read_template_folder(args.templates, args.out)
    m, sequence = read_map_and_sequence(args.map, args.sequence, args.resolution)
    from .predict_ca import check_length
    check_length(len(sequence), m, f"--sequence ({args.sequence}) of")
    from ..assembly.build import BuildConfig, build_model   # loads torch: only once the inputs are checked
    from ..assembly.pipeline import AssemblyConfig
    from ..assembly.remc import RemcConfig
    lock_run_folder(out)
    assembly = AssemblyConfig(replicas=args.replicas, remc=RemcConfig(steps=args.steps, seed=args.seed), seed=args.seed,
                              geometry_steps=args.geometry_steps)
    config = BuildConfig(assembly=assembly, shuffles=args.shuffles, refine=not args.no_refine, threads=args.threads)
    metrics = build_model(m, args.resolution, sequence, pool, out, config, progress=True)
    print(f"model 1: eTM {metrics['assembly_etm_1']:.3f}, CRscore {metrics['assembly_crscore_1']:.3f}"
          + (f", MolProbity {metrics['molprobity_score']:.2f}, clashscore {metrics['clashscore']:.1f}, "
             f"CC_mask {metrics['cc_mask']:.3f}" if not args.no_refine else ""))
    print(f"wrote {out / 'model_1.cif'}")
    return 0
