"""Template rerank by predicted C-alphas against the sequence ranking, on real chains at 3, 6 and 10 Å.

Pool: the real chains of :func:`cryonb.templates.real_pool.build_template_pool` (212 unique
chains with families: kinesins, G-alpha, globins, ...). Targets: chosen by rule, not by hand:
per family of 3 or more members the first ``--per-family`` chains by name, and the first
``--singletons`` chains (60-400 residues) of no family; C-alpha-only chains (bio3d's kinesins
and G-alphas) are rebuilt to full atoms with pulchra (no C-alpha optimisation) to simulate their
maps. For each target and resolution: a map simulated as an experimental one (gemmi electron form
factors, the atoms' B-factors plus a global B of 60 Å^2, Butterworth low-pass, noise falling with
frequency, calibrated so the resolution is where the map's FSC to its model is 0.5) in a random
orientation; C-alphas predicted by the shipped network (the L most probable peaks); the pool minus
the target's entry and every chain at 90 % identity or more to it reranked
(:func:`cryonb.templates.rerank`, with the density correlation). TM-scores are normalised by the
target's length; tmtools (GPL) is a benchmark oracle only.

Reported per resolution (mean over targets): TM-score of the top-1 template by the sequence
z-score, by CRscore (the rerank) and by density correlation; the mean TM-score of each ranking's
top 10; the best TM-score in the pool (the ceiling). Bars: CRscore top-1 at least 0.05 above the
sequence top-1, and the CRscore top-10 mean above the sequence top-10 mean. Writes DIR/rows.csv,
DIR/metrics.json and DIR/rankings/<target>_<res>.csv.

    pip install -e .[benchmark]      # tmtools, rdata, pulchra
    python benchmarks/rerank.py --out DIR [--resolutions 3 6 10] [--threads 2] [--pool DIR]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import gemmi
import numpy as np
import torch

from cryonb.cnn import load_weights, pick_atoms
from cryonb.cnn.dataset import rotated
from cryonb.cnn.inference import predict_probability
from cryonb.data.other_simulators import simulate_other
from cryonb.templates.real_pool import benchmark_pool, build_template_pool, pool_entries
from cryonb.density.simulate import box_around_points
from cryonb.io import calpha, model_xyz, read_model
from cryonb.templates import align, read_templates, rerank
from cryonb.templates.tmscore import template_tm_score
from cryonb.templates.figures import top_tm
from cryonb.templates.pipeline import COLUMNS, write_ranking

BAR_TOP1 = 0.05
RANKINGS = {"sequence": "rank_sequence", "crscore": "rank", "density": "rank_density"}


def choose_targets(entries: list[dict], per_family: int, singletons: int) -> list[dict]:
    """Targets by rule: the first ``per_family`` chains (by name) of each family of 3 or more that
    keep a relative in their benchmark pool (below 90 % identity, another entry), and the first
    ``singletons`` chains of 60-400 residues that have no family."""
    families: dict[str, list[dict]] = {}
    for e in entries:
        families.setdefault(e["family"], []).append(e)
    out = []
    for family, members in families.items():
        if len(members) < 3:
            continue
        kept = [e for e in sorted(members, key=lambda e: e["name"])
                if any(r["family"] == family for r in benchmark_pool(e["sequence"], e["entry"], members))]
        out += kept[:per_family]
    lone = [e for f, m in families.items() if len(m) == 1 for e in m if 60 <= int(e["residues"]) <= 400]
    out += sorted(lone, key=lambda e: e["name"])[:singletons]
    return out


def full_atom(path: Path, calpha_only: bool) -> gemmi.Structure:
    """The target's model; a C-alpha-only chain rebuilt to full atoms by pulchra (no C-alpha moves; its
    excluded-volume pass off: minutes per chain, and side-chain contacts barely change a map)."""
    if not calpha_only:
        return read_model(path)
    import tempfile

    from pulchra import Pulchra
    with tempfile.TemporaryDirectory() as tmp:
        ca = Path(tmp) / "ca.pdb"
        st = read_model(path)
        st.write_pdb(str(ca))
        Pulchra(ca_optimize=False, optimize_xvol=False).reconstruct(str(ca), str(Path(tmp) / "full.pdb"))
        return read_model(Path(tmp) / "full.pdb")


def tm_scores(target_xyz: np.ndarray, target_seq: str, templates: list) -> tuple[dict, dict]:
    """Per template chain: the TM-score of its alignment model (its C-alphas on the query residues
    they align to, :func:`cryonb.templates.tmscore.template_tm_score`) and TM-align's structural
    TM-score (tmtools), both normalised by the target's length."""
    from tmtools import tm_align
    aligned, structural = {}, {}
    for t in templates:
        a = align(target_seq, t.sequence, shuffles=0)
        aligned[(t.name, t.chain)] = template_tm_score(t.xyz, a.template_index, a.query_index, target_xyz)
        r = tm_align(np.ascontiguousarray(t.xyz), np.ascontiguousarray(target_xyz), t.sequence, target_seq)
        structural[(t.name, t.chain)] = float(r.tm_norm_chain2)
    return aligned, structural


def experimental_map(st: gemmi.Structure, resolution: float, rng: np.random.Generator):
    """A noisy 'gemmi' map of ``st`` in a random orientation (:mod:`cryonb.data.other_simulators`)."""
    turned = rotated(st, rng)
    voxel = min(1.5, resolution / 3)
    grid = box_around_points(model_xyz(turned), voxel, padding=10.0)
    return simulate_other(turned, grid, resolution, "gemmi", seed=int(rng.integers(2 ** 31)))


def score_target(net, voxel: float, entry: dict, entries: list[dict], templates: dict,
                 resolution: float, rng: np.random.Generator, out: Path) -> dict:
    """One row: rerank the pool (minus the target's relatives) for one target map."""
    st = full_atom(entry["path"], entry["calpha_only"])
    _, target_xyz = calpha(read_model(entry["path"]))
    sequence = entry["sequence"]
    use = [templates[e["name"]] for e in benchmark_pool(sequence, entry["entry"], entries) if e["name"] in templates]
    t0 = time.perf_counter()
    m = experimental_map(st, resolution, rng)
    prob = predict_probability(net, m, voxel)
    atoms = pick_atoms(prob, len(sequence), threshold=None).xyz
    t1 = time.perf_counter()
    ranking = rerank(atoms, sequence, use, density=m, resolution=resolution)
    t2 = time.perf_counter()
    tm, tm_structural = tm_scores(target_xyz, sequence, use)
    for row in ranking.table:
        row["tm"], row["tm_align"] = tm[(row["template"], row["chain"])], tm_structural[(row["template"], row["chain"])]
    write_ranking(ranking.table, out / "rankings" / f"{entry['name']}_{resolution:g}A.csv", COLUMNS + ["tm", "tm_align"])
    row = {"target": entry["name"], "family": entry["family"], "length": len(sequence),
           "calpha_only": entry["calpha_only"], "resolution": resolution, "pool": len(use),
           "tm_best": max(tm.values()), "cnn_seconds": t1 - t0, "rerank_seconds": t2 - t1}
    for name, key in RANKINGS.items():
        row[f"top1_{name}"] = top_tm(ranking.table, tm, key, 1)
        row[f"top10_{name}"] = top_tm(ranking.table, tm, key, 10)
        row[f"top1_{name}_tmalign"] = top_tm(ranking.table, tm_structural, key, 1)
    return row


def summary(rows: list[dict]) -> dict:
    """Means over targets of every top-1 / top-10 column, and the bars."""
    keys = ["tm_best"] + [f"top{k}_{n}" for k in (1, 10) for n in RANKINGS] + [f"top1_{n}_tmalign" for n in RANKINGS]
    out = {k: float(np.nanmean([r[k] for r in rows])) for k in keys}
    out["targets"] = len(rows)
    out["gain_top1"] = out["top1_crscore"] - out["top1_sequence"]
    out["bar_top1"] = bool(out["gain_top1"] >= BAR_TOP1)
    out["bar_top10"] = bool(out["top10_crscore"] > out["top10_sequence"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--pool", help="a built pool folder (default: build or reuse the cached one)")
    ap.add_argument("--resolutions", type=float, nargs="+", default=[3.0, 6.0, 10.0])
    ap.add_argument("--per-family", type=int, default=2)
    ap.add_argument("--singletons", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    (out / "rankings").mkdir(parents=True, exist_ok=True)
    pool_dir = Path(args.pool) if args.pool else build_template_pool(progress=True)
    entries = pool_entries(pool_dir)
    templates = {e["name"]: read_templates(e["path"], min_residues=1)[0] for e in entries}
    targets = choose_targets(entries, args.per_family, args.singletons)
    print(f"pool {len(entries)} chains; {len(targets)} targets: {', '.join(t['name'] for t in targets)}", flush=True)
    net, info = load_weights()
    rng = np.random.default_rng(args.seed)
    rows = []
    for entry in targets:
        for res in args.resolutions:
            row = score_target(net, info["voxel_size"], entry, entries, templates, res, rng, out)
            rows.append(row)
            print(f"{row['target']:28s} {row['family'][:14]:14s} {res:4g} Å  pool {row['pool']:3d}  best {row['tm_best']:.3f}  "
                  f"top1 seq {row['top1_sequence']:.3f} CR {row['top1_crscore']:.3f} dens {row['top1_density']:.3f}  "
                  f"top10 seq {row['top10_sequence']:.3f} CR {row['top10_crscore']:.3f} dens {row['top10_density']:.3f}  "
                  f"({row['cnn_seconds']:.0f} + {row['rerank_seconds']:.0f} s)", flush=True)
    tables = {f"{r:g}A": summary([row for row in rows if row["resolution"] == r]) for r in args.resolutions}
    print()
    for res, t in tables.items():
        print(f"{res}: {t['targets']} targets; top-1 TM seq {t['top1_sequence']:.3f} CRscore {t['top1_crscore']:.3f} "
              f"(gain {t['gain_top1']:+.3f}, bar +{BAR_TOP1}: {'PASS' if t['bar_top1'] else 'FAIL'}) density "
              f"{t['top1_density']:.3f}; top-10 TM seq {t['top10_sequence']:.3f} CRscore {t['top10_crscore']:.3f} "
              f"({'PASS' if t['bar_top10'] else 'FAIL'}) density {t['top10_density']:.3f}; pool best {t['tm_best']:.3f}")
    (out / "metrics.json").write_text(json.dumps({"seed": args.seed, "targets": [t["name"] for t in targets],
                                                  "tables": tables}, indent=1))
    with open(out / "rows.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'metrics.json'} and {out / 'rows.csv'}")
    return 0 if all(t["bar_top1"] and t["bar_top10"] for t in tables.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
