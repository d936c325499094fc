"""Every shipped notebook runs through papermill with small parameters, into its run folder
(never into the package); ``cryonb notebook --copy`` hands out an editable pair."""
import json
import subprocess
import sys

import numpy as np
import pytest

from cryonb.errors import CryonbError
from cryonb.runs import load_run
from cryonb.validation.headline import KEYS
from cryonb.notebook_runs import (
    NOTEBOOK_DIR,
    execute_notebook,
    interactive_run_dir,
    list_notebooks,
    pair_paths,
    source_checkout,
)

# small parameters per notebook, so the whole set runs in CI in minutes
SMALL = {
    "00_quickstart": {"resolution": 6.0, "voxel_size": 2.0, "snr": 1.0},
    "01_prior_fitting": {"rama_iterations": 15, "rotamer_iterations": 15, "rama_components": 48,
                         "rotamer_components": 8},
    "02_cnn_training": {"epochs": 1, "steps_per_epoch": 3, "patch": 32, "width": 8, "blocks": 2, "threads": 1,
                        "resolutions": [3.0, 8.0], "structures": ["adk_closed", "1dx5I"], "view_resolution": 8.0},
    "03_template_rerank": {"example_templates": 8, "shuffles": 20, "threads": 1},
    "04_assembly": {"example_templates": 4, "shuffles": 10, "threads": 1, "replicas": 6, "steps": 1500,
                    "geometry_steps": 20},
    "05_single_refinement": {"resolution": 8.0, "iterations": 10, "polish_steps": 50, "n_orientations": 16,
                             "threads": 1},
    "06_series_refinement": {"n_maps": 3, "voxel_size": 2.0, "iterations": 6, "patch_iterations": 6,
                             "fit_iterations": 4, "smooth_iterations": 4, "batch": 4, "n_orientations": 8,
                             "refine_start": False,
                             "n_frames": 4, "baseline": True, "baseline_iterations": 4, "baseline_polish_steps": 10,
                             "threads": 1, "show_3d": False},   # its 3D cell once took 517 s in CI (open bug);
                                                                # the view is checked in test_browser.py
    "07_validation_figures": {},       # draws every figure from the committed records (figures/data)
}


def test_every_notebook_has_small_parameters():
    assert list_notebooks(), "no notebooks found"
    assert set(list_notebooks()) <= set(SMALL), "add small parameters for every new notebook"


_EXECUTED: dict = {}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The executed copy of a notebook run once with its SMALL parameters (run "ci"); the output
    tests below read the same run instead of executing the notebook a second time."""
    def run(name):
        if name not in _EXECUTED:
            _EXECUTED[name] = execute_notebook(name, SMALL[name], run_name="ci",
                                               runs_root=tmp_path_factory.mktemp(name))
        return _EXECUTED[name]
    return run


@pytest.mark.notebook
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs(executed, name):
    out = executed(name)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    run = out.parent
    assert (run / "config.json").exists() and (run / "metrics.json").exists()
    if name == "05_single_refinement":          # the same run record as `cryonb refine` writes
        record = load_run(run)
        assert record.ok and record.config["pipeline"] == "refine" and record.config["parameters"]["resolution"] == 8.0
        assert set(KEYS) | {f"{k}_input" for k in KEYS} <= set(record.metrics)
        assert record.metrics["ca_rmsd_reference"] < record.metrics["ca_rmsd_reference_input"]


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cryonb.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_copy_gives_an_editable_pair_and_never_overwrites(tmp_path):
    done = _cli("notebook", "00_quickstart", "--copy", "mine", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for shipped in pair_paths("00_quickstart"):
        assert (tmp_path / "mine" / shipped.name).read_bytes() == shipped.read_bytes()
    edited = tmp_path / "mine" / "00_quickstart.py"
    edited.write_text("# %%\nmy_edit = 1\n")
    (tmp_path / "mine" / "00_quickstart.ipynb").unlink()
    done = _cli("notebook", "00_quickstart", "--copy", "mine", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "00_quickstart.py: already exists" in done.stderr.splitlines()[-1], done.stderr
    assert edited.read_text() == "# %%\nmy_edit = 1\n" and not (tmp_path / "mine" / "00_quickstart.ipynb").exists()


def test_interactive_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert interactive_run_dir("00_quickstart") == tmp_path / "papermill_runs" / "00_quickstart" / "interactive"
    monkeypatch.chdir(NOTEBOOK_DIR)   # a kernel started in the checkout's notebooks/ writes beside it
    assert interactive_run_dir("00_quickstart").parent.parent == source_checkout() / "papermill_runs"
    monkeypatch.setattr("cryonb.notebook_runs.source_checkout", lambda: None)   # an installed package
    with pytest.raises(CryonbError, match="--copy"):
        interactive_run_dir("00_quickstart")


def test_quickstart_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # runs go to papermill_runs/ under the current folder
    shipped = sorted(NOTEBOOK_DIR.iterdir())
    out = execute_notebook("00_quickstart", {**SMALL["00_quickstart"], "show_3d": False}, run_name="check")
    run = out.parent
    assert run == tmp_path / "papermill_runs" / "00_quickstart" / "check"
    assert sorted(NOTEBOOK_DIR.iterdir()) == shipped, "a run wrote into the package"
    assert "jupytext" not in json.loads(out.read_text())["metadata"], "an executed copy is not paired"
    metrics = json.loads((run / "metrics.json").read_text())
    assert abs(metrics["model_map_fsc05_resolution"] - 6.0) <= 0.6
    assert (run / "fsc.png").stat().st_size > 10_000 and (run / "fsc.svg").exists()
    for name in ("map.mrc", "half1.mrc", "half2.mrc"):
        assert (run / name).stat().st_size > 1024
    record = load_run(run)
    assert record.ok and record.config["pipeline"] == "simulate" and record.config["config"]["resolution"] == 6.0


def test_series_notebook_outputs(executed):
    import csv

    import gemmi
    assert SMALL["06_series_refinement"]["show_3d"] is False
    run = executed("06_series_refinement").parent
    # 4 latents evenly along [0, 1] snapped to DIMS frames (0, 32, 65, 97) and the 3 maps' (0, 48, 97)
    rows = list(csv.DictReader(open(run / "frames.csv")))
    assert [int(round(float(r["latent_0"]) * 97)) for r in rows] == [0, 32, 48, 65, 97]
    assert [r["map"] != "" for r in rows] == [True, False, True, False, True]
    series = gemmi.read_structure(str(run / "series.cif"))
    assert len(series) == 5 and series[0].count_atom_sites() == 1656
    record = load_run(run)
    assert record.ok and record.metrics["frames"] == 5 and record.config["inputs"]["resolution"] == 8.0
    assert set(KEYS) <= set(record.metrics) and record.metrics["clashscore"] is not None
    assert [s["name"] for s in record.steps["steps"]] == ["patches_coarse", "patches", "residues", "atoms", "fit",
                                                          "smooth"]
    ca = np.genfromtxt(run / "ca_rmsd.csv", delimiter=",", names=True)
    assert ca.dtype.names == ("frame", "ca_rmsd", "ca_rmsd_baseline", "ca_rmsd_start") and len(ca) == 5
    assert record.metrics["ca_rmsd_median"] == pytest.approx(np.median(ca["ca_rmsd"]), abs=1e-4)
    for name in ("frames", "calpha_rmsd", "loss_curves"):
        assert (run / f"{name}.png").stat().st_size > 10_000 and (run / f"{name}.svg").exists()
    assert record.config["config"]["refine_start"] is False and record.config["config"]["smooth_iterations"] == 4
    assert record.config["parameters"]["n_frames"] == 4
    assert (run / "summary.txt").read_text().startswith("series of 5 models from 3 maps")


def test_cnn_notebook_outputs(executed):
    import gemmi

    run = executed("02_cnn_training").parent
    record = load_run(run)
    metrics = json.loads((run / "scores.json").read_text())
    assert record.ok and record.metrics["epochs"] == 1 and record.metrics["n_parameters"] > 0
    assert 0 <= record.metrics["crscore_8A"] <= 1
    rows = metrics["by_resolution"]["this run"]
    assert set(rows) == {"3", "8"} and all(r["n_maps"] == 2 for r in rows.values())
    assert all(0 <= r["crscore"] <= 1 for r in rows.values())
    assert set(metrics["naive_by_resolution"]) == {"3", "8"}
    for name in ("training_curves", "crscore_vs_resolution"):
        assert (run / f"{name}.png").stat().st_size > 10_000 and (run / f"{name}.svg").exists()
    assert (run / "weights.pt").stat().st_size > 1000
    ca = gemmi.read_structure(str(run / "predicted_ca.pdb"))
    assert ca[0].count_atom_sites() >= 214      # at least L atoms for AdK
    assert record.config["parameters"]["scored"] == ["adk_closed", "1dx5I"]
    assert record.config["config"]["training"]["steps_per_epoch"] == 3


def test_prior_fitting_writes_loadable_priors_and_figures(tmp_path):
    from cryonb.priors import load_priors
    from cryonb.validation.rama import TABLES
    from cryonb.validation.rotamer import ROTAMERIC
    out = execute_notebook("01_prior_fitting", {**SMALL["01_prior_fitting"], "classes": "cis-pro,general",
                                                "residues": "SER,LEU"}, run_name="check", runs_root=tmp_path)
    run = out.parent
    fits = json.loads((run / "priors" / "fit_report.json").read_text())
    assert set(fits) == {"rama_cis-pro", "rama_general", "rotamer_ser", "rotamer_leu"}
    record = load_run(run)
    assert record.ok and record.metrics["tables"] == 4
    assert record.metrics["worst_agreement"] == min(f["agreement"] for f in fits.values())
    assert all(f["n_components"] in (48, 8) and f["iterations"] == 15 for f in fits.values())
    assert (run / "rama_general.png").stat().st_size > 10_000 and (run / "rotamer_leu.svg").exists()
    # the run's files replace the shipped ones they cover; the rest come from the package
    priors = run / "priors"
    shipped = load_priors().path
    for f in shipped.glob("*.npz"):
        if not (priors / f.name).exists():
            (priors / f.name).write_bytes(f.read_bytes())
    loaded = load_priors(priors)
    assert set(loaded.rama) == set(TABLES) and set(loaded.rotamer) == set(ROTAMERIC)
    assert loaded.rama["general"].n_components == 48


def test_a_notebook_that_fails_leaves_a_failed_run_record(tmp_path):
    import papermill.exceptions
    with pytest.raises(papermill.exceptions.PapermillExecutionError):
        execute_notebook("00_quickstart", {**SMALL["00_quickstart"], "model": "no_such_model", "show_3d": False},
                         run_name="bad", runs_root=tmp_path)
    record = load_run(tmp_path / "00_quickstart" / "bad")
    assert record.state == "failed" and "no_such_model" in record.status["error"] and not record.metrics


def test_figures_notebook_draws_every_figure_from_the_records(executed):
    from cryonb.figures.book import FIGURES
    folder = executed("07_validation_figures").parent
    run = load_run(folder)
    assert run.ok and run.metrics["figures"] == len(FIGURES)
    for name in FIGURES:
        for ext in ("svg", "png", "csv"):
            assert (folder / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
