"""Series refinement on the DIMS AdK closed -> open trajectory, against the interpolation baseline.

Maps are simulated at 8 Å with noise at 10 evenly spaced DIMS frames (every frame superposed on
1AKE by CORE), latent = frame index / 97, start model AdK closed; ``--simulator`` picks who makes
them: cryonb's own simulator (white noise at ``--snr``) or another (cryonb.data.other_simulators:
gemmi's DensityCalculatorE with a global B, or CR-I-TASSER's equation 2 sharpened; noise as an
experimental map's at its resolution). The true frame 0 is also refined alone into its own map
(no harm: it must stay put). Models at all 98 frames are
scored against the DIMS frames (C-alpha RMSD, no superposition) and validated (Ramachandran,
rotamers, clashes, bond RMSZ). The baseline refines each map independently (cryonb.refine) and
interpolates coordinates in between. Prints the bars and writes DIR/metrics.json.

    python benchmarks/series_adk.py --out DIR [--simulator cryonb|gemmi|eq2] [--threads 2] [--iterations N]
                                    [--no-refine-start] [--no-baseline] [--snr 1|none] [--set FIELD=VALUE]
                                    [--docs docs/series.md]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cryonb.data.other_simulators import SIMULATORS
from cryonb.data.series_cases import adk_dims_series
from cryonb.io import set_model_xyz, write_map, write_model
from cryonb.refinement import RefineConfig, refine
from cryonb.series import defaults
from cryonb.series.baseline import interpolate_models, refine_independently
from cryonb.series.inputs import SeriesInputs
from cryonb.series.outputs import (
    FRAME_KEYS,
    frames_table,
    write_frames_csv,
)
from cryonb.series.pipeline import SeriesConfig, refine_series
from cryonb.superpose import rmsd, superpose

BARS = {"ca_rmsd_max": 1.2, "ca_rmsd_median": 0.8, "rama_outliers_pct_max": 0.0, "clashscore_max": 3.0,
        "bond_rmsz_max": 1.0, "seconds": 900, "frame0_alone_ca_move": 0.3}


def ca_rmsd(xyz: np.ndarray, frames: np.ndarray, ca: np.ndarray) -> np.ndarray:
    """(F,) C-alpha RMSD of each model to its frame, Å, no superposition."""
    return np.sqrt(((xyz[:, ca] - frames[:, ca]) ** 2).sum(-1).mean(-1))


def summary(rmsd: np.ndarray, table: list[dict], sampled: np.ndarray) -> dict:
    """Bars over all frames, and geometry medians at the unsampled frames."""
    col = {k: np.array([row[k] for row in table]) for k in FRAME_KEYS}
    out = {"ca_rmsd_max": float(rmsd.max()), "ca_rmsd_median": float(np.median(rmsd)),
           "ca_rmsd_sampled_max": float(rmsd[sampled].max()), "ca_rmsd_unsampled_max": float(rmsd[~sampled].max()),
           "rama_outliers_pct_max": float(col["rama_outliers_pct"].max()),
           "clashscore_max": float(col["clashscore"].max()), "bond_rmsz_max": float(col["bond_rmsz"].max())}
    for k in ("rama_favored_pct", "rama_outliers_pct", "clashscore", "bond_rmsz", "molprobity_score"):
        out[f"{k}_unsampled_median"] = float(np.median(col[k][~sampled]))
    return out


def fragment_floor(start: np.ndarray, frames: np.ndarray, residue: np.ndarray, ca: np.ndarray,
                   length: int) -> np.ndarray:
    """(F,) C-alpha RMSD if every run of ``length`` residues of the start model (N, 3) were placed
    on each true frame by its own best rigid fit: what rigid pieces of that size could reach at best."""
    out = []
    for f in frames:
        moved = np.empty_like(start)
        for first in range(0, residue.max() + 1, length):
            piece = (residue >= first) & (residue < first + length)
            moved[piece] = superpose(start, f, piece)[piece]
        out.append(np.sqrt(((moved[ca] - f[ca]) ** 2).sum(-1).mean()))
    return np.array(out)


def frame0_alone(case, threads: int) -> dict:
    """The true frame 0 refined alone (default settings) into its own map: how far it moves (C-alpha
    RMS, Å) and its geometry after."""
    st = case.model.clone()
    set_model_xyz(st, case.frames[0])
    k = int(np.flatnonzero(case.map_frames == 0)[0])
    r = refine(st, case.maps[k], case.resolution, RefineConfig(threads=threads))
    ca = r.topology.atoms.names == "CA"
    move = rmsd(r.xyz[ca], r.start_xyz[ca])
    return {"frame0_alone_ca_move": move, "frame0_alone_seconds": r.seconds,
            **{f"frame0_alone_{k}": r.after.get(k) for k in ("molprobity_score", "clashscore",
                                                            "rama_outliers_pct", "bond_rmsz", "fsc_average")},
            "frame0_alone_fsc_average_before": r.before.get("fsc_average")}


def run_baseline(case, threads: int) -> tuple[np.ndarray, float]:
    """Independent single refinements at the maps, (M, N, 3), and their wall time."""
    t0 = time.perf_counter()
    results = refine_independently(case.model, case.maps, case.resolution, RefineConfig(threads=threads),
                                   progress=True)
    return np.stack([r.xyz for r in results]), time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--simulator", default="cryonb", choices=("cryonb",) + SIMULATORS,
                   help="who makes the maps (default cryonb's own simulator)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, help=f"each patch and the atoms stage, the residues stage "
                                                    f"{defaults.RESIDUE_FACTOR} x (default: SeriesConfig's)")
    p.add_argument("--no-refine-start", action="store_true",
                   help="start the series from AdK closed as it is, not refined into the map it fits best "
                        "(SeriesConfig's default, which users get)")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a SeriesConfig field (numbers and booleans), e.g. --set fit_iterations=0")
    p.add_argument("--docs", metavar="PAGE", help="write this run's row into the measured table of PAGE "
                                                  "(docs/series.md)")
    p.add_argument("--snr", default="1", help="noise of the maps (default 1, the acceptance case); 'none': "
                                              "noise-free, to see what the resolution alone allows")
    args = p.parse_args()
    out = Path(args.out)
    (out / "inputs").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    snr = None if args.snr.lower() == "none" else float(args.snr)
    case = adk_dims_series(snr=snr, simulator=args.simulator)
    names = []
    for k, m in enumerate(case.maps):
        names.append(str(write_map(m, out / "inputs" / f"map_{case.map_frames[k]:02d}.mrc")))
    np.savetxt(out / "inputs" / "latents.txt", case.latents)
    write_model(case.model, out / "inputs" / "start.pdb")
    inputs = SeriesInputs(case.maps, case.latents, names, "file")
    given = {} if args.iterations is None else {"iterations": args.iterations, "patch_iterations": args.iterations}
    given.update(_overrides(args.set))
    config = SeriesConfig(threads=args.threads, refine_start=not args.no_refine_start, **given)
    result = refine_series(case.model, inputs, case.resolution, config, out_dir=out / "cryonb", progress=False,
                           evaluate=case.frame_latents)
    seconds = result.seconds    # the refinement; validating the 98 frames comes after
    topo = result.topology
    ca = topo.atoms.names == "CA"
    sampled = np.zeros(len(case.frames), bool)
    sampled[case.map_frames] = True
    rmsd = ca_rmsd(result.models(case.frame_latents), case.frames, ca)
    table = result.table
    report = {"simulator": args.simulator, "snr": snr, "overrides": args.set, "cryonb": {**summary(rmsd, table, sampled), "seconds": seconds,
                         "peak_memory_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                         "ca_rmsd_per_frame": rmsd.tolist()}}
    report["cryonb"].update(frame0_alone(case, args.threads))
    x0 = topo.xyz(case.model)
    report["oracle_rigid_fragments_median"] = {
        str(n): float(np.median(fragment_floor(x0, case.frames, topo.atoms.residue, ca, n))) for n in (5, 10, 20)}
    if not args.no_baseline:
        models, b_seconds = run_baseline(case, args.threads)
        xyz = interpolate_models(models, case.latents, case.frame_latents)
        b_rmsd = ca_rmsd(xyz, case.frames, ca)
        b_table = frames_table(result, case.frame_latents, xyz=xyz)
        write_frames_csv(b_table, out / "baseline_frames.csv")
        report["baseline"] = {**summary(b_rmsd, b_table, sampled), "seconds": b_seconds,
                              "ca_rmsd_per_frame": b_rmsd.tolist()}
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    _print(report)
    if args.docs:
        docs_row(args.docs, report)
    return 0


def docs_row(page: str, report: dict) -> None:
    """This run's row of the series table in ``page`` (benchmarks/docs_rows.py)."""
    from docs_rows import update_row
    c = report["cryonb"]
    label = {"cryonb": "cryonb (white noise, SNR 1)"}.get(report["simulator"], report["simulator"])
    update_row(page, "series_adk.py", label,
               [f"{c['ca_rmsd_median']:.3f} Å", f"{c['ca_rmsd_max']:.3f} Å", f"{c['clashscore_max']:.2f}",
                f"{c['bond_rmsz_max']:.2f}", f"{c['frame0_alone_ca_move']:.3f} Å", f"{c['seconds']:.0f} s"])


def _overrides(items: list[str]) -> dict:
    """``FIELD=VALUE`` strings -> SeriesConfig keyword arguments (int, float or bool values)."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in SeriesConfig.__dataclass_fields__:
            raise SystemExit(f"--set: SeriesConfig has no field {key!r}")
        out[key] = {"true": True, "false": False}.get(value.lower()) if value.lower() in ("true", "false") \
            else float(value) if "." in value or "e" in value.lower() else int(value)
    return out


def _print(report: dict) -> None:
    snr = report["snr"]
    noise = "noise-free" if snr is None else "noise as at an experimental map's resolution" \
        if report["simulator"] != "cryonb" else f"SNR {snr:g}"
    print(f"maps by {report['simulator']} at 8 Å, {noise}")
    print("C-alpha RMSD median if rigid fragments of the start model were placed optimally on each frame: "
          + ", ".join(f"{n} residues {v:.2f} Å" for n, v in report["oracle_rigid_fragments_median"].items()))
    keys = [k for k in report["cryonb"] if k != "ca_rmsd_per_frame"]
    print(f"{'metric':34s} {'cryonb':>10s} {'baseline':>10s} {'bar':>8s}")
    for k in keys:
        b = report.get("baseline", {}).get(k)
        print(f"{k:34s} {report['cryonb'][k]:10.3f} {'' if b is None else f'{b:10.3f}':>10s} "
              f"{BARS.get(k, ''):>8}")


if __name__ == "__main__":
    sys.exit(main())
