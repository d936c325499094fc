"""Regularise a model's geometry without a map (bonds, angles, planes, chirality, clashes, priors).

Every geometry term is minimised over the heavy-atom coordinates (riding hydrogens follow),
with a harmonic tether to the starting positions so the model does not drift. The refined
model is written to -o (mmCIF or PDB by extension); the input is never modified. With --json
the validation of input and output (the `cryonb validate` keys) is written as well.

Examples: cryonb refine-geometry model.cif -o regularised.cif
          cryonb refine-geometry model.pdb -o out.pdb --steps 800 --tether 0.3 --json metrics.json
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CryonbError
from ..geometry.library import RestraintLibrary
from ..io import require_polymer, write_model
from ..runs import write_json
from . import check_output, check_positive, fmt_value, read_first_model


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model (PDB or mmCIF)")
    p.add_argument("-o", "--out", required=True, help="refined model (.cif or .pdb)")
    p.add_argument("--steps", type=int, default=1000, help="L-BFGS iterations (default 1000)")
    p.add_argument("--tether", type=float, default=0.5, help="tether sigma to the start, Å (default 0.5)")
    p.add_argument("--json", help="write validation of input and output to this JSON file")
    p.add_argument("--monomer-library", help="CCP4 monomer library folder for other residues "
                                             "(default: $CLIBD_MON)")


def main(args: argparse.Namespace) -> int:
    check_output(args.out, "model", inputs=(args.model,))
    if args.steps < 1:
        raise CryonbError(None, f"--steps must be >= 1 (got {args.steps})")
    check_positive(tether=args.tether)
    check_output(args.json, "json", inputs=(args.model,))
    if args.json and Path(args.json).resolve() == Path(args.out).resolve():
        raise CryonbError(args.json, "--json and -o name the same file")
    st = read_first_model(args.model)
    require_polymer(st, args.model)
    library = RestraintLibrary(args.monomer_library)
    from ..refinement import GeometryRefineConfig, refine_geometry   # loads torch
    from ..validation.headline import MODEL_KEYS
    from ..validation.report import validate_model
    config = GeometryRefineConfig(steps=args.steps, tether_sigma=args.tether)
    result = refine_geometry(st, config, library, progress=True)
    write_model(result.structure, args.out)
    print(f"wrote {args.out}: {args.steps} L-BFGS iterations in {result.seconds:.1f} s, "
          f"RMS shift {result.rms_shift:.3f} Å")
    if args.json:
        before = validate_model(st, library=library).summary
        after = validate_model(result.structure, library=library).summary
        for key in MODEL_KEYS:
            print(f"  {key:<22} {fmt_value(before.get(key)):>10} -> {fmt_value(after.get(key)):>10}")
        write_json({"model": args.model, "out": args.out, "config": config.as_dict(),
                    "seconds": result.seconds, "input": before, "output": after,
                    "notes": result.notes}, args.json)
    return 0
