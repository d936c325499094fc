"""Benchmark: deposited models with ligands, waters and several chains, refined into their maps (issue 23).

    python benchmarks/real_models.py --out DIR [--cases 3j6b,4e43,6msm] [--starts deposited,noise]
                                     [--threads 2] [--no-reference]

Cases (inputs in DIR/<case>/inputs; each run is ``cryonb refine`` with default settings in
DIR/<case>/<start>):

* ``3j6b``: PDB 3J6B chain 9 (195 residues, hydrogens in the file) into its experimental EMDB map,
  the EMD-2566 cut-out (neighbouring RNA and protein density in the box) at 3.2 Å;
* ``4e43``: HIV protease dimer 4E43 with its ACT/BME/DMS/GOL ligands, waters and altlocs, into
  a map simulated from it (electron form factors, the model's B-factors) at 3.0 Å with noise
  (SNR 1 over the box);
* ``6msm``: CFTR 6MSM (9,551 atoms) with ATP, Mg, cholesterol and lipids, likewise at 3.2 Å;
* ``6gyn``: chain A of the HCN4 tetramer 6GYN (495 residues, its PC1/3PE lipids) into a box cut
  from the experimental, masked EMD-0093 map at 3.4 Å around it (8 Å padding; the neighbouring
  chains' density is in the box). Kept out of all tuning: run it to check, never to calibrate.

Starts: ``deposited`` (the model as deposited) and ``noise`` (0.3 Å Gaussian noise per axis on
every atom, ligands included). Printed per run, cryonb's numbers beside cctbx's MolProbity
(reduce + probe) on the deposited model and on the output: MolProbity score, clashscore,
Ramachandran and rotamer outliers, twisted and cis non-proline peptides; cryonb's ligand bond and
angle RMSZ, CC_mask and Q-score; C-alpha and ligand heavy-atom RMSD to the deposited model;
wall time. Everything is written to DIR/results.json (per case: "deposited model", "refined from
deposited", "refined from noise").
"""
from __future__ import annotations

import argparse
import bz2
import json
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "real_maps"
CASES = {"3j6b": {"model": "3j6b_chain9.pdb", "map": "emd2566_3j6b_chain9.mrc", "resolution": 3.2},
         "4e43": {"model": "4E43.pdb", "resolution": 3.0},
         "6msm": {"model": "6msm.pdb.bz2", "resolution": 3.2},
         "6gyn": {"model": "6gyn.pdb", "map": "emd0093_hcn4_masked.mrc.gz", "resolution": 3.4, "chain": "A"}}
MOLPROBITY_KEYS = ["molprobity_score", "clashscore", "rama_outliers", "rotamer_outliers_pct", "n_twisted",
                   "n_cis_general", "cbeta_deviations"]
CRYONB_KEYS = MOLPROBITY_KEYS + ["bond_rmsz", "angle_rmsz", "ligand_bond_rmsz", "ligand_angle_rmsz",
                                 "cc_mask", "qscore"]


def model_path(name: str, folder: Path) -> Path:
    from cryonb.data.sources import mdanalysis_test_file
    spec = CASES[name]["model"]
    if (SHARED / spec).exists():
        return SHARED / spec
    path = mdanalysis_test_file(spec)
    if path.suffix == ".bz2":
        plain = folder / path.name[:-4]
        plain.write_bytes(bz2.decompress(path.read_bytes()))
        return plain
    return path


def make_inputs(name: str, folder: Path, seed: int = 0) -> dict:
    """deposited.cif, noise.cif and map.mrc for one case (the map simulated where none is shipped)."""
    from cryonb.density import SimulationConfig, add_noise, simulate_map
    from cryonb.density.resample import crop_to_model
    from cryonb.io import read_map, read_model, write_map, write_model
    from cryonb.perturb import jitter
    folder.mkdir(parents=True, exist_ok=True)
    spec = CASES[name]
    st = read_model(model_path(name, folder))
    while len(st) > 1:
        del st[len(st) - 1]
    if "chain" in spec:
        for ch in [c.name for c in st[0] if c.name != spec["chain"]]:
            st[0].remove_chain(ch)
    write_model(st, folder / "deposited.cif")
    write_model(jitter(st, 0.3, seed), folder / "noise.cif")
    if "map" in spec:
        m = read_map(SHARED / spec["map"])
        if "chain" in spec:
            m = crop_to_model(m, st, padding=8.0)
    else:
        heavy = st.clone()
        heavy.remove_hydrogens()
        m = add_noise(simulate_map(heavy, SimulationConfig(resolution=spec["resolution"], voxel_size=1.0)), 1.0, seed)
    write_map(m, folder / "map.mrc")
    return {"deposited": folder / "deposited.cif", "noise": folder / "noise.cif", "map": folder / "map.mrc",
            "resolution": spec["resolution"]}


def refine(inputs: dict, start: str, out: Path, threads: int) -> float:
    cmd = [sys.executable, "-m", "cryonb.cli", "refine", "--model", str(inputs[start]), "--map", str(inputs["map"]),
           "--resolution", str(inputs["resolution"]), "--out", str(out), "--threads", str(threads)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"cryonb refine failed ({' '.join(cmd)}):\n{done.stderr[-3000:]}")
    (out / "console.txt").write_text(done.stdout + done.stderr)
    return time.perf_counter() - t0


def cryonb_numbers(model: Path, inputs: dict) -> dict:
    from cryonb.io import read_map, read_model
    from cryonb.validation.report import validate_model
    s = validate_model(read_model(model), read_map(inputs["map"]), inputs["resolution"]).summary
    return {k: s.get(k) for k in CRYONB_KEYS}


def cctbx_numbers(model: Path) -> dict:
    from cryonb.validation.molprobity import molprobity_reference
    from cryonb.validation.report import molprobity_score
    r = molprobity_reference(model)
    out = {k: r.get(k) for k in MOLPROBITY_KEYS if k in r}
    if r.get("rotamer_outliers_pct") is not None:
        out["molprobity_score"] = molprobity_score(r["clashscore"], r["rotamer_outliers_pct"], r["rama_favored_pct"])
    return out


def rmsds(model: Path, deposited: Path) -> dict:
    """C-alpha and ligand heavy-atom RMSD (Å, map frame) to the deposited model, matched by name."""
    import numpy as np
    from cryonb.geometry.library import standard_residues
    from cryonb.geometry.topology import WATER
    from cryonb.io import read_model

    def atoms(path):
        st = read_model(path)
        out = {}
        for ch in st[0]:
            for r in ch:
                for a in r:
                    if a.is_hydrogen() or (a.altloc not in ("\0", "A")):
                        continue
                    kind = "ca" if r.name in standard_residues() and a.name == "CA" else \
                        "ligand" if r.name not in standard_residues() and r.name not in WATER else None
                    if kind:
                        out[(kind, ch.name, str(r.seqid), a.name)] = a.pos.tolist()
        return out

    a, b = atoms(model), atoms(deposited)
    res = {}
    for kind in ("ca", "ligand"):
        keys = [k for k in a if k[0] == kind and k in b]
        res[f"{kind}_rmsd"] = float(np.sqrt(np.mean([np.sum((np.array(a[k]) - b[k]) ** 2) for k in keys]))) \
            if keys else None
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--cases", default="3j6b,4e43,6msm")
    p.add_argument("--starts", default="deposited,noise")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-reference", action="store_true", help="skip cctbx's MolProbity")
    args = p.parse_args()
    results = {}
    for name in args.cases.split(","):
        inputs = make_inputs(name, args.out / name / "inputs")
        dep = {"cryonb": cryonb_numbers(inputs["deposited"], inputs)}
        if not args.no_reference:
            dep["cctbx"] = cctbx_numbers(inputs["deposited"])
        results[name] = {"deposited model": dep}
        for start in args.starts.split(","):
            out = args.out / name / start
            seconds = refine(inputs, start, out, args.threads)
            refined = out / "refined.cif"
            row = {"seconds": seconds, "cryonb": cryonb_numbers(refined, inputs),
                   **rmsds(refined, inputs["deposited"]), "start": rmsds(inputs[start], inputs["deposited"]),
                   "harm": json.loads((out / "metrics.json").read_text()).get("harm")}
            if not args.no_reference:
                row["cctbx"] = cctbx_numbers(refined)
            results[name][f"refined from {start}"] = row
            print_run(name, start, dep, row)
            (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))


def print_run(name: str, start: str, dep: dict, row: dict) -> None:
    def cell(v):
        return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
    print(f"\n== {name} from {start}: {row['seconds']:.0f} s; C-alpha RMSD {cell(row['ca_rmsd'])} Å "
          f"(start {cell(row['start']['ca_rmsd'])}), ligand RMSD {cell(row['ligand_rmsd'])} Å "
          f"(start {cell(row['start']['ligand_rmsd'])})")
    print(f"  {'metric':<22} {'deposited cryonb':>17} {'cctbx':>8} {'refined cryonb':>15} {'cctbx':>8}")
    for k in CRYONB_KEYS:
        print(f"  {k:<22} {cell(dep['cryonb'].get(k)):>17} {cell(dep.get('cctbx', {}).get(k)):>8} "
              f"{cell(row['cryonb'].get(k)):>15} {cell(row.get('cctbx', {}).get(k)):>8}")
    for finding in row.get("harm") or []:
        print(f"  worse than the input: {finding}")


if __name__ == "__main__":
    main()
