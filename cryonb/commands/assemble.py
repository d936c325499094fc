"""Assemble C-alpha models of a chain in a map from reranked templates and traces (CR-I-TASSER's REMC).

The placed templates of a `cryonb rerank` run (those with CRscore above 0.5, as the seed keeps
"good" templates; the 5 best when none is) and the threaded traces of a `cryonb trace` run
(--traces) start replicas of a C-alpha replica-exchange Monte Carlo at geometric temperatures:
crankshaft, end and segment-shift moves under a corpus-fitted C-alpha potential, distance wells
from the templates and the map smoothed to the resolution. Decoys of the 8 coldest replicas are
clustered by SPICKER; each cluster's mean is relaxed and scored: CRscore against the predicted
C-alphas, the seed's eTM-score, local PCC and local confidence. The run checkpoints (remc.npz)
and resumes when run again with the same --out.

Each model is then given every atom (PULCHRA's backbone and side chains, C-alphas unmoved) and
regularised by geometry-only refinement (--geometry-steps; --ca-only skips this).

Writes into the run folder OUT: model_1.cif .. model_5.cif (full atom, largest cluster first,
B = 100 x local confidence), model_N_ca.cif (the C-alpha models), models.csv (model,
cluster_size, mean_rmsd, crscore, confidence, etm, local_pcc, energy, cc_mask, molprobity_score,
clashscore, rama_outliers_pct, no_side_chain), local.csv (model, residue, local_pcc, local_confidence) and the
run record (config.json, status.json, metrics.json, steps.json).

Example: cryonb assemble --map emd.mrc --resolution 4 --sequence query.fasta --rerank rerank/ --traces trace/traces.cif --out assembly/
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CryonbError
from . import check_new_run_folder, check_positive, lock_run_folder, read_map_and_sequence


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--map", required=True, metavar="FILE", help="density map (MRC/CCP4)")
    p.add_argument("--resolution", type=float, required=True, metavar="Å", help="the map's resolution in Å")
    p.add_argument("--sequence", required=True, metavar="FASTA", help="the query chain's sequence (one FASTA record)")
    p.add_argument("--rerank", required=True, metavar="DIR", help="the run folder of `cryonb rerank`")
    p.add_argument("--traces", metavar="FILE", help="traces.cif of `cryonb trace` (optional)")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder for the outputs")
    p.add_argument("--replicas", type=int, default=40, metavar="N", help="replicas (default 40, as the seed)")
    p.add_argument("--steps", type=int, default=20000, metavar="N", help="Monte Carlo steps per replica (default 20000)")
    p.add_argument("--geometry-steps", type=int, default=200, metavar="N",
                   help="geometry-only refinement iterations of each full-atom model (default 200)")
    p.add_argument("--ca-only", action="store_true", help="write the C-alpha models only (no full atoms)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")


def main(args: argparse.Namespace) -> int:
    check_positive(resolution=args.resolution, replicas=args.replicas, steps=args.steps, geometry_steps=args.geometry_steps)
    out = Path(args.out)
    check_new_run_folder(out, args.out, (args.map, args.sequence, args.rerank, args.traces))
    if not (Path(args.rerank) / "ranking.csv").is_file():
        raise CryonbError(args.rerank, "no ranking.csv here: --rerank takes the folder `cryonb rerank --out` wrote")
    if args.traces and not Path(args.traces).is_file():
        raise CryonbError(args.traces, "--traces file does not exist")
    m, sequence = read_map_and_sequence(args.map, args.sequence, args.resolution)
    from ..assembly.pipeline import AssemblyConfig, assemble_map, read_inputs   # loads torch: inputs checked
    from ..assembly.remc import RemcConfig
    config = AssemblyConfig(replicas=args.replicas, remc=RemcConfig(steps=args.steps, seed=args.seed), seed=args.seed,
                            full_atom=not args.ca_only, geometry_steps=args.geometry_steps)
    inputs = read_inputs(args.rerank, sequence.residues, args.traces, config)
    lock_run_folder(out)
    rows = assemble_map(m, args.resolution, sequence, args.rerank, out, args.traces, config, progress=True,
                        inputs_read=inputs)
    print(f"{len(rows)} models; model 1: cluster of {rows[0]['cluster_size']} decoys, eTM {rows[0]['etm']:.3f}, "
          f"CRscore {rows[0]['crscore']:.3f}")
    for r in rows:
        full = (f", CC_mask {r['cc_mask']:.3f}, MolProbity {r['molprobity_score']:.2f}, clashscore {r['clashscore']:.1f}"
                if "cc_mask" in r else "")
        print(f"  model_{r['model']}: cluster {r['cluster_size']}, eTM {r['etm']:.3f}, CRscore {r['crscore']:.3f}, "
              f"local PCC {r['local_pcc']:.3f}{full}")
    for r in rows:
        if r.get("no_side_chain"):
            path = out / f"model_{r['model']}.cif"
            print(f"WARNING: {path}: {r['no_side_chain']} residues have no side chain (PULCHRA could not build "
                  "them; see docs/assembly.md)", file=sys.stderr)
    print(f"wrote {out / 'models.csv'} and {out / 'local.csv'}")
    return 0
