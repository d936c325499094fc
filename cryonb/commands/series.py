"""Refine a continuous model series along a latent trajectory (GMM-DNN series refinement).

Inputs: maps (files, a folder such as cryoDRGN `eval_vol` output, or one MRC volume stack) and one
latent vector per map (--latent: .npy, text, or cryoDRGN z.pkl; without it, map order). The series
starts from --model refined into the map it fits best. Everything goes into the run folder DIR:

  series.cif, series.pdb   one model per latent of --eval-latent (default: the maps' latents)
  frames.csv               per frame: Ramachandran, rotamer, clash, bond/angle RMSZ, MolProbity,
                           and model-map FSC where a map sits at that latent
  config.json, status.json the run record (cryonb.runs; `cryonb.runs.load_run(DIR)` reads it):
  metrics.json, steps.json settings and versions, running/ok/failed, the worst (<key>) and median
                           (<key>_median) of each headline metric over the frames, the steps
  checkpoints/             decoder weights per finished step; --resume DIR continues

Example: cryonb series --maps vols/ --latent z_values.txt --model start.cif --resolution 6 --out s1
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CryonbError
from ..io import model_xyz, read_model, require_polymer
from ..maps import check_map_for_model
from ..runs import write_json, write_parameters
from ..series import defaults
from ..series.inputs import load_series, read_latents
from . import check_folder_writable, check_positive, lock_run_folder, run_folder, saved_arguments

SAVED = ["maps", "latent", "model", "resolution", "eval_latent", "iterations", "fit_iterations",
         "smooth_iterations", "seed", "threads", "refine_start", "device", "projection"]



def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--maps", nargs="+", metavar="MAP", help="MRC maps, a folder of them, or a volume stack")
    p.add_argument("--latent", metavar="FILE", help="latents per map (.npy, text, cryoDRGN z.pkl)")
    p.add_argument("--model", metavar="FILE", help="start model (PDB or mmCIF)")
    p.add_argument("--resolution", type=float, metavar="Å", help="resolution of the maps in Å")
    p.add_argument("--eval-latent", metavar="FILE", help="latents to write models at (default: the maps')")
    p.add_argument("--out", metavar="DIR", help="run folder")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="DIR",
                   help="continue a run: `--out DIR --resume` or `--resume DIR`")
    p.add_argument("--iterations", type=int, metavar="N",
                   help=f"iterations of each patch and the atoms stage, {defaults.RESIDUE_FACTOR} x N of the "
                        f"residues stage (default: {defaults.PATCH_ITERATIONS} per patch stage, "
                        f"{defaults.RESIDUE_FACTOR * defaults.ITERATIONS} residues, {defaults.ITERATIONS} atoms)")
    p.add_argument("--fit-iterations", type=int, metavar="N",
                   help=f"joint all-atom fit iterations (default {defaults.FIT_ITERATIONS})")
    p.add_argument("--smooth-iterations", type=int, metavar="N",
                   help=f"joint smoothing iterations (default {defaults.SMOOTH_ITERATIONS})")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default 0)")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"],
                   help="where the map scores run (default auto: CUDA when torch sees it)")
    p.add_argument("--projection", choices=["auto", "analytic", "gridding"],
                   help="how the model's projections are computed (default auto: the cheaper)")
    p.add_argument("--no-refine-start", dest="refine_start", action="store_const", const=False,
                   help="start from --model as given (no single refinement first)")


def main(args: argparse.Namespace) -> int:

    out, resume = run_folder(args)
    check_folder_writable(out)
    _fill(args, out, resume)
    if not args.maps or not args.model or args.resolution is None:
        raise CryonbError(None, "give --maps, --model and --resolution (Å, > 0)")
    _check_options(args)
    if not resume and (out / "series.cif").exists():
        raise CryonbError(out, "holds a finished series; choose a new folder or add --resume")
    model = read_model(args.model)
    require_polymer(model, args.model)
    inputs = load_series(args.maps, args.latent)
    for m in inputs.maps:
        check_map_for_model(model_xyz(model), m, args.resolution, args.model)
    evaluate = read_latents(args.eval_latent) if args.eval_latent else inputs.latents
    if evaluate.shape[1] != inputs.latents.shape[1]:
        raise CryonbError(args.eval_latent, f"latents of dimension {evaluate.shape[1]}, the maps' are "
                                            f"{inputs.latents.shape[1]}")
    return _run(args, out, resume, model, inputs, evaluate)


def _check_options(args: argparse.Namespace) -> None:
    check_positive(resolution=args.resolution)
    for name, least in (("iterations", 1), ("fit_iterations", 0), ("smooth_iterations", 0), ("threads", 1)):
        value = getattr(args, name)
        if value is not None and value < least:
            raise CryonbError(None, f"--{name.replace('_', '-')} must be >= {least} (got {value})")
    if args.device == "cuda":                       # before any work: say at once that there is none
        from ..torch_utils import resolve_device
        resolve_device(args.device)


def _run(args, out: Path, resume: bool, model, inputs, evaluate) -> int:
    """Lock the run folder, save the arguments, refine the series and write its outputs."""
    from ..series.pipeline import SeriesConfig, refine_series

    given = {"iterations": args.iterations, "patch_iterations": args.iterations,
             "fit_iterations": args.fit_iterations, "smooth_iterations": args.smooth_iterations,
             "device": args.device, "projection": args.projection}
    config = SeriesConfig(seed=args.seed or 0, threads=args.threads, refine_start=args.refine_start is not False,
                          **{k: v for k, v in given.items() if v is not None})
    lock_run_folder(out)
    if not resume:
        given = {k: _absolute(getattr(args, k)) if k in PATHS else getattr(args, k) for k in SAVED}
        write_json(given, out / "arguments.json")
        write_parameters(out, given)
    try:
        result = refine_series(model, inputs, args.resolution, config, out, resume, True, evaluate)
    except KeyboardInterrupt:
        print(f"cryonb series: interrupted; continue with `cryonb series --resume {out}`", file=sys.stderr)
        return 130
    print(f"wrote {out / 'series.cif'} ({len(result.table)} models), {out / 'frames.csv'} and the run record "
          f"({out / 'metrics.json'}; {result.seconds:.0f} s)")
    return 0


PATHS = ("maps", "latent", "model", "eval_latent")


def _absolute(value):
    """Paths as absolute strings, so `--resume DIR` works from any folder."""
    if value is None:
        return None
    if isinstance(value, list):
        return [str(Path(v).resolve()) for v in value]
    return str(Path(value).resolve())


def _fill(args, out: Path, resume: bool) -> None:
    """Options not given on a resume come from the run's arguments.json."""
    values = saved_arguments(out, "series") if resume else {}
    if resume and not values:
        raise CryonbError(out, "nothing to resume: no arguments.json in this folder")
    if resume:
        for key in SAVED:
            if getattr(args, key, None) in (None, False) and values.get(key) is not None:
                setattr(args, key, values[key])
