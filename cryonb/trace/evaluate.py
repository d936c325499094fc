"""Scoring traces against a known chain: links, direction and register.

Predicted atoms are matched one-to-one to true C-alphas closest first within ``cutoff`` Å (the
pairing of :func:`cryonb.cnn.score.greedy_pairs`). A true link is a pair of consecutive C-alphas
closer than 4.3 Å (no chain break between them).
"""
from __future__ import annotations

import numpy as np

from ..cnn.score import greedy_pairs
from .traces import Trace


def match_atoms(xyz: np.ndarray, true_ca: np.ndarray, cutoff: float = 3.0) -> np.ndarray:
    """(N,) index of the true C-alpha matched to each predicted atom ``xyz`` (N, 3); -1 if none."""
    i, j, d = greedy_pairs(np.asarray(xyz, dtype=np.float64).reshape(-1, 3),
                           np.asarray(true_ca, dtype=np.float64).reshape(-1, 3))
    out = np.full(len(xyz), -1)
    close = d < cutoff
    out[i[close]] = j[close]
    return out


def true_links(true_ca: np.ndarray, max_distance: float = 4.3) -> set[tuple[int, int]]:
    """Pairs (i, i+1) of consecutive true C-alphas ``true_ca`` (L, 3) closer than ``max_distance`` Å."""
    d = np.linalg.norm(np.diff(true_ca, axis=0), axis=1)
    return {(int(i), int(i) + 1) for i in np.flatnonzero(d < max_distance)}


def link_scores(links: np.ndarray, match: np.ndarray, true_ca: np.ndarray) -> dict:
    """Precision and recall of ``links`` (E, 2) over predicted atoms with ``match`` (N,).

    precision: links joining two atoms matched to consecutive true C-alphas, over all links;
    recall: true links found over true links whose two C-alphas are both matched (the links that
    could be found); recall_all: over every true link.
    """
    truth = true_links(true_ca)
    matched = set(match[match >= 0].tolist())
    possible = {p for p in truth if p[0] in matched and p[1] in matched}
    found = {tuple(sorted((int(match[i]), int(match[j])))) for i, j in links if match[i] >= 0 and match[j] >= 0}
    hits = len(found & truth)
    return {"hits": hits, "precision": hits / max(len(links), 1), "recall": hits / max(len(possible), 1),
            "recall_all": hits / max(len(truth), 1), "n_links": int(len(links)), "n_true": len(truth),
            "n_possible": len(possible)}


def trace_direction_right(trace: Trace, match: np.ndarray) -> bool | None:
    """Whether a trace's atoms run N->C: most steps between matched atoms go up the true chain
    (None when under two of its atoms are matched)."""
    idx = match[trace.atoms]
    idx = idx[idx >= 0]
    if len(idx) < 2:
        return None
    step = np.sign(np.diff(idx))
    return bool(step.sum() > 0)


def register_right(traces: list[Trace], match: np.ndarray, min_length: int = 20, tolerance: int = 1) -> dict:
    """Fraction of atoms in traces of ``min_length`` or more atoms whose threaded sequence index
    is within ``tolerance`` of their matched true C-alpha (unmatched or unthreaded atoms count as
    wrong); also the atoms and traces counted and the fraction over matched atoms only."""
    right = total = matched = right_matched = n_traces = 0
    for t in traces:
        if len(t.atoms) < min_length:
            continue
        n_traces += 1
        idx = match[t.atoms]
        ok = (idx >= 0) & (t.offset >= 0) & (np.abs(t.residues - idx) <= tolerance)
        right += int(ok.sum())
        total += len(t.atoms)
        matched += int((idx >= 0).sum())
        right_matched += int(ok.sum())
    return {"fraction": right / total if total else float("nan"),
            "fraction_matched": right_matched / matched if matched else float("nan"),
            "atoms": total, "traces": n_traces}
