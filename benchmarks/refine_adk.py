"""Benchmark of GMM-DNN refinement (issue 5): AdK large motion, AdK polish, servalcat, scaling.

    python benchmarks/refine_adk.py --out DIR [--cases motion,polish] [--threads 2] [--no-peer]
                                    [--no-scaling]

Cases (inputs written to DIR/<case>/inputs, cryonb's run to DIR/<case>/cryonb):

* ``motion``: AdK open (4AKE) superposed on AdK closed (1AKE) by the CORE domain, into a map
  simulated from 1AKE at 5 Å with white noise (SNR 1 over the box);
* ``polish``: AdK closed with 0.3 Å coordinate noise into its own 3 Å map (SNR 1).

Each case runs in a child process (so its peak memory is its own) with the default RefineConfig.
Printed and written to DIR/metrics.json: C-alpha RMSD to 1AKE (map frame, no superposition), the
``cryonb validate`` keys, model-map FSC averaged to the resolution (and the clean model's, in the
same map), wall time and peak memory; servalcat's figures on the same inputs where it is
installed (benchmarks/peer_servalcat.py, tools/install_servalcat.sh); time per iteration against
atom count for AdK and CFTR (6MSM).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import peer_servalcat as peer  # noqa: E402  (the servalcat runner beside this script)

KEYS = ["ca_rmsd", "rama_outliers_pct", "rama_favored_pct", "rotamer_outliers_pct", "clashscore",
        "bond_rmsz", "angle_rmsz", "molprobity_score", "fsc_average", "seconds", "peak_memory_gb"]
BARS = {"motion": {"ca_rmsd": 1.0, "rama_outliers_pct": 0.0, "rama_favored_pct": 98.0,
                   "rotamer_outliers_pct": 1.0, "clashscore": 2.0, "bond_rmsz": 1.0, "angle_rmsz": 1.0,
                   "molprobity_score": 1.2, "seconds": 600, "peak_memory_gb": 4.0},
        "polish": {"rama_outliers_pct": 0.0, "rama_favored_pct": 98.0, "rotamer_outliers_pct": 1.0,
                   "clashscore": 2.0, "bond_rmsz": 1.0, "angle_rmsz": 1.0, "molprobity_score": 1.2,
                   "seconds": 300}}


def make_case(name: str):
    from cryonb.data.refinement_cases import adk_domain_motion, adk_polish
    return adk_domain_motion() if name == "motion" else adk_polish()


def write_inputs(case, folder: Path) -> tuple[Path, Path, Path]:
    from cryonb.io import write_map, write_model
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "start.pdb", folder / "map.mrc", folder / "reference.pdb"
    write_model(case.model, paths[0])
    write_map(case.map, paths[1])
    write_model(case.reference, paths[2])
    return paths


def ca_rmsd(st, reference) -> float:
    """C-alpha RMSD (Å) by chain and residue number, no superposition (the peer runner's rule)."""
    return peer.ca_rmsd(st, reference)[0]


def run_child(name: str, out: Path, threads: int) -> dict:
    """One cryonb refinement of case ``name`` in this process; returns its metrics."""
    import torch

    from cryonb.io import read_map, read_model
    from cryonb.refinement import RefineConfig, refine
    from cryonb.refinement.record import validation_summary

    torch.set_num_threads(threads)
    case = make_case(name)
    model_path, map_path, ref_path = write_inputs(case, out / "inputs")
    model, m, ref = read_model(model_path), read_map(map_path), read_model(ref_path)
    t0 = time.perf_counter()
    result = refine(model, m, case.resolution, RefineConfig(threads=threads), out_dir=out / "cryonb")
    seconds = time.perf_counter() - t0
    from cryonb.io import write_model
    write_model(result.structure, out / "cryonb" / "refined.cif")
    clean = validation_summary(ref, m, case.resolution)
    steps = [{"name": s.name, "seconds": round(s.seconds, 1),
              "ca_rmsd": round(ca_rmsd(result.stage_model(s.name), ref), 3),
              "notes": s.notes} for s in result.steps]
    return {"case": name, "resolution": case.resolution, "start": _pick(result.before, ca_rmsd(model, ref)),
            "cryonb": {**_pick(result.after, ca_rmsd(result.structure, ref)), "seconds": round(seconds, 1),
                       "peak_memory_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)},
            "clean_model_fsc_average": clean.get("fsc_average"), "steps": steps,
            "inputs": [str(model_path), str(map_path), str(ref_path)]}


def _pick(summary: dict, rmsd: float) -> dict:
    return {"ca_rmsd": round(rmsd, 3), **{k: summary.get(k) for k in KEYS if k in summary}}


def run_case(name: str, out: Path, threads: int) -> dict:
    """Run one case in a child process and read back its metrics."""
    cmd = [sys.executable, str(Path(__file__)), "--child", name, "--out", str(out), "--threads", str(threads)]
    subprocess.run(cmd, check=True)
    return json.loads((out / "child.json").read_text())


def run_peer(record: dict, out: Path) -> dict | None:
    if peer.find_servalcat() is None:
        return None
    model, m, ref = record["inputs"]
    extra, ncycle = (["--jellybody", "--no_mask"], 150) if record["case"] == "motion" else ([], 30)
    got = peer.refine_and_score(model, m, record["resolution"], out / "servalcat", reference=ref,
                                ncycle=ncycle, extra_args=extra, score_inputs=False)
    return {k: got.get(k) for k in KEYS} | {"command": got.get("command")}


def scaling(threads: int) -> list[dict]:
    """Seconds per atoms-stage iteration (map score + every geometry term, forward + backward)."""
    import torch

    from cryonb import data
    from cryonb.data.corpus import load_corpus_structure
    from cryonb.density.simulate import SimulationConfig, simulate_map
    from cryonb.geometry.library import RestraintLibrary
    from cryonb.restraints.loss import GeometryLoss
    from cryonb.geometry.topology import build_topology
    from cryonb.refinement.gmm import ModelGMM
    from cryonb.refinement.map_score import MapScore
    from cryonb.refinement.projection import MapProjections

    torch.set_num_threads(threads)
    rows = []
    for label, st in (("AdK 4AKE", data.adk_open()), ("CFTR 6MSM", load_corpus_structure("6MSM"))):
        topo = build_topology(st, warn=False, cis_threshold=90)
        x0 = topo.xyz(st)
        m = simulate_map(st, SimulationConfig(resolution=5.0, voxel_size=1.0))
        t = time.perf_counter()
        proj = MapProjections.compute(m, 5.0, 32)
        t_proj = time.perf_counter() - t
        score = MapScore(proj, ModelGMM.from_topology(topo, x0, 5.0))
        geo = GeometryLoss(topo, RestraintLibrary(), x0, refresh_every=0)
        x = torch.as_tensor(x0).requires_grad_(True)
        batch = score.all_orientations()
        timings = {"map": _per_call(lambda s=score, xx=x, b=batch: s(xx, b, 5.0)), "geometry": _per_call(lambda g=geo, xx=x: g(xx))}
        rows.append({"model": label, "atoms": topo.n_atoms, "map_shape": list(m.shape),
                     "projection_seconds_32": round(t_proj, 1),
                     "map_ms_per_iteration_32_images": round(1000 * timings["map"], 1),
                     "geometry_ms_per_iteration": round(1000 * timings["geometry"], 1)})
    return rows


def _per_call(loss, repeats: int = 5) -> float:
    """Seconds per forward + backward of ``loss()`` after one warm-up call."""
    loss().backward()
    t = time.perf_counter()
    for _ in range(repeats):
        loss().backward()
    return (time.perf_counter() - t) / repeats


def print_table(record: dict) -> None:
    name = record["case"]
    print(f"\n== {name} ({record['resolution']} Å) ==")
    cols = [("start", record["start"]), ("cryonb", record["cryonb"])]
    if record.get("servalcat"):
        cols.append(("servalcat", record["servalcat"]))
    print(f"{'metric':24s}" + "".join(f"{c:>12s}" for c, _ in cols) + f"{'bar':>10s}")
    for k in KEYS:
        vals = [d.get(k) for _, d in cols]
        if all(v is None for v in vals):
            continue
        bar = BARS[name].get(k)
        print(f"{k:24s}" + "".join(f"{v:12.3f}" if isinstance(v, (int, float)) else f"{'-':>12s}" for v in vals)
              + (f"{bar:>10}" if bar is not None else ""))
    if record.get("clean_model_fsc_average") is not None:
        print(f"clean model FSC average {record['clean_model_fsc_average']:.4f}; "
              f"refined - clean {record['cryonb']['fsc_average'] - record['clean_model_fsc_average']:+.4f}")
    for s in record["steps"]:
        print(f"  step {s['name']:15s} {s['seconds']:7.1f} s  CA RMSD {s['ca_rmsd']:.3f} Å")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--cases", default="motion,polish", help="comma-separated; empty for scaling only")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.child:
        record = run_child(args.child, out, args.threads)
        (out / "child.json").write_text(json.dumps(record, indent=2, default=str))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    results = {"cases": {}}
    for name in [c for c in args.cases.split(",") if c]:
        record = run_case(name, out / name, args.threads)
        if not args.no_peer:
            record["servalcat"] = run_peer(record, out / name)
        results["cases"][name] = record
        print_table(record)
    if not args.no_scaling:
        results["scaling"] = scaling(args.threads)
        print("\n== scaling (5 Å, 32 images per iteration) ==")
        for row in results["scaling"]:
            print(row)
    from cryonb.runs import write_json
    write_json(results, out / "metrics.json")
    print(f"\nwrote {out / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
