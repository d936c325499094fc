"""Predict C-alpha atoms in a map with the trained 3D residual network (CR-I-TASSER's first stage).

The network gives a C-alpha probability for every voxel (sliding windows over the whole map, on
the network's voxel size); the seed's greedy picking turns it into atoms: highest probability
first, 3.3 Å apart, at least --length atoms and up to 1.2 x length while the next is above 0.9.
The atoms are written as chain A, residues UNK numbered in picking order, B-factor = 100 x
probability (PDB or mmCIF by the suffix of --out, written atomically; inputs are never modified).

Examples: cryonb predict-ca --map emd.mrc --resolution 3.4 --length 214 --out ca.pdb
          cryonb predict-ca --map emd.mrc --resolution 6 --length 300 --out ca.cif --threads 2 \\
                 --weights my_weights.pt --probability-map prob.mrc
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import CryonbError
from ..io import read_map, write_map, write_model
from ..maps import check_resolution, require_density
from . import check_output, check_positive


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--map", required=True, metavar="FILE", help="density map (MRC/CCP4)")
    p.add_argument("--resolution", type=float, required=True, metavar="Å",
                   help="map resolution in Å (not finer than the map's Nyquist limit)")
    p.add_argument("--length", type=int, required=True, metavar="L",
                   help="sequence length: the number of C-alpha atoms to place at least")
    p.add_argument("--out", required=True, metavar="FILE", help="output model (.pdb or .cif)")
    p.add_argument("--weights", metavar="FILE",
                   help="trained network (default: the weights shipped in cryonb/data/cnn/weights.pt)")
    p.add_argument("--window", type=int, default=64, metavar="N",
                   help="sliding-window edge in voxels (default 64)")
    p.add_argument("--overlap", type=int, default=16, metavar="N",
                   help="overlap of neighbouring windows in voxels (default 16)")
    p.add_argument("--batch", type=int, default=2, metavar="N", help="windows per network pass (default 2)")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="torch device (default auto)")
    p.add_argument("--probability-map", metavar="FILE", help="also write the C-alpha probability map (MRC)")


def main(args: argparse.Namespace) -> int:
    _check_options(args)
    m = read_map(args.map)
    check_resolution(m, args.resolution)
    require_density(m)
    check_length(args.length, m)
    import torch   # torch and the network only now

    from ..cnn.peaks import ca_structure
    from ..cnn.predict import predict_calphas
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    peaks, prob = predict_calphas(m, args.length, args.weights, args.device, args.window, args.overlap,
                                  args.batch)
    write_model(ca_structure(peaks), args.out)
    if args.probability_map:
        write_map(prob, args.probability_map)
    print(f"wrote {args.out}: {len(peaks.xyz)} C-alpha atoms for length {args.length} "
          f"(probability {_range(peaks.value)}), {time.perf_counter() - t0:.1f} s")
    for warning in length_warnings(peaks.value, args.length):
        print(f"WARNING: {warning}", file=sys.stderr)
    return 0


LOW_PROBABILITY = 0.1   # a C-alpha placed below this is a guess, not a prediction


def length_warnings(values: np.ndarray, length: int) -> list[str]:
    """What a user must know when the map does not hold ``length`` C-alpha atoms."""
    out = []
    if len(values) < length:
        out.append(f"the map box holds only {len(values)} positions 3.3 Å apart, fewer than --length {length}")
    low = int((np.asarray(values) < LOW_PROBABILITY).sum())
    if low:
        out.append(f"{low} of the {len(values)} atoms were placed at probability below {LOW_PROBABILITY} (guesses, "
                   f"not predictions): the map may hold fewer residues than --length {length}, or is not "
                   "the region of this sequence")
    return out


VOLUME_PER_RESIDUE = 100.0   # Å^3: less than any folded protein's (about 135 Å^3 at 1.35 g/cm^3)


def check_length(length: int, m, option: str = "--length") -> None:
    """Refuse a chain length (given by ``option``) that the map box could not hold even packed
    solid with protein."""
    most = int(np.prod(m.box_size) / VOLUME_PER_RESIDUE)
    if length > most:
        box = " x ".join(f"{v:.0f}" for v in m.box_size)
        raise CryonbError(m.path, f"{option} {length} residues cannot fit in the map box ({box} Å holds at most "
                                  f"about {most} residues packed solid): check {option} or the map")


def _check_options(args: argparse.Namespace) -> None:
    check_positive(resolution=args.resolution)
    if args.length < 1:
        raise CryonbError(None, f"--length must be >= 1 (the sequence length), got {args.length}")
    for name in ("window", "batch", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise CryonbError(None, f"--{name.replace('_', '-')} must be >= 1")
    if not 0 <= args.overlap < args.window:
        raise CryonbError(None, f"--overlap must be >= 0 and smaller than --window ({args.window})")
    check_output(args.out, "model")
    check_output(args.probability_map, "map")
    outputs = [args.out] + ([args.probability_map] if args.probability_map else [])
    for out in outputs:
        if Path(out).resolve() == Path(args.map).resolve():
            raise CryonbError(out, "is the input map; choose another output file")
    if args.probability_map and Path(args.probability_map).resolve() == Path(args.out).resolve():
        raise CryonbError(args.out, "--out and --probability-map name the same file")


def _range(values: np.ndarray) -> str:
    return f"{values.min():.2f}-{values.max():.2f}" if len(values) else "none"
