"""Query-to-template sequence alignment (parasail) and its significance.

Semi-global alignment (end gaps free on both sequences: a template may hold more domains than
the query, or cover only part of it), BLOSUM62, gap open 10 and extension 1 in parasail's
convention (a gap of n residues costs 10 + (n - 1)). Identity counts identical pairs over the
aligned pairs (gaps excluded); coverage counts the query residues aligned to a template residue
over the query length. The z-score compares the score with the scores of the query against
``shuffles`` shuffles of the template sequence (same composition and length), drawn from a
generator seeded by ``seed`` and the template sequence, so a template's z-score does not depend
on its place in a pool.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import parasail

GAP_OPEN = 10
GAP_EXTEND = 1
SHUFFLES = 100


@dataclass
class Alignment:
    """Aligned pairs: ``query_index`` and ``template_index`` (A,) residue indices, in order."""

    score: int
    identity: float          # identical pairs / aligned pairs
    coverage: float          # aligned query residues / query length
    query_index: np.ndarray
    template_index: np.ndarray
    zscore: float | None = None

    @property
    def n_aligned(self) -> int:
        return len(self.query_index)


def _clean(seq: str) -> str:
    seq = seq.upper()
    if not seq.isalpha():
        raise ValueError(f"a sequence holds letters only, got {seq[:40]!r}")
    return seq


def align(query: str, template: str, gap_open: int = GAP_OPEN, gap_extend: int = GAP_EXTEND,
          shuffles: int = SHUFFLES, seed: int = 0) -> Alignment:
    """Semi-global BLOSUM62 alignment of ``query`` to ``template`` (one-letter sequences).

    shuffles: how many shuffled templates give the z-score (0: no z-score).
    """
    query, template = _clean(query), _clean(template)
    result = parasail.sg_trace_scan_sat(query, template, gap_open, gap_extend, parasail.blosum62)
    qi, ti = aligned_pairs(result.traceback.query, result.traceback.ref)
    same = sum(query[a] == template[b] for a, b in zip(qi, ti))
    out = Alignment(score=int(result.score), identity=same / max(len(qi), 1),
                    coverage=len(qi) / len(query), query_index=qi, template_index=ti)
    if shuffles:
        out.zscore = shuffle_zscore(query, template, out.score, shuffles, seed, gap_open, gap_extend)
    return out


def aligned_pairs(query_row: str, template_row: str) -> tuple[np.ndarray, np.ndarray]:
    """Residue indices (A,) of the columns of two gapped rows ('-' gaps) where both hold a residue."""
    q = np.frombuffer(query_row.encode(), dtype=np.uint8) != ord("-")
    t = np.frombuffer(template_row.encode(), dtype=np.uint8) != ord("-")
    both = q & t
    return (np.cumsum(q) - 1)[both], (np.cumsum(t) - 1)[both]


def shuffle_zscore(query: str, template: str, score: int, shuffles: int = SHUFFLES, seed: int = 0,
                   gap_open: int = GAP_OPEN, gap_extend: int = GAP_EXTEND) -> float:
    """(score - mean) / SD of the scores of ``query`` against shuffles of ``template``."""
    rng = np.random.default_rng([seed, zlib.crc32(template.encode())])
    profile = parasail.profile_create_sat(query, parasail.blosum62)
    letters = np.frombuffer(template.encode(), dtype="S1")
    scores = np.empty(shuffles)
    for k in range(shuffles):
        shuffled = rng.permutation(letters).tobytes().decode()
        scores[k] = parasail.sg_striped_profile_sat(profile, shuffled, gap_open, gap_extend).score
    sd = scores.std(ddof=1) if shuffles > 1 else 0.0
    return float((score - scores.mean()) / max(sd, 1e-9))
