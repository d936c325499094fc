"""Assembly (REMC + SPICKER + eTM) on real chains at 4 and 8 Å: model 1 against the best placed template.

Targets: chains of 100-250 residues of the real template pool (:mod:`cryonb.templates.real_pool`),
chosen by rule (the first ``--per-family`` chains by name of each family that keeps a relative in
its benchmark pool, then the first ``--singletons`` chains of no family), minus any chain at 90 %
identity or more to the chains the C-alpha potential was fitted on. For each target and
resolution: a map simulated as an experimental one (:func:`benchmarks.rerank.experimental_map`:
gemmi electron form factors, B-factors, low-pass, coloured noise) in a random orientation; the
shipped network's C-alphas; the pool minus the target's entry and every chain at 90 % identity or
more reranked and placed (:func:`cryonb.templates.pipeline.rerank_map`), traces built
(:func:`cryonb.trace.pipeline.trace_map`), then :func:`cryonb.assembly.pipeline.assemble_map`.

Each target runs :func:`cryonb.assembly.build.build_model` (what ``cryonb build`` runs: rerank,
trace, assemble, model 1 refined in place). Reported per target: the TM-score (target length,
residue i on residue i; tmtools is not needed) of the rank-1 placed template's alignment model and
of the best placed template, model 1's TM-score as assembled and refined, every model's eTM
against its true TM, the refined model 1's MolProbity score, clashscore and CC_mask (cryonb's, and
cctbx's reference when the validation extra is installed), and the build's wall time. Per resolution: means over targets with
a homologous template (best placed TM >= 0.5) and without (the seed's Hard set), and the Pearson r
of eTM against TM over all models. Bars (issue 28): with a homolog, model 1 >= best placed + 0.05
and >= 0.85 at 4 Å; without, model 1 >= 0.70 at 4 Å and >= 0.55 at 8 Å; eTM r >= 0.8.
Writes DIR/rows.csv, DIR/models.csv, DIR/metrics.json and each run folder under DIR/runs/.

    pip install -e .[benchmark]
    python benchmarks/assembly.py --out DIR [--resolutions 4 8] [--replicas 40] [--steps 20000]
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

from cryonb.assembly.anchors import template_anchors
from cryonb.assembly.energy import load_potential
from cryonb.assembly.build import BuildConfig, build_model
from cryonb.assembly.pipeline import AssemblyConfig
from cryonb.assembly.remc import RemcConfig
from cryonb.cnn import load_weights
from cryonb.io import calpha, read_model
from cryonb.sequence import Sequence
from cryonb.templates import align, read_templates
from cryonb.tables import read_table
from cryonb.templates.pool import Pool
from cryonb.templates.real_pool import benchmark_pool, build_template_pool, pool_entries
from cryonb.templates.tmscore import tm_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rerank import choose_targets, experimental_map, full_atom  # noqa: E402

BARS = {"homolog_gain": 0.05, "homolog_4A": 0.85, "hard_4A": 0.70, "hard_8A": 0.55, "etm_r": 0.8}


def fitted_on_potential(sequence: str) -> bool:
    """Whether ``sequence`` is at 90 % identity or more to a chain the C-alpha potential saw."""
    for other in load_potential()["sequences"]:
        a = align(sequence, str(other).replace("X", "A"), shuffles=0)
        if a.n_aligned >= 30 and a.identity >= 0.9:
            return True
    return False


def run_target(entry: dict, entries: list[dict], templates: dict, resolution: float, rng: np.random.Generator,
               out: Path, config: BuildConfig, reference: bool) -> tuple[dict, list[dict]]:
    st = full_atom(entry["path"], entry["calpha_only"])
    _, truth = calpha(read_model(entry["path"]))
    query = Sequence(entry["name"], entry["sequence"])
    use = [templates[e["name"]] for e in benchmark_pool(query.residues, entry["entry"], entries) if e["name"] in templates]
    folder = out / "runs" / f"{entry['name']}_{resolution:g}A"
    m = experimental_map(st, resolution, rng)
    t0 = time.perf_counter()
    metrics = build_model(m, resolution, query, Pool(use), folder, config)
    seconds = time.perf_counter() - t0
    placed = [_anchor_tm(a, truth) for a in template_anchors(folder / "rerank", query.residues, top=10)]
    models = []
    for r in read_table(folder / "assembly" / "models.csv"):
        x = calpha(read_model(folder / "assembly" / f"model_{r['model']}_ca.cif"))[1]
        models.append({"target": entry["name"], "resolution": resolution, "model": int(r["model"]),
                       "etm": float(r["etm"]), "tm": tm_score(x, truth), "cluster_size": int(r["cluster_size"])})
    final = read_model(folder / "model_1.cif")
    row = {"target": entry["name"], "family": entry["family"], "length": len(query), "resolution": resolution,
           "pool": len(use), "tm_rank1_template": placed[0] if placed else 0.0,
           "tm_best_template": max(placed, default=0.0), "tm_model1_assembled": models[0]["tm"],
           "tm_model1": tm_score(calpha(final)[1], truth), "etm_model1": models[0]["etm"], "models": len(models),
           "molprobity_score": metrics.get("molprobity_score"), "clashscore": metrics.get("clashscore"),
           "cc_mask": metrics.get("cc_mask"), "seconds": seconds}
    if reference:
        from cryonb.validation.molprobity import molprobity_reference
        ref = molprobity_reference(final)
        row.update({"cctbx_molprobity_score": ref.get("molprobity_score"), "cctbx_clashscore": ref.get("clashscore")})
    return row, models


def _anchor_tm(anchor, truth: np.ndarray) -> float:
    on = anchor.present
    return tm_score(anchor.xyz[on], truth[on], length=len(truth)) if on.sum() >= 3 else 0.0


def summary(rows: list[dict], models: list[dict], resolution: float) -> dict:
    homolog = [r for r in rows if r["tm_best_template"] >= 0.5]
    hard = [r for r in rows if r["tm_best_template"] < 0.5]
    out = {"targets": len(rows), "homolog_targets": len(homolog), "hard_targets": len(hard)}
    if homolog:
        out["homolog_best_template"] = float(np.mean([r["tm_best_template"] for r in homolog]))
        out["homolog_model1"] = float(np.mean([r["tm_model1"] for r in homolog]))
        out["homolog_gain"] = out["homolog_model1"] - out["homolog_best_template"]
    if hard:
        out["hard_best_template"] = float(np.mean([r["tm_best_template"] for r in hard]))
        out["hard_model1"] = float(np.mean([r["tm_model1"] for r in hard]))
    if len(models) >= 3:
        out["etm_r"] = float(np.corrcoef([m["etm"] for m in models], [m["tm"] for m in models])[0, 1])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--pool", help="a built pool folder (default: build or reuse the cached one)")
    ap.add_argument("--resolutions", type=float, nargs="+", default=[4.0, 8.0])
    ap.add_argument("--per-family", type=int, default=1)
    ap.add_argument("--singletons", type=int, default=3)
    ap.add_argument("--replicas", type=int, default=40)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--no-reference", action="store_true", help="skip the cctbx MolProbity reference")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pool_dir = Path(args.pool) if args.pool else build_template_pool(progress=True)
    entries = pool_entries(pool_dir)
    sized = [e for e in entries if 100 <= int(e["residues"]) <= 250]
    targets = [t for t in choose_targets(sized, args.per_family, args.singletons) if not fitted_on_potential(t["sequence"])]
    templates = {e["name"]: read_templates(e["path"], min_residues=1)[0] for e in entries}
    print(f"{len(targets)} targets: {', '.join(t['name'] for t in targets)}", flush=True)
    load_weights()
    from cryonb.validation.molprobity import missing
    reference = not args.no_reference and missing() is None
    assembly = AssemblyConfig(replicas=args.replicas, remc=RemcConfig(steps=args.steps, seed=args.seed), seed=args.seed)
    config = BuildConfig(assembly=assembly, shuffles=20, threads=args.threads)
    rng = np.random.default_rng(args.seed)
    rows, models = [], []
    for entry in targets:
        for res in args.resolutions:
            row, ms = run_target(entry, entries, templates, res, rng, out, config, reference)
            rows.append(row)
            models += ms
            print(f"{row['target']:28s} {res:3g} Å  L {row['length']:3d}  template rank-1 {row['tm_rank1_template']:.3f} "
                  f"best {row['tm_best_template']:.3f}  model 1 {row['tm_model1_assembled']:.3f} -> refined "
                  f"{row['tm_model1']:.3f} (eTM {row['etm_model1']:.3f})  MolProbity {row['molprobity_score']} "
                  f"clash {row['clashscore']} CC_mask {row['cc_mask']}  {row['seconds']:.0f} s", flush=True)
    tables = {f"{r:g}A": summary([x for x in rows if x["resolution"] == r], [x for x in models if x["resolution"] == r], r)
              for r in args.resolutions}
    tables["all"] = summary(rows, models, 0.0)
    print(json.dumps(tables, indent=1))
    (out / "metrics.json").write_text(json.dumps({"seed": args.seed, "replicas": args.replicas, "steps": args.steps,
                                                  "targets": [t["name"] for t in targets], "tables": tables,
                                                  "bars": BARS}, indent=1))
    for name, table in (("rows.csv", rows), ("models.csv", models)):
        with open(out / name, "w", newline="") as fh:
            w = csv.DictWriter(fh, list(table[0]))
            w.writeheader()
            w.writerows(table)
    print(f"wrote {out / 'metrics.json'}, {out / 'rows.csv'} and {out / 'models.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
