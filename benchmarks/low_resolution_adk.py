"""Single refinement at 5 and 8 Å on maps cryonb did not make: no harm to a model in place, and motion.

On the DIMS AdK frames (superposed by CORE, one common box, 1.5 Å voxels), maps by ``--simulator``
(cryonb's own with white noise at SNR 1, or cryonb.data.other_simulators' gemmi / eq2 with
noise as at an experimental map's resolution), default settings of ``cryonb.refine``:

* ``frame0_true``: the true frame 0 in its own map (it should stay: C-alpha move, Å);
* ``closed_in_frame0``: AdK closed (0.46 Å from frame 0) in the frame-0 map, the series' start;
* ``closed_in_frame97``: AdK closed in the map of the last (open) frame: a domain motion.

With ``--real``, also the deposited 3J6B chain 9 in its experimental EMD-2566 cut-out low-passed to
each resolution (no harm on a real map with neighbouring density). Prints C-alpha RMSD to the
truth before and after, the move, MolProbity, clashscore, Ramachandran outliers and the map
blur note; writes DIR/metrics.json.

    python benchmarks/low_resolution_adk.py --out DIR [--simulator cryonb|gemmi|eq2] [--resolutions 5 8]
                                            [--threads 2] [--real]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from cryonb.data.adk import adk_closed
from cryonb.data.other_simulators import SIMULATORS, simulate_other
from cryonb.data.series_cases import dims_frames_on_core
from cryonb.density.noise import add_noise
from cryonb.density.simulate import SimulationConfig, box_around_points, simulate_map
from cryonb.io import set_model_xyz
from cryonb.refinement import RefineConfig, refine
from cryonb.superpose import rmsd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "real_maps"


def make_map(frame: np.ndarray, grid, resolution: float, simulator: str, seed: int):
    st = adk_closed()
    set_model_xyz(st, frame)
    if simulator == "cryonb":
        return add_noise(simulate_map(st, SimulationConfig(resolution=resolution, voxel_size=1.5), like=grid), 1.0, seed)
    return simulate_other(st, grid, resolution, simulator, seed)


def run_case(name: str, start, m, resolution: float, truth, threads: int) -> dict:
    """Refine ``start`` into ``m``; C-alpha RMSD (Å, no superposition) to the structure ``truth``."""
    r = refine(start, m, resolution, RefineConfig(threads=threads))
    ca = r.topology.atoms.names == "CA"
    truth_ca = r.topology.xyz(truth)[ca]
    row = {"case": name, "resolution": resolution, "ca_rmsd_before": rmsd(r.start_xyz[ca], truth_ca),
           "ca_rmsd_after": rmsd(r.xyz[ca], truth_ca), "ca_move": rmsd(r.xyz[ca], r.start_xyz[ca]), "seconds": r.seconds,
           "steps": [s.name for s in r.steps], "blur": next((n for n in r.notes if n.startswith("map blur")), "")}
    for k in ("molprobity_score", "clashscore", "rama_outliers_pct", "bond_rmsz", "fsc_average"):
        row[k] = r.after.get(k)
    row["fsc_average_before"] = r.before.get("fsc_average")
    print(f"{name:22s} {resolution:4.1f} Å  C-alpha to truth {row['ca_rmsd_before']:.3f} -> {row['ca_rmsd_after']:.3f} Å "
          f"(moved {row['ca_move']:.3f})  MolProbity {row['molprobity_score']:.2f}  clash {row['clashscore']:.2f}  "
          f"rama out {row['rama_outliers_pct']:.2f} %  FSC {row['fsc_average_before']:.3f} -> {row['fsc_average']:.3f}  "
          f"{row['seconds']:.0f} s  [{' '.join(row['steps'])}]", flush=True)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--simulator", default="gemmi", choices=("cryonb",) + SIMULATORS)
    p.add_argument("--resolutions", type=float, nargs="+", default=[5.0, 8.0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--real", action="store_true", help="also 3J6B chain 9 in EMD-2566 low-passed")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = dims_frames_on_core()
    grid = box_around_points(frames, 1.5, padding=10.0)
    closed, rows = adk_closed(), []
    true0, true97 = adk_closed(), adk_closed()
    set_model_xyz(true0, frames[0])
    set_model_xyz(true97, frames[-1])
    print(f"maps by {args.simulator}")
    for res in args.resolutions:
        m0, m97 = make_map(frames[0], grid, res, args.simulator, 0), make_map(frames[-1], grid, res, args.simulator, 9)
        rows.append(run_case("frame0_true", true0, m0, res, true0, args.threads))
        rows.append(run_case("closed_in_frame0", closed, m0, res, true0, args.threads))
        rows.append(run_case("closed_in_frame97", closed, m97, res, true97, args.threads))
        if args.real:
            rows.append(_real(res, args.threads))
    (out / "metrics.json").write_text(json.dumps({"simulator": args.simulator, "rows": rows}, indent=2))
    return 0


def _real(resolution: float, threads: int) -> dict:
    from cryonb.density.filters import lowpass
    from cryonb.io import read_map, read_model
    st = read_model(SHARED / "3j6b_chain9.pdb")
    m = lowpass(read_map(SHARED / "emd2566_3j6b_chain9.mrc"), resolution)
    return run_case("3j6b_deposited_real", st, m, resolution, st, threads)


if __name__ == "__main__":
    sys.exit(main())
