"""Figures and per-frame numbers of a series run: validation along the trajectory (the seed's
Fig. 3B: Ramachandran outliers, rotamer outliers, clashscore per frame, plus model-map FSC at the
frames with a map), C-alpha RMSD per frame against known true frames, and which latents to look at.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import gemmi
import matplotlib.pyplot as plt
import numpy as np

from ..io import trajectory_xyz

PANELS = [("rama_outliers_pct", "Ramachandran outliers (%)"), ("rotamer_outliers_pct", "rotamer outliers (%)"),
          ("clashscore", "clashscore"), ("fsc_average", "model-map FSC (average)")]
SAMPLED = "#e8710a"
LINE = "#1f77b4"
CURRENT = "#d62728"


# ----------------------------------------------------------------------------- latents
def latents_along(latents: np.ndarray, n: int) -> np.ndarray:
    """(n, 1) latents evenly spaced over [min, max] of 1-D latents (M, 1)."""
    z = np.asarray(latents, dtype=np.float64)
    z = z.reshape(-1, 1) if z.ndim == 1 else z
    if z.shape[1] != 1:
        raise ValueError(f"evenly spaced latents need a 1-D latent; these have {z.shape[1]} dimensions "
                         "(give the latents to evaluate as a file instead)")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return np.linspace(z.min(), z.max(), int(n))[:, None]


def nearest_index(latents: np.ndarray, references: np.ndarray) -> np.ndarray:
    """(K,) index of the nearest row of ``references`` (M, d) for each latent (K, d)."""
    z = np.asarray(latents, dtype=np.float64)
    ref = np.asarray(references, dtype=np.float64)
    z = z.reshape(-1, ref.shape[1]) if ref.ndim == 2 else z.reshape(-1, 1)
    ref = ref.reshape(len(ref), -1)
    return np.linalg.norm(z[:, None, :] - ref[None, :, :], axis=2).argmin(axis=1)


def evaluation_latents(map_latents: np.ndarray, given: np.ndarray | None = None, n_frames: int | None = None,
                       grid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Latents to write models at, and (with ``grid``) their row indices in it.

    ``given`` (K, d) as given; else ``n_frames`` latents evenly along a 1-D latent plus the maps' own
    (sorted, without repeats); else ``grid`` if given (e.g. every true frame); else the maps' latents.
    With ``grid`` (F, d), every latent moves to its nearest grid row (so a true model belongs to it).
    """
    maps = np.asarray(map_latents, dtype=np.float64)
    maps = maps.reshape(len(maps), -1)
    even = given is None and bool(n_frames)
    if given is not None:
        z = np.asarray(given, dtype=np.float64).reshape(len(given), -1)
        if z.shape[1] != maps.shape[1]:
            raise ValueError(f"latents of dimension {z.shape[1]} to evaluate; the maps' have {maps.shape[1]}")
    elif even:
        z = np.concatenate([latents_along(maps, n_frames), maps])
    else:
        z = maps if grid is None else np.asarray(grid, dtype=np.float64).reshape(len(grid), -1)
    if grid is None:
        return (np.unique(z, axis=0) if even else z), None
    grid = np.asarray(grid, dtype=np.float64).reshape(len(grid), -1)
    index = nearest_index(z, grid)
    index = np.unique(index) if even else index
    return grid[index], index


def step_rows(steps) -> list[dict]:
    """One row per series step (``StageResult``): name, seconds, rounds and geometry weight, for
    ``refinement.figures.format_steps``."""
    return [{"step": s.name, "seconds": float(s.seconds), "rounds": max((len(v) for v in s.history.values()),
                                                                          default=0),
             "geometry_weight": float(s.geometry_weight)} for s in steps]


# ----------------------------------------------------------------------------- C-alpha RMSD
def calpha_mask(st: gemmi.Structure) -> np.ndarray:
    """(N,) True at the C-alpha atoms of model 1, in file (``io.model_xyz``) order."""
    return np.array([a.name == "CA" and a.element == gemmi.Element("C")
                     for ch in st[0] for r in ch for a in r], dtype=bool)


def calpha_rmsd_frames(trajectory: gemmi.Structure, frames: np.ndarray) -> np.ndarray:
    """(K,) C-alpha RMSD (Å, no superposition) of each model of a K-model Structure to the true
    coordinates ``frames`` (K, N, 3), same atoms in the same (file) order."""
    xyz = trajectory_xyz(trajectory)
    frames = np.asarray(frames, dtype=np.float64)
    if frames.shape != xyz.shape:
        raise ValueError(f"frames {frames.shape} do not match the trajectory's coordinates {xyz.shape}")
    ca = calpha_mask(trajectory)
    return np.sqrt(((xyz[:, ca] - frames[:, ca]) ** 2).sum(-1).mean(-1))


# ----------------------------------------------------------------------------- figures
def frame_axis(table: Sequence[Mapping], latents: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """x values and label of a per-frame plot: the latent if it is 1-D, else the frame number."""
    if latents is not None:
        z = np.asarray(latents, dtype=np.float64)
        z = z.reshape(len(z), -1)
        if z.shape[1] == 1:
            return z[:, 0], "latent coordinate"
    elif table and "latent_0" in table[0] and "latent_1" not in table[0]:
        return np.array([row["latent_0"] for row in table], dtype=float), "latent coordinate"
    return np.array([row.get("frame", k) for k, row in enumerate(table)], dtype=float), "frame"


def plot_frames(table: Sequence[Mapping], latents: np.ndarray | None = None,
                map_latents: np.ndarray | None = None, title: str | None = None,
                current: int | None = None) -> plt.Figure:
    """Validation along the trajectory: one panel per metric (Ramachandran outliers %, rotamer
    outliers %, clashscore, and model-map FSC at the frames with a map, if any), one point per row
    of ``series.outputs.frames_table``. Frames at a map are marked (orange); with 1-D ``map_latents``
    dotted lines mark every map's latent; ``current`` (a row) gets a red line (a frame slider's)."""
    if not table:
        raise ValueError("no frames to plot")
    x, xlabel = frame_axis(table, latents)
    sampled = np.array([bool(row.get("map")) for row in table])
    panels = [(k, label) for k, label in PANELS
              if np.isfinite(np.array([row.get(k, np.nan) for row in table], dtype=float)).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 2.9), constrained_layout=True,
                             squeeze=False)
    lines = _map_lines(map_latents) if xlabel == "latent coordinate" and map_latents is not None else x[sampled]
    for ax, (key, label) in zip(axes[0], panels):
        y = np.array([row.get(key, np.nan) for row in table], dtype=float)
        for v in lines:
            ax.axvline(v, color="#bbbbbb", lw=0.8, ls=":", zorder=0)
        if current is not None:
            ax.axvline(x[current], color=CURRENT, lw=1.2, zorder=0)
        if key != "fsc_average":
            ax.plot(x, y, color=LINE, marker=".", ms=4, lw=1.2, label="frames")
            ax.set_ylim(bottom=0.0, top=max(1.0, float(np.nanmax(y)) * 1.15))
        ax.plot(x[sampled], y[sampled], ls="none", marker="o", ms=5, color=SAMPLED, label="at a map")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(xlabel)
    axes[0][0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_calpha_rmsd(x: np.ndarray, curves: Mapping[str, np.ndarray], sampled: np.ndarray | None = None,
                     xlabel: str = "latent coordinate", title: str | None = None) -> plt.Figure:
    """C-alpha RMSD to the true frames per frame, one line per method (``curves``: name -> (K,));
    frames at a map (``sampled``, boolean (K,)) get dotted lines."""
    fig, ax = plt.subplots(figsize=(6.0, 3.2), constrained_layout=True)
    x = np.asarray(x, dtype=float)
    if sampled is not None:
        for v in x[np.asarray(sampled, dtype=bool)]:
            ax.axvline(v, color="#bbbbbb", lw=0.8, ls=":", zorder=0)
    for i, (name, y) in enumerate(curves.items()):
        y = np.asarray(y, dtype=float)
        ax.plot(x, y, marker=".", ms=4, lw=1.3, color=[LINE, "#2ca02c", "#9a9a9a", "#d62728"][i % 4],
                label=f"{name} (max {np.nanmax(y):.2f} Å)")
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("C-alpha RMSD to truth (Å)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _map_lines(map_latents: np.ndarray) -> np.ndarray:
    z = np.asarray(map_latents, dtype=float)
    z = z.reshape(len(z), -1)
    return z[:, 0] if z.shape[1] == 1 else np.zeros(0)
