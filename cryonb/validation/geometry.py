"""Covalent-geometry validation with MolProbity's definitions.

* bond and angle RMSZ over heavy-atom restraints (CCP4 monomer library ideals and
  esds), with counts of |Z| > 4 and > 5;
* C-beta deviations: distance of CB from its ideal position built from N, C and CA
  (the average of the two constructions of Prekin/MolProbity's cbetadev, with its
  per-residue-class ideal values); outliers above 0.25 Å;
* peptide omega: cis (|omega| < 30 degrees) and twisted (30 <= |omega| < 150), with
  cis-proline counted apart;
* clashscore: clashes (overlap >= 0.4 Å) per 1000 atoms, hydrogens included, counted as
  MolProbity counts them: hydrogens placed and turned as reduce places them, overlaps read
  from probe's surface dots with probe's rule for which neighbours are bonded
  (:func:`clash_list`, :func:`probe_clashes`; :mod:`.rotors` for the hydrogens).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.spatial import cKDTree

from ..geometry import clashes
from ..geometry.cbeta import CBETA_IDEAL, cbeta_class
from ..geometry.hydrogens import nerf
from ..geometry.library import standard_residues
from ..geometry.linking import dihedral_deg
from ..geometry.terms import angle_z, bond_z
from .probe_dots import HB_CUTOFF, HB_CUTOFF_CHARGED, PROBE_RADIUS, dot_sphere
from .rotors import optimise_rotors

CBETA_OUTLIER = 0.25  # Å
# probe's table of hydrogen parents covers the standard residues, except ILE HG13 (it lists
# HG11/HG12); a hydrogen it cannot name bonds to any heavy atom of its residue in reach.
_PROBE_NAMED_H = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
                  "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "A", "C", "G", "U", "DA", "DC", "DG", "DT"}
_PROBE_UNNAMED_H = {("ILE", "HG13"), ("PRO", "H1"), ("PRO", "H2"), ("PRO", "H3")}
_CHARGED = [("LYS", ["NZ", "HZ1", "HZ2", "HZ3"], 1),
            ("ARG", ["NE", "NH1", "NH2", "HE", "HH11", "HH12", "HH21", "HH22"], 1),
            ("ASP", ["OD1", "OD2"], -1), ("GLU", ["OE1", "OE2"], -1)]


@dataclass
class Outlier:
    kind: str
    residue: str
    atoms: str
    value: float


def covalent_geometry(topo, xyz: np.ndarray, restraints=None) -> tuple[dict, list[Outlier]]:
    """Bond and angle RMSZ and outlier counts against ``restraints`` (default: the topology's
    library values; pass :func:`cryonb.geometry.cdl.cdl_restraints` for cctbx's default); outliers
    listed with |Z| > 4.

    ``bond_*``/``angle_*`` cover restraints among standard residues (amino acids, nucleotides,
    and the links between them), as MolProbity's macromolecule table; ``ligand_bond_*`` and
    ``ligand_angle_*`` the rest (ligands, modified residues, their links), as wwPDB reports
    ligand geometry apart; None where there are none.
    """
    r = topo.restraints if restraints is None else restraints
    x = torch.as_tensor(xyz, dtype=torch.float64)
    standard = standard_atoms(topo)
    out, listed = {}, []
    for kind, z, idx in (("bond", bond_z(x, r).numpy(), r.bonds), ("angle", angle_z(x, r).numpy(), r.angles)):
        polymer = standard[idx].all(1) if len(idx) else np.zeros(0, bool)
        for prefix, keep in (("", polymer), ("ligand_", ~polymer)):
            zk = z[keep]
            out[f"{prefix}{kind}_rmsz"] = float(np.sqrt(np.mean(zk ** 2))) if len(zk) else (
                float("nan") if not prefix else None)
            out[f"{prefix}{kind}_outliers_z4"] = int((np.abs(zk) > 4).sum())
            out[f"{prefix}{kind}_outliers_z5"] = int((np.abs(zk) > 5).sum())
            out[f"n_{prefix}{kind}s"] = int(len(zk))
        for k in np.flatnonzero(np.abs(z) > 4):
            atoms = "-".join(topo.atoms.names[idx[k]])
            listed.append(Outlier(kind, topo.residue_label(topo.atoms.residue[idx[k][1 if kind == "angle" else 0]]),
                                  atoms, float(z[k])))
    return out, listed


def standard_atoms(topo) -> np.ndarray:
    """(n,) bool: the atom belongs to a standard residue (built-in tables: amino acids, nucleotides)."""
    names = standard_residues()
    return np.array([topo.residues[k].name in names for k in topo.atoms.residue], dtype=bool)


def ideal_cbeta(n: np.ndarray, ca: np.ndarray, c: np.ndarray, resnames) -> np.ndarray:
    """Ideal CB positions (m, 3) from backbone atoms (m, 3) each, by residue class."""
    params = np.array([CBETA_IDEAL[cbeta_class(r)] for r in resnames]).reshape(-1, 5)
    dist, ang1, dih1, ang2, dih2 = (params[:, i:i + 1] for i in range(5))
    n, ca, c, dist = (torch.as_tensor(np.asarray(v, dtype=float)) for v in (n, ca, c, dist))
    b1 = nerf(n, c, ca, dist, torch.as_tensor(np.radians(ang1)), torch.as_tensor(np.radians(dih1))).numpy()
    b2 = nerf(c, n, ca, dist, torch.as_tensor(np.radians(ang2)), torch.as_tensor(np.radians(dih2))).numpy()
    ca, dist = ca.numpy(), dist.numpy()
    mid = (b1 + b2) / 2 - ca
    return ca + mid * dist / np.linalg.norm(mid, axis=1, keepdims=True)


def cbeta_deviations(topo, xyz: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Per-residue C-beta deviation (Å) for residues with N, CA, C, CB; and their residue indices."""
    rows = [(k, [r.atoms[a] for a in ("N", "CA", "C", "CB")]) for k, r in enumerate(topo.residues)
            if r.polymer == "peptide" and r.name != "GLY" and all(a in r.atoms for a in ("N", "CA", "C", "CB"))]
    if not rows:
        return np.zeros(0), []
    idx = np.array([a for _, a in rows])
    names = [topo.residues[k].name for k, _ in rows]
    ideal = ideal_cbeta(xyz[idx[:, 0]], xyz[idx[:, 1]], xyz[idx[:, 2]], names)
    return np.linalg.norm(xyz[idx[:, 3]] - ideal, axis=1), [k for k, _ in rows]


def peptide_omegas(topo, xyz: np.ndarray) -> list[tuple[int, float]]:
    """(index of the residue after the peptide, omega in degrees) for each peptide link."""
    out = []
    for lk in topo.links:
        if not lk.polymer or topo.residues[lk.i].polymer != "peptide":
            continue
        a, b = topo.residues[lk.i], topo.residues[lk.j]
        names = [(a, "CA"), (a, "C"), (b, "N"), (b, "CA")]
        if all(n in r.atoms for r, n in names):
            out.append((lk.j, float(dihedral_deg(xyz[[r.atoms[n] for r, n in names]]))))
    return out


def omega_summary(topo, xyz: np.ndarray) -> dict:
    om = peptide_omegas(topo, xyz)
    cis = [k for k, w in om if abs(w) < 30]
    twisted = [k for k, w in om if 30 <= abs(w) < 150]
    pro = {k for k, _ in om if topo.residues[k].name == "PRO"}
    return {"n_cis_proline": len([k for k in cis if k in pro]), "n_cis_general": len([k for k in cis if k not in pro]),
            "n_twisted": len(twisted), "n_peptides": len(om),
            "cis_residues": [topo.residue_label(k) for k in cis],
            "twisted_residues": [topo.residue_label(k) for k in twisted]}


def clash_list(topo, library, xyz: np.ndarray, threshold: float = clashes.CLASH_OVERLAP,
               probe_bonding: bool = True, hydrogens: np.ndarray | None = None):
    """Clashscore (clashes per 1000 atoms, hydrogens included) and the clashing pairs.

    As MolProbity (reduce, then probe): hydrogens from :func:`clash_hydrogens` (riding, with OH,
    SH and NH3+ turned as reduce turns them) unless ``hydrogens`` (nh, 3) are given; a pair
    clashes when a surface dot of one atom lies at least ``threshold`` Å inside the other and no
    dot of the pair is an H-bond (:func:`probe_clashes`). With ``probe_bonding`` bonds are judged
    from distances as probe does, so a stretched bond in a distorted model counts as a clash (as
    on the wwPDB server); otherwise the topology's bonds are used.
    """
    atoms = clashes.atom_set(topo, library)
    charge = _charges(topo)
    hx = clash_hydrogens(topo, library, xyz, atoms=atoms, charge=charge) if hydrogens is None \
        else np.asarray(hydrogens, dtype=float)
    allx = np.concatenate([np.asarray(xyz, dtype=float), hx])
    n, h = topo.n_atoms, topo.hydrogens
    parent = np.concatenate([np.full(n, -1), h.parent])
    if probe_bonding:
        named = np.array([topo.residues[r].name in _PROBE_NAMED_H and (topo.residues[r].name, str(name)) not in
                          _PROBE_UNNAMED_H for r, name in zip(h.residue, h.names)], dtype=bool)
        probe_parent = np.concatenate([np.full(n, -1), np.where(named, h.parent, -1)])
        residue = np.concatenate([topo.atoms.residue, h.residue])
        bonds = clashes.distance_bonds(allx, atoms.elements, probe_parent, residue)
    else:
        bonds = np.concatenate([topo.restraints.bonds, np.stack([h.parent, n + np.arange(len(h))], 1)])
    keep = atoms.clashable
    index = np.flatnonzero(keep)
    bonds = (np.cumsum(keep) - 1)[bonds[keep[bonds].all(1)]]
    pairs, over = probe_clashes(allx[index], atoms.radius[index], parent[index] >= 0, bonds,
                                atoms.polar_h[index], atoms.acceptor[index], charge[index], threshold)
    pairs = index[pairs]
    pairs = pairs[~(atoms.water[pairs[:, 0]] & atoms.water[pairs[:, 1]])] if len(pairs) else pairs
    listed = [Outlier("clash", _atom_label(topo, i), _atom_label(topo, j), float(o))
              for (i, j), o in zip(pairs, over)]
    return 1000.0 * len(pairs) / max(len(index), 1), listed, len(index)


def clash_hydrogens(topo, library, xyz: np.ndarray, rotate: bool = True,
                    atoms: clashes.AtomSet | None = None, charge: np.ndarray | None = None) -> np.ndarray:
    """Hydrogen positions (nh, 3) for the clashscore: riding, with OH, SH and NH3+ groups turned
    as MolProbity's reduce turns them (:func:`cryonb.validation.rotors.optimise_rotors`).
    ``atoms`` and ``charge`` are the caller's atom set and charges, when it has them already."""
    x = torch.as_tensor(xyz, dtype=torch.float64)
    hx = topo.hydrogens.place(x).numpy()
    if rotate:
        atoms = atoms if atoms is not None else clashes.atom_set(topo, library)
        hx = optimise_rotors(topo, atoms, x.numpy(), hx, _charges(topo) if charge is None else charge)
    return hx


def probe_clashes(xyz: np.ndarray, radius: np.ndarray, is_h: np.ndarray, bonds: np.ndarray,
                  donor: np.ndarray, acceptor: np.ndarray, charge: np.ndarray,
                  threshold: float = clashes.CLASH_OVERLAP) -> tuple[np.ndarray, np.ndarray]:
    """Clashing pairs (k, 2) and their overlaps (k,) in Å, judged as probe judges them.

    probe (``-mc -once``, density 16 dots/Å^2, probe radius 0.25 Å) puts dots on each atom's van
    der Waals sphere (:func:`dot_sphere`). A dot belongs to the non-bonded neighbour it lies
    deepest in (smallest gap |dot - x_b| - r_b): only that atom can clash with it, so a dot
    inside two atoms counts once. A dot inside the sphere of an atom *bonded* to its owner is
    dropped (not the pair: the rest of the lens still counts). Bonded means joined by at most 3
    bonds, or 4 when either end is a hydrogen (:func:`bonded_marks`). A pair's overlap is its
    deepest dot, from either side; an H-bond pair (polar H and acceptor, not both charged alike)
    never clashes unless none of its dots is an H-bond (gap within 0.6 Å, 0.8 charged) and one lies
    more than 0.6 (0.8) + ``threshold`` deep.

    Being discrete, the deepest dot lies up to ~0.02 Å (typically 0.01 Å) short of the analytic
    r_a + r_b - d; that is modelled, with probe's own dot layout, so borderline pairs agree.

    xyz (n, 3) Å; radius, is_h, donor (polar H), acceptor, charge (+1, -1, 0): (n,);
    bonds (m, 2) as probe would find them (:func:`cryonb.geometry.clashes.distance_bonds`).
    """
    i, j, d = _neighbours(xyz, radius)
    n = len(xyz)
    near = sp.csr_matrix((np.ones(2 * len(i), bool), (np.r_[i, j], np.r_[j, i])), shape=(n, n))
    marks = bonded_marks(bonds, near, is_h)
    charged = (charge[i] != 0) & (charge[j] != 0)
    hbond = ((donor[i] & acceptor[j]) | (acceptor[i] & donor[j])) & (~charged | (charge[i] * charge[j] < 0))
    cut = np.where(hbond, np.where(charged, HB_CUTOFF_CHARGED, HB_CUTOFF), 0.0)
    over = radius[i] + radius[j] - d
    cand = np.flatnonzero(over >= threshold + cut)
    src, tgt, pid = np.r_[i[cand], j[cand]], np.r_[j[cand], i[cand]], np.r_[cand, cand]
    free = ~_lookup(marks, src, tgt)
    src, tgt, pid = src[free], tgt[free], pid[free]
    touching = over >= 0          # only atoms overlapping the source can own or mask its dots
    rows, cols = np.r_[i[touching], j[touching]], np.r_[j[touching], i[touching]]
    nb = _padded(rows, cols, _lookup(marks, rows, cols), n)
    best, has_hb = np.full(len(i), -np.inf), np.zeros(len(i), bool)
    for rad in np.unique(radius[src]):
        group = np.flatnonzero(radius[src] == rad)
        for chunk in np.array_split(group, max(1, len(group) // 512)):
            s, t, k = src[chunk], tgt[chunk], pid[chunk]
            k, gap = _owned_dots(xyz, radius, nb, s, t, np.where(hbond[k], 0.0, -threshold), k)
            is_hb = hbond[k] & (gap >= -cut[k])
            has_hb[k[is_hb]] = True
            np.maximum.at(best, k[~is_hb], -(gap[~is_hb] + cut[k[~is_hb]]))
    hit = np.flatnonzero((best >= threshold) & ~has_hb)
    hit = hit[np.argsort(-best[hit], kind="stable")]
    return np.stack([i[hit], j[hit]], 1), best[hit]


def _owned_dots(xyz, radius, nb, src, tgt, deepest, pair):
    """Dots of each source atom lying ``deepest`` (Å, (m,)) or deeper in its target that the
    target owns (no non-bonded neighbour holds them deeper) and no bonded atom hides.

    src, tgt, pair: (m,) source, target and pair index; nb: padded neighbour lists and their
    bonded flags from :func:`_padded`. Returns the pair index and the gap (Å) of each such dot.
    """
    others_all, bonded_all = nb
    pos = xyz[src][:, None, :] + dot_sphere(float(radius[src[0]]))[None]
    gap = np.linalg.norm(pos - xyz[tgt][:, None, :], axis=2) - radius[tgt][:, None]
    p, q = np.nonzero(gap <= deepest[:, None])
    pos, gap, src, tgt, pair = pos[p, q], gap[p, q], src[p], tgt[p], pair[p]
    xyz_pad, r_pad = np.vstack([xyz, np.full((1, 3), 1e9)]), np.r_[radius, 0.0]
    others, bonded = others_all[src], bonded_all[src]
    dist = np.linalg.norm(pos[:, None, :] - xyz_pad[others], axis=2)
    hidden = (bonded & (dist <= r_pad[others])).any(1)
    taken = (~bonded & (others != tgt[:, None]) & (dist - r_pad[others] < gap[:, None])).any(1)
    ok = ~hidden & ~taken
    return pair[ok], gap[ok]


def bonded_marks(bonds: np.ndarray, near: sp.csr_matrix, is_h: np.ndarray) -> sp.csr_matrix:
    """(n, n) bool, row = source atom: the atoms probe treats as bonded to it (no dots, no clash).

    Paths of at most 3 bonds, or 4 when either end is a hydrogen, running only through atoms in
    the source's neighbourhood ``near`` (row s: atoms within r_s + r_b + 0.5 Å of s), as probe
    walks bonds only among the atoms it has gathered around the source.
    """
    n = near.shape[0]
    a = sp.csr_matrix((np.ones(len(bonds), bool), (bonds[:, 0], bonds[:, 1])), shape=(n, n))
    a = (a + a.T).astype(bool).tocsr()
    reach = [a.multiply(near).astype(bool).tocsr()]
    for _ in range(3):
        step = (reach[-1] @ a).multiply(near)
        reach.append((reach[-1] + step).astype(bool).tocsr())
    four = reach[3].tocoo()
    h = is_h[four.row] | is_h[four.col]
    out = reach[2] + sp.csr_matrix((np.ones(h.sum(), bool), (four.row[h], four.col[h])), shape=(n, n))
    out = out.astype(bool).tocsr()
    out.eliminate_zeros()
    return out


def _neighbours(xyz: np.ndarray, radius: np.ndarray):
    """Pairs i < j within r_i + r_j + 2 * probe radius (probe's neighbour list) and their distances."""
    pairs = cKDTree(xyz).query_pairs(2 * float(radius.max()) + 2 * PROBE_RADIUS, output_type="ndarray")
    pairs = pairs.reshape(-1, 2)
    d = np.linalg.norm(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], axis=1)
    keep = (d <= radius[pairs[:, 0]] + radius[pairs[:, 1]] + 2 * PROBE_RADIUS) & (d * d > 1e-5)
    return pairs[keep, 0], pairs[keep, 1], d[keep]


def _lookup(m: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """m[rows, cols] as a bool array (m boolean, sorted CSR)."""
    m = m.tocsr()
    m.sort_indices()
    coo = m.tocoo()
    keys = coo.row.astype(np.int64) * m.shape[1] + coo.col
    if len(keys) == 0:
        return np.zeros(len(rows), bool)
    query = rows.astype(np.int64) * m.shape[1] + cols
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return keys[pos] == query


def _padded(rows: np.ndarray, cols: np.ndarray, flag: np.ndarray, n: int):
    """Per-row lists as (n, k) arrays padded with n (a dummy atom), and their flags (n, k)."""
    order = np.lexsort((cols, rows))
    rows, cols, flag = rows[order], cols[order], flag[order]
    count = np.bincount(rows, minlength=n)
    width = max(1, int(count.max()) if len(count) else 1)
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    out, marked = np.full((n, width), n), np.zeros((n, width), bool)
    out[rows, slot], marked[rows, slot] = cols, flag
    return out, marked


def _charges(topo) -> np.ndarray:
    """probe's formal charges on heavy atoms and riding hydrogens: +1 Lys NZ, Arg NE/NH1/NH2 and
    their H; -1 Asp/Glu carboxylate O and C-terminal O/OXT (His is built neutral, so uncharged)."""
    h = topo.hydrogens
    names = np.concatenate([topo.atoms.names, h.names])
    res = np.concatenate([topo.atoms.residue, h.residue])
    resname = np.array([r.name for r in topo.residues])[res]
    has_oxt = np.array(["OXT" in r.atoms for r in topo.residues])[res]
    out = np.zeros(len(names), np.int8)
    for rn, atoms, q in _CHARGED:
        out[(resname == rn) & np.isin(names, atoms)] = q
    out[(names == "OXT") | (has_oxt & (names == "O"))] = -1
    return out


def _atom_label(topo, a: int) -> str:
    if a < topo.n_atoms:
        return f"{topo.residue_label(topo.atoms.residue[a])}:{topo.atoms.names[a]}"
    h = a - topo.n_atoms
    return f"{topo.residue_label(topo.hydrogens.residue[h])}:{topo.hydrogens.names[h]}"
