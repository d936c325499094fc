"""Matplotlib figures (work headless under papermill; saved as PNG and SVG)."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt

from .atomic import atomic_path
from .density.fsc import FSCCurve


def plot_fsc(curves: dict[str, FSCCurve], thresholds: tuple[float, ...] = (0.143, 0.5),
             ax: plt.Axes | None = None, title: str | None = None,
             threshold_for: dict[str, float] | None = None) -> plt.Figure:
    """FSC against spatial frequency (1/Å) for each named curve, with threshold lines.

    The legend gives each curve's resolution at ``threshold_for[label]`` (default 0.143;
    use 0.5 for a model-map FSC).
    """
    threshold_for = threshold_for or {}
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.6), constrained_layout=True)
    else:
        fig = ax.figure
    for label, c in curves.items():
        keep = c.frequency > 0
        ax.plot(c.frequency[keep], c.fsc[keep], lw=1.6,
                label=f"{label} ({c.resolution(threshold_for.get(label, 0.143)):.2f} Å)")
    for t in thresholds:
        ax.axhline(t, color="0.5", lw=0.8, ls="--")
        ax.text(ax.get_xlim()[1], t, f" {t}", va="center", ha="left", fontsize=8, color="0.4")
    ax.set_xlabel("spatial frequency (1/Å)")
    ax.set_ylabel("FSC")
    ax.set_ylim(-0.05, 1.02)
    _resolution_axis(ax)
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _resolution_axis(ax: plt.Axes) -> None:
    """A top axis labelled in Angstrom at round resolutions within the frequency range."""
    top = ax.twiny()
    lo, hi = ax.get_xlim()
    top.set_xlim(lo, hi)
    marks = [r for r in (20, 10, 8, 6, 5, 4, 3, 2.5, 2, 1.5) if lo < 1.0 / r <= hi]
    top.set_xticks([1.0 / r for r in marks])
    top.set_xticklabels([f"{r:g}" for r in marks])
    top.set_xlabel("resolution (Å)")


def save_figure(fig: plt.Figure, path: str | os.PathLike, formats: tuple[str, ...] = ("png", "svg"),
                dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``path``.png and ``path``.svg (atomically); returns the written paths."""
    base = Path(path)
    written = []
    for fmt in formats:
        target = base.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        written.append(target)
    return written
