"""C-alpha traces from the shipped network's C-alphas on held-out maps at 3 and 6 Å.

For the network's test structures (AdK closed and open and five corpus chains never trained on),
each map is simulated noise-free in a random orientation on the network's voxel size; the
network's C-alphas (``--picking L``: the L most probable peaks, default; ``seed``: L to 1.2 L
while above 0.9, as ``predict-ca``) are linked (fragment ends among the 10 % least probable left out), joined, turned and threaded
with the true sequence (:func:`cryonb.trace.build_traces`). Predicted atoms are matched one-to-one to true
C-alphas within 3 Å; scored are the voted links and the traces' consecutive pairs (precision,
recall over the links both of whose C-alphas were found), the direction of traces of 10 or more
atoms, and the fraction of atoms in traces of 20 or more whose sequence index is within one
residue of the truth (also over the atoms of every trace, which splitting traces cannot flatter). Bars at 3 Å: precision >= 0.90, recall >= 0.85, register >= 0.70; 6 Å is
reported only. Writes DIR/metrics.json and DIR/rows.csv.

    python benchmarks/trace.py --out DIR [--threads 2] [--seed 7] [--resolutions 3 6] [--picking L|seed]
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

from cryonb.cnn import DataConfig, load_weights, pick_atoms, sliding_window
from cryonb.cnn.dataset import load_structure, make_sample
from cryonb.trace import build_traces
from cryonb.trace.thread import structure_sequence
from cryonb.trace.evaluate import link_scores, match_atoms, register_right, trace_direction_right

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_ca import test_names  # noqa: E402

BARS = {"precision": 0.90, "recall": 0.85, "register": 0.70}


def score_map(net, name: str, resolution: float, voxel: float, rng: np.random.Generator,
              picking: str = "L") -> dict:
    """One row: predict C-alphas on a simulated map of ``name`` (``picking`` "L": the L most
    probable peaks; "seed": L to 1.2 L while above 0.9), build traces and score them."""
    st = load_structure(name)
    sequence = structure_sequence(st)
    sample = make_sample(st, DataConfig(voxel_size=voxel, snr_range=None), rng, name, resolution=resolution)
    t0 = time.perf_counter()
    prob = sliding_window(net, sample.map.data)
    threshold = 0.9 if picking == "seed" else None
    peaks = pick_atoms(sample.map.copy(data=prob), len(sample.ca), threshold=threshold)
    atoms = peaks.xyz
    t1 = time.perf_counter()
    result = build_traces(atoms, sample.map, sequence, resolution, values=peaks.value)
    t2 = time.perf_counter()
    match = match_atoms(atoms, sample.ca)
    links = link_scores(result.links, match, sample.ca)
    traced = link_scores(result.trace_links(), match, sample.ca)
    register = register_right(result.traces, match)
    register_all = register_right(result.traces, match, min_length=1)
    dirs = [trace_direction_right(t, match) for t in result.traces if len(t.atoms) >= 10]
    dirs = [d for d in dirs if d is not None]
    return {"name": name, "resolution": resolution, "n_true": len(sample.ca), "n_atoms": len(atoms),
            "n_matched": int((match >= 0).sum()), "link_precision": links["precision"],
            "link_recall": links["recall"], "link_recall_all": links["recall_all"],
            "trace_precision": traced["precision"], "trace_recall": traced["recall"],
            "n_traces": len(result.traces), "longest": max((len(t.atoms) for t in result.traces), default=0),
            "direction_right": float(np.mean(dirs)) if dirs else float("nan"), "n_directed": len(dirs),
            "register_right": register["fraction"], "register_right_matched": register["fraction_matched"],
            "register_atoms": register["atoms"], "register_traces": register["traces"],
            "register_right_all": register_all["fraction"], "register_atoms_all": register_all["atoms"],
            "cnn_seconds": t1 - t0, "trace_seconds": t2 - t1,
            "_links": (links, traced), "_register": register}


def pooled(rows: list[dict]) -> dict:
    """Pooled over maps: link counts and register atoms summed before dividing."""
    links = [r["_links"][0] for r in rows]
    traced = [r["_links"][1] for r in rows]
    right = sum(r["register_right"] * r["register_atoms"] for r in rows if r["register_atoms"])
    atoms = sum(r["register_atoms"] for r in rows)
    dirs = sum(r["direction_right"] * r["n_directed"] for r in rows if r["n_directed"])
    n_dirs = sum(r["n_directed"] for r in rows)
    right_all = sum(r["register_right_all"] * r["register_atoms_all"] for r in rows if r["register_atoms_all"])
    atoms_all = sum(r["register_atoms_all"] for r in rows)
    return {"link_precision": _ratio(links, "hits", "n_links"), "link_recall": _ratio(links, "hits", "n_possible"),
            "trace_precision": _ratio(traced, "hits", "n_links"), "trace_recall": _ratio(traced, "hits", "n_possible"),
            "direction_right": dirs / max(n_dirs, 1), "n_directed": n_dirs,
            "register_right": right / max(atoms, 1), "register_atoms": atoms,
            "register_right_all": right_all / max(atoms_all, 1), "register_atoms_all": atoms_all, "n_maps": len(rows)}


def _ratio(scores: list[dict], part: str, whole: str) -> float:
    return sum(s[part] for s in scores) / max(sum(s[whole] for s in scores), 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--resolutions", type=float, nargs="+", default=[3.0, 6.0])
    ap.add_argument("--picking", choices=("L", "seed"), default="L",
                    help="L: the L most probable peaks; seed: L to 1.2 L while above 0.9")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net, info = load_weights()
    names = test_names(info.get("record", {}))
    rng = np.random.default_rng(args.seed)
    rows = []
    for name in names:
        for res in args.resolutions:
            row = score_map(net, name, res, info["voxel_size"], rng, args.picking)
            rows.append(row)
            print(f"{name:11s} {res:3g} Å  atoms {row['n_atoms']:3d} matched {row['n_matched']:3d}/{row['n_true']:3d}  "
                  f"links P {row['link_precision']:.3f} R {row['link_recall']:.3f}  traces P {row['trace_precision']:.3f} "
                  f"R {row['trace_recall']:.3f}  n {row['n_traces']:2d} longest {row['longest']:3d}  "
                  f"dir {row['direction_right']:.2f}  register {row['register_right']:.3f} "
                  f"({row['register_atoms']} atoms)  cnn {row['cnn_seconds']:.1f} s trace {row['trace_seconds']:.2f} s",
                  flush=True)
    tables = {f"{r:g}A": pooled([row for row in rows if row["resolution"] == r]) for r in args.resolutions}
    result = {"test_structures": names, "seed": args.seed, "picking": args.picking, "threads": args.threads, "tables": tables}
    if "3A" in tables:
        t = tables["3A"]
        result["bars_3A"] = {k: {"measured": t[m], "bar": BARS[k], "pass": bool(t[m] >= BARS[k])}
                             for k, m in (("precision", "link_precision"), ("recall", "link_recall"),
                                          ("register", "register_right"))}
    print()
    for res, t in tables.items():
        print(f"{res}: links P {t['link_precision']:.3f} R {t['link_recall']:.3f} | traces P {t['trace_precision']:.3f} "
              f"R {t['trace_recall']:.3f} | direction {t['direction_right']:.3f} ({t['n_directed']} traces) | "
              f"register within 1 {t['register_right']:.3f} ({t['register_atoms']} atoms in traces >= 20; "
              f"{t['register_right_all']:.3f} of all {t['register_atoms_all']})")
    for k, v in result.get("bars_3A", {}).items():
        print(f"  3 Å {k:10s} {v['measured']:.3f}  bar {v['bar']}  {'PASS' if v['pass'] else 'FAIL'}")
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    with open(out / "rows.csv", "w", newline="") as fh:
        fields = [k for k in rows[0] if not k.startswith("_")]
        w = csv.DictWriter(fh, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'metrics.json'}")
    return 0 if all(v["pass"] for v in result.get("bars_3A", {}).values()) else 1


if __name__ == "__main__":
    sys.exit(main())
