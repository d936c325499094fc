"""Fit the C-alpha statistical potential of the assembly simulation on the structure corpus.

From the 50 single-chain corpus structures (``cryonb.data.corpus``, source "dssp"; the assembly
benchmark drops targets at 90 % identity or more to any of them) this writes
``cryonb/data/assembly/ca_potential.npz``:

- ``bond_mean``, ``bond_sd``: consecutive trans C-alpha distance (Å);
- ``angle_edges`` (degrees), ``angle_energy``: -log p(theta) / sin(theta), kT, mean 0 over the corpus;
- ``torsion_angle_edges``, ``torsion_edges`` (degrees), ``torsion_energy`` (A, T): -log p(tau | theta)
  against a flat tau, with theta the angle at i+1 of the dihedral i..i+3;
- ``contact_energy`` (20, 20): quasi-chemical contact energies (kT) of C-alpha pairs at least 3
  apart in sequence and closer than ``contact_cutoff`` Å, shrunk to 0 by 10 pseudo-contacts;
- ``clash_distance``: the 0.1th percentile of those non-local C-alpha distances (Å);
- ``chains``, ``sequences``: what was fitted on.

    python tools/fit_ca_potential.py [--out cryonb/data/assembly/ca_potential.npz]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cryonb.assembly.ca_geometry import BREAK, bonds, virtual_angles, virtual_dihedrals
from cryonb.data.corpus import corpus_entries, load_corpus_structure
from cryonb.io import calpha
from cryonb.sequence import ONE_LETTER

AMINO = "ACDEFGHIKLMNPQRSTVWY"
CONTACT_CUTOFF = 7.5
ANGLE_EDGES = np.arange(50.0, 180.01, 2.5)
TORSION_ANGLE_EDGES = np.arange(50.0, 180.01, 10.0)
TORSION_EDGES = np.arange(-180.0, 180.01, 15.0)


def chains() -> list[tuple[str, str, np.ndarray]]:
    """(name, one-letter sequence, C-alphas (L, 3)) of each corpus chain, unknown residues as X."""
    out = []
    for e in corpus_entries():
        if e.source != "dssp":
            continue
        st = load_corpus_structure(e.name)
        keys, xyz = calpha(st)
        names = [st[0][k[0]][k[1]][0].name for k in keys]
        out.append((e.name, "".join(ONE_LETTER.get(n, "X") for n in names), xyz))
    return out


def fit(data: list[tuple[str, str, np.ndarray]]) -> dict:
    bond_all, angles, pairs_ta, nonlocal_d = [], [], [], []
    counts = np.zeros((20, 20))
    for _, seq, x in data:
        b = bonds(x)
        ok_bond = (b > 3.5) & (b < BREAK)
        bond_all.append(b[ok_bond])
        theta = virtual_angles(x)
        angles.append(theta[ok_bond[:-1] & ok_bond[1:]])
        tau = virtual_dihedrals(x)
        ok_t = ok_bond[:-2] & ok_bond[1:-1] & ok_bond[2:]
        pairs_ta.append(np.stack([theta[:-1][ok_t], tau[ok_t]], 1))
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        i, j = np.triu_indices(len(x), 3)
        nonlocal_d.append(d[i, j])
        close = d[i, j] < CONTACT_CUTOFF
        a = np.array([AMINO.find(c) for c in seq])
        keep = close & (a[i] >= 0) & (a[j] >= 0)
        np.add.at(counts, (a[i][keep], a[j][keep]), 1)
        np.add.at(counts, (a[j][keep], a[i][keep]), 1)
    bond_all = np.concatenate(bond_all)
    angle_energy = _angle_energy(np.concatenate(angles))
    torsion_energy = _torsion_energy(np.concatenate(pairs_ta))
    return dict(bond_mean=bond_all.mean(), bond_sd=bond_all.std(), angle_edges=ANGLE_EDGES,
                angle_energy=angle_energy, torsion_angle_edges=TORSION_ANGLE_EDGES,
                torsion_edges=TORSION_EDGES, torsion_energy=torsion_energy,
                contact_energy=_contact_energy(counts), contact_cutoff=CONTACT_CUTOFF,
                clash_distance=np.percentile(np.concatenate(nonlocal_d), 0.1), amino=AMINO,
                chains=np.array([n for n, _, _ in data]), sequences=np.array([s for _, s, _ in data]))


def _angle_energy(theta: np.ndarray) -> np.ndarray:
    n, _ = np.histogram(theta, ANGLE_EDGES)
    mid = 0.5 * (ANGLE_EDGES[1:] + ANGLE_EDGES[:-1])
    p = (n + 1.0) / (n.sum() + len(n))
    e = -np.log(p / np.sin(np.radians(mid)))
    return e - (e * p).sum()


def _torsion_energy(ta: np.ndarray) -> np.ndarray:
    n, _, _ = np.histogram2d(ta[:, 0], ta[:, 1], [TORSION_ANGLE_EDGES, TORSION_EDGES])
    n = n + 0.25 * (np.roll(n, 1, 1) + np.roll(n, -1, 1)) + 1.0      # circular smoothing + pseudo-count
    p_given = n / n.sum(axis=1, keepdims=True)
    return -np.log(p_given * n.shape[1])


def _contact_energy(counts: np.ndarray, pseudo: float = 10.0) -> np.ndarray:
    total = counts.sum()
    f = counts.sum(axis=1) / total
    expected = total * np.outer(f, f)
    return -np.log((counts + pseudo) / (expected + pseudo))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("cryonb/data/assembly/ca_potential.npz"))
    args = parser.parse_args(argv)
    table = fit(chains())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **table)
    print(f"bond {table['bond_mean']:.3f} +- {table['bond_sd']:.3f} Å, clash {table['clash_distance']:.2f} Å, "
          f"{len(table['chains'])} chains -> {args.out}")


if __name__ == "__main__":
    main()
