"""C-alpha prediction on held-out structures at 3, 5 and 8 Å: the network against the naive baseline.

The test structures of the shipped network's split (AdK closed and open and five corpus chains
that never entered training or validation) are simulated at each resolution on the network's
voxel size, each in ``--orientations`` random orientations: noise-free (the acceptance maps) and
with white noise at each ``--snr``. Each map is scored with the seed's CRscore, recall and
precision at 3 Å and the RMSD of paired atoms, for the network (peaks of its probability map,
L to 1.2 L atoms) and for the naive greedy picking on the density (L atoms). Also times
inference on a 100^3 map. Prints the bars and writes DIR/metrics.json and DIR/rows.csv.

Real maps (``--real-maps``, default ../shared/real_maps when it is there): every map of the folder
with the first network, the second (``--second-weights``, default the shipped experimental network
when there is one), their consensus and the naive baseline. On the maps with a deposited model:
recall and CRscore at 3 Å of each against the model's C-alphas; EMD-0093 with 6GYN is the held-out
test (never used in training or tuning) and carries the bar. On the others: atoms and agreement.
Writes DIR/real_maps.json.

    python benchmarks/cnn_ca.py --out DIR [--weights W] [--threads 2] [--orientations 2] [--snr 3 1]
                                [--real-maps DIR] [--second-weights W2] [--only real|simulated]
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


SHARED_MAPS = Path(__file__).resolve().parents[2] / "shared" / "real_maps"
HELD_OUT_MAP = "emd0093_hcn4_masked.mrc.gz"
# map, resolution stated by the EMDB entry (Å), the model whose C-alphas label it (or None), and
# where the chain length comes from when there is no model (a model of the same chains, or sequences)
REAL_MAPS = (("emd0093_hcn4_masked.mrc.gz", 3.4, "6gyn.pdb", None),
             ("emd2566_3j6b_chain9.mrc", 3.2, "3j6b_chain9.pdb", None),
             ("emd1461_cut.mrc", None, None, "emd1461_af2.pdb"),
             ("emd2513_cut.mrc", None, None, "emd2513_af2.pdb"),
             ("emd44046.map.gz", 2.99, None, "emd44046_sequences.json"))
REAL_BARS = {"held_out_recall": 0.85, "held_out_recall_gain_over_naive": 0.10}


def real_length(folder: Path, source: str) -> int:
    """Residues the map holds: C-alphas of a model of its chains, or the protein residues of the
    sequences file (each chain times its count)."""
    from cryonb.io import calpha, read_model
    if source.endswith(".json"):
        entries = json.loads((folder / source).read_text())[0]["sequences"]
        return sum(len(e["proteinChain"]["sequence"]) * e["proteinChain"].get("count", 1)
                   for e in entries if "proteinChain" in e)
    return len(calpha(read_model(folder / source))[1])


def score_real_map(folder: Path, entry: tuple, weights: tuple) -> dict:
    """One real map: the first and second networks, their consensus and the naive baseline."""
    from cryonb.cnn import naive_atoms, predict_calphas, predict_consensus
    from cryonb.cnn.score import ca_score
    from cryonb.io import calpha, read_map, read_model
    name, resolution, model, source = entry
    m = read_map(folder / name)
    true = calpha(read_model(folder / model))[1] if model else None
    length = len(true) if true is not None else real_length(folder, source)
    row = {"map": name, "stated_resolution": resolution, "length": length, "labelled": true is not None,
           "held_out": name == HELD_OUT_MAP, "shape": list(m.shape), "voxel": float(m.voxel_size.mean())}
    atoms = {"naive": naive_atoms(m, length)}
    t0 = time.perf_counter()
    if weights[1] is None:
        atoms["first"] = predict_calphas(m, length, weights[0])[0]
    else:
        agreed, (atoms["first"], atoms["second"]), _ = predict_consensus(m, length, weights=weights)
        atoms["consensus"] = agreed
        row.update(agreement=agreed.agreement, reliable=agreed.reliable)
    row["network_seconds"] = time.perf_counter() - t0
    for key, a in atoms.items():
        row[f"{key}_atoms"] = len(a.xyz)
        if true is not None:
            sc = ca_score(a.xyz, true, length)
            row.update({f"{key}_recall": sc.recall, f"{key}_crscore": sc.crscore})
    return row


def real_bars(rows: list[dict]) -> dict:
    held = next((r for r in rows if r["held_out"]), None)
    if held is None:
        return {}
    best = "consensus" if "consensus_recall" in held else "first"
    measured = {"held_out_recall": held[f"{best}_recall"],
                "held_out_recall_gain_over_naive": held[f"{best}_recall"] - held["naive_recall"]}
    return {k: {"measured": v, "bar": REAL_BARS[k], "pass": bool(v >= REAL_BARS[k]), "atoms": best}
            for k, v in measured.items()}


def print_real(rows: list[dict]) -> None:
    print("\nreal maps (recall / CRscore at 3 Å against the deposited model; agreement of the two networks)")
    for r in rows:
        parts = [f"{r['map']:28s} L {r['length']:5d}"]
        for key in ("first", "second", "consensus", "naive"):
            if f"{key}_recall" in r:
                parts.append(f"{key} {r[f'{key}_recall']:.3f}/{r[f'{key}_crscore']:.3f}")
            elif f"{key}_atoms" in r:
                parts.append(f"{key} {r[f'{key}_atoms']} atoms")
        if "agreement" in r:
            parts.append(f"agreement {r['agreement']:.3f} ({'reliable' if r['reliable'] else 'unreliable'})")
        print("  " + "  ".join(parts) + ("  [held out]" if r["held_out"] else ""))


def run_real_maps(folder: Path, weights: tuple, out: Path) -> int:
    rows = []
    for entry in REAL_MAPS:
        if (folder / entry[0]).is_file():
            rows.append(score_real_map(folder, entry, weights))
            print_real(rows[-1:])
    result = {"folder": str(folder), "weights": [str(w) if w else None for w in weights], "rows": rows,
              "bars": real_bars(rows)}
    (out / "real_maps.json").write_text(json.dumps(result, indent=1))
    print_real(rows)
    for k, v in result["bars"].items():
        print(f"  {k:34s} {v['measured']:.3f}  bar {v['bar']}  {'PASS' if v['pass'] else 'FAIL'} ({v['atoms']} atoms)")
    print(f"wrote {out / 'real_maps.json'}")
    return 0 if all(v["pass"] for v in result["bars"].values()) else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights", default=None, help="weights file (default: the shipped network)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--orientations", type=int, default=2)
    ap.add_argument("--snr", type=float, nargs="*", default=[3.0, 1.0])
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--real-maps", type=Path, default=SHARED_MAPS if SHARED_MAPS.is_dir() else None)
    ap.add_argument("--second-weights", default=None, help="the experimental network (default: the shipped one)")
    ap.add_argument("--only", choices=("real", "simulated"), default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    code = 0
    if args.real_maps is not None and args.only != "simulated":
        from cryonb.cnn import EXPERIMENTAL_WEIGHTS
        second = args.second_weights or (EXPERIMENTAL_WEIGHTS if EXPERIMENTAL_WEIGHTS.is_file() else None)
        code = run_real_maps(args.real_maps, (args.weights, second), out)
    if args.only == "real":
        return code
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
    return code or (0 if all(v["pass"] for v in result["bars"].values()) else 1)


if __name__ == "__main__":
    sys.exit(main())
