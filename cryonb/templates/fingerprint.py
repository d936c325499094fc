"""Placing a template on index-free predicted C-alphas by their environments (the seed's matching).

CR-I-TASSER ("Template reselection by Cα and density map matching"), and where this differs:

1. **Fingerprint** of a C-alpha: the 20 distances (Å) to its 20 nearest C-alphas, ascending.
2. **Fscore** of template atom i and predicted atom j: |F_temp(i) - F_pred(j)|². The seed pairs
   the lowest Fscores first, each atom once; with 0.5-1 Å noise and missing or false atoms that
   pairing holds only a few per cent right pairs, so here each template atom keeps its 5 lowest
   Fscores as candidates (fewer for long templates) and step 3 chooses among them.
3. **Weighted matching score** of a pair (i, j) against the other pairs (ii, jj):
   S(i, j) = Σ w(i) w(ii) g(|d(i, ii) - d(j, jj)|), g(x) = 1 for x <= 1 Å, else 1 / x²; two
   candidates sharing an atom count 0 (so the reliable set is one-to-one). The weights start at 1;
   the seed's update (its Supplementary Fig. 12) is not in its text: here w(i) <- S(i, j) / max S,
   repeated until the set above the threshold (4) stays the same for 10 updates (replicator
   dynamics: the weight gathers on the largest set of pairs whose distances agree).
4. **Two-means threshold**: pairs with S above the threshold splitting S into two clusters (1-D
   k-means) are reliable (at least 4). Removing them and repeating gives up to 3 disjoint seed sets.
5. **Kabsch** superposition of the template on each seed set's pairs, and (not in the seed) the
   four proper rotations that lay the template's principal axes on the predicted atoms' (a start
   that needs no fingerprint, for maps where the fingerprints are noisy). Every start is refined
   (6); the placement whose final pairing scores best (Σ 1 / (1 + (d / d0)²)) is kept. Refining
   only the best start, as first written, lost the right template's pose in some maps
   (AdK-free benchmark: HIV protease 1TW7 at CRscore 0.42 against 0.74 when placed right).
6. **Re-pairing**: one-to-one pairs closer than 10 Å after superposition, by an optimal assignment
   (``linear_sum_assignment``) on the squared distance; their reliable pairs (3, 4) give the next
   superposition; until the pairing repeats (converged), cycles, or 20 rounds pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from ..cnn.score import tm_d0
from ..superpose import kabsch

NEIGHBOURS = 20
PAIR_CUTOFF = 10.0     # Å: re-pairing after superposition
TOLERANCE = 1.0        # Å: distance differences counted in full by S
MAX_ROUNDS = 20
MIN_PAIRS = 4          # a superposition needs this many reliable pairs
CANDIDATES = 5         # predicted partners per template atom, lowest Fscore first
MAX_CANDIDATES = 1200  # bounds the (C, C) consistency matrix of the seed sets
STARTS = 3             # disjoint seed sets refined per template


@dataclass
class Placement:
    """A template placed on predicted C-alphas: ``xyz`` (N, 3) Å = template @ rotation.T + translation.

    template_index, predicted_index: the final one-to-one pairs (P,), all closer than the cutoff;
    reliable: how many pairs the last superposition was fitted on; rounds: re-pairing rounds.
    """

    xyz: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    template_index: np.ndarray
    predicted_index: np.ndarray
    reliable: int
    rounds: int
    converged: bool


def fingerprints(xyz: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """(N, k) ascending distances (Å) from each of ``xyz`` (N, 3) to its k nearest other atoms."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    if len(xyz) <= k:
        raise ValueError(f"a fingerprint of {k} neighbours needs more than {k} atoms, got {len(xyz)}")
    d, _ = cKDTree(xyz).query(xyz, k=k + 1)
    return d[:, 1:]


def fscore(template_fp: np.ndarray, predicted_fp: np.ndarray) -> np.ndarray:
    """(N, M) squared differences |F_temp(i) - F_pred(j)|² (Å²) of fingerprints (N, k), (M, k)."""
    return cdist(template_fp, predicted_fp, "sqeuclidean")


def consistency(template_d: np.ndarray, predicted_d: np.ndarray, tolerance: float = TOLERANCE
                ) -> np.ndarray:
    """(P, P) g(|d(i, ii) - d(j, jj)|) of paired intra-distances (P, P) Å; 0 on the diagonal."""
    x = np.abs(template_d - predicted_d, dtype=np.float32) / np.float32(tolerance)
    g = 1.0 / np.maximum(x, np.float32(1.0)) ** 2
    np.fill_diagonal(g, 0.0)
    return g


def matching_scores(g: np.ndarray, iterations: int = 100, check: int = 10
                    ) -> tuple[np.ndarray, np.ndarray]:
    """S (P,) of each pair and the weights w (P,) in [0, 1] after the update w <- S / max S, repeated
    until the pairs above the two-means threshold of S stay the same for ``check`` updates."""
    w = np.ones(len(g), dtype=g.dtype)
    kept = None
    for it in range(1, iterations + 1):
        s = w * (g @ w)
        w = s / max(s.max(), 1e-30)
        w[w < 1e-12] = 0.0                              # no subnormal numbers: they are slow
        if it % check == 0:
            now = s > two_means_threshold(s)
            if kept is not None and np.array_equal(now, kept):
                break
            kept = now
    return w * (g @ w), w


def two_means_threshold(values: np.ndarray, iterations: int = 100) -> float:
    """The threshold between the two clusters of 1-D k-means (k = 2) on ``values``."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi - lo <= 1e-12 * max(abs(hi), 1.0):
        return lo - 1.0                                  # one cluster: keep everything
    t = (lo + hi) / 2
    for _ in range(iterations):
        new = (values[values <= t].mean() + values[values > t].mean()) / 2
        if new == t:
            break
        t = new
    return t


def reliable(s: np.ndarray) -> np.ndarray:
    """Boolean mask of the scores ``s`` above their two-means threshold, at least MIN_PAIRS of them."""
    keep = s > two_means_threshold(s)
    if keep.sum() < MIN_PAIRS:
        keep[np.argsort(-s, kind="stable")[:MIN_PAIRS]] = True
    return keep


def reliable_pairs(template: np.ndarray, predicted: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                   tolerance: float = TOLERANCE) -> np.ndarray:
    """Boolean (P,) mask of the pairs (rows[k], cols[k]) with S above the two-means threshold."""
    g = consistency(cdist(template[rows], template[rows]), cdist(predicted[cols], predicted[cols]),
                    tolerance)
    return reliable(matching_scores(g)[0])


def assign_close(placed: np.ndarray, predicted: np.ndarray, cutoff: float = PAIR_CUTOFF
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs (rows, cols) closer than ``cutoff`` Å, minimising the summed squared distance."""
    d2 = cdist(placed, predicted, "sqeuclidean")
    far = d2 >= cutoff ** 2
    cost = np.where(far, 4 * cutoff ** 2, d2)           # a far pair never beats leaving both unpaired
    rows, cols = linear_sum_assignment(cost)
    close = ~far[rows, cols]
    return rows[close], cols[close]


def candidate_pairs(template_fp: np.ndarray, predicted_fp: np.ndarray, per_atom: int = CANDIDATES
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (N * c,) of the c lowest Fscores of each template atom: c = ``per_atom``, or
    fewer for a long template so that N * c stays near MAX_CANDIDATES (at least one per atom)."""
    f = fscore(template_fp, predicted_fp)
    c = max(1, min(per_atom, f.shape[1], MAX_CANDIDATES // len(f)))
    cols = np.argsort(f, axis=1, kind="stable")[:, :c]
    return np.repeat(np.arange(len(f)), c), cols.ravel()


def seed_sets(template: np.ndarray, predicted: np.ndarray, rows: np.ndarray, cols: np.ndarray,
              n_sets: int = STARTS, tolerance: float = TOLERANCE) -> list[np.ndarray]:
    """Up to ``n_sets`` disjoint index sets into the candidate pairs (rows, cols): the reliable pairs
    of the candidates, then of those left after removing them, and so on. Candidates that share an
    atom are inconsistent (g = 0), so a set is one-to-one."""
    g = consistency(cdist(template[rows], template[rows]), cdist(predicted[cols], predicted[cols]),
                    tolerance)
    g[(rows[:, None] == rows[None, :]) | (cols[:, None] == cols[None, :])] = 0.0
    left = np.arange(len(rows))
    sets = []
    while len(sets) < n_sets and len(left) >= 2 * MIN_PAIRS:
        keep = reliable(matching_scores(g[np.ix_(left, left)])[0])
        sets.append(left[keep])
        left = left[~keep]
    return sets


def refine(template: np.ndarray, predicted: np.ndarray, rows: np.ndarray, cols: np.ndarray,
           cutoff: float = PAIR_CUTOFF, tolerance: float = TOLERANCE, max_rounds: int = MAX_ROUNDS
           ) -> Placement:
    """From the pairs (rows, cols): keep the reliable ones, superpose on them, re-pair closer than
    ``cutoff`` Å; until the pairing repeats or ``max_rounds`` pass."""
    seen, rounds = set(), 0
    while rounds < max_rounds:
        rounds += 1
        keep = reliable_pairs(template, predicted, rows, cols, tolerance)
        r, t = kabsch(template[rows[keep]], predicted[cols[keep]])
        placed = template @ r.T + t
        new_rows, new_cols = assign_close(placed, predicted, cutoff)
        converged = np.array_equal(new_rows, rows) and np.array_equal(new_cols, cols)
        key = (new_rows.tobytes(), new_cols.tobytes())
        rows, cols = new_rows, new_cols
        if converged or key in seen or len(rows) < 2 * MIN_PAIRS:
            break
        seen.add(key)
    return Placement(placed, r, t, rows, cols, int(keep.sum()), rounds, bool(converged))


def pairing_score(p: Placement, predicted: np.ndarray) -> float:
    """Σ 1 / (1 + (d / d0)²) over the final pairs (d0 of the TM-score for the pairs' count)."""
    d = np.linalg.norm(p.xyz[p.template_index] - predicted[p.predicted_index], axis=1)
    return float(np.sum(1 / (1 + (d / tm_d0(len(p.xyz))) ** 2)))


def superpose_pairs(template: np.ndarray, predicted: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                    cutoff: float = PAIR_CUTOFF) -> Placement:
    """One round: the template superposed on the pairs (rows, cols), re-paired closer than ``cutoff``."""
    r, t = kabsch(template[rows], predicted[cols])
    placed = template @ r.T + t
    new_rows, new_cols = assign_close(placed, predicted, cutoff)
    return Placement(placed, r, t, new_rows, new_cols, len(rows), 1, False)


def axis_starts(template: np.ndarray, predicted: np.ndarray, cutoff: float = PAIR_CUTOFF) -> list[Placement]:
    """The four proper rotations laying the template's principal axes on the predicted atoms',
    centroid on centroid, each re-paired closer than ``cutoff`` Å."""
    ct, cp = template.mean(0), predicted.mean(0)
    vt = np.linalg.svd(template - ct, full_matrices=False)[2]
    vp = np.linalg.svd(predicted - cp, full_matrices=False)[2]
    out = []
    for signs in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
        r = vp.T @ np.diag(signs) @ vt
        if np.linalg.det(r) < 0:
            r = vp.T @ np.diag(signs) @ np.diag([1, 1, -1]) @ vt
        placed = (template - ct) @ r.T + cp
        rows, cols = assign_close(placed, predicted, cutoff)
        out.append(Placement(placed, r, cp - ct @ r.T, rows, cols, 0, 0, False))
    return out


def place(template: np.ndarray, predicted: np.ndarray, predicted_fp: np.ndarray | None = None,
          k: int = NEIGHBOURS, cutoff: float = PAIR_CUTOFF, starts: int = STARTS,
          tolerance: float = TOLERANCE, axes: bool = True) -> Placement:
    """Place template C-alphas (N, 3) on predicted C-alphas (M, 3) by fingerprints; both Å.

    predicted_fp: the predicted fingerprints (M, >= k), computed once for a pool. Each of up to
    ``starts`` seed sets gives a superposition, and with ``axes`` the principal-axis starts
    (:func:`axis_starts`) four more; each is refined and the best final pairing score is kept.
    """
    template = np.asarray(template, dtype=np.float64).reshape(-1, 3)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 3)
    k = min(k, len(template) - 1, len(predicted) - 1)
    if k < MIN_PAIRS:
        raise ValueError(f"too few atoms to place: {len(template)} template, {len(predicted)} predicted")
    pfp = fingerprints(predicted, k) if predicted_fp is None else predicted_fp[:, :k]
    rows, cols = candidate_pairs(fingerprints(template, k), pfp)
    sets = seed_sets(template, predicted, rows, cols, starts, tolerance)
    first = [superpose_pairs(template, predicted, rows[s], cols[s], cutoff) for s in sets]
    if axes:
        first += axis_starts(template, predicted, cutoff)
    finals = [refine(template, predicted, p.template_index, p.predicted_index, cutoff, tolerance)
              for p in first if len(p.template_index) >= 2 * MIN_PAIRS]
    if not finals:
        return max(first, key=lambda p: pairing_score(p, predicted))
    return max(finals, key=lambda p: pairing_score(p, predicted))
