"""Figures of a prior fit: the Top8000 table beside its mixture, with the outlier contours.

Both panels show ln(value + e^-10) on the table's grid; the table's outlier boundary is drawn on
both (white), the mixture's own boundary on the right (black, dashed), so cells where they
disagree stand out. Tables with more than two dimensions are shown as the maximum over the
remaining chis (chi1 against chi2).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..validation.reference_data import Grid
from .fit import FLOOR, bin_centres
from .mixture import PeriodicMixture


def mixture_on_grid(mixture: PeriodicMixture, grid: Grid) -> np.ndarray:
    """G at every bin centre of ``grid`` (grid.values.shape)."""
    with torch.no_grad():
        return mixture.grid_density([torch.as_tensor(a) for a in bin_centres(grid)]).double().numpy()


def _to_2d(values: np.ndarray) -> np.ndarray:
    return values if values.ndim <= 2 else values.max(axis=tuple(range(2, values.ndim)))


def plot_fit(mixture: PeriodicMixture, grid: Grid, outlier_threshold: float, title: str,
             labels: tuple[str, str] = ("phi", "psi")) -> plt.Figure:
    """Table and mixture side by side (2-D or more), or overlaid curves (1-D)."""
    g, r = mixture_on_grid(mixture, grid), grid.values
    axes = bin_centres(grid)
    if r.ndim == 1:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(axes[0], np.log(r + FLOOR), label="Top8000 table")
        ax.plot(axes[0], np.log(g + FLOOR), "--", label=f"mixture (K={mixture.n_components})")
        ax.axhline(np.log(outlier_threshold), color="k", lw=0.8, label="outlier cut-off")
        ax.set(xlabel=f"{labels[0]} (°)", ylabel="ln(R + e$^{-10}$)", title=title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig
    r2, g2 = _to_2d(r), _to_2d(g)
    fig, panels = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
    extent = (grid.lower[0], grid.upper[0], grid.lower[1], grid.upper[1])
    for ax, values, name in ((panels[0], r2, "Top8000 table"), (panels[1], g2,
                                                               f"mixture, K={mixture.n_components}")):
        im = ax.imshow(np.log(values.T + FLOOR), origin="lower", extent=extent, vmin=-10, vmax=0,
                       cmap="viridis", aspect="auto")
        ax.contour(axes[0], axes[1], r2.T, levels=[outlier_threshold], colors="w", linewidths=0.8)
        ax.set(xlabel=f"{labels[0]} (°)", title=name)
    panels[1].contour(axes[0], axes[1], g2.T, levels=[outlier_threshold], colors="k",
                      linewidths=0.8, linestyles="--")
    panels[0].set_ylabel(f"{labels[1]} (°)")
    fig.colorbar(im, ax=panels, label="ln(value + e$^{-10}$)", shrink=0.85)
    fig.suptitle(title)
    return fig
