"""Place a model in a map with no prior pose: a global rotational and FFT translational search.

Every rotation of a near-uniform set (--angular-step; default by model size, 15-20°) is scored at
every translation at once by FFT with a local correlation (LCC) of the model's density simulated
at the search resolution (the map's, no finer than 6 Å) within the model's footprint; the best
distinct poses are refined as rigid bodies. All atoms move as one rigid body (every chain,
ligand and water; hydrogens are left out of the search density, which gives every atom one B).

A predicted model (AlphaFold and the like: pLDDT in the B column, recognised from its header or
from one B value per residue within 0-100) has its residues with pLDDT < 50 left out of the search
density by default (--min-plddt 0 keeps all; --min-plddt on another model applies it too).

Writes OUT (the placed model, PDB or mmCIF; the input is never overwritten) and OUT's name with
.json (the pose, its correlation, z-score and margin, the runner-up poses, settings, inputs,
versions and seconds), and prints the correlation, z-score and runner-ups. The z-score compares
the best pose's search correlation with the best of every other rotation; AdK in its own 6 Å map
gave 19-20, unrelated models 2-4 and a map of pure noise 7.4, so a z-score under ~8 means no
placement was found. A runner-up close to the best in correlation means another place fits as
well (a symmetric copy, or an ambiguous fit).

Example: cryonb place --model af2.pdb --map map.mrc --resolution 3.8 --out placed.cif
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from ..errors import CryonbError
from ..io import model_xyz, read_map, write_model
from ..runs import versions, write_json
from . import check_output, check_positive, read_first_model

PREDICTED_MIN_PLDDT = 50.0


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model to place (PDB or mmCIF)")
    p.add_argument("--map", required=True, help="map (MRC/CCP4)")
    p.add_argument("--resolution", type=float, required=True, help="the map's resolution in Å")
    p.add_argument("--out", required=True, help="placed model (.cif or .pdb); the record goes to OUT's name .json")
    p.add_argument("--angular-step", type=float, metavar="DEG",
                   help="rotation step in degrees (default: by model size, 15-20°)")
    p.add_argument("--search-resolution", type=float, metavar="Å",
                   help="resolution of the search (default: the map's, no finer than 6 Å)")
    p.add_argument("--min-plddt", type=float, metavar="P",
                   help="leave residues with pLDDT (B column) below P out of the search density "
                        f"(default: {PREDICTED_MIN_PLDDT:g} for a predicted model, else none; 0: keep all)")
    p.add_argument("--threads", type=int, metavar="N", help="FFT threads (default: every core)")


def main(args: argparse.Namespace) -> int:
    check_positive(resolution=args.resolution, angular_step=args.angular_step,
                   search_resolution=args.search_resolution, threads=args.threads)
    if args.angular_step is not None and args.angular_step > 90:
        raise CryonbError(None, f"--angular-step must be at most 90 degrees (got {args.angular_step})")
    if args.min_plddt is not None and not (math.isfinite(args.min_plddt) and 0 <= args.min_plddt <= 100):
        raise CryonbError(None, f"--min-plddt must be within 0-100 (got {args.min_plddt})")
    check_output(args.out, "model", inputs=(args.model, args.map))
    record = Path(args.out).with_suffix(".json")
    check_output(str(record), "json", inputs=(args.model, args.map))
    st = read_first_model(args.model)
    m = read_map(args.map)
    from ..placement import PlacementConfig, place, predicted_model
    from ..placement.place import check_inputs
    check_inputs(model_xyz(st), m, args.resolution, args.model)
    min_plddt = _min_plddt(args.min_plddt, predicted_model(st), args.model)
    config = PlacementConfig(search_resolution=args.search_resolution, angular_step=args.angular_step,
                             min_plddt=min_plddt, threads=args.threads or -1)
    started = time.perf_counter()
    result = place(st, m, args.resolution, config, progress=True)
    write_model(result.placed_model(st), args.out)
    write_json({"pipeline": "place", "model": args.model, "map": args.map, "resolution": args.resolution,
                "output": args.out, "config": vars(config), "versions": versions(),
                **result.as_json(), "seconds": round(time.perf_counter() - started, 2)}, record)
    print(format_result(result))
    print(f"wrote {args.out} and {record} ({result.seconds:.1f} s)")
    return 0


def _min_plddt(given: float | None, predicted: str | None, path: str) -> float | None:
    """The pLDDT cut-off to use, saying why: the user's, 50 for a recognised predicted model, or none."""
    if given is not None:
        if given > 0 and not predicted:
            print(f"note: {path} does not look like a predicted model; --min-plddt {given:g} is applied "
                  "to its B column as asked")
        return given if given > 0 else None
    if predicted:
        print(f"note: {path} read as a predicted model ({predicted}): B column taken as pLDDT, residues "
              f"with pLDDT < {PREDICTED_MIN_PLDDT:g} left out of the search (--min-plddt 0 keeps all)")
        return PREDICTED_MIN_PLDDT
    return None


def format_result(result) -> str:
    """The placement as a few lines: correlation, z-score, margin, runner-ups, notes."""
    margin = "n/a (no distinct runner-up)" if result.margin is None else f"{result.margin:.3f}"
    lines = [f"correlation (LCC at {result.search_resolution:g} Å) {result.best.correlation:.3f}, "
             f"z-score {result.z_score:.1f}, margin over the runner-up {margin}",
             f"searched {result.rotations} rotations (step {result.angular_step:g}°) on a "
             f"{result.voxel:g} Å grid; template {result.template_residues} of {result.model_residues} residues"]
    for i, p in enumerate(result.runner_ups, 1):
        lines.append(f"runner-up {i}: correlation {p.correlation:.3f}, {p.rmsd_to_best:.1f} Å RMSD from the best")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
