"""Speed and accuracy of map simulation and FSC on AdK (closed), printed as a table.

Usage: python benchmarks/density_adk.py [--out DIR]
For each method and resolution: wall time to simulate, the model-map FSC=0.5 resolution
of the clean and noisy (SNR 1) map, and the half-map FSC=0.143 resolution (SNR 1).
"""
from __future__ import annotations

import argparse
import time

from cryonb import data, density
from cryonb.runs import run_folder, write_json


def measure(st, method: str, resolution: float, voxel_size: float) -> dict:
    cfg = density.SimulationConfig(resolution=resolution, voxel_size=voxel_size, method=method)
    t0 = time.perf_counter()
    clean = density.simulate_map(st, cfg)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    clean_fsc = density.model_map_fsc(st, clean).resolution(0.5)
    t_fsc = time.perf_counter() - t0
    h1, h2 = density.half_maps(clean, snr=1.0, seed=0)
    full = density.average(h1, h2)
    return {"method": method, "resolution": resolution, "voxel_size": voxel_size,
            "box": clean.shape[0], "simulate_s": t_sim, "model_map_fsc_s": t_fsc,
            "fsc05_clean": clean_fsc,
            "fsc05_snr1": density.model_map_fsc(st, full).resolution(0.5),
            "halfmap_fsc0143_snr1": density.fsc(h1, h2).resolution(0.143)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for metrics.json")
    args = parser.parse_args()
    st = data.adk_closed()
    rows = [measure(st, method, r, v) for method in ("electron", "gaussian")
            for r, v in ((3.0, 1.0), (4.0, 1.0), (6.0, 1.5), (8.0, 2.0))]
    head = f"{'method':9s} {'res Å':>6s} {'voxel':>6s} {'box':>4s} {'sim s':>7s} {'fsc s':>7s} " \
           f"{'FSC0.5 clean':>13s} {'FSC0.5 snr1':>12s} {'half 0.143':>11s}"
    print(head)
    for r in rows:
        print(f"{r['method']:9s} {r['resolution']:6.1f} {r['voxel_size']:6.2f} {r['box']:4d} "
              f"{r['simulate_s']:7.3f} {r['model_map_fsc_s']:7.3f} {r['fsc05_clean']:13.2f} "
              f"{r['fsc05_snr1']:12.2f} {r['halfmap_fsc0143_snr1']:11.2f}")
    if args.out:
        print("wrote", write_json({"rows": rows}, run_folder(args.out) / "metrics.json"))


if __name__ == "__main__":
    main()
