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
from . import check_output, check_positive, read_first_model

# (key, label, format, MolProbity's goal)
ROWS = [("rama_favored_pct", "Ramachandran favoured", "{:.2f} %", "> 98 %"),
        ("rama_outliers_pct", "Ramachandran outliers", "{:.2f} %", "< 0.05 %"),
        ("rotamer_outliers_pct", "Rotamer outliers", "{:.2f} %", "< 0.3 %"),
        ("clashscore", "Clashscore", "{:.2f}", ""),
        ("bond_rmsz", "Bond RMSZ", "{:.3f}", ""),
        ("angle_rmsz", "Angle RMSZ", "{:.3f}", ""),
        ("bond_outliers_z5", "Bonds |Z| > 5", "{:d}", "0"),
        ("angle_outliers_z5", "Angles |Z| > 5", "{:d}", "0"),
        ("cbeta_deviations", "C-beta deviations > 0.25 Å", "{:d}", "0"),
        ("n_cis_general", "Cis non-proline peptides", "{:d}", ""),
        ("n_twisted", "Twisted peptides", "{:d}", "0"),
        ("ligand_bond_rmsz", "Ligand bond RMSZ", "{:.3f}", ""),
        ("ligand_angle_rmsz", "Ligand angle RMSZ", "{:.3f}", ""),
        ("molprobity_score", "MolProbity score", "{:.2f}", ""),
        ("rna_suiteness", "RNA suiteness", "{:.3f}", ""),
        ("fsc05_resolution", "Model-map FSC=0.5", "{:.2f} Å", ""),
        ("cc_mask", "CC_mask", "{:.3f}", ""),
        ("qscore", "Q-score", "{:.3f}", "")]


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
    for key, label, fmt, goal in ROWS:
        if key not in s and key not in report.unavailable:
            continue
        value = s.get(key)
        if value is None and key.startswith("ligand_"):
            continue   # no ligands
        text = fmt.format(value) if value is not None else "n/a"
        lines.append(f"{label:<28} {text:>12}  {goal:<8}")
    for key, label in (("twisted_residues", "twisted"), ("cis_general_residues", "cis non-proline")):
        if s.get(key):
            lines.append(f"{label} peptides (residue after the peptide): {', '.join(s[key])}")
    for key, why in report.unavailable.items():
        lines.append(f"not computed: {key}: {why}")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
