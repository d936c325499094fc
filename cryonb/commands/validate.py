"""Validate a model with MolProbity's definitions, and its fit to a map.

Geometry: Ramachandran, rotamers, clashscore (riding hydrogens), bond/angle RMSZ,
C-beta deviations, cis/twisted peptides, MolProbity score, RNA suiteness.
With --map and --resolution: model-map FSC (0.5), CC_mask and Q-score.

Examples: cryonb validate model.cif --json report.json
          cryonb validate model.pdb --map map.mrc --resolution 3.2 --json report.json
"""
from __future__ import annotations

import argparse

from ..errors import CryonbError
from ..geometry.library import RestraintLibrary
from ..io import model_xyz, read_map, require_polymer
from ..maps import check_overlap, check_resolution, require_density
from ..runs import write_json
from ..validation.headline import HEADLINE, OPTIONAL_PREFIXES
from . import check_output, check_positive, read_first_model

def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model (PDB or mmCIF)")
    p.add_argument("--map", help="map (MRC) for model-map FSC, CC_mask and Q-score")
    p.add_argument("--resolution", type=float, help="map resolution in Å (required with --map)")
    p.add_argument("--json", help="write the report (summary, per-residue table, outliers) to this JSON file")
    p.add_argument("--monomer-library", help="CCP4 monomer library folder for other residues "
                                             "(default: $CLIBD_MON)")


def main(args: argparse.Namespace) -> int:
    check_output(args.json, "json", inputs=(args.model, args.map))
    st = read_first_model(args.model)
    require_polymer(st, args.model)
    library = RestraintLibrary(args.monomer_library)
    m = None
    if args.map:
        if args.resolution is None:
            raise CryonbError(args.map, "give --resolution (Å, > 0) with --map")
        check_positive(resolution=args.resolution)
        m = read_map(args.map)
        check_resolution(m, args.resolution)
        require_density(m)
        check_overlap(model_xyz(st), m, args.model)
    from ..validation.report import validate_model   # loads torch
    report = validate_model(st, m, args.resolution, library)
    print(format_table(report))
    if args.json:
        write_json({"model": args.model, "map": args.map, "resolution": args.resolution, **report.as_json()},
                   args.json)
    return 0


def format_table(report) -> str:
    s = report.summary
    lines = [f"{s['n_residues']} residues, {s['n_atoms']} atoms ({s['n_atoms_with_h']} with riding hydrogens)",
             f"{'metric':<28} {'value':>12}  {'goal':<8}"]
    for metric in HEADLINE:
        if metric.key not in s and metric.key not in report.unavailable:
            continue
        value = s.get(metric.key)
        if value is None and metric.key.startswith(OPTIONAL_PREFIXES):
            continue   # no ligands / no RNA
        text = metric.fmt.format(value) if value is not None else "n/a"
        lines.append(f"{metric.label:<28} {text:>12}  {metric.goal:<8}")
    for key, label in (("twisted_residues", "twisted"), ("cis_general_residues", "cis non-proline")):
        if s.get(key):
            lines.append(f"{label} peptides (residue after the peptide): {', '.join(s[key])}")
    for key, why in report.unavailable.items():
        lines.append(f"not computed: {key}: {why}")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
