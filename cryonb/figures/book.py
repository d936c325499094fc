"""Every figure in ``figures/``: its name, the records it reads, and how it is drawn.

Each producer takes the records folder and returns the figure and the rows it plots (written
beside it as CSV). :func:`make_figures` draws them all (``make figures``, notebook 07).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CryonbError
from .records import read_records
from .render import plt, save, styled

FIGURES: dict[str, tuple] = {}       # name -> (producer, records it reads)
KIND_COLOURS = {"experimental": "#d62728", "simulated": "#1f77b4", "bundled": "#2ca02c"}


def producer(name: str, *records: str):
    """Register a figure ``name`` drawn from ``records`` (file names in the records folder)."""
    def register(fn):
        FIGURES[name] = (fn, records)
        return fn
    return register


def make_figures(data: str | Path, out: str | Path, names: list[str] | None = None) -> list[Path]:
    """Draw figures ``names`` (all by default) from the records in ``data`` into ``out``."""
    data, paths = Path(data), []
    for name in names or sorted(FIGURES):
        if name not in FIGURES:
            raise CryonbError(None, f"unknown figure {name!r}; figures: {', '.join(sorted(FIGURES))}")
        fn, records = FIGURES[name]
        missing = [r for r in records if not (data / r).is_file()]
        if missing:
            raise CryonbError(data / missing[0], f"record of figure {name} not found (docs/figures.md says "
                                                 "which command writes it)")
        with styled():        # saved inside too: the style fixes the SVG ids (svg.hashsalt)
            fig, rows = fn(*(read_records(data / r) for r in records))
            paths += save(fig, rows, name, out)
    return paths


@producer("refinement_before_after", "refinement_batch.csv")
def refinement_before_after(records: list[dict]):
    """The first seed's Fig. 2E analogue: MolProbity score and Q-score of each model before and
    after refinement (one line per model; colour: the map's kind)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.6), constrained_layout=True)
    for ax, key, label in ((axes[0], "molprobity_score", "MolProbity score (lower is better)"),
                           (axes[1], "qscore", "Q-score (higher is better)")):
        for r in records:
            ax.plot([0, 1], [r[f"{key}_before"], r[f"{key}_after"]], "-o", color=KIND_COLOURS[r["map"]], alpha=0.8)
            ax.annotate(r["name"], (1, r[f"{key}_after"]), xytext=(4, 0), textcoords="offset points",
                        fontsize=6, va="center")
        ax.set_xticks([0, 1], ["before", "after"])
        ax.set_xlim(-0.2, 1.5)
        ax.set_ylabel(label)
    for kind, colour in KIND_COLOURS.items():
        if any(r["map"] == kind for r in records):
            axes[0].plot([], [], "-o", color=colour, label=f"{kind} map")
    axes[0].legend(loc="best")
    fig.suptitle(f"Refinement of {len(records)} models in their maps (notebook 05 batch)", fontsize=10)
    keys = ("name", "map", "resolution", "molprobity_score_before", "molprobity_score_after", "qscore_before",
            "qscore_after")
    return fig, [{k: r[k] for k in keys} for r in records]


@producer("ramachandran_before_after", "ramachandran.csv")
def ramachandran_before_after(records: list[dict]):
    """Ramachandran plots of the start and refined models of each case, with the Top8000 general
    table's favoured (2 %) and allowed (0.05 %) contours; residues coloured by category."""
    from ..validation.rama import ALLOWED, FAVORED, rama_tables
    grid = rama_tables()["general"]
    centres = [grid.lower[d] + (np.arange(grid.values.shape[d]) + 0.5) * grid.width[d] for d in range(2)]
    cases = list(dict.fromkeys(r["case"] for r in records))
    fig, axes = plt.subplots(len(cases), 2, figsize=(6.4, 3.3 * len(cases)), squeeze=False,
                             constrained_layout=True)
    colours = {"favored": "#1f77b4", "allowed": "#ff7f0e", "outlier": "#d62728"}
    for row, case in zip(axes, cases):
        for ax, which in zip(row, ("start", "refined")):
            ax.contour(centres[0], centres[1], grid.values.T, levels=[ALLOWED["general"], FAVORED],
                       colors=["0.55", "0.3"], linewidths=0.7)
            pts = [r for r in records if r["case"] == case and r["model"] == which]
            for cat, colour in colours.items():
                sel = [r for r in pts if r["category"] == cat]
                ax.scatter([r["phi"] for r in sel], [r["psi"] for r in sel], s=6, color=colour,
                           label=f"{cat} ({len(sel)})")
            ax.set_xlim(-180, 180)
            ax.set_ylim(-180, 180)
            ax.set_xticks(range(-180, 181, 90))
            ax.set_yticks(range(-180, 181, 90))
            ax.set_xlabel("phi (°)")
            ax.set_ylabel("psi (°)")
            ax.set_title(f"{case}: {which}")
            ax.legend(loc="lower right", fontsize=6)
    return fig, records


@producer("fsc_curves", "fsc.csv")
def fsc_curves(records: list[dict]):
    """FSC curves: model-map (start and refined models in their maps; 0.5 line) and half maps of a
    simulated case (0.143 line)."""
    cases = list(dict.fromkeys(r["case"] for r in records))
    fig, axes = plt.subplots(1, len(cases), figsize=(3.2 * len(cases), 3.0), squeeze=False,
                             constrained_layout=True)
    for ax, case in zip(axes[0], cases):
        for curve in dict.fromkeys(r["curve"] for r in records if r["case"] == case):
            pts = [r for r in records if r["case"] == case and r["curve"] == curve]
            ax.plot([r["frequency"] for r in pts], [r["fsc"] for r in pts], label=curve)
        for level in (0.5, 0.143):
            ax.axhline(level, color="0.6", lw=0.7, ls="--")
        ax.set_ylim(-0.05, 1.02)
        ax.set_xlabel("spatial frequency (1/Å)")
        ax.set_ylabel("FSC")
        ax.set_title(case)
        ax.legend(loc="lower left", fontsize=6)
    return fig, records


@producer("series_validation", "series_frames.csv")
def series_validation(records: list[dict]):
    """The first seed's Fig. 3B analogue: along the AdK DIMS model series (98 frames), the C-alpha
    RMSD to the true frame and the Ramachandran, rotamer and clash scores of each frame's model,
    for the series and for the interpolation baseline (maps at the marked frames)."""
    panels = (("ca_rmsd", "C-alpha RMSD to truth (Å)"), ("rama_outliers_pct", "Ramachandran outliers (%)"),
              ("rotamer_outliers_pct", "rotamer outliers (%)"), ("clashscore", "clashscore"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 7.2), sharex=True, constrained_layout=True)
    maps = sorted({r["frame"] for r in records if r["map"]})
    for ax, (key, label) in zip(axes, panels):
        for method in dict.fromkeys(r["method"] for r in records):
            pts = [r for r in records if r["method"] == method]
            ax.plot([r["frame"] for r in pts], [r[key] for r in pts], label=method, lw=1.0)
        for k in maps:
            ax.axvline(k, color="0.85", lw=0.6, zorder=0)
        ax.set_ylabel(label)
    axes[0].legend(loc="upper left")
    axes[-1].set_xlabel("DIMS frame (grey: frames with a map)")
    return fig, records
