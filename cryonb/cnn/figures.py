"""Figures and tables of C-alpha prediction: training curves and CRscore against resolution.

Used by notebook ``02_cnn_training``; every plot returns a matplotlib Figure (save it with
:func:`cryonb.plots.save_figure`). The resolution curves follow the seed's Supplementary Fig. 1:
CRscore (a) and RMSD of paired atoms (b) of held-out maps against their resolution, for the
network and for the naive greedy picking on the density.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .dataset import DataConfig, evaluation_samples
from .evaluate import SCORES, evaluate_sample, mean_by_resolution

NAIVE = "naive (density peaks)"


def score_by_resolution(net: torch.nn.Module, names: Sequence[str], resolutions: Sequence[float],
                        data: DataConfig, orientations: int = 1, snr: float | None = None,
                        seed: int = 100, naive: bool = True) -> list[dict]:
    """One :func:`~cryonb.cnn.evaluate.evaluate_sample` row per structure, resolution and orientation.

    Maps are simulated on ``data``'s voxel size (the network's), noise-free unless ``snr`` is given;
    with ``naive`` each row also has the naive baseline's scores (keys prefixed ``naive_``).
    """
    if snr is None:
        data = replace(data, snr_range=None)          # noise-free (evaluation_samples would draw an SNR)
    rows = []
    for k in range(orientations):
        for sample in evaluation_samples(list(names), data, tuple(resolutions), seed=seed + k, snr=snr):
            rows.append({**evaluate_sample(net, sample, baseline=naive), "orientation": k})
    return rows


def resolution_table(curves: dict[str, list[dict]]) -> list[list]:
    """Rows [label, resolution, CRscore, recall, precision, RMSD] of the mean scores, for a table."""
    return [[label, res, *(m[k] for k in SCORES)]
            for label, rows, prefix in _with_naive(curves)
            for res, m in mean_by_resolution(rows, prefix).items()]


def _with_naive(curves: dict[str, list[dict]]) -> list[tuple[str, list[dict], str]]:
    """(label, rows, score prefix) per network, then the naive baseline from the first set of rows
    when it was scored."""
    series = [(label, rows, "") for label, rows in curves.items()]
    first = next(iter(curves.values()), [])
    if first and "naive_crscore" in first[0]:
        series.append((NAIVE, first, "naive_"))
    return series


def plot_resolution_curves(curves: dict[str, list[dict]]) -> plt.Figure:
    """CRscore and paired-atom RMSD against resolution for each labelled set of rows, plus the naive
    baseline (from the first set); points are means over structures and orientations."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for label, rows, prefix in _with_naive(curves):
        m = mean_by_resolution(rows, prefix)
        res = list(m)
        style = dict(ls="--", color="0.45") if prefix else {}
        axes[0].plot(res, [m[r]["crscore"] for r in res], marker="o", label=label, **style)
        axes[1].plot(res, [m[r]["rmsd"] for r in res], marker="o", label=label, **style)
    axes[0].set(xlabel="map resolution (Å)", ylabel="CRscore", ylim=(0, 1.02), title="a  CRscore")
    axes[1].set(xlabel="map resolution (Å)", ylabel="RMSD of paired C-alpha (Å)", title="b  RMSD")
    axes[0].legend(fontsize=8, loc="lower left")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_history(history: dict[str, list[float]], title: str = "") -> plt.Figure:
    """Training curves per epoch: training and validation loss (a), validation CRscore overall and
    per resolution (b)."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
    epochs = np.arange(1, len(history.get("train_loss", [])) + 1)
    for key, label in (("train_loss", "training (patches)"), ("val_loss", "validation (whole maps)")):
        if key in history:
            axes[0].plot(epochs, history[key], label=label)
    axes[0].set(xlabel="epoch", ylabel="weighted cross-entropy", yscale="log", title="a  loss")
    per_res = sorted((k for k in history if k.startswith("val_crscore_")),
                     key=lambda k: float(k.split("_")[-1].rstrip("A")))
    for key in per_res:
        axes[1].plot(epochs, history[key], lw=1, alpha=0.8, label=key.split("_")[-1].replace("A", " Å"))
    if "val_crscore" in history:
        axes[1].plot(epochs, history["val_crscore"], color="k", lw=2, label="mean")
    axes[1].set(xlabel="epoch", ylabel="validation CRscore", title="b  CRscore")
    for ax in axes:
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_training_maps(samples: dict, slab: int = 5) -> plt.Figure:
    """Central slabs (``slab`` voxels thick, mean along z) of training maps side by side, each above
    its labels (yellow: C-alpha, grey: ignored). ``samples``: {title: :class:`~.dataset.Sample`}."""
    fig, axes = plt.subplots(2, len(samples), figsize=(3.2 * len(samples), 6.4), squeeze=False)
    for k, (title, s) in enumerate(samples.items()):
        z = s.map.shape[0] // 2
        cut = slice(max(0, z - slab // 2), z + slab // 2 + 1)
        axes[0, k].imshow(s.map.data[cut].mean(0), cmap="gray", origin="lower")
        axes[0, k].set_title(f"{title}\n{s.resolution:.1f} Å", fontsize=9)
        labels = s.labels[cut]
        shown = np.where((labels == 1).any(0), 1.0, np.where((labels < 0).any(0), 0.5, 0.0))
        axes[1, k].imshow(shown, cmap="cividis", vmin=0, vmax=1, origin="lower")
        for ax in axes[:, k]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[1, 0].set_ylabel("labels")
    fig.tight_layout()
    return fig
