"""Fit the side-chain classifier of :mod:`cryonb.trace.sidechain` on the C-alpha network's training chains.

For each of the shipped network's 40 training chains (its recorded split; never the validation or
test chains) and each resolution, ``--draws`` maps are simulated noise-free in random orientations
on the network's voxel size (as ``benchmarks/trace.py`` makes its test maps); the true C-alphas,
moved by Gaussian noise of ``--noise`` Å per axis (the network's C-alphas lie 0.85-0.9 Å RMS from
the true ones at 3 Å, about 0.5 Å per axis), give the grids; one LDA model per resolution is
written to cryonb/data/trace/side_chains.npz. ``--check`` fits on 30 training chains and prints
the accuracy and the mean log-odds of the true type on the other 10 instead.

    python benchmarks/fit_side_chains.py [--resolutions 3 4 5 6 8] [--draws 3] [--noise 0.5] [--check]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from cryonb.cnn import DataConfig, load_weights
from cryonb.cnn.dataset import load_structure, make_sample
from cryonb.trace.sidechain import AMINO, fit_model, map_scale, read_grids, save_models, type_indices
from cryonb.trace.thread import structure_sequence


def chain_grids(name: str, resolution: float, voxel: float, noise: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Grids (n, P) and types (n,) of one simulated map of ``name`` (atoms with both neighbours
    within 4.3 Å, of the 20 standard types)."""
    st = load_structure(name)
    types = type_indices(structure_sequence(st))
    s = make_sample(st, DataConfig(voxel_size=voxel, snr_range=None), rng, name, resolution=resolution)
    ca = s.ca + rng.normal(0, noise, s.ca.shape)
    grids, ok = read_grids(s.map, ca, map_scale(s.map, ca))
    gap = np.linalg.norm(np.diff(s.ca, axis=0), axis=1) < 4.3
    ok[1:-1] &= gap[:-1] & gap[1:]
    ok &= types >= 0
    return grids[ok], types[ok]


def collect(names, resolution, voxel, noise, draws, rng):
    parts = [chain_grids(n, resolution, voxel, noise, rng) for n in names for _ in range(draws)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", type=float, nargs="+", default=[3.0, 4.0, 5.0, 6.0, 8.0])
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--noise", type=float, default=0.5)
    ap.add_argument("--shrink", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    _, info = load_weights()
    train = sorted(info["record"]["split"]["train"])
    rng = np.random.default_rng(args.seed)
    models = []
    for res in args.resolutions:
        if args.check:
            fit_names, held = train[:30], train[30:]
        else:
            fit_names, held = train, []
        x, y = collect(fit_names, res, info["voxel_size"], args.noise, args.draws, rng)
        model = fit_model(x, y, res, args.shrink)
        if held:
            hx, hy = collect(held, res, info["voxel_size"], args.noise, 1, rng)
            lo = model.log_odds(hx)
            print(f"{res:g} Å: fitted on {len(y)} residues; held out {len(hy)}: accuracy "
                  f"{np.mean(lo.argmax(1) == hy):.3f}, mean log-odds of the true type "
                  f"{lo[np.arange(len(hy)), hy].mean():.3f} nats", flush=True)
        else:
            print(f"{res:g} Å: fitted on {len(y)} residues of {len(fit_names)} chains", flush=True)
        models.append(model)
    if not args.check:
        save_models(models)
        print("wrote cryonb/data/trace/side_chains.npz", AMINO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
