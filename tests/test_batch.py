"""``cryonb batch``: a notebook over a table of parameters on Dask (tests/data/batch_tiny.ipynb:
one run record, a sleep, an optional failure, an input file whose size is a metric)."""
from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from cryonb.batch.table import cast, read_table
from cryonb.cli import main as cli
from cryonb.errors import CryonbError
from cryonb.runs import load_run

TINY = Path(__file__).parent / "data" / "batch_tiny.ipynb"
DEFAULTS = {"x": 1.0, "n": 2, "label": "a", "fail": False, "sleep": 0.0, "map_path": "", "run_dir": None}


def _table(folder: Path, text: str) -> Path:
    path = folder / "table.csv"
    path.write_text(text)
    return path


def _summary(out: Path) -> dict[str, dict]:
    with open(out / "summary.csv", newline="") as fh:
        return {r["name"]: r for r in csv.DictReader(fh)}


def test_cells_are_cast_to_the_notebooks_types_and_paths_read_from_the_tables_folder(tmp_path):
    (tmp_path / "maps").mkdir()
    rows = read_table(_table(tmp_path, "name,x,n,fail,label,map_path\n"
                                       "one,2.5,3,yes,hello,maps/a.mrc\n"
                                       ",,,,,\n"), DEFAULTS)
    assert rows[0].name == "one" and rows[1].name == "row002"
    assert rows[0].parameters == {"x": 2.5, "n": 3, "fail": True, "label": "hello",
                                  "map_path": str(tmp_path / "maps" / "a.mrc")}
    assert rows[0].files == [str(tmp_path / "maps" / "a.mrc")] and rows[1].parameters == {}
    assert cast("[1, 2]", None) == [1, 2] and cast("auto", None) == "auto" and cast("4", 1.0) == 4.0


@pytest.mark.parametrize("text, problem", [
    ("x,colour\n1,red\n", "column 'colour' is not a parameter"),
    ("x,n\n1.0,2.5\n", "row 1 (row001), column 'n': '2.5' is not a whole number"),
    ("x,fail\n1.0,maybe\n", "'maybe' is not true/false"),
    ("name,x\nsame,1\nsame,2\n", "row name 'same' is used by more than one row"),
    ("name,x\n../up,1\n", "not a plain folder name"),
    ("x,run_dir\n1,/tmp\n", "set by the batch"),
    ("x\n", "no rows"),
])
def test_a_bad_table_is_refused_naming_the_row_and_column(tmp_path, text, problem):
    with pytest.raises(CryonbError, match=problem.replace("(", r"\(").replace(")", r"\)")) as err:
        read_table(_table(tmp_path, text), DEFAULTS)
    assert str(tmp_path / "table.csv") in str(err.value)


@pytest.mark.timeout(300)
def test_rows_fail_alone_and_resume_reruns_only_the_unfinished(tmp_path, capsys):
    (tmp_path / "in.mrc").write_bytes(b"x" * 1234)
    table = _table(tmp_path, "name,x,n,fail,map_path\n"
                             "good,1.5,2,,in.mrc\n"
                             "raises,1.0,2,true,\n"
                             "nofile,1.0,2,,missing.mrc\n"
                             "other,3.0,3,,\n")
    out = tmp_path / "batch"
    code = cli(["batch", str(TINY), str(table), "--out", str(out), "--workers", "2"])
    assert code == 1
    s = _summary(out)
    assert [s[k]["state"] for k in ("good", "raises", "nofile", "other")] == ["ok", "failed", "failed", "ok"]
    assert float(s["good"]["metric:y"]) == 3.0 and int(s["good"]["metric:size"]) == 1234
    assert float(s["other"]["metric:y"]) == 9.0
    assert "ValueError: asked to fail (a)" in s["raises"]["error"] and "cell" in s["raises"]["error"]
    assert "missing.mrc: no such file" in s["nofile"]["error"]
    assert all(s[k]["attempts"] == "1" for k in s)
    good = load_run(out / "rows" / "good")
    assert good.config["parameters"]["x"] == 1.5 and (out / "rows" / "good" / TINY.name).exists()
    assert "started a" in (out / "rows" / "good" / "log.txt").read_text()        # the cell's output, logged
    assert load_run(out).metrics["rows_ok"] == 2 and load_run(out).metrics["rows_failed"] == 2
    assert cli(["batch", str(TINY), str(table), "--out", str(out)]) == 2           # no --resume: refused
    assert "add --resume" in capsys.readouterr().err

    (tmp_path / "missing.mrc").write_bytes(b"y")                 # fix one bad input, change one row
    table.write_text(table.read_text().replace("other,3.0,3", "other,4.0,3"))
    assert cli(["batch", str(TINY), str(table), "--out", str(out), "--workers", "2", "--resume"]) == 1
    s = _summary(out)
    assert {k: s[k]["attempts"] for k in s} == {"good": "1", "raises": "2", "nofile": "2", "other": "2"}
    assert s["nofile"]["state"] == "ok" and float(s["other"]["metric:y"]) == 12.0


@pytest.mark.timeout(300)
def test_a_killed_worker_has_its_row_rerun_and_a_slow_row_times_out(tmp_path):
    from distributed import Client, LocalCluster

    from cryonb.batch.runner import Batch, run_batch
    rows = read_table(_table(tmp_path, "name,sleep,label\nkilled,6,k\nquick,0,q\nslow,60,s\n"), DEFAULTS)
    batch = Batch(TINY, rows, tmp_path / "batch", timeout=20)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        def kill_the_worker_running(name):
            deadline = time.time() + 60
            while time.time() < deadline:
                started = tmp_path / "batch" / "rows" / name / "log.txt"
                if started.exists() and "started" in started.read_text():
                    for address, keys in client.processing().items():
                        if any(name in str(k) for k in keys):
                            pid = client.run(os.getpid, workers=[address])[address]
                            os.kill(pid, signal.SIGKILL)
                            return
                time.sleep(0.2)
        killer = threading.Thread(target=kill_the_worker_running, args=("killed",))
        killer.start()
        summary = {s["name"]: s for s in run_batch(batch, client, echo=lambda *_: None)}
        killer.join()
    assert summary["killed"]["state"] == "ok" and summary["killed"]["attempts"] == 2
    assert summary["quick"]["state"] == "ok" and summary["quick"]["attempts"] == 1
    assert summary["slow"]["state"] == "failed" and "TimeoutError" in summary["slow"]["error"]
    attempts = [json.loads(line) for line in
                (tmp_path / "batch" / "attempts" / "killed.jsonl").read_text().splitlines()]
    assert [a["event"] for a in attempts] == ["started", "started", "finished"]


def test_slurm_dry_run_shows_the_job_script_and_runs_nothing(tmp_path, capsys):
    table = _table(tmp_path, "x\n1\n2\n")
    assert cli(["batch", str(TINY), str(table), "--out", str(tmp_path / "b"), "--slurm", "--workers", "4",
                "--cores", "8", "--memory", "16GB", "--queue", "gpu", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "#SBATCH" in text and "-p gpu" in text and "--cpus-per-task=8" in text and "row002" in text
    assert not (tmp_path / "b").exists()


def test_a_finished_row_is_not_run_again_by_a_second_attempt(tmp_path):
    """Dask may run a row's task twice (its worker died after the row finished; a resumed batch):
    the second attempt finds the row ok with the same parameters and returns without running it."""
    from cryonb.batch.row import run_row
    from cryonb.batch.runner import Batch, row_task
    rows = read_table(_table(tmp_path, "name,x\nonce,2.0\n"), DEFAULTS)
    task = row_task(Batch(TINY, rows, tmp_path / "batch"), rows[0])
    first = run_row(task)
    assert first["state"] == "ok" and first["attempt"] == 1
    stamp = (tmp_path / "batch" / "rows" / "once" / "metrics.json").stat().st_mtime_ns
    again = run_row(task)
    assert again["state"] == "ok" and again["attempt"] is None
    assert (tmp_path / "batch" / "rows" / "once" / "metrics.json").stat().st_mtime_ns == stamp
    changed = row_task(Batch(TINY, read_table(_table(tmp_path, "name,x\nonce,3.0\n"), DEFAULTS),
                             tmp_path / "batch"), read_table(tmp_path / "table.csv", DEFAULTS)[0])
    assert run_row(changed)["attempt"] == 2                          # new parameters: run again
