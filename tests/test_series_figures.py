"""Series figures and per-frame helpers: the per-frame validation plot (seed Fig. 3B), C-alpha RMSD
per frame, which latents to evaluate, and the 3D series view that swaps maps with the frame."""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cryonb import plots, viz  # noqa: E402
from cryonb.io import model_xyz, structure_from_frames  # noqa: E402
from cryonb.maps import Map  # noqa: E402
from cryonb.series import figures  # noqa: E402
from cryonb.series.outputs import FRAME_KEYS  # noqa: E402


def _table(latents, maps):
    """A frames_table-like table: frames at ``maps`` (indices) carry a map name and an FSC."""
    rows = []
    for k, z in enumerate(latents):
        at_map = k in maps
        row = {"frame": k, **{f"latent_{i}": float(v) for i, v in enumerate(np.atleast_1d(z))},
               "map": f"map_{k}.mrc" if at_map else ""}
        row.update({key: float(k % 3) for key in FRAME_KEYS})
        row["fsc_average"] = 0.6 + 0.01 * k if at_map else math.nan
        rows.append(row)
    return rows


def _orange_points(ax):
    return [line for line in ax.lines if line.get_color() == figures.SAMPLED]


def test_plot_frames_has_a_panel_per_metric_and_marks_frames_at_maps(tmp_path):
    z = np.linspace(0.0, 1.0, 7)[:, None]
    table = _table(z[:, 0], maps={0, 3, 6})
    fig = figures.plot_frames(table, z, z[[0, 3, 6]])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [label for _, label in figures.PANELS]
    rama = fig.axes[0]
    assert rama.get_xlabel() == "latent coordinate"
    assert np.allclose(_orange_points(rama)[0].get_xdata(), [0.0, 0.5, 1.0])
    assert len([line for line in rama.lines if line.get_linestyle() == ":"]) == 3      # the maps' latents
    fsc = fig.axes[3]
    assert np.allclose(_orange_points(fsc)[0].get_ydata(), [0.6, 0.63, 0.66])
    current = figures.plot_frames(table, z, current=2)
    assert [line.get_xdata()[0] for line in current.axes[0].lines if line.get_color() == figures.CURRENT] == [z[2, 0]]
    plt.close(current)
    written = plots.save_figure(fig, tmp_path / "frames")
    assert [p.suffix for p in written] == [".png", ".svg"] and written[0].stat().st_size > 10_000
    plt.close(fig)


def test_plot_frames_without_maps_or_1d_latents_uses_frame_numbers():
    table = _table(np.array([[0.0, 1.0], [0.5, 0.2], [1.0, 0.0]]), maps=set())
    fig = figures.plot_frames(table)
    assert len(fig.axes) == 3                        # no FSC anywhere: no FSC panel
    assert fig.axes[0].get_xlabel() == "frame"
    plt.close(fig)
    with pytest.raises(ValueError, match="no frames"):
        figures.plot_frames([])


def test_plot_calpha_rmsd_draws_one_line_per_method():
    x = np.linspace(0, 1, 5)
    fig = figures.plot_calpha_rmsd(x, {"series": np.full(5, 0.5), "baseline": np.arange(5.0)},
                                   sampled=np.array([1, 0, 0, 0, 1], bool))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["series (max 0.50 Å)", "baseline (max 4.00 Å)"]
    plt.close(fig)


def test_evaluation_latents():
    maps = np.array([[0.0], [0.5], [1.0]])
    z, index = figures.evaluation_latents(maps)
    assert np.array_equal(z, maps) and index is None
    z, _ = figures.evaluation_latents(maps, n_frames=5)
    assert np.allclose(z[:, 0], [0.0, 0.25, 0.5, 0.75, 1.0])           # the maps' latents are among them
    z, _ = figures.evaluation_latents(np.array([[0.0], [0.4], [1.0]]), n_frames=3)
    assert np.allclose(z[:, 0], [0.0, 0.4, 0.5, 1.0])
    grid = np.linspace(0.0, 1.0, 11)[:, None]
    z, index = figures.evaluation_latents(maps, grid=grid)               # every grid row
    assert np.array_equal(index, np.arange(11)) and np.array_equal(z, grid)
    z, index = figures.evaluation_latents(maps, n_frames=4, grid=grid)   # snapped to the grid, no repeats
    assert list(index) == [0, 3, 5, 7, 10] and np.allclose(z[:, 0], grid[index, 0])
    z, index = figures.evaluation_latents(maps, given=np.array([0.92, 0.11]), grid=grid)
    assert list(index) == [9, 1]                                          # given order kept
    with pytest.raises(ValueError, match="dimension 2"):
        figures.evaluation_latents(maps, given=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="1-D latent"):
        figures.evaluation_latents(np.zeros((3, 2)), n_frames=4)


def test_nearest_index():
    assert list(figures.nearest_index(np.array([[0.1], [0.9], [0.45]]), np.array([[0.0], [0.5], [1.0]]))) == [0, 2, 1]


def test_calpha_rmsd_frames_counts_only_calpha_atoms(adk_closed):
    xyz = model_xyz(adk_closed)
    ca = figures.calpha_mask(adk_closed)
    assert ca.sum() == 214
    moved = xyz.copy()
    moved[ca, 0] += 2.0
    moved[~ca] += 5.0                                 # other atoms do not count
    traj = structure_from_frames(adk_closed, np.stack([xyz, moved]))
    assert np.allclose(figures.calpha_rmsd_frames(traj, np.stack([xyz, xyz])), [0.0, 2.0])
    with pytest.raises(ValueError, match="do not match"):
        figures.calpha_rmsd_frames(traj, xyz[None])


def test_series_view_shows_the_map_of_the_current_frame(adk_closed):
    xyz = model_xyz(adk_closed)
    traj = structure_from_frames(adk_closed, np.stack([xyz, xyz + 1.0, xyz + 2.0]))
    maps = [Map(np.random.default_rng(k).normal(size=(8, 8, 8)), 2.0) for k in range(2)]
    box = viz.show_series(traj, maps, frame_map=[0, 0, 1])
    view = box.view

    def visibility():
        calls = [m for m in view._ngl_msg_archive if m.get("methodName") == "setVisibility"]
        return {m["component_index"]: m["args"][0] for m in calls}   # the last call per component wins

    first, second = (c._index for c in box.maps)
    assert visibility() == {first: True, second: False}
    box.slider.value = 2
    assert view.frame == 2 and visibility() == {first: False, second: True}
    assert viz.show_series(traj).maps == []
    drawn = []

    def plot(k):
        drawn.append(k)
        return figures.plot_frames(_table(np.arange(3.0), maps={0, 2}), current=k)

    box = viz.show_series(traj, plot=plot)
    assert box.children[-1] is box.plot and drawn == [0]
    box.slider.value = 1
    assert drawn == [0, 1]
    with pytest.raises(ValueError, match="one map index per frame"):
        viz.show_series(traj, maps, frame_map=[0, 1])
