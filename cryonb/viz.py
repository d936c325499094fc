"""Inline 3D views with nglview: models, maps as wireframe isosurfaces, per-residue colours,
multi-model trajectories with a frame slider.

All helpers return widgets to display in Jupyter; nothing here draws without a
browser. Figures for papers and papermill runs use matplotlib (:mod:`cryonb.plots`).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Callable, Sequence

import gemmi
import ipywidgets
import nglview
import numpy as np

from .io import first_model, trajectory_xyz, write_map
from .maps import Map

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


class GemmiStructure(nglview.Structure):
    """nglview adaptor for the first model of a gemmi Structure (sent as PDB text)."""

    def __init__(self, st: gemmi.Structure):
        super().__init__()
        self.ext = "pdb"
        self.params = {}
        self._pdb = first_model(st).make_pdb_string()

    def get_structure_string(self) -> str:
        return self._pdb


class GemmiTrajectory(nglview.Trajectory, GemmiStructure):
    """nglview adaptor for a multi-model gemmi Structure: one frame per model."""

    def __init__(self, st: gemmi.Structure):
        GemmiStructure.__init__(self, st)
        self._frames = trajectory_xyz(st).astype(np.float32)

    def get_coordinates(self, index: int) -> np.ndarray:
        return self._frames[index]

    @property
    def n_frames(self) -> int:
        return len(self._frames)


def show_models(*models: gemmi.Structure, representation: str = "cartoon",
                colors: Sequence[str] | None = None) -> nglview.NGLWidget:
    """One view with every model, each in its own colour (first model of each Structure)."""
    view = nglview.NGLWidget()
    add_models(view, *models, representation=representation, colors=colors)
    view.center()
    return view


def add_models(view: nglview.NGLWidget, *models: gemmi.Structure, representation: str = "cartoon",
               colors: Sequence[str] | None = None) -> None:
    """Add models to a view, each in its own colour (``colors``, default the palette)."""
    colors = colors or PALETTE
    for i, st in enumerate(models):
        comp = view.add_component(GemmiStructure(st), default_representation=False)
        comp.add_representation(representation, color=colors[i % len(colors)])


def add_map(view: nglview.NGLWidget, m: Map | str | os.PathLike, sigma: float = 1.5,
            color: str = "#6f8fbf", wireframe: bool = True, opacity: float = 0.35):
    """Add a map (Map or MRC path) as an isosurface at ``sigma`` standard deviations.

    A see-through wireframe by default, so a model inside stays visible.
    """
    path = _map_file(m) if isinstance(m, Map) else os.fspath(m)
    comp = view.add_component(path, default_representation=False)
    comp.add_surface(isolevelType="sigma", isolevel=float(sigma), wireframe=wireframe,
                     color=color, opacity=float(opacity), depthWrite=False)
    return comp


def show_model_in_map(st: gemmi.Structure, m: Map | str | os.PathLike, sigma: float = 1.5,
                      representation: str = "licorice", color: str = "#e8710a"
                      ) -> nglview.NGLWidget:
    """A model (``representation``, orange) inside a map drawn as a see-through wireframe."""
    view = show_models(st, representation=representation, colors=[color])
    add_map(view, m, sigma=sigma)
    return view


def color_by_residue(st: gemmi.Structure, values: dict[tuple[str, int], float] | Sequence[float],
                     representation: str = "cartoon", color_scale: str = "rwb",
                     value_range: tuple[float, float] | None = None) -> nglview.NGLWidget:
    """Colour residues by a per-residue value (e.g. FSC, shift, Q-score).

    ``values``: one float per residue in file order, or a dict keyed by
    (chain, residue number). The value is carried in the B-factor column of a copy.
    """
    work = first_model(st)
    residues = [(ch.name, r) for ch in work[0] for r in ch]
    if not isinstance(values, dict):
        if len(values) != len(residues):
            raise ValueError(f"{len(values)} values for {len(residues)} residues")
        values = {(c, r.seqid.num): float(v) for (c, r), v in zip(residues, values)}
    for chain, res in residues:
        v = values.get((chain, res.seqid.num), np.nan)
        for atom in res:
            atom.b_iso = float(v) if np.isfinite(v) else 0.0
    finite = np.array([v for v in values.values() if np.isfinite(v)])
    lo, hi = value_range or (float(finite.min()), float(finite.max()))
    view = nglview.NGLWidget()
    comp = view.add_component(GemmiStructure(work), default_representation=False)
    comp.add_representation(representation, color_scheme="bfactor", color_scale=color_scale,
                            color_domain=[lo, hi])
    view.center()
    return view


def show_trajectory(st: gemmi.Structure, representation: str = "cartoon",
                    m: Map | None = None, sigma: float = 1.5) -> ipywidgets.VBox:
    """A multi-model trajectory with a frame slider under the view (optionally inside a map)."""
    view = nglview.NGLWidget()
    traj = GemmiTrajectory(st)
    comp = view.add_trajectory(traj, default_representation=False)
    comp.add_representation(representation, color="residueindex")
    if m is not None:
        add_map(view, m, sigma=sigma)
    view.center()
    slider = ipywidgets.IntSlider(value=0, min=0, max=traj.n_frames - 1, description="frame",
                                  continuous_update=True)
    ipywidgets.link((slider, "value"), (view, "frame"))
    box = ipywidgets.VBox([view, slider])
    box.view, box.slider = view, slider
    return box


def show_series(st: gemmi.Structure, maps: Sequence[Map] = (), frame_map: Sequence[int] | None = None,
                sigma: float = 1.5, representation: str = "cartoon",
                plot: Callable[[int], object] | None = None) -> ipywidgets.VBox:
    """A model series (multi-model Structure) with a frame slider (:func:`show_trajectory`); with
    ``maps``, frame k shows ``maps[frame_map[k]]`` (e.g. the map nearest its latent) and hides the rest;
    with ``plot`` (frame -> matplotlib Figure), the slider also redraws that figure under the view."""
    if maps and (frame_map is None or len(frame_map) != len(st)):
        raise ValueError(f"frame_map needs one map index per frame ({len(st)})")
    box = show_trajectory(st, representation)
    view = box.view
    comps = [add_map(view, m, sigma=sigma) for m in maps]
    if comps:
        shown = {"map": None}

        def update(change=None):
            k = int(frame_map[view.frame])
            if k != shown["map"]:
                for i, comp in enumerate(comps):
                    if i == k:
                        comp.show()
                    else:
                        comp.hide()
                shown["map"] = k

        view.observe(update, names="frame")
        update()
    box.maps = comps
    if plot is not None:
        box.plot = _frame_plot(view, plot)
        box.children += (box.plot,)
    return box


def show_predicted_calpha(predicted: gemmi.Structure, m: Map | str | os.PathLike | None = None,
                          true: gemmi.Structure | None = None, sigma: float = 1.5,
                          radius: float = 0.9) -> nglview.NGLWidget:
    """Predicted C-alpha atoms (spheres coloured by probability, from the B-factor column: blue
    low, red high) inside a map (wireframe), with the true chain as a thin grey C-alpha trace
    (NGL draws the trace only for amino-acid residue names, e.g. ``calpha_chain(xyz, residue="ALA")``)."""
    view = nglview.NGLWidget()
    comp = view.add_component(GemmiStructure(predicted), default_representation=False)
    comp.add_representation("spacefill", radius=float(radius), color_scheme="bfactor",
                            color_scale="rwb", color_domain=[100, 0])
    if true is not None:
        ref = view.add_component(GemmiStructure(true), default_representation=False)
        ref.add_representation("backbone", color="#7f7f7f", radius=0.25)
    if m is not None:
        add_map(view, m, sigma=sigma)
    view.center()
    return view


def _frame_plot(view: nglview.NGLWidget, plot: Callable[[int], object]) -> ipywidgets.Output:
    """An Output widget holding ``plot(view.frame)``, redrawn whenever the frame changes."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    out = ipywidgets.Output()

    def redraw(change=None):
        fig = plot(int(view.frame))
        with out:
            out.clear_output(wait=True)
            display(fig)
        plt.close(fig)

    view.observe(redraw, names="frame")
    redraw()
    return out


def _map_file(m: Map) -> str:
    """``m`` written to a fresh temporary folder for nglview, removed when Python exits (a view may
    read its file after this returns)."""
    folder = tempfile.mkdtemp(prefix="cryonb_view_")
    atexit.register(shutil.rmtree, folder, True)
    return str(write_map(m, os.path.join(folder, "map.mrc")))
