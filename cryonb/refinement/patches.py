"""Rigid groups of atoms: K-means patches of residue centres, and single residues.

A residue is never split. Patches are compact in space and, by default, in sequence too (see
:func:`kmeans_patches`). Patches are chain-aware: each chain gets a share of the patches in
proportion to its residue count (at least one), and K-means runs on that chain's residue centres,
so no patch spans two chains.
"""
from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2


def residue_centres(topo, xyz: np.ndarray) -> np.ndarray:
    """(R, 3) Å mean position of each residue's heavy atoms (NaN for a residue with none)."""
    out = np.full((len(topo.residues), 3), np.nan)
    sums = np.zeros((len(topo.residues), 3))
    np.add.at(sums, topo.atoms.residue, xyz)
    counts = np.bincount(topo.atoms.residue, minlength=len(topo.residues))
    ok = counts > 0
    out[ok] = sums[ok] / counts[ok, None]
    return out


def kmeans_patches(topo, xyz: np.ndarray, n_patches: int = 64, seed: int = 0,
                   sequence_weight: float = 1.0) -> np.ndarray:
    """(R,) patch index of each residue: K-means of residue centres, chain by chain.

    ``sequence_weight`` (Å per residue) adds the residue's place in its chain as a fourth
    coordinate, so patches prefer stretches of sequence: in a compact model, domains that touch
    in space stay apart when they are apart in sequence. Measured on AdK closed refined into the
    open end of the DIMS trajectory at 5 Å: 8 patches reach C-alpha RMSD 1.38 Å with 1 Å per
    residue, and drift from 7.7 to 9.2 Å with space alone (patches then straddle NMP and CORE).
    """
    centres = residue_centres(topo, xyz)
    if sequence_weight:
        order = np.arange(len(topo.residues), dtype=np.float64)[:, None]
        centres = np.concatenate([centres, sequence_weight * order], axis=1)
    chains = np.array([r.chain for r in topo.residues])
    names, counts = np.unique(chains, return_counts=True)
    share = _shares(n_patches, counts)
    labels = np.zeros(len(topo.residues), dtype=np.int64)
    next_label = 0
    for name, k in zip(names, share):
        members = np.nonzero((chains == name) & np.isfinite(centres[:, 0]))[0]
        k = int(min(k, len(members)))
        if k <= 1:
            labels[members] = next_label
            next_label += 1
            continue
        rng = np.random.default_rng(seed)
        init = centres[members][np.sort(rng.choice(len(members), k, replace=False))]
        _, lab = kmeans2(centres[members], init, minit="matrix", seed=seed)
        _, lab = np.unique(lab, return_inverse=True)      # drop empty clusters
        labels[members] = lab + next_label
        next_label += int(lab.max()) + 1
    return labels


def _shares(n_patches: int, counts: np.ndarray) -> np.ndarray:
    """Patches per chain: proportional to residue count, at least one, summing to n_patches
    (or to the number of chains when that is larger), by largest remainders."""
    exact = n_patches * counts / counts.sum()
    share = np.maximum(1, np.floor(exact).astype(int))
    left = n_patches - share.sum()
    if left > 0:
        order = np.argsort(-(exact - np.floor(exact)), kind="stable")
        share[order[:left]] += 1
    return share


def atom_groups(topo, residue_group: np.ndarray) -> np.ndarray:
    """(N,) group index of every atom from the group index of its residue."""
    return np.asarray(residue_group)[topo.atoms.residue]
