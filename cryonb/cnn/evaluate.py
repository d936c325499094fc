"""Scoring the network on simulated maps: loss, CRscore, recall, precision, beside the naive baseline."""
from __future__ import annotations

import numpy as np
import torch

from .dataset import Sample
from .inference import sliding_window
from .peaks import naive_atoms, pick_atoms
from .score import ca_score


def evaluate_sample(net: torch.nn.Module, sample: Sample, class_weights: tuple[float, float] = (1.0, 50.0),
                    window: int = 64, overlap: int = 16, baseline: bool = False) -> dict:
    """One row for ``sample`` (a map on the network's voxel size) with L = its number of C-alphas.

    Keys: name, resolution, snr, loss (weighted cross-entropy over the whole map), crscore, recall,
    precision, rmsd, n_predicted; with ``baseline`` the same scores of the naive greedy picking on
    the density itself, prefixed ``naive_``.
    """
    length = max(len(sample.ca), 1)
    prob = sliding_window(net, sample.map.data, window, overlap)
    row = {"name": sample.name, "resolution": sample.resolution, "snr": sample.snr,
           "loss": weighted_loss(prob, sample.labels, class_weights),
           **_scores(pick_atoms(sample.map.copy(data=prob), length).xyz, sample.ca)}
    if baseline:
        naive = _scores(naive_atoms(sample.map, length).xyz, sample.ca)
        row.update({f"naive_{k}": v for k, v in naive.items()})
    return row


def _scores(predicted: np.ndarray, true: np.ndarray) -> dict:
    s = ca_score(predicted, true)
    return {"crscore": s.crscore, "recall": s.recall, "precision": s.precision, "rmsd": s.rmsd,
            "n_predicted": s.n_predicted}


def weighted_loss(prob: np.ndarray, labels: np.ndarray, class_weights: tuple[float, float]) -> float:
    """Class-weighted cross-entropy (torch's weighted mean) from C-alpha probabilities and labels
    (negative labels, :data:`~.experimental.IGNORE`, are skipped as torch's ``ignore_index``)."""
    p = np.clip(prob.astype(np.float64), 1e-7, 1 - 1e-7)
    nll = np.where(labels == 1, -np.log(p), -np.log1p(-p))
    w = np.where(labels == 1, class_weights[1], np.where(labels < 0, 0.0, class_weights[0]))   # < 0: ignored
    return float((w * nll).sum() / w.sum())


SCORES = ("crscore", "recall", "precision", "rmsd")


def mean_by_resolution(rows: list[dict], prefix: str = "") -> dict[float, dict[str, float]]:
    """{resolution: {score: mean over rows, n_maps}} of :func:`evaluate_sample` rows, for ``prefix``
    '' (network) or 'naive_'; scores that are None (no pairs) are left out of the mean."""
    out = {}
    for res in sorted({r["resolution"] for r in rows}):
        sel = [r for r in rows if r["resolution"] == res]
        out[res] = {k: float(np.nanmean([np.nan if r[prefix + k] is None else r[prefix + k] for r in sel]))
                    for k in SCORES}
        out[res]["n_maps"] = len(sel)
    return out
