"""C-alpha atoms to connected fragments: links under 18 cutoffs, kept by vote (CR-I-TASSER).

The seed connects every pair of C-alphas closer than a cutoff ``d_b``, keeps the links of atoms
with at most two, removes links that would give an atom a third one and then atoms that still
have more than two, and does this for ``d_b`` = 3.8, 3.9, ... 5.5 Å, keeping links found under
more than 40 % of the cutoffs. Read literally (``rule="seed"``) this breaks helices: there the
i+2 and i+3 neighbours lie at 5.0-5.5 Å, so under the long cutoffs every helix atom has four or
more candidates and loses all its links. The default ``rule="greedy"`` links pairs in ascending
distance, each atom at most twice, never closing a cycle (union-find), so every cutoff gives paths.

Greedy links under a shorter cutoff are exactly those of a longer one below it (a link's fate
depends only on shorter pairs), so under ``"greedy"`` the vote equals one cutoff: the one exceeded
by just over 40 % of the 18 (4.8 Å). The vote is kept for the seed's rule and other cutoff sets.
The links kept by the vote are made into paths again by the same greedy rule (most votes first).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

CUTOFFS = tuple(np.round(np.arange(3.8, 5.51, 0.1), 1))     # 18 cutoffs, Å
RULES = ("greedy", "seed")
MIN_SPAN = 4.5                                               # Å, see greedy_paths


class UnionFind:
    """Disjoint sets of 0..n-1 with path halving."""

    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return int(i)

    def union(self, i: int, j: int) -> bool:
        """Join the sets of i and j; False if they were one set already."""
        a, b = self.find(i), self.find(j)
        if a == b:
            return False
        self.parent[a] = b
        return True


def candidate_pairs(xyz: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (P, 2) int, i < j, of atoms ``xyz`` (N, 3) closer than ``cutoff`` Å, and their
    distances (P,), in ascending distance (ties by index)."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    pairs = cKDTree(xyz).query_pairs(cutoff, output_type="ndarray").reshape(-1, 2)
    pairs = np.sort(pairs, axis=1)
    d = np.linalg.norm(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], axis=1)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], d))
    return pairs[order], d[order]


def greedy_paths(xyz: np.ndarray, pairs: np.ndarray, min_span: float = MIN_SPAN) -> np.ndarray:
    """Links (E, 2) taken from ``pairs`` in the given order: each atom at most twice, no cycle,
    and an atom's two partners at least ``min_span`` Å apart (C-alphas i-1 and i+1 lie 5.4-7.3 Å
    apart, so a closer pair means a detour through a false atom or a skipped neighbour)."""
    degree = np.zeros(len(xyz), int)
    partner = np.full(len(xyz), -1)
    sets = UnionFind(len(xyz))
    kept = []
    for i, j in pairs:
        if degree[i] >= 2 or degree[j] >= 2 or _too_close(xyz, partner, i, j, min_span):
            continue
        if sets.union(i, j):
            degree[i] += 1
            degree[j] += 1
            partner[i] = j if partner[i] < 0 else partner[i]
            partner[j] = i if partner[j] < 0 else partner[j]
            kept.append((i, j))
    return np.array(kept, dtype=int).reshape(-1, 2)


def _too_close(xyz, partner, i, j, min_span) -> bool:
    """True when j lies within ``min_span`` of i's partner or i within it of j's partner."""
    a, b = partner[i], partner[j]
    return bool((a >= 0 and np.linalg.norm(xyz[a] - xyz[j]) < min_span)
                or (b >= 0 and np.linalg.norm(xyz[b] - xyz[i]) < min_span))


def improve_links(xyz: np.ndarray, links: np.ndarray, pairs: np.ndarray, min_span: float = MIN_SPAN,
                  max_rounds: int = 5) -> np.ndarray:
    """More links by swaps: drop one link when its two atoms can then each take another.

    A link between two strands or helix turns taken early by the greedy pass fills the slots of
    two atoms whose true partners are left as chain ends; dropping it lets both ends link (two
    links for one). ``pairs`` (P, 2) are the candidates in order of preference (shortest first).
    Rounds repeat until no swap gains, at most ``max_rounds``. Returns links (E, 2), paths still.
    """
    nbrs: list[set[int]] = [set() for _ in range(len(xyz))]
    for i, j in links:
        nbrs[i].add(int(j))
        nbrs[j].add(int(i))
    options: list[list[int]] = [[] for _ in range(len(xyz))]
    for i, j in pairs:
        options[i].append(int(j))
        options[j].append(int(i))
    for _ in range(max_rounds):
        if not any([_try_swap(xyz, nbrs, options, i, j, min_span)
                    for i in range(len(xyz)) for j in sorted(nbrs[i]) if i < j and j in nbrs[i]]):
            break
    return np.array(sorted((i, j) for i in range(len(xyz)) for j in nbrs[i] if i < j), dtype=int).reshape(-1, 2)


def _try_swap(xyz, nbrs, options, i, j, min_span) -> bool:
    """Drop link i-j; keep the change if i and j then each gain another link (else undo)."""
    nbrs[i].discard(j)
    nbrs[j].discard(i)
    added = []
    for a in (i, j):
        for k in options[a]:
            if k not in (i, j) and _can_link(xyz, nbrs, a, k, min_span):
                nbrs[a].add(k)
                nbrs[k].add(a)
                added.append((a, k))
                break
    if len(added) == 2:
        return True
    for a, k in added:
        nbrs[a].discard(k)
        nbrs[k].discard(a)
    nbrs[i].add(j)
    nbrs[j].add(i)
    return False


def _can_link(xyz, nbrs, a, b, min_span) -> bool:
    """a-b keeps the links paths (degrees <= 2, no cycle) and partners ``min_span`` Å apart."""
    if len(nbrs[a]) >= 2 or len(nbrs[b]) >= 2 or b in nbrs[a]:
        return False
    if any(np.linalg.norm(xyz[k] - xyz[b]) < min_span for k in nbrs[a]):
        return False
    if any(np.linalg.norm(xyz[k] - xyz[a]) < min_span for k in nbrs[b]):
        return False
    prev, cur = -1, a                                    # walk a's path: does it reach b?
    while True:
        nxt = [k for k in nbrs[cur] if k != prev]
        if not nxt:
            return True
        prev, cur = cur, nxt[0]
        if cur == b:
            return False


def seed_links(n: int, pairs: np.ndarray) -> np.ndarray:
    """The seed's rule on candidate ``pairs`` (P, 2): links of atoms with <= 2 candidates are
    true; a link between two atoms with more is dropped when either already has two true links;
    then atoms with more than two links left lose them all."""
    if len(pairs) == 0:
        return pairs.reshape(0, 2)
    degree = np.bincount(pairs.ravel(), minlength=n)
    true = (degree[pairs[:, 0]] <= 2) | (degree[pairs[:, 1]] <= 2)
    true_degree = np.bincount(pairs[true].ravel(), minlength=n)
    full = true_degree >= 2
    keep = true | ~(full[pairs[:, 0]] | full[pairs[:, 1]])
    pairs = pairs[keep]
    left = np.bincount(pairs.ravel(), minlength=n)
    return pairs[(left[pairs[:, 0]] <= 2) & (left[pairs[:, 1]] <= 2)]


def links_at(xyz: np.ndarray, cutoff: float, rule: str = "greedy") -> np.ndarray:
    """Links (E, 2), i < j, of atoms ``xyz`` (N, 3) under one cutoff (Å) by ``rule``."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    pairs, _ = candidate_pairs(xyz, cutoff)
    if rule == "seed":
        return seed_links(len(xyz), pairs)
    return improve_links(xyz, greedy_paths(xyz, pairs), pairs)


def vote_links(xyz: np.ndarray, cutoffs=CUTOFFS, min_fraction: float = 0.4,
               rule: str = "greedy") -> tuple[np.ndarray, np.ndarray]:
    """Links (E, 2) found under more than ``min_fraction`` of ``cutoffs`` (Å), made into paths
    (most votes first, then shortest), and the fraction of cutoffs (E,) that found each."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    votes: dict[tuple[int, int], int] = {}
    for c in cutoffs:
        for i, j in links_at(xyz, c, rule):
            votes[(int(i), int(j))] = votes.get((int(i), int(j)), 0) + 1
    if not votes:
        return np.zeros((0, 2), int), np.zeros(0)
    pairs = np.array(list(votes), dtype=int)
    frac = np.array(list(votes.values())) / len(cutoffs)
    d = np.linalg.norm(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], axis=1)
    sel = frac > min_fraction
    order = np.lexsort((d[sel], -frac[sel]))
    kept = greedy_paths(xyz, pairs[sel][order])
    lookup = {(int(i), int(j)): f for (i, j), f in zip(pairs, frac)}
    return kept, np.array([lookup[(int(i), int(j))] for i, j in kept])


def paths(n: int, links: np.ndarray) -> list[np.ndarray]:
    """Fragments of ``n`` atoms joined by ``links`` (E, 2) that form paths: ordered index arrays,
    one per connected component (single atoms included), longest first."""
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for i, j in links:
        nbrs[i].append(int(j))
        nbrs[j].append(int(i))
    if any(len(v) > 2 for v in nbrs):
        raise ValueError("links are not paths: an atom has more than two")
    seen = np.zeros(n, bool)
    out = []
    for start in [i for i in range(n) if len(nbrs[i]) < 2] + list(range(n)):
        if seen[start]:
            continue
        if len(nbrs[start]) == 2:
            raise ValueError("links are not paths: they close a cycle")
        path, prev, cur = [start], -1, start
        seen[start] = True
        while True:
            nxt = [k for k in nbrs[cur] if k != prev]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            seen[cur] = True
            path.append(cur)
        out.append(np.array(path, dtype=int))
    return sorted(out, key=len, reverse=True)


def join_fragments(xyz: np.ndarray, fragments: list[np.ndarray], radius: float = 7.5,
                   gap_distance: float = 5.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fragments joined end to end into traces: ``(atoms, positions)`` per trace, longest first.

    Ends of different fragments closer than ``radius`` Å are joined in ascending distance, each end
    once, never closing a cycle, so each trace is one of a bounded number (at most the number of
    fragments) and every atom is in exactly one. A join longer than ``gap_distance`` Å is taken to
    skip one missing residue (C-alpha i to i+2 spans 5.4-7.3 Å): ``positions`` (n,) int are the
    atoms' places along the trace, counting that gap, from 0.
    """
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    ends = [(f, e) for f in range(len(fragments)) for e in (0, 1)]
    end_atom = np.array([fragments[f][0 if e == 0 else -1] for f, e in ends], dtype=int).reshape(-1)
    pairs, d = candidate_pairs(xyz[end_atom], radius) if len(end_atom) else (np.zeros((0, 2), int), [])
    sets, used, joins = UnionFind(len(fragments)), np.zeros(len(ends), bool), {}
    for (a, b), dist in zip(pairs, d):
        fa, fb = ends[a][0], ends[b][0]
        if used[a] or used[b] or fa == fb or not sets.union(fa, fb):
            continue
        used[a] = used[b] = True
        joins[a], joins[b] = (b, dist), (a, dist)
    traces = []
    done = np.zeros(len(fragments), bool)
    for start in range(len(ends)):
        f = ends[start][0]
        if done[f] or start in joins:
            continue
        traces.append(_walk(fragments, ends, joins, start, done, gap_distance))
    return sorted(traces, key=lambda t: len(t[0]), reverse=True)


def _walk(fragments, ends, joins, start, done, gap_distance) -> tuple[np.ndarray, np.ndarray]:
    """Follow fragments from free end ``start`` through the joins; (atoms, positions)."""
    atoms, positions, here, pos = [], [], start, 0
    while True:
        f, e = ends[here]
        done[f] = True
        frag = fragments[f] if e == 0 else fragments[f][::-1]
        atoms.extend(frag.tolist())
        positions.extend(range(pos, pos + len(frag)))
        pos += len(frag)
        other = 2 * f + (1 - e)                       # the fragment's far end
        if other not in joins:
            break
        here, dist = joins[other]
        pos += 1 if dist > gap_distance else 0
    return np.array(atoms, dtype=int), np.array(positions, dtype=int)
