"""C-alpha prediction on held-out structures at 3, 5 and 8 Å: the network against the naive baseline.

The test structures of the shipped network's split (AdK closed and open and five corpus chains
that never entered training or validation) are simulated at each resolution on the network's
voxel size, each in ``--orientations`` random orientations: noise-free (the acceptance maps) and
with white noise at each ``--snr``. Each map is scored with the seed's CRscore, recall and
precision at 3 Å and the RMSD of paired atoms, for the network (peaks of its probability map,
L to 1.2 L atoms) and for the naive greedy picking on the density (L atoms). Also times
inference on a 100^3 map. Prints the bars and writes DIR/metrics.json and DIR/rows.csv.

    python benchmarks/cnn_ca.py --out DIR [--weights W] [--threads 2] [--orientations 2] [--snr 3 1]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cryonb.cnn import (
    DataConfig,
    load_weights,
    predict_probability,
    split_structures,
    structure_names,
)
from cryonb.cnn.dataset import load_structure, make_sample
from cryonb.cnn.evaluate import mean_by_resolution
from cryonb.cnn.figures import score_by_resolution
from cryonb.cnn.peaks import pick_atoms
from cryonb.density import pad

RESOLUTIONS = (3.0, 5.0, 8.0)
BARS = {"crscore_3A": 0.90, "crscore_8A": 0.80, "recall_3A": 0.90, "recall_5A": 0.90,
        "crscore_gain_over_naive_8A": 0.10, "inference_100_seconds": 30.0}
KEYS = ("crscore", "recall", "precision", "rmsd", "n_predicted")     # per map, in rows.csv


def test_names(record: dict) -> list[str]:
    """The shipped network's test structures (its recorded split; the default split otherwise)."""
    test = (record.get("split") or {}).get("test")
    return list(test) if test else split_structures(structure_names()).test


def means(rows: list[dict]) -> dict:
    """Per resolution ('3A'...): mean scores of the network and of the naive baseline (``naive_``)."""
    net, naive = mean_by_resolution(rows), mean_by_resolution(rows, "naive_")
    return {f"{r:g}A": {**net[r], **{f"naive_{k}": v for k, v in naive[r].items() if k != "n_maps"}} for r in net}


def time_inference(net, voxel: float, edge: int = 100) -> dict:
    """Seconds to predict (sliding windows) and pick atoms on an ``edge``^3 map of AdK closed."""
    sample = make_sample(load_structure("adk_closed"), DataConfig(voxel_size=voxel, snr_range=None),
                         np.random.default_rng(0), resolution=5.0)
    if max(sample.map.shape) > edge:
        raise RuntimeError(f"AdK box {sample.map.shape} exceeds {edge}^3")
    m = pad(sample.map, (edge,) * 3)
    t0 = time.perf_counter()
    prob = predict_probability(net, m, voxel)
    atoms = pick_atoms(prob, len(sample.ca))
    return {"shape": list(m.shape), "seconds": time.perf_counter() - t0, "n_atoms": len(atoms.xyz)}


def bars(noise_free: dict, timing: dict) -> dict:
    r3, r5, r8 = (noise_free[f"{r:g}A"] for r in RESOLUTIONS)
    measured = {"crscore_3A": r3["crscore"], "crscore_8A": r8["crscore"], "recall_3A": r3["recall"],
                "recall_5A": r5["recall"], "crscore_gain_over_naive_8A": r8["crscore"] - r8["naive_crscore"],
                "inference_100_seconds": timing["seconds"]}
    return {k: {"measured": v, "bar": BARS[k],
                "pass": bool(v < BARS[k] if k.startswith("inference") else v >= BARS[k])}
            for k, v in measured.items()}


def print_table(title: str, table: dict) -> None:
    print(f"\n{title}")
    print(f"{'res':>5} {'maps':>4} | {'CRscore':>7} {'recall':>6} {'prec':>6} {'RMSD':>5} | "
          f"{'naive CR':>8} {'recall':>6} {'prec':>6} {'RMSD':>5}")
    for res, m in table.items():
        print(f"{res:>5} {m['n_maps']:>4} | {m['crscore']:7.3f} {m['recall']:6.3f} {m['precision']:6.3f} "
              f"{m['rmsd']:5.2f} | {m['naive_crscore']:8.3f} {m['naive_recall']:6.3f} "
              f"{m['naive_precision']:6.3f} {m['naive_rmsd']:5.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights", default=None, help="weights file (default: the shipped network)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--orientations", type=int, default=2)
    ap.add_argument("--snr", type=float, nargs="*", default=[3.0, 1.0])
    ap.add_argument("--seed", type=int, default=100)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net, info = load_weights(args.weights)
    record = info.get("record", {})
    names = test_names(record)
    data = DataConfig(voxel_size=info["voxel_size"])
    t0 = time.perf_counter()
    rows = {"noise-free": score_by_resolution(net, names, RESOLUTIONS, data, args.orientations, None, args.seed)}
    for snr in args.snr:
        rows[f"snr {snr:g}"] = score_by_resolution(net, names, RESOLUTIONS, data, args.orientations, snr, args.seed)
    tables = {cond: means(r) for cond, r in rows.items()}
    timing = time_inference(net, info["voxel_size"])
    result = {"test_structures": names, "orientations": args.orientations, "threads": args.threads,
              "tables": tables, "inference_100": timing, "bars": bars(tables["noise-free"], timing),
              "training": {k: record.get(k) for k in ("seconds", "device", "threads", "epochs", "best_epoch")},
              "scoring_seconds": time.perf_counter() - t0}
    for cond, table in tables.items():
        print_table(f"{cond} maps ({len(names)} held-out structures x {args.orientations} orientations)", table)
    print(f"\ninference on a {timing['shape']} map: {timing['seconds']:.1f} s ({args.threads} threads)")
    print("\nbars (noise-free maps):")
    for k, v in result["bars"].items():
        print(f"  {k:30s} {v['measured']:.3f}  bar {v['bar']}  {'PASS' if v['pass'] else 'FAIL'}")
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    with open(out / "rows.csv", "w", newline="") as fh:
        fields = ["condition", "name", "resolution", "orientation", "snr", "loss"] + \
                 [f"{p}{k}" for p in ("", "naive_") for k in KEYS]
        w = csv.DictWriter(fh, fields, extrasaction="ignore")
        w.writeheader()
        for cond, rs in rows.items():
            for r in rs:
                w.writerow({"condition": cond, **r})
    print(f"wrote {out / 'metrics.json'}")
    return 0 if all(v["pass"] for v in result["bars"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
