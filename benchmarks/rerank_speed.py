"""Speed of the template rerank: a pool of ~300 chains against predicted C-alphas of AdK.

The pool repeats the corpus's protein chains (cryonb.data.corpus_entries(), 20 residues or more)
plus AdK open and closed, written as PDB files into a temporary folder and read back with
read_pool. The 'predicted' C-alphas are AdK closed's with 0.8 Å noise, 10 atoms dropped and 15
false atoms added; with the map (default) they stay in AdK's frame and every placed template is
also scored by its density correlation with AdK closed's 4 Å example map (as `cryonb rerank`
does); --no-map ranks by CRscore alone, in a random frame. Prints the reading and ranking seconds
and the top rows; the acceptance bar is ranking 300 templates in under 60 s on 2 cores.

    python benchmarks/rerank_speed.py [--templates 300] [--shuffles 100] [--threads 2] [--no-map]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

BAR_SECONDS = 60.0


def predicted_atoms(truth: np.ndarray, seed: int = 0, frame: bool = True) -> np.ndarray:
    """AdK's C-alphas with 0.8 Å noise, 10 dropped, 15 false atoms, shuffled, in a random frame
    (``frame``) or in their own."""
    rng = np.random.default_rng(seed)
    moved = truth @ Rotation.random(random_state=seed).as_matrix().T + rng.normal(0, 30, 3) if frame else truth
    kept = moved[np.sort(rng.choice(len(truth), len(truth) - 10, replace=False))]
    kept = kept + rng.normal(0, 0.8, kept.shape)
    atoms = np.vstack([kept, rng.uniform(kept.min(0), kept.max(0), (15, 3))])
    return atoms[rng.permutation(len(atoms))]


def write_pool(folder: Path, n_templates: int) -> int:
    """Write files into ``folder`` until they hold at least ``n_templates`` chains; the count."""
    from cryonb.data import adk_closed, adk_open, corpus_entries, load_corpus_structure
    from cryonb.io import write_model
    from cryonb.templates import chain_templates
    structures = [("adk_open", adk_open()), ("adk_closed", adk_closed())]
    structures += [(e.name, load_corpus_structure(e.name)) for e in corpus_entries() if e.kind == "protein"]
    total, copy = 0, 0
    while total < n_templates:
        for name, st in structures:
            if total >= n_templates:
                break
            write_model(st, folder / f"{name}_{copy}.pdb")
            total += len(chain_templates(st, name))
        copy += 1
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--templates", type=int, default=300)
    ap.add_argument("--shuffles", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-map", action="store_true", help="CRscore only (no density correlation)")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    from cryonb.data import adk_closed
    from cryonb.data.examples import example_map
    from cryonb.templates import chain_templates, read_pool, rerank
    query = chain_templates(adk_closed(), "query")[0]
    atoms = predicted_atoms(query.xyz, frame=args.no_map)
    density = None if args.no_map else example_map(adk_closed(), 4.0)
    with tempfile.TemporaryDirectory() as tmp:
        n = write_pool(Path(tmp), args.templates)
        t0 = time.perf_counter()
        pool = read_pool(tmp)
        t1 = time.perf_counter()
        ranking = rerank(atoms, query.sequence, pool.templates, shuffles=args.shuffles, density=density,
                         resolution=None if density is None else 4.0)
        t2 = time.perf_counter()
    print(f"pool: {len(pool.templates)} chains ({n} written) read in {t1 - t0:.1f} s")
    print(f"rerank: {len(pool.templates)} templates ranked in {t2 - t1:.1f} s "
          f"({1000 * (t2 - t1) / len(pool.templates):.0f} ms each; bar {BAR_SECONDS:.0f} s: "
          f"{'pass' if t2 - t1 < BAR_SECONDS else 'FAIL'}; {'no map' if density is None else 'with density correlation'})")
    for row in ranking.table[:5]:
        print(f"  {row['rank']:3d} {row['template']:>14s} {row['chain']} CRscore {row['crscore']:.3f} "
              f"identity {row['identity']:.2f} coverage {row['coverage']:.2f} z {row['zscore']:.1f} "
              f"(sequence rank {row['rank_sequence']})")


if __name__ == "__main__":
    main()
