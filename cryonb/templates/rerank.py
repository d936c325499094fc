"""Rerank a pool of templates by how well they match predicted C-alphas (CR-I-TASSER's reselection).

Each template is aligned to the query sequence (:mod:`.align`); only its residues aligned to the
query are kept (a large unrelated chain would otherwise cover the predicted atoms by sheer size);
they are placed on the predicted C-alphas by fingerprints (:mod:`.fingerprint`) and scored with the
CRscore (:func:`cryonb.cnn.score.ca_score`, target length = query length) of the placed atoms
against the predicted atoms. With a map and its resolution, the placed template also gets the seed's
density correlation (:func:`.density.density_correlation`: Pearson correlation of the map with the
placed C-alphas' density, over the voxels near them or near the predicted C-alphas, so that density
a template leaves unexplained counts against it), and a second rank by it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..cnn.score import ca_score
from ..maps import Map
from .align import SHUFFLES, align
from .density import density_correlation
from .fingerprint import NEIGHBOURS, Placement, fingerprints, place
from .pool import Template

MIN_ALIGNED = 10      # fewer aligned residues than this: not placed, CRscore 0


@dataclass
class Placed:
    """A placed template: its kept residues' numbers (A,), C-alphas (A, 3) Å and query indices (A,),
    all its C-alphas (L, 3) Å under the same rotation and translation, and the placement."""

    resnums: np.ndarray
    xyz: np.ndarray
    query_index: np.ndarray
    chain_xyz: np.ndarray
    placement: Placement


@dataclass
class Ranking:
    """``table``: one dict per template, best CRscore first; ``placed``: by (template, chain)."""

    table: list[dict]
    placed: dict[tuple[str, str], Placed]


def score_template(template: Template, query: str, predicted: np.ndarray, predicted_fp: np.ndarray,
                   shuffles: int = SHUFFLES, seed: int = 0, aligned_only: bool = True,
                   density: Map | None = None, resolution: float | None = None) -> tuple[dict, Placed | None]:
    """Align, place and score one template; the table row and the placement (None if too short).
    With ``density`` (a map) and its ``resolution`` (Å), the row's density is the correlation of
    the map with the placed C-alphas' density."""
    aln = align(query, template.sequence, shuffles=shuffles, seed=seed)
    keep = aln.template_index if aligned_only else np.arange(len(template))
    row = {"template": template.name, "chain": template.chain, "length": len(template),
           "identity": aln.identity, "coverage": aln.coverage, "zscore": aln.zscore,
           "n_aligned": aln.n_aligned, "n_scored": len(keep), "crscore": 0.0, "n_paired": 0,
           "density": None}
    if len(keep) < MIN_ALIGNED:
        return row, None
    p = place(template.xyz[keep], predicted, predicted_fp)
    score = ca_score(p.xyz, predicted, length=len(query))
    row.update(crscore=score.crscore, n_paired=len(p.template_index))
    if density is not None and resolution is not None:
        row["density"] = density_correlation(density, p.xyz, resolution, region=predicted)
    qi = aln.query_index if aligned_only else np.full(len(keep), -1)
    chain_xyz = template.xyz @ p.rotation.T + p.translation
    return row, Placed(template.resnums[keep], p.xyz, qi, chain_xyz, p)


def rerank(predicted: np.ndarray, query: str, templates: list[Template], shuffles: int = SHUFFLES,
           seed: int = 0, aligned_only: bool = True, density: Map | None = None,
           resolution: float | None = None, progress: bool = False) -> Ranking:
    """Rank ``templates`` by CRscore against predicted C-alphas (M, 3) Å of a query sequence.

    Each row: template, chain, length, identity, coverage, zscore, n_aligned, n_scored, crscore,
    n_paired, density (correlation with map ``density`` at ``resolution`` Å; None without them),
    rank_sequence (by z-score), rank_density (by density; None without a map) and rank (by CRscore).
    """
    if density is not None and resolution is None:
        raise ValueError("a density map needs its resolution (Å) for the density correlation")
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 3)
    if len(predicted) <= NEIGHBOURS:
        raise ValueError(f"need more than {NEIGHBOURS} predicted C-alphas, got {len(predicted)}")
    predicted_fp = fingerprints(predicted)
    rows, placed = [], {}
    for t in tqdm(templates, desc="templates", disable=not progress):
        row, p = score_template(t, query, predicted, predicted_fp, shuffles, seed, aligned_only, density,
                                resolution)
        rows.append(row)
        if p is not None:
            placed[(t.name, t.chain)] = p
    _ranks(rows, "zscore", "rank_sequence")
    _ranks(rows, "crscore", "rank")
    if density is not None:
        _ranks(rows, "density", "rank_density")
    else:
        for row in rows:
            row["rank_density"] = None
    return Ranking(sorted(rows, key=lambda r: r["rank"]), placed)


def _ranks(rows: list[dict], key: str, name: str) -> None:
    """Write 1-based ranks by ``key``, highest first (None last; ties keep the pool's order)."""
    order = sorted(range(len(rows)), key=lambda i: -_finite(rows[i][key]))
    for rank, i in enumerate(order, 1):
        rows[i][name] = rank


def _finite(value) -> float:
    """``value`` as a float for sorting; None and NaN as -inf."""
    return float(value) if value is not None and np.isfinite(value) else -np.inf


def ranking_text(table: list[dict], by: str = "rank", rows: int = 10, tm: dict | None = None) -> str:
    """The first ``rows`` templates ordered by ranking column ``by``, as a fixed-width table; with
    ``tm`` ((template, chain) -> TM-score to the target) a TM column. "seq" is the sequence rank."""
    order = sorted((r for r in table if r.get(by) is not None), key=lambda r: r[by])[:rows]
    head = f"{by:>13} {'template':22s} {'ch':3s} {'ident':>5} {'z':>6} {'seq':>4} {'CRscore':>7} {'density':>7}"
    lines = [head + ("  TM" if tm else "")]
    for r in order:
        dens = "n/a" if r["density"] is None else f"{r['density']:.3f}"
        line = (f"{r[by]:13d} {r['template'][:22]:22s} {r['chain'][:3]:3s} {r['identity']:5.2f} {r['zscore']:6.1f} "
                f"{r['rank_sequence']:4d} {r['crscore']:7.3f} {dens:>7}")
        lines.append(line + (f"  {tm[(r['template'], r['chain'])]:.3f}" if tm else ""))
    return "\n".join(lines)
