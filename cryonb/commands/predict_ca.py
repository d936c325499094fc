"""Predict C-alpha atoms in a map with the trained 3D residual network (CR-I-TASSER's first stage).

The network gives a C-alpha probability for every voxel (sliding windows over the whole map, on
the network's voxel size); the seed's greedy picking turns it into atoms: highest probability
first, 3.3 Å apart, at least --length atoms and up to 1.2 x length while the next is above 0.9.
The atoms are written as chain A, residues UNK numbered in picking order, B-factor = 100 x
probability (PDB or mmCIF by the suffix of --out, written atomically; inputs are never modified).

Two networks when both are there (the seed's consensus): the first trained on simulated maps
(--weights, default the shipped one), the second on experimental-looking and real maps
(--second-weights, default cryonb/data/cnn/weights_experimental.pt when shipped). Their agreement
(CRscore of one's atoms against the other's) above 0.85 makes the prediction reliable: paired atoms
are averaged. Below it the atoms are written but flagged unreliable (templates and assembly should
lean on the density). --single uses the first network alone.

Beside --out it writes OUT_naive.pdb (the seed's naive baseline: the same number of atoms picked on
the density itself) and OUT.json: the networks, their agreement, how many network atoms the naive
picking also found, and the map's density at both sets of atoms, so a user sees whether the network
found anything the density alone would not.

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
from ..runs import write_json
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
    p.add_argument("--second-weights", metavar="FILE",
                   help="the experimental-trained network (default: cryonb/data/cnn/weights_experimental.pt "
                        "when shipped)")
    p.add_argument("--single", action="store_true", help="the first network alone, no consensus")
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

    from ..cnn.peaks import calpha_chain, naive_atoms
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    xyz, value, prob, report = _predict(m, args)
    naive = naive_atoms(m, args.length)
    report.update(naive_report(m, xyz, naive.xyz, args), seconds=round(time.perf_counter() - t0, 1))
    write_model(calpha_chain(xyz, value), args.out)
    write_model(calpha_chain(naive.xyz), naive_path(args.out))
    write_json(report, report_path(args.out))
    if args.probability_map:
        write_map(prob, args.probability_map)
    print(f"wrote {args.out}: {len(xyz)} C-alpha atoms for length {args.length} "
          f"(probability {_range(value)}), {report['seconds']:.1f} s")
    print(report_text(report))
    for warning in length_warnings(value, args.length) + report["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 0


def _predict(m, args) -> tuple[np.ndarray, np.ndarray, object, dict]:
    """Atoms, their probabilities, the (first) probability map and the report's network part."""
    from ..cnn.predict import predict_calphas, predict_consensus
    from ..cnn.weights import DEFAULT_WEIGHTS, EXPERIMENTAL_WEIGHTS
    first = str(args.weights or DEFAULT_WEIGHTS)
    second = args.second_weights or (str(EXPERIMENTAL_WEIGHTS) if EXPERIMENTAL_WEIGHTS.is_file() else None)
    report = {"map": str(args.map), "resolution": args.resolution, "length": args.length, "networks": [first],
              "agreement": None, "reliable": None, "warnings": [], "notes": []}
    if args.single or second is None:
        if not args.single:
            report["notes"].append("one network: no second (experimental-trained) network is shipped yet, so no "
                                   "consensus (give one with --second-weights)")
        peaks, prob = predict_calphas(m, args.length, args.weights, args.device, args.window, args.overlap,
                                      args.batch)
        return peaks.xyz, peaks.value, prob, report
    agreed, peaks, probs = predict_consensus(m, args.length, args.device, args.window, args.overlap, args.batch,
                                             (args.weights, second))
    report.update(networks=[first, str(second)], **agreed.summary(),
                  atoms_per_network=[len(p.xyz) for p in peaks])
    if not agreed.reliable:
        report["warnings"].append(f"the two networks agree only to CRscore {agreed.agreement:.2f} (reliable above "
                                  "0.85): treat the atoms as a guess; templates and assembly should lean on the "
                                  "density")
    return agreed.xyz, agreed.value, probs[0], report


def naive_report(m, xyz: np.ndarray, naive: np.ndarray, args) -> dict:
    """How the network's atoms compare with the naive baseline's: shared atoms (within 3 Å) and the
    map's density at each set (in SD above the mean of the map's non-zero voxels)."""
    from ..cnn.score import ca_score
    shared = ca_score(xyz, naive, args.length)
    return {"naive_atoms": len(naive), "naive_file": str(naive_path(args.out)),
            "network_atoms_found_by_naive": shared.n_close,
            "density_sd_at_network_atoms": _density_sd(m, xyz),
            "density_sd_at_naive_atoms": _density_sd(m, naive)}


def _density_sd(m, xyz: np.ndarray) -> float | None:
    if not len(xyz):
        return None
    data = m.data.astype(np.float64)
    ref = data[data != 0] if (data != 0).any() else data.ravel()
    return round(float((m.values_at(xyz).mean() - ref.mean()) / (ref.std() or 1.0)), 3)


def report_text(report: dict) -> str:
    lines = [f"networks: {len(report['networks'])}"] + report["notes"]
    if report["agreement"] is not None:
        lines.append(f"agreement (CRscore between the two networks' atoms): {report['agreement']:.3f} -> "
                     f"{'reliable' if report['reliable'] else 'UNRELIABLE'} (threshold 0.85)")
    lines.append(f"naive baseline ({report['naive_file']}): {report['network_atoms_found_by_naive']} of the network's "
                 f"atoms are within 3 Å of a naive one; density at network atoms "
                 f"{report['density_sd_at_network_atoms']} SD, at naive atoms {report['density_sd_at_naive_atoms']} SD")
    return "\n".join(lines)


def naive_path(out: str) -> Path:
    p = Path(out)
    return p.with_name(f"{p.stem}_naive{p.suffix}")


def report_path(out: str) -> Path:
    return Path(out).with_suffix(".json")


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
    outputs = [args.out, str(naive_path(args.out)), str(report_path(args.out))]
    outputs += [args.probability_map] if args.probability_map else []
    for out in outputs:
        if Path(out).resolve() == Path(args.map).resolve():
            raise CryonbError(out, "is the input map; choose another output file")
    if args.probability_map and Path(args.probability_map).resolve() == Path(args.out).resolve():
        raise CryonbError(args.out, "--out and --probability-map name the same file")


def _range(values: np.ndarray) -> str:
    return f"{values.min():.2f}-{values.max():.2f}" if len(values) else "none"
