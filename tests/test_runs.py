"""The run record (cryonb.runs): config, status, flat metrics and steps, read back by load_run."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cryonb import runs
from cryonb.errors import CryonbError
from cryonb.validation.headline import KEYS, metric


def test_a_finished_run_reads_back_with_every_headline_key(tmp_path):
    runs.write_parameters(tmp_path, {"model": "start.cif"})
    with runs.recorded(tmp_path, "refine", {"iterations": 3}, seed=4, threads=1, device="cpu") as folder:
        assert runs.load_run(folder).state == "running"
        after = {"clashscore": np.float64(1.5), "fsc_average": 0.8, "n_twisted": np.int64(0)}
        runs.finish_run(folder, {"seconds": 2.0, **runs.headline(after, {"clashscore": 4.0})},
                        [{"name": "patches", "seconds": 1.0}], ["a note"])
    run = runs.load_run(tmp_path)
    assert run.ok and run.status["error"] is None and run.status["seconds"] >= 0
    assert run.config["parameters"] == {"model": "start.cif"} and run.config["seed"] == 4
    assert run.config["versions"]["cryonb"] and run.config["pipeline"] == run.metrics["pipeline"] == "refine"
    assert set(KEYS) <= set(run.metrics) and {f"{k}_input" for k in KEYS} <= set(run.metrics)
    assert run.metrics["clashscore"] == 1.5 and run.metrics["clashscore_input"] == 4.0
    assert run.metrics["n_twisted"] == 0 and run.metrics["qscore"] is None
    assert run.steps == {"steps": [{"name": "patches", "seconds": 1.0}], "notes": ["a note"]}


def test_a_failing_run_is_marked_failed_with_its_error(tmp_path):
    with pytest.raises(ValueError, match="bad map"):
        with runs.recorded(tmp_path, "series", {}):
            raise ValueError("bad map")
    run = runs.load_run(tmp_path)
    assert run.state == "failed" and run.status["error"] == "ValueError: bad map" and run.metrics == {}


def test_metrics_are_flat_and_finite(tmp_path):
    runs.begin_run(tmp_path, "refine", {})
    with pytest.raises(TypeError, match="flat"):
        runs.finish_run(tmp_path, {"steps": [1, 2]})
    runs.finish_run(tmp_path, {"fsc_average": float("nan")})
    assert json.loads((tmp_path / "metrics.json").read_text())["fsc_average"] is None
    runs.update_metrics(tmp_path, {"ca_rmsd_reference": np.float32(0.5)})
    assert runs.load_run(tmp_path).metrics["ca_rmsd_reference"] == 0.5


def test_series_headline_is_the_worst_frame_and_the_median():
    rows = [{"clashscore": 1.0, "fsc_average": 0.9}, {"clashscore": 3.0, "fsc_average": None},
            {"clashscore": 2.0, "fsc_average": 0.7}]
    out = runs.headline_over_frames(rows)
    assert out["clashscore"] == 3.0 and out["clashscore_median"] == 2.0
    assert out["fsc_average"] == 0.7 and out["fsc_average_median"] == pytest.approx(0.8)
    assert out["qscore"] is None and metric("rama_favored_pct").worst([90.0, 99.0]) == 90.0


@pytest.mark.parametrize("damage", ["none", "not json", "list", "schema"])
def test_load_run_names_the_folder_or_file_it_cannot_read(tmp_path, damage):
    runs.begin_run(tmp_path, "refine", {})
    target = tmp_path / "status.json"
    if damage == "none":
        target.unlink()
    elif damage == "not json":
        target.write_text("{truncated")
    elif damage == "list":
        target.write_text("[1, 2]")
    else:
        target = tmp_path / "config.json"
        target.write_text(json.dumps({"schema": 99}))
    with pytest.raises(CryonbError) as err:
        runs.load_run(tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(CryonbError, match="no such run folder"):
        runs.load_run(tmp_path / "missing")
