"""Figures and tables of C-alpha prediction: per-resolution means, curves, the shipped settings."""
import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from cryonb.cnn.dataset import DataConfig  # noqa: E402
from cryonb.cnn.figures import (  # noqa: E402
    mean_by_resolution,
    plot_history,
    plot_resolution_curves,
    resolution_table,
    score_by_resolution,
)
from cryonb.cnn.network import NetworkConfig, ResidualNetwork  # noqa: E402
from cryonb.cnn.train import shipped_config, shipped_data  # noqa: E402


def row(res, cr, naive, rmsd=None):
    return {"resolution": res, "crscore": cr, "recall": cr, "precision": cr, "rmsd": rmsd,
            "naive_crscore": naive, "naive_recall": naive, "naive_precision": naive, "naive_rmsd": 2.0}


def test_mean_by_resolution_averages_each_resolution_and_skips_missing_rmsd():
    rows = [row(3.0, 0.9, 0.5, 1.0), row(3.0, 0.7, 0.3, None), row(8.0, 0.6, 0.4, 2.0)]
    m = mean_by_resolution(rows)
    assert list(m) == [3.0, 8.0]
    assert m[3.0]["crscore"] == pytest.approx(0.8) and m[3.0]["rmsd"] == pytest.approx(1.0)
    assert m[3.0]["n_maps"] == 2 and m[8.0]["n_maps"] == 1
    assert mean_by_resolution(rows, "naive_")[3.0]["crscore"] == pytest.approx(0.4)
    table = resolution_table({"net": rows})
    assert [t[0] for t in table] == ["net", "net", "naive (density peaks)", "naive (density peaks)"]


def test_score_by_resolution_scores_every_structure_resolution_and_orientation():
    torch.manual_seed(0)
    net = ResidualNetwork(NetworkConfig(width=4, blocks=1))
    rows = score_by_resolution(net, ["3a4rA"], [4.0, 8.0], DataConfig(), orientations=2)
    assert [(r["resolution"], r["orientation"]) for r in rows] == [(4.0, 0), (8.0, 0), (4.0, 1), (8.0, 1)]
    assert all(r["snr"] is None and 0 <= r["crscore"] <= 1 and "naive_crscore" in r for r in rows)
    assert rows[0]["naive_crscore"] != rows[2]["naive_crscore"]        # another orientation, another map


def test_plots_draw_each_series():
    history = {"train_loss": [0.3, 0.2, 0.1], "val_loss": [0.2, 0.15, 0.1], "val_crscore": [0.5, 0.6, 0.7],
               "val_crscore_3A": [0.6, 0.7, 0.8], "val_crscore_8A": [0.4, 0.5, 0.6]}
    fig = plot_history(history)
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 3
    rows = [row(3.0, 0.9, 0.5, 1.0), row(8.0, 0.6, 0.4, 2.0)]
    fig = plot_resolution_curves({"a": rows, "b": rows})
    assert len(fig.axes[0].lines) == 3                                 # a, b and the naive baseline
    assert np.allclose(fig.axes[0].lines[2].get_ydata(), [0.5, 0.4])


def test_shipped_config_keeps_the_seed_recipe():
    c = shipped_config(threads=2, time_limit=100.0)
    assert (c.learning_rate, c.batch, tuple(c.class_weights), c.patch) == (5e-4, 1, (1.0, 50.0), 48)
    assert c.steps_per_epoch == 200 and c.time_limit == 100.0 and c.threads == 2
    d = shipped_data()
    assert d.resolution_range == (2.0, 10.0) and d.resolution_weighting == "linear" and d.voxel_size == 1.5
