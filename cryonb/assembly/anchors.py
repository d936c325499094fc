"""What assembly starts from: placed templates and threaded traces as partial chains of the query.

An :class:`Anchor` holds C-alphas on the query's residue indices, (L, 3) Å with NaN where the
template (or trace) has nothing aligned. Templates come from a rerank run folder
(``ranking.csv`` and ``placed/*.cif`` of ``cryonb rerank``), re-aligned to the query with the
same aligner; traces from ``traces.cif`` of ``cryonb trace`` (residue number = query index + 1;
atoms with an insertion code, which the threading read as false, and unthreaded traces are left
out). :func:`complete` fills the gaps so every replica starts as a whole chain;
:func:`template_restraints` turns the templates into the distance wells of the energy.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..io import read_model
from ..sequence import ONE_LETTER
from ..templates.align import align


@dataclass
class Anchor:
    """A partial chain of the query: ``xyz`` (L, 3) Å, NaN where missing; ``score`` its CRscore
    (templates) or aligned fraction (traces)."""

    name: str
    kind: str          # "template" or "trace"
    score: float
    xyz: np.ndarray

    @property
    def present(self) -> np.ndarray:
        return np.isfinite(self.xyz).all(axis=1)


def _chain_calphas(path: Path) -> tuple[str, np.ndarray, list]:
    """One-letter sequence, C-alphas (K, 3) and residue ids (number, insertion code) of model 1's
    first polymer chain of ``path``."""
    st = read_model(path)
    chain = st[0][0]
    seq, xyz, ids = [], [], []
    for res in chain:
        atom = res.find_atom("CA", "*")
        if atom is None:
            continue
        seq.append(ONE_LETTER.get(res.name, "X"))
        xyz.append(atom.pos.tolist())
        ids.append((res.seqid.num, res.seqid.icode))
    return "".join(seq), np.asarray(xyz, dtype=np.float64).reshape(-1, 3), ids


def template_anchors(rerank_dir: str | Path, query: str, top: int = 30, min_crscore: float = 0.0) -> list[Anchor]:
    """The placed templates of a rerank run folder, best CRscore first (at most ``top``, CRscore
    above ``min_crscore``), on the query's residue indices."""
    folder = Path(rerank_dir)
    table = folder / "ranking.csv"
    if not table.is_file():
        raise InputFileError(folder, "no ranking.csv here: give the folder that `cryonb rerank --out` wrote")
    with open(table, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("placed")]
    rows.sort(key=lambda r: int(r["rank"]))
    out = []
    for row in rows:
        score = float(row["crscore"]) if row["crscore"] not in ("", "nan") else 0.0
        if len(out) >= top or score <= min_crscore:
            continue
        path = folder / row["placed"]
        if not path.is_file():
            raise InputFileError(table, f"the placed template {row['placed']} it lists is missing")
        seq, xyz, _ = _chain_calphas(path)
        if len(seq) < 3:
            continue
        a = align(query, seq.replace("X", "A"), shuffles=0)
        on_query = np.full((len(query), 3), np.nan)
        on_query[a.query_index] = xyz[a.template_index]
        out.append(Anchor(f"{row['template']}_{row['chain']}", "template", score, on_query))
    return out


def trace_anchor(traces_cif: str | Path, length: int) -> Anchor | None:
    """All threaded traces of ``traces.cif`` as one partial chain (a residue claimed twice keeps the
    longer trace's atom, chains coming longest first); None when nothing is threaded."""
    st = read_model(traces_cif)
    xyz = np.full((length, 3), np.nan)
    for chain in st[0]:
        for res in chain:
            if res.name == "UNK" or res.seqid.icode.strip():
                continue
            k = res.seqid.num - 1
            atom = res.find_atom("CA", "*")
            if atom is not None and 0 <= k < length and not np.isfinite(xyz[k]).all():
                xyz[k] = atom.pos.tolist()
    found = np.isfinite(xyz).all(axis=1)
    if not found.any():
        return None
    return Anchor("traces", "trace", float(found.mean()), xyz)


def complete(xyz: np.ndarray, rng: np.random.Generator, bond: float = 3.8) -> np.ndarray:
    """A whole chain (L, 3) Å from a partial one (NaN rows missing), bonds regularised to ``bond``.

    Atoms that no chain could join (two present residues i < j farther apart than ``bond`` (j - i)
    + 0.5 Å: a wrong register or link) are dropped first, keeping the longest consistent runs. An
    interior gap is bridged by an arc bulging away from the centre of the present atoms, long
    enough for its residues; a missing end grows outward by ``bond`` steps; then every bond is
    brought to ``bond`` by alternating projections (:func:`regularise`)."""
    x = consistent(np.array(xyz, dtype=np.float64), bond)
    present = np.isfinite(x).all(axis=1)
    if present.sum() == 0:
        raise ValueError("an anchor without any C-alpha cannot start a chain")
    centre = x[present].mean(axis=0)
    idx = np.flatnonzero(present)
    for a, b in zip(idx[:-1], idx[1:]):
        if b - a > 1:
            x[a + 1:b] = _arc(x[a], x[b], b - a, centre, bond)
    for step, first, last in ((-1, idx[0], 0), (1, idx[-1], len(x) - 1)):
        k = first
        while k != last:
            out = x[k] - centre
            direction = out / max(np.linalg.norm(out), 1e-6) + rng.normal(0, 0.7, 3)
            x[k + step] = x[k] + bond * direction / np.linalg.norm(direction)
            k += step
    return regularise(x, bond)


def consistent(xyz: np.ndarray, bond: float = 3.8, slack: float = 0.5) -> np.ndarray:
    """``xyz`` (L, 3) with NaN for atoms a chain cannot pass through: the present atoms are cut
    into runs wherever consecutive ones i < j lie farther apart than ``bond`` (j - i) + ``slack``;
    runs are kept longest first when every kept neighbour run can still be reached."""
    x = np.array(xyz, dtype=np.float64)
    idx = np.flatnonzero(np.isfinite(x).all(axis=1))
    if len(idx) < 2:
        return x
    gap = np.linalg.norm(x[idx[1:]] - x[idx[:-1]], axis=1) > bond * np.diff(idx) + slack
    runs = np.split(idx, np.flatnonzero(gap) + 1)
    kept: list[np.ndarray] = []
    for run in sorted(runs, key=len, reverse=True):
        if all(_reachable(x, run, other, bond, slack) for other in kept):
            kept.append(run)
    out = np.full_like(x, np.nan)
    for run in kept:
        out[run] = x[run]
    return out


def _reachable(x: np.ndarray, a: np.ndarray, b: np.ndarray, bond: float, slack: float) -> bool:
    first, second = (a, b) if a[0] < b[0] else (b, a)
    i, j = first[-1], second[0]
    return bool(np.linalg.norm(x[j] - x[i]) <= bond * (j - i) + slack)


def regularise(x: np.ndarray, bond: float = 3.8, rounds: int = 200) -> np.ndarray:
    """Bonds of chain ``x`` (L, 3) brought to ``bond`` Å: each round moves the two atoms of every
    even, then every odd, bond half the error each along the bond."""
    x = np.array(x, dtype=np.float64)
    for _ in range(rounds):
        for parity in (0, 1):
            i = np.arange(parity, len(x) - 1, 2)
            d = x[i + 1] - x[i]
            length = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
            fix = 0.5 * (length - bond) / length * d
            x[i] += fix
            x[i + 1] -= fix
        if np.abs(np.linalg.norm(np.diff(x, axis=0), axis=1) - bond).max() < 0.01:
            break
    return x


def _arc(p: np.ndarray, q: np.ndarray, steps: int, centre: np.ndarray, bond: float) -> np.ndarray:
    """steps - 1 points from p to q (exclusive) on a sine bulge of the height that makes the
    path about ``steps * bond`` long."""
    t = np.arange(1, steps) / steps
    chord = q - p
    normal = (p + q) / 2 - centre
    normal -= normal @ chord / max(chord @ chord, 1e-9) * chord
    if np.linalg.norm(normal) < 1e-6:
        normal = np.cross(chord, [1.0, 0.0, 0.0])
        if np.linalg.norm(normal) < 1e-6:
            normal = np.cross(chord, [0.0, 1.0, 0.0])
    normal /= np.linalg.norm(normal)
    fine = np.linspace(0, 1, 200)

    def length(h):
        pts = p + fine[:, None] * chord + h * np.sin(np.pi * fine)[:, None] * normal
        return np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()

    lo, hi = 0.0, steps * bond
    if length(0.0) < steps * bond:
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if length(mid) < steps * bond else (lo, mid)
    return p + t[:, None] * chord + lo * np.sin(np.pi * t)[:, None] * normal


def template_restraints(anchors: list[Anchor], length: int, cutoff: float = 10.0, min_separation: int = 3
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Distance wells from template anchors: for residue pairs at least ``min_separation`` apart
    that some template holds within ``cutoff`` Å, the CRscore-weighted mean distance (L, L) Å and
    a weight (L, L): the CRscore-weighted fraction of templates that agree with it within 1.5 Å."""
    templates = [a for a in anchors if a.kind == "template" and a.score > 0]
    scores = np.array([a.score for a in templates])
    d = np.stack([np.linalg.norm(a.xyz[:, None] - a.xyz[None], axis=-1) for a in templates]) if templates else None
    dist = np.zeros((length, length))
    if d is None or scores.sum() == 0:
        return dist, np.zeros((length, length))
    ok = np.isfinite(d) & (d < cutoff)                                            # (T, L, L)
    counts = np.tensordot(scores, ok, 1)
    held = counts > 0
    dist[held] = np.tensordot(scores, np.where(ok, d, 0.0), 1)[held] / counts[held]
    agree = np.tensordot(scores, np.isfinite(d) & (np.abs(np.nan_to_num(d, nan=1e9) - dist) < 1.5) & held, 1)
    sep = np.abs(np.arange(length)[:, None] - np.arange(length)[None]) >= min_separation
    weight = np.where(held & sep, agree / scores.sum(), 0.0)
    return np.where(weight > 0, dist, 0.0), weight
