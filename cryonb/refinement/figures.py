"""Figures and tables of one GMM-DNN refinement (a :class:`~cryonb.refinement.RefineResult`).

Used by notebook ``05_single_refinement``; every plot returns a matplotlib Figure (save it with
:func:`cryonb.plots.save_figure`). C-alpha atoms are matched between models by (chain, residue
number + insertion code) and compared without superposition: the map fixes the frame.
"""
from __future__ import annotations

import math
from typing import Sequence

import gemmi
import matplotlib.pyplot as plt
import numpy as np

from ..density.fsc import FSCCurve
from ..io import calpha
from ..plots import plot_fsc
from ..validation.headline import HEADLINE

# ----------------------------------------------------------------------------- C-alpha atoms
def matched_calpha(a: gemmi.Structure, b: gemmi.Structure
                   ) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """C-alpha atoms present in both models (in ``a``'s order): keys, (M, 3) of a, (M, 3) of b."""
    ka, xa = calpha(a)
    kb, xb = calpha(b)
    where = {k: i for i, k in enumerate(kb)}
    pairs = [(i, where[k]) for i, k in enumerate(ka) if k in where]
    ia = np.array([i for i, _ in pairs], dtype=np.int64)
    ib = np.array([j for _, j in pairs], dtype=np.int64)
    return [ka[i] for i in ia], xa[ia].reshape(-1, 3), xb[ib].reshape(-1, 3)


def calpha_rmsd(a: gemmi.Structure, b: gemmi.Structure) -> float:
    """C-alpha RMSD (Å) over the residues both models share, without superposition (nan if none)."""
    _, xa, xb = matched_calpha(a, b)
    if len(xa) == 0:
        return math.nan
    return float(np.sqrt(((xa - xb) ** 2).sum(-1).mean()))


# ----------------------------------------------------------------------------- tables
def step_rows(result, start: gemmi.Structure, reference: gemmi.Structure | None = None) -> list[dict]:
    """One row per refinement step, after a first row for the input model ``start``: name, seconds,
    rounds, geometry weight, C-alpha RMS shift from the previous step (Å) and, with ``reference``,
    C-alpha RMSD to it (Å)."""
    first = {"step": "input", "seconds": 0.0, "rounds": 0, "geometry_weight": math.nan, "ca_shift": 0.0}
    if reference is not None:
        first["ca_rmsd_reference"] = calpha_rmsd(start, reference)
    rows, previous = [first], start
    for step in result.steps:
        model = result.stage_model(step.name)
        rounds = max((len(v) for v in step.history.values()), default=0)
        row = {"step": step.name, "seconds": float(step.seconds), "rounds": rounds,
               "geometry_weight": float(step.geometry_weight), "ca_shift": calpha_rmsd(model, previous)}
        if reference is not None:
            row["ca_rmsd_reference"] = calpha_rmsd(model, reference)
        rows.append(row)
        previous = model
    return rows


STEP_COLUMNS = {"step": "step", "seconds": "seconds", "rounds": "rounds", "geometry_weight": "geometry weight",
                "ca_shift": "CA shift (Å)", "ca_rmsd_reference": "CA RMSD to ref (Å)"}


def format_steps(rows: list[dict]) -> str:
    """The :func:`step_rows` table as text (the reference column only when the rows have it)."""
    columns = [c for c in STEP_COLUMNS if rows and c in rows[0]]
    return format_table([[r[c] for c in columns] for r in rows], [STEP_COLUMNS[c] for c in columns])


def compare(before: dict, after: dict, extra: dict[str, tuple[float, float]] | None = None
            ) -> list[tuple[str, object, object]]:
    """(label, before, after) for the validation keys present in both summaries, ``extra`` first."""
    rows = [(label, b, a) for label, (b, a) in (extra or {}).items()]
    rows += [(label, before[k], after[k]) for k, label in _compared() if _both(before, after, k)]
    return rows


def _compared() -> list[tuple[str, str]]:
    """(key, label) of the headline metrics, in the table's order."""
    return [(m.key, m.label) for m in HEADLINE]


def _both(before: dict, after: dict, key: str) -> bool:
    """The key is in both summaries and has a value in one (ligand keys are None without ligands)."""
    return key in before and key in after and (before[key] is not None or after[key] is not None)


def format_value(value) -> str:
    """A table cell: integers as they are, floats with 3 decimals (3 significant digits when
    tiny or huge), None and nan as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.3g}" if value and not 0.01 <= abs(value) < 1e5 else f"{value:.3f}"
    return str(value)


def format_table(rows: Sequence[Sequence], header: Sequence[str]) -> str:
    """A plain-text table: first column left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in header]] + [[format_value(v) if i else str(v) for i, v in enumerate(r)]
                                         for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures
def plot_loss_curves(steps: Sequence, title: str | None = None) -> plt.Figure:
    """One panel per step with a loss history (``StageResult``s): after every round the map score
    1 - FRC (left axis) and the geometry loss, its terms summed with their weights (right axis;
    log scale when it spans more than a decade); ``polish`` shows its total (geometry + tether).
    Panel titles give the FRC limit's first and last value."""
    steps = [s for s in steps if s.history]
    if not steps:
        fig, ax = plt.subplots(figsize=(4, 2.5), constrained_layout=True)
        ax.text(0.5, 0.5, "no loss history", ha="center", va="center")
        ax.set_axis_off()
        return fig
    fig, axes = plt.subplots(1, len(steps), figsize=(3.6 * len(steps), 3.0), constrained_layout=True,
                             squeeze=False)
    fig.get_layout_engine().set(wspace=0.08)
    for ax, step in zip(axes[0], steps):
        h = step.history
        label = step.name
        if "resolution" in h and h["resolution"]:
            label += f"\nFRC limit {h['resolution'][0]:.1f} → {h['resolution'][-1]:.1f} Å"
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("round")
        if "map" in h:
            rounds = np.arange(1, len(h["map"]) + 1)
            ax.plot(rounds, h["map"], color="#1f77b4", marker=".", lw=1.4)
            ax.set_ylabel("map score 1 − FRC", color="#1f77b4", fontsize=8)
            geo = h.get("geometry")
            right = ax.twinx() if geo else None
        else:
            geo = h.get("total") or h.get("geometry")
            right = ax if geo else None
        if geo and right is not None:
            rounds = np.arange(1, len(geo) + 1)
            right.plot(rounds, geo, color="#d62728", marker=".", lw=1.4)
            right.set_ylabel("geometry loss" if "map" in h else "geometry loss (total)", color="#d62728",
                             fontsize=8)
            if min(geo) > 0 and max(geo) > 10 * min(geo):
                right.set_yscale("log")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_fsc_before_after(before: FSCCurve, after: FSCCurve, resolution: float | None = None,
                          title: str | None = None) -> plt.Figure:
    """Model-map FSC of the input and of the refined model, with the map's resolution marked."""
    fig = plot_fsc({"input": before, "refined": after}, thresholds=(0.5,),
                   threshold_for={"input": 0.5, "refined": 0.5}, title=title)
    ax = fig.axes[0]
    if resolution:
        ax.axvline(1.0 / resolution, color="k", lw=0.8, ls=":")
        ax.text(1.0 / resolution, 0.98, f" {resolution:g} Å", va="top", ha="left", fontsize=8)
    return fig


def plot_calpha_shifts(start: gemmi.Structure, refined: gemmi.Structure,
                       reference: gemmi.Structure | None = None, title: str | None = None) -> plt.Figure:
    """Per-residue C-alpha shift input → refined; with ``reference`` a second panel shows the
    C-alpha error against it before and after. x: residue number (chain breaks start a new run)."""
    keys, xs, xr = matched_calpha(start, refined)
    panels = 2 if reference is not None else 1
    fig, axes = plt.subplots(panels, 1, figsize=(7.5, 2.4 * panels), sharex=True, squeeze=False,
                             constrained_layout=True)
    x = np.arange(len(keys))
    shift = np.linalg.norm(xr - xs, axis=1)
    ax = axes[0, 0]
    ax.fill_between(x, shift, color="#2ca02c", alpha=0.35, lw=0)
    ax.plot(x, shift, color="#2ca02c", lw=1.0, label=f"input → refined (rms {_rms(shift):.2f} Å)")
    ax.set_ylabel("C-alpha shift (Å)")
    ax.legend(fontsize=8, loc="upper right")
    if reference is not None:
        ref = dict(zip(*calpha(reference)))
        have = np.array([k in ref for k in keys], dtype=bool)
        target = np.array([ref.get(k, (np.nan,) * 3) for k in keys], dtype=np.float64).reshape(-1, 3)
        err0 = np.linalg.norm(xs - target, axis=1)
        err1 = np.linalg.norm(xr - target, axis=1)
        ax = axes[1, 0]
        ax.plot(x[have], err0[have], color="0.5", lw=1.0, label=f"input (rms {_rms(err0[have]):.2f} Å)")
        ax.plot(x[have], err1[have], color="#d62728", lw=1.2, label=f"refined (rms {_rms(err1[have]):.2f} Å)")
        ax.set_ylabel("C-alpha error vs\nreference (Å)")
        ax.legend(fontsize=8, loc="upper right")
    _residue_ticks(axes[-1, 0], keys)
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    return fig


def _rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(v)))) if len(v) else math.nan


def _residue_ticks(ax: plt.Axes, keys: list[tuple[str, str]], n_ticks: int = 10) -> None:
    """Label about ``n_ticks`` positions with chain/residue number."""
    if not keys:
        return
    step = max(1, len(keys) // n_ticks)
    ticks = list(range(0, len(keys), step))
    multi = len({c for c, _ in keys}) > 1
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{keys[i][0]}{keys[i][1]}" if multi else keys[i][1] for i in ticks], fontsize=8)
    ax.set_xlabel("residue")
    ax.set_xlim(0, max(1, len(keys) - 1))
