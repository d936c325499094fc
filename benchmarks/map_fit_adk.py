"""Model-to-map fit metrics (Q-score, CC_mask, model-map FSC 0.5) on AdK and CFTR, with timings.

Usage: python benchmarks/map_fit_adk.py [--out DIR] [--jqscore-python PY] [--cctbx-python PY]

1. AdK closed (1656 heavy atoms) in its own simulated maps at several resolutions and
   SNRs (white noise, variance ratio over the box): Q, CC_mask, FSC 0.5 and the time of each.
2. Wrong models in the 4 Å map: shifted 2 Å, 1 Å RMS coordinate noise, the open state.
3. CFTR 6MSM (about 9,500 heavy atoms) at 3.2 Å: the same metrics and timings.
4. Optional cross-checks, each in its own throwaway environment (never cryonb's .venv):
   ``--jqscore-python``: a python with pip ``jqscore`` (a JAX re-implementation of MapQ),
   per-atom Q compared at sigma 0.6 Å without its MapQ re-gridding;
   ``--cctbx-python``: a python with pip ``cctbx-base``, Phenix's CC_mask from
   ``mmtbx.maps.correlation.five_cc`` on the same files.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from cryonb import data, density, io
from cryonb.io import model_xyz, set_model_xyz
from cryonb.runs import run_folder, write_json
from cryonb.validation import map_fit

GRID = ((2.5, 0.8), (3.0, 1.0), (4.0, 1.0), (6.0, 1.5), (8.0, 2.0))   # resolution, voxel (Å)
SNRS = (None, 1.0, 0.1)

JQSCORE_SCRIPT = """
import sys, time, numpy as np, jqscore
atoms = jqscore.read_pdb(sys.argv[1])
grid, origin, voxel = jqscore.read_mrc(sys.argv[2])
t = time.perf_counter()
r = jqscore.compute_qscores(atoms, grid, origin, voxel, sigma=0.6, mapq_compat=False)
print(time.perf_counter() - t)
heavy = np.array([a.element != 'H' for a in atoms])
np.save(sys.argv[3], np.asarray(r.atom_qscores)[heavy])
"""

CCTBX_SCRIPT = """
import sys, numpy as np, mrcfile, iotbx.pdb
from cctbx import crystal
from scitbx.array_family import flex
from scitbx import matrix
from mmtbx.maps.correlation import five_cc
resolution, origin = float(sys.argv[3]), [float(v) for v in sys.argv[4:7]]
with mrcfile.open(sys.argv[2], permissive=True) as f:
    grid = np.asarray(f.data, dtype=np.float64)
    voxel = [float(f.voxel_size.x), float(f.voxel_size.y), float(f.voxel_size.z)]
nz, ny, nx = grid.shape
cs = crystal.symmetry(unit_cell=(nx * voxel[0], ny * voxel[1], nz * voxel[2], 90, 90, 90),
                      space_group_symbol='P1')
values = flex.double(np.ascontiguousarray(grid.transpose(2, 1, 0)).ravel())
values.reshape(flex.grid(nx, ny, nz))
h = iotbx.pdb.input(sys.argv[1]).construct_hierarchy()
h.atoms().set_xyz(h.atoms().extract_xyz() - matrix.col(origin))
xrs = h.extract_xray_structure(crystal_symmetry=cs)
xrs.scattering_type_registry(table='electron')
cc = five_cc(map=values, xray_structure=xrs, d_min=resolution,
             compute_cc_volume=False, compute_cc_peaks=False)
print(cc.result.cc_mask, cc.n_nodes_inside)
"""


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def metrics(st, m, resolution: float) -> dict:
    """Q, CC_mask and FSC 0.5 of ``st`` in ``m``, each with its wall time (s)."""
    q, t_q = timed(map_fit.qscore, st, m)
    cc, t_cc = timed(map_fit.cc_mask, st, m, resolution)
    curve, t_fsc = timed(density.model_map_fsc, st, m)
    return {"qscore": q.overall, "cc_mask": cc, "fsc05": curve.resolution(0.5),
            "qscore_s": t_q, "cc_mask_s": t_cc, "fsc_s": t_fsc, "atom_q": q.atom_q}


def moved(st, xyz):
    out = st.clone()
    set_model_xyz(out, xyz)
    return out


def print_rows(rows: list[dict]) -> None:
    print(f"{'case':24s} {'res Å':>5s} {'SNR':>5s} {'Q':>6s} {'CC_mask':>7s} {'FSC0.5':>6s} "
          f"{'Q s':>6s} {'CC s':>6s} {'FSC s':>6s}")
    for r in rows:
        snr = "-" if r["snr"] is None else f"{r['snr']:g}"
        print(f"{r['case']:24s} {r['resolution']:5.1f} {snr:>5s} {r['qscore']:6.3f} {r['cc_mask']:7.3f} "
              f"{r['fsc05']:6.2f} {r['qscore_s']:6.2f} {r['cc_mask_s']:6.2f} {r['fsc_s']:6.2f}")


def cross_check(st, m, resolution: float, tmp: Path, args) -> dict:
    """Compare with jqscore and/or cctbx run as separate programs on the same model and map files.

    Our numbers are recomputed from the written PDB: its 0.001 Å rounding moves points that
    lie within a fraction of a mÅ of the 0.9 r exclusion limit, changing single atoms' Q by ~0.02.
    """
    tmp.mkdir()                                   # one folder per case: inputs read are protected
    model, mapfile = tmp / "model.pdb", tmp / "map.mrc"
    io.write_model(st, model)
    io.write_map(m, mapfile)
    st = io.read_model(model)
    out = {}
    if args.jqscore_python:
        run = subprocess.run([args.jqscore_python, "-c", JQSCORE_SCRIPT, str(model), str(mapfile),
                              str(tmp / "jq.npy")], capture_output=True, text=True,
                             env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
        if run.returncode == 0:
            jq, ours = np.load(tmp / "jq.npy"), map_fit.qscore(st, m)
            d = np.abs(ours.atom_q - jq)
            out.update(qscore_pdb=ours.overall, jq_qscore=float(np.nanmean(jq)),
                       jq_s=float(run.stdout.split()[-1]),
                       jq_max_abs_diff=float(np.nanmax(d)), jq_mean_abs_diff=float(np.nanmean(d)))
        else:
            out["jq_error"] = run.stderr.strip().splitlines()[-1:]
    if args.cctbx_python:
        run = subprocess.run([args.cctbx_python, "-c", CCTBX_SCRIPT, str(model), str(mapfile),
                              str(resolution), *map(str, m.origin)], capture_output=True, text=True)
        if run.returncode == 0:
            cc, n_inside = run.stdout.split()[-2:]
            out.update(cc_mask_pdb=map_fit.cc_mask(st, m, resolution),
                       phenix_cc_mask=float(cc), phenix_mask_voxels=int(n_inside),
                       our_mask_voxels=int(map_fit.molecular_mask(st, m).sum()))
        else:
            out["cctbx_error"] = run.stderr.strip().splitlines()[-1:]
    return out


def print_checks(checks: list[dict]) -> None:
    for c in checks:
        line = f"{c['case']:24s} {c['resolution']:4.1f} Å SNR {c['snr'] or '-'}:"
        if "jq_qscore" in c:
            line += (f" Q ours {c['qscore_pdb']:.4f} jqscore {c['jq_qscore']:.4f} (max |dQ| atom "
                     f"{c['jq_max_abs_diff']:.1e}, jqscore {c['jq_s']:.1f} s)")
        if "phenix_cc_mask" in c:
            line += (f" CC_mask ours {c['cc_mask_pdb']:.4f} phenix {c['phenix_cc_mask']:.4f} (mask voxels "
                     f"{c['our_mask_voxels']} vs {c['phenix_mask_voxels']})")
        for key in ("jq_error", "cctbx_error"):
            if key in c:
                line += f" {key}: {c[key]}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for metrics.json")
    parser.add_argument("--jqscore-python", help="python of a throwaway venv with jqscore installed")
    parser.add_argument("--cctbx-python", help="python of a throwaway venv with cctbx-base installed")
    args = parser.parse_args()
    closed, opened = data.adk_closed(), data.adk_open()
    xyz = model_xyz(closed)
    jitter = np.random.default_rng(0).normal(0.0, 1.0 / np.sqrt(3), xyz.shape)
    wrong = {"AdK shifted 2 Å": moved(closed, xyz + [2.0, 0.0, 0.0]),
             "AdK 1 Å RMS noise": moved(closed, xyz + jitter), "AdK open in closed map": opened}
    rows, cases = [], []
    for res, voxel in GRID:
        clean = density.simulate_map(closed, density.SimulationConfig(resolution=res, voxel_size=voxel))
        for snr in SNRS:
            m = density.add_noise(clean, snr, seed=1) if snr else clean
            rows.append({"case": "AdK closed", "resolution": res, "snr": snr, **metrics(closed, m, res)})
            cases.append((closed, m))
        if res == 4.0:
            for name, st in wrong.items():
                rows.append({"case": name, "resolution": res, "snr": None, **metrics(st, clean, res)})
                cases.append((st, clean))
    cftr = data.load_corpus_structure("6MSM")
    cftr_map = density.simulate_map(cftr, density.SimulationConfig(resolution=3.2, voxel_size=1.0))
    rows.append({"case": "CFTR 6MSM (9551 atoms)", "resolution": 3.2, "snr": None,
                 **metrics(cftr, cftr_map, 3.2)})
    cases.append((cftr, cftr_map))
    print_rows(rows)
    checks = []
    if args.jqscore_python or args.cctbx_python:
        with tempfile.TemporaryDirectory() as tmp:
            for i, (row, (st, m)) in enumerate(zip(rows, cases)):
                checks.append({**row, **cross_check(st, m, row["resolution"], Path(tmp) / str(i), args)})
        print_checks(checks)
    if args.out:
        keep = [{k: v for k, v in r.items() if k != "atom_q"} for r in (checks or rows)]
        print("wrote", write_json({"rows": keep}, run_folder(args.out) / "metrics.json"))


if __name__ == "__main__":
    main()
