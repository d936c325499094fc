"""Refine a model into a cryo-EM map (GMM-DNN refinement); without --map, refine its geometry only.

Steps: rigid K-means patches, rigid residues, atoms with side-chain chi angles (coarser than 3.5 Å
unless --stages asks for it; a rotamer rebuild comes before it at 3.5 Å and better), then a polish
of the coordinates against map and geometry. Everything goes into the run folder DIR:

  refined.cif, refined.pdb    the refined model (the inputs are never modified)
  config.json, status.json,   the run record (cryonb.runs; `cryonb.runs.load_run(DIR)` reads it):
  metrics.json, steps.json    settings and versions, running/ok/failed, the headline metrics of
                              output and input (<key>, <key>_input), what each step did
  history.json                loss curves of every step
  stages/<k>_<step>.cif       the model as it left each step
  checkpoints/                one file per finished step; --resume continues from the last one
  arguments.json              this command's options, so `--resume DIR` alone repeats them

Options not given with --resume are taken from DIR/arguments.json.

Examples: cryonb refine --model start.cif --map emd.mrc --resolution 3.2 --out run1
          cryonb refine --resume run1                  (continue an interrupted run)
          cryonb refine --model start.pdb --out run2   (geometry only)
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import CryonbError
from ..validation.headline import KEYS
from ..io import model_xyz, read_map, read_model, require_polymer, write_model
from ..maps import check_map_for_model
from ..runs import write_json, write_parameters
from . import (
    check_folder_writable,
    fmt_value,
    lock_run_folder,
    run_folder,
    saved_arguments,
)

# options that default to None on the command line, so a resume can tell what was given
DEFAULTS = {"map": None, "resolution": None, "device": "auto", "seed": 0, "threads": None,
            "iterations": None, "stages": "auto", "patches": 64, "polish_steps": 1000,
            "rebuild_rotamers": "auto", "orientations": 96, "projection": "auto"}
SAVED = ["model", *DEFAULTS]


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="FILE", help="start model (PDB or mmCIF)")
    p.add_argument("--map", metavar="FILE", help="map (MRC); without it only the geometry is refined")
    p.add_argument("--resolution", type=float, metavar="Å",
                   help="map resolution in Å (required with --map)")
    p.add_argument("--out", metavar="DIR", help="run folder for every output")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="DIR",
                   help="continue an interrupted run from its last finished step: "
                        "`--out DIR --resume` or `--resume DIR`")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="torch device (default auto)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default 0)")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    p.add_argument("--iterations", type=int, metavar="N",
                   help="iterations of each decoder stage: patches, residues, atoms (default: by "
                        "resolution; the coarse patch step keeps its default)")
    p.add_argument("--stages", metavar="LIST",
                   help="decoder stages, comma-separated (default auto: patches,residues,atoms; "
                        "patches,residues at 3.5 Å and better; auto also skips the fine patches and "
                        "residues of a model the coarse patches find in place)")
    p.add_argument("--patches", type=int, metavar="N", help="number of K-means patches (default 64)")
    p.add_argument("--polish-steps", type=int, metavar="N",
                   help="geometry-only L-BFGS iterations at the end (default 1000)")
    p.add_argument("--no-polish", dest="polish_steps", action="store_const", const=0,
                   help="skip the final geometry polish")
    p.add_argument("--rebuild-rotamers", choices=["auto", "yes", "no"],
                   help="try every side chain in every rotamer (default auto: at 3.5 Å and better)")
    p.add_argument("--orientations", type=int, metavar="N", help="cached map projections (default 96)")
    p.add_argument("--projection", choices=["auto", "analytic", "gridding"],
                   help="how the model's projections are computed (default auto: the cheaper for the model "
                        "and box; gridding for large models)")


def main(args: argparse.Namespace) -> int:
    out, resume = run_folder(args)
    _fill_options(args, out, resume)
    _check_options(args)
    _check_folder(args, out, resume)
    st = read_model(args.model)
    require_polymer(st, args.model)
    _check_patches(args, st)
    m = read_map(args.map) if args.map else None
    if m is not None:   # before torch is loaded
        check_map_for_model(model_xyz(st), m, args.resolution, args.model)
    from ..refinement import refine   # loads torch: only once the inputs are checked
    config = _config(args)
    lock_run_folder(out)
    if not resume:
        given = {k: _absolute(k, getattr(args, k)) for k in SAVED}
        write_json(given, out / "arguments.json")
        write_parameters(out, given)
    try:
        result = refine(st, m, args.resolution, config, out_dir=out, resume=resume, progress=True)
    except KeyboardInterrupt:
        print(f"cryonb refine: interrupted; finished steps are kept in {out / 'checkpoints'}: "
              f"continue with `cryonb refine --resume {out}`", file=sys.stderr)
        return 130
    _write_outputs(result, out)
    print(format_notes(result.notes))
    print(format_table(result.before, result.after))
    for finding in result.harm:
        print(f"WARNING: worse than the input: {finding}", file=sys.stderr)
    print(f"wrote {out / 'refined.cif'} and {out / 'refined.pdb'} ({len(result.steps)} steps, "
          f"{result.seconds:.1f} s); metrics in {out / 'metrics.json'}")
    return 0


def _fill_options(args: argparse.Namespace, out: Path, resume: bool) -> None:
    """Options not given: from the run's arguments.json when resuming, else the defaults."""
    values = saved_arguments(out, "refine") if resume else {}
    if resume and not any((out / "checkpoints").glob("*.npz")):
        raise CryonbError(out, "nothing to resume: no checkpoints in this folder")
    if values:
        for key in SAVED:
            if getattr(args, key, None) is None and key in values:
                setattr(args, key, values[key])
    for key, value in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def _check_options(args: argparse.Namespace) -> None:
    if not args.model:
        raise CryonbError(None, "give the start model: --model FILE")
    if args.map and (args.resolution is None or args.resolution <= 0):
        raise CryonbError(args.map, "give --resolution (Å, > 0) with --map")
    if args.resolution is not None and not args.map:
        raise CryonbError(None, "--resolution needs --map (without a map only the geometry is refined)")
    if args.stages != "auto":
        from ..refinement.stages import STAGES   # loads torch: only when --stages is given
        unknown = [s for s in args.stages.split(",") if s not in STAGES]
        if unknown or not args.stages:
            raise CryonbError(None, f"--stages: unknown {unknown}; choose from {','.join(STAGES)}")
    for name in ("iterations", "patches", "orientations", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise CryonbError(None, f"--{name} must be >= 1")
    if args.polish_steps < 0:
        raise CryonbError(None, "--polish-steps must be >= 0")
    if not args.map and args.polish_steps == 0:
        raise CryonbError(args.model, "nothing to do: without --map only the geometry polish runs")


def _check_patches(args: argparse.Namespace, st) -> None:
    """Refuse a --patches larger than the residue count (each patch is a rigid group of residues);
    the default is cut down to the residue count of a small model."""
    n = sum(len(chain) for chain in st[0])
    if args.patches is not None and args.patches > n and args.patches != DEFAULTS["patches"]:
        raise CryonbError(None, f"--patches {args.patches} is more than the model's {n} residues "
                                "(each patch moves a group of residues)")


def _check_folder(args: argparse.Namespace, out: Path, resume: bool) -> None:
    """Refuse a file, a folder that holds the inputs, or another run's outputs (unless resuming)."""
    if out.exists() and not out.is_dir():
        raise CryonbError(out, "the run folder is a file; choose a folder")
    check_folder_writable(out)
    folder = out.resolve()
    for path in (args.model, args.map):
        if path and Path(path).resolve().is_relative_to(folder):
            raise CryonbError(out, f"the run folder holds the input {path}; choose a new folder for outputs")
    if not resume and (out / "refined.cif").exists():
        raise CryonbError(out, "holds a finished run (refined.cif); choose a new folder, "
                               "or add --resume to write it again from its checkpoints")
    if not resume and any((out / "checkpoints").glob("*.npz")):
        raise CryonbError(out, "holds checkpoints of an unfinished run; continue it with --resume, "
                               "or choose a new folder")


def _config(args: argparse.Namespace):
    from ..refinement import RefineConfig   # loads torch
    from ..refinement.stages import STAGES, default_stages

    stages = {}
    if args.iterations and args.resolution:
        defaults = default_stages(args.resolution)
        n = args.iterations
        stages = {k: replace(defaults[k], iterations=n, round_length=min(defaults[k].round_length, n))
                  for k in STAGES}
    rebuild = {"auto": "auto", "yes": True, "no": False}[args.rebuild_rotamers]
    plan = None if args.stages == "auto" else tuple(args.stages.split(","))
    return RefineConfig(stages=plan, n_patches=args.patches,
                        rebuild_rotamers=rebuild, polish_steps=args.polish_steps,
                        n_orientations=args.orientations, device=args.device, seed=args.seed,
                        threads=args.threads, projection=args.projection, **stages)


def _write_outputs(result, out: Path) -> None:
    """refined.cif/.pdb, stages/<k>_<step>.cif and history.json, each atomically (refine() wrote
    the run record)."""
    write_model(result.structure, out / "refined.cif")
    write_model(result.structure, out / "refined.pdb")
    for k, step in enumerate(result.steps):
        write_model(result.stage_model(step.name), out / "stages" / f"{k}_{step.name}.cif")
    write_json({s.name: s.history for s in result.steps}, out / "history.json")


def format_notes(notes: list[str], limit: int = 12) -> str:
    """The run's notes, what was held, tethered, linked or skipped first, per-residue ones (missing
    atoms) last; the first ``limit`` of them."""
    per_residue = re.compile(r"^\S+/\S+: ")
    notes = sorted(notes, key=lambda n: bool(per_residue.match(n)))
    lines = [f"note: {n}" for n in notes[:limit]]
    if len(notes) > limit:
        lines.append(f"note: ... {len(notes) - limit} more in steps.json")
    return "\n".join(lines)


def format_table(before: dict, after: dict) -> str:
    """Before/after rows of the headline validation keys present in either summary."""
    lines = [f"{'metric':<22} {'input':>10} {'output':>10}"]
    for key in KEYS:
        if (before.get(key) is not None) or (after.get(key) is not None):
            lines.append(f"{key:<22} {fmt_value(before.get(key)):>10} {fmt_value(after.get(key)):>10}")
    return "\n".join(lines)


def _absolute(key: str, value):
    return os.path.abspath(value) if key in ("model", "map") and value else value
