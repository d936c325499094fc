"""Simulate a map from a model at a resolution, with optional noise and half maps.

Example: cryonb simulate model.cif --resolution 4 --voxel-size 1.0 --snr 2 -o map.mrc
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..density import SimulationConfig, add_noise, average, half_maps, simulate_map
from ..errors import CryonbError
from ..io import model_xyz, read_map, write_map
from ..maps import check_overlap
from . import check_output, check_positive, read_first_model


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="PDB or mmCIF model")
    p.add_argument("-o", "--out", required=True, help="output MRC map")
    p.add_argument("--resolution", type=float, required=True, help="resolution in Å")
    p.add_argument("--voxel-size", type=float, default=1.0, help="voxel size in Å (default 1.0)")
    p.add_argument("--method", choices=["electron", "gaussian"], default="electron")
    p.add_argument("--padding", type=float, default=10.0, help="margin around the model in Å")
    p.add_argument("--like", help="use the grid (box, voxel size, origin) of this map")
    p.add_argument("--snr", type=float, help="add white noise at this signal-to-noise ratio")
    p.add_argument("--half-maps", action="store_true",
                   help="also write OUT_half1.mrc and OUT_half2.mrc with independent noise")
    p.add_argument("--seed", type=int, default=0)


def main(args: argparse.Namespace) -> int:
    check_positive(resolution=args.resolution, voxel_size=args.voxel_size, snr=args.snr)
    if not (math.isfinite(args.padding) and args.padding >= 0):
        raise CryonbError(None, f"--padding must be a finite number >= 0 Å (got {args.padding})")
    if args.half_maps and not args.snr:
        raise CryonbError(None, "--half-maps needs --snr (the half maps differ by their noise)")
    check_output(args.out, "map")
    st = read_first_model(args.model)
    like = read_map(args.like) if args.like else None
    if like is not None:
        check_overlap(model_xyz(st), like, args.model)
    cfg = SimulationConfig(resolution=args.resolution, voxel_size=args.voxel_size,
                           method=args.method, padding=args.padding)
    voxel = float(like.voxel_size.max()) if like is not None else args.voxel_size
    if args.resolution < 2 * voxel - 1e-6:
        raise CryonbError(None, f"--resolution {args.resolution} Å is finer than the Nyquist limit of "
                                f"{voxel:g} Å voxels ({2 * voxel:g} Å)")
    clean = simulate_map(st, cfg, like=like)
    half_box = 0.5 * float(clean.box_size.min())
    if args.resolution > half_box:
        raise CryonbError(None, f"--resolution {args.resolution} Å is coarser than half the box "
                                f"({half_box:.1f} Å): the map would be flat; use more --padding")
    out = Path(args.out)
    if args.half_maps:
        h1, h2 = half_maps(clean, args.snr, seed=args.seed)
        write_map(h1, out.with_name(out.stem + "_half1.mrc"))
        write_map(h2, out.with_name(out.stem + "_half2.mrc"))
        full = average(h1, h2)
    else:
        full = add_noise(clean, args.snr, seed=args.seed) if args.snr else clean
    write_map(full, out)
    print(f"wrote {out}: {full.shape[::-1]} voxels (x, y, z) of {args.voxel_size} Å, "
          f"resolution {args.resolution} Å")
    return 0
