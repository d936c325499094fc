"""Fit the side-chain classifier of :mod:`cryonb.trace.sidechain` on the C-alpha network's training chains.

For each of the shipped network's 40 training chains (its recorded split; never the validation or
test chains) and each resolution, ``--draws`` maps are simulated noise-free in random orientations
on the network's voxel size (as ``benchmarks/trace.py`` makes its test maps) and the grids are
read at the network's own C-alphas (``--calphas network``: the L most probable peaks of its
output on the map, as ``benchmarks/trace.py`` picks them, each matched one-to-one to a true
C-alpha within 3 Å; residues whose atom or either neighbour's was not found are left out), so the
classifier learns the network's position errors and misses, or at the true C-alphas moved by
Gaussian noise of ``--noise`` Å per axis (``--calphas true``), or both from the same maps
(``--calphas both``, default: fitted on the network's alone the classifier read noisy true
C-alphas badly: mean log-odds of AdK's true types -1.7 nats at 3 Å); one LDA model per resolution is
written to cryonb/data/trace/side_chains.npz. ``--cache DIR`` keeps the picked atoms per map. ``--check`` fits on 30
training chains and prints the accuracy and the mean log-odds of the true type on the other 10
instead.

    python benchmarks/fit_side_chains.py [--resolutions 3 4 5 6 8] [--draws 2] [--noise 0.5]
        [--calphas both|network|true] [--cache DIR] [--threads 1] [--check]

The shipped file is the defaults' (both, 2 maps per chain and resolution, seed 0: 20,276 residues
at 3 Å, 17,523 at 6 Å; about 15 min on one thread for the network, 1 min with its atoms cached).
The earlier file (true C-alphas + 0.5 Å noise, 3 draws) is ``--calphas true --draws 3``.
"""
from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

import torch

from cryonb.cnn import DataConfig, load_weights, pick_atoms, sliding_window
from cryonb.cnn.dataset import load_structure, make_sample
from cryonb.trace.sidechain import AMINO, fit_model, map_scale, read_grids, save_models, type_indices
from cryonb.trace.evaluate import match_atoms
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


def network_grids(net, name: str, resolution: float, voxel: float, seed: int, cache: Path | None = None,
                  draw: int = 0, noise: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grids (n, P) and types (n,) read at the network's C-alphas on one simulated map of ``name``
    (its orientation seeded by ``seed``, the name, resolution and ``draw``, so a cached map repeats):
    each true C-alpha found (a picked atom within 3 Å, one-to-one) is replaced by its atom; kept are
    residues found with both neighbours found, links under 4.3 Å, of the 20 standard types. With
    ``noise`` (Å per axis) the same map's grids at the true C-alphas so moved are added."""
    st = load_structure(name)
    types = type_indices(structure_sequence(st))
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), int(round(resolution * 10)), draw])
    s = make_sample(st, DataConfig(voxel_size=voxel, snr_range=None), rng, name, resolution=resolution)
    f = cache / f"{name}_{resolution:g}_{seed}_{draw}.npz" if cache else None
    if f is not None and f.exists():
        atoms = np.load(f)["atoms"]
    else:
        prob = sliding_window(net, s.map.data)
        atoms = pick_atoms(s.map.copy(data=prob), len(s.ca), threshold=None).xyz
        if f is not None:
            np.savez(f, atoms=atoms)
    match = match_atoms(atoms, s.ca)
    ca, found = s.ca.copy(), np.zeros(len(s.ca), bool)
    ca[match[match >= 0]] = atoms[match >= 0]
    found[match[match >= 0]] = True
    grids, ok = read_grids(s.map, ca, map_scale(s.map, atoms))
    gap = np.linalg.norm(np.diff(s.ca, axis=0), axis=1) < 4.3
    ok[1:-1] &= gap[:-1] & gap[1:] & found[:-2] & found[2:]
    ok &= found & (types >= 0)
    if noise is None:
        return grids[ok], types[ok]
    moved = s.ca + rng.normal(0, noise, s.ca.shape)
    more, fine = read_grids(s.map, moved, map_scale(s.map, moved))
    fine[1:-1] &= gap[:-1] & gap[1:]
    fine &= types >= 0
    return np.concatenate([grids[ok], more[fine]]), np.concatenate([types[ok], types[fine]])


def collect(names, resolution, voxel, noise, draws, rng, net=None, cache=None, seed=0, both=False):
    if net is not None:
        parts = [network_grids(net, n, resolution, voxel, seed, cache, d, noise if both else None)
                 for n in names for d in range(draws)]
    else:
        parts = [chain_grids(n, resolution, voxel, noise, rng) for n in names for _ in range(draws)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", type=float, nargs="+", default=[3.0, 4.0, 5.0, 6.0, 8.0])
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--noise", type=float, default=0.5)
    ap.add_argument("--shrink", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calphas", choices=("true", "network", "both"), default="both",
                    help="true: true C-alphas + noise; network: the network's matched C-alphas; both")
    ap.add_argument("--cache", help="folder keeping the network's picked atoms per map")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, info = load_weights()
    net = net if args.calphas in ("network", "both") else None
    cache = Path(args.cache) if args.cache else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    train = sorted(info["record"]["split"]["train"])
    rng = np.random.default_rng(args.seed)
    models = []
    for res in args.resolutions:
        if args.check:
            fit_names, held = train[:30], train[30:]
        else:
            fit_names, held = train, []
        x, y = collect(fit_names, res, info["voxel_size"], args.noise, args.draws, rng, net, cache, args.seed,
                       args.calphas == "both")
        model = fit_model(x, y, res, args.shrink)
        if held:
            hx, hy = collect(held, res, info["voxel_size"], args.noise, 1, rng, net, cache, args.seed + 1,
                             args.calphas == "both")
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
