"""Figures and tables of a refinement (cryonb.refinement.figures) on a hand-made RefineResult."""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cryonb import density  # noqa: E402
from cryonb.refinement import figures  # noqa: E402
from cryonb.refinement.pipeline import RefineResult, refine_topology  # noqa: E402
from cryonb.refinement.stages import StageResult  # noqa: E402


def _shifted(st, shift):
    out = st.clone()
    topo = refine_topology(out)
    topo.set_xyz(out, topo.xyz(out) + np.asarray(shift))
    return out


@pytest.fixture(scope="module")
def fake_result(adk_closed):
    """Input = closed + (3, 0, 0) Å; patches moves it to +1 Å, atoms to +0 Å; reference = closed."""
    start = _shifted(adk_closed, (3.0, 0.0, 0.0))
    topo = refine_topology(start)
    x0 = topo.xyz(start)
    x1, x2 = x0 - [2.0, 0.0, 0.0], x0 - [3.0, 0.0, 0.0]
    steps = [StageResult("patches", x1, {"map": [0.5, 0.3, 0.2], "resolution": [10.0, 7.0, 5.0]}, 0.0, 1.5),
             StageResult("atoms", x2, {"map": [0.2, 0.15], "geometry": [50.0, 4.0], "bond": [1.0, 0.5],
                                       "resolution": [5.0, 5.0]}, 12.0, 2.5),
             StageResult("rotamers", x2, {}, 0.0, 0.2)]
    out = start.clone()
    topo.set_xyz(out, x2)
    before = {"fsc_average": 0.4, "clashscore": 3.0, "cbeta_deviations": 1, "molprobity_score": None}
    after = {"fsc_average": 0.9, "clashscore": 1.5, "cbeta_deviations": 0, "molprobity_score": 1.2}
    return RefineResult(out, x2, x0, steps, before, after, 4.2, []), start


def test_calpha_rmsd_matches_residues_without_superposition(adk_closed):
    keys, xyz = figures.calpha(adk_closed)
    assert len(keys) == 214 and xyz.shape == (214, 3) and keys[0] == ("A", "1")
    moved = _shifted(adk_closed, (0.0, 0.0, 2.0))
    assert figures.calpha_rmsd(adk_closed, moved) == pytest.approx(2.0)
    # a model missing residues is compared over the residues both have
    part = moved.clone()
    del part[0][0][10:]
    k, a, b = figures.matched_calpha(part, adk_closed)
    assert len(k) == 10 and np.allclose(a - b, [0.0, 0.0, 2.0])
    assert math.isnan(figures.calpha_rmsd(part, _chain_renamed(adk_closed)))


def _chain_renamed(st):
    out = st.clone()
    out[0][0].name = "B"
    return out


def test_step_rows_and_tables(fake_result, adk_closed):
    result, start = fake_result
    rows = figures.step_rows(result, start, adk_closed)
    assert [r["step"] for r in rows] == ["input", "patches", "atoms", "rotamers"]
    assert [r["ca_rmsd_reference"] for r in rows] == pytest.approx([3.0, 1.0, 0.0, 0.0], abs=1e-6)
    assert [r["ca_shift"] for r in rows] == pytest.approx([0.0, 2.0, 1.0, 0.0], abs=1e-6)
    assert [r["rounds"] for r in rows] == [0, 3, 2, 0]
    text = figures.format_steps(rows)
    assert "CA RMSD to ref" in text and text.splitlines()[2].startswith("input")
    assert "CA RMSD" not in figures.format_steps(figures.step_rows(result, start))

    cmp = figures.compare(result.before, result.after, {"C-alpha RMSD (Å)": (3.0, 0.0)})
    assert [c[0] for c in cmp] == ["C-alpha RMSD (Å)", "Model-map FSC average", "MolProbity score",
                                   "Clashscore", "C-beta deviations > 0.25 Å"]
    table = figures.format_table(cmp, ["metric", "input", "refined"])
    lines = table.splitlines()
    assert len(lines) == 2 + len(cmp) and len({len(line) for line in lines}) == 1
    assert "n/a" in lines[4] and lines[6].split()[-2:] == ["1", "0"]



def test_format_value():
    assert figures.format_value(None) == "n/a" and figures.format_value(float("nan")) == "n/a"
    assert figures.format_value(np.int64(3)) == "3" and figures.format_value(0.5) == "0.500"
    assert figures.format_value(2.1e-5) == "2.1e-05" and figures.format_value(0.0) == "0.000"


def test_figures_draw(fake_result, adk_closed, adk_map_4a, tmp_path):
    from cryonb.plots import save_figure

    result, start = fake_result
    fig = figures.plot_loss_curves(result.steps, title="AdK")
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2   # rotamers has no history
    assert any(ax.get_yscale() == "log" for ax in fig.axes)     # geometry 50 -> 4
    written = save_figure(fig, tmp_path / "loss")
    assert all(p.stat().st_size > 5_000 for p in written)
    assert figures.plot_loss_curves([]).axes

    f0 = density.model_map_fsc(start, adk_map_4a)
    f1 = density.model_map_fsc(result.structure, adk_map_4a)
    assert f1.average(4.0) > f0.average(4.0)
    fig = figures.plot_fsc_before_after(f0, f1, 4.0)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("input") and labels[1].startswith("refined")

    fig = figures.plot_calpha_shifts(start, result.structure, adk_closed)
    assert len(fig.axes) == 2
    shift = fig.axes[0].lines[0].get_ydata()
    assert np.allclose(shift, 3.0)
    assert "rms 3.00" in fig.axes[1].get_legend().get_texts()[0].get_text()
    assert len(figures.plot_calpha_shifts(start, result.structure).axes) == 1
    plt.close("all")
