"""The Dask task of a batch: run one row's notebook and say how it ended.

:func:`run_row` is what the workers import (it must come from the installed package). It is safe
to rerun: a worker killed mid-row has its rows rescheduled by Dask on another worker, and each
attempt starts the row's folder afresh (the attempts are counted in ``DIR/attempts/<row>.jsonl``).
The row's status comes from this runner, not from the executed notebook: a notebook stopped by
the row time-out or a killed kernel can look complete.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..runs import _read, begin_run, fail_run, finish_run, write_json, write_parameters

KILL_GRACE = 10.0     # seconds between SIGTERM and SIGKILL when a row runs past its time-out


def run_row(task: dict) -> dict:
    """Run the row described by ``task`` (see :func:`cryonb.batch.runner.row_task`); returns
    ``{name, state, error, seconds, host, pid, attempt}``. Never raises for a failing notebook.

    One attempt at a row runs at a time (a lock in ``attempts/``): an attempt left running by an
    interrupted batch is waited for, and a row found finished with the same parameters is not
    run again (a worker that died after the row finished, a resumed batch)."""
    folder, batch = Path(task["folder"]), Path(task["batch"])
    (batch / "attempts").mkdir(parents=True, exist_ok=True)
    with open(batch / "attempts" / f"{task['name']}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = finished_result(batch, task["name"], task["parameters"])
        if done is not None:
            return done
        return _attempt(task, folder, batch)


def finished_result(batch: Path, name: str, parameters: dict) -> dict | None:
    """The result of row ``name`` already run to "ok" with ``parameters`` (its last attempt says
    so and its run record still does), else None. The parameters are compared with those the
    batch gave, kept in ``attempts/`` (a notebook may store its own view of them in its record)."""
    status = _read(batch / "rows" / name / "status.json")
    if not status or status.get("state") != "ok":
        return None
    ends = [e for e in attempt_log(batch, name) if e["event"] == "finished"]
    if not ends or ends[-1].get("state") != "ok" or ends[-1].get("parameters") != parameters:
        return None
    return {**{k: v for k, v in ends[-1].items() if k not in ("event", "parameters")}, "attempt": None}


def _attempt(task: dict, folder: Path, batch: Path) -> dict:
    attempt = _start_attempt(batch, task["name"])
    t0 = time.time()
    _fresh(folder)
    write_parameters(folder, task["parameters"])
    missing = [f for f in task["files"] if not Path(f).exists()]
    if missing:
        error = f"FileNotFoundError: {missing[0]}: no such file (named by the batch table)"
    else:
        error = _execute(task, folder)
    state = _settle(folder, task, error)
    result = {"name": task["name"], "state": state, "error": _read(folder / "status.json").get("error"),
              "seconds": round(time.time() - t0, 1), "host": platform.node(), "pid": os.getpid(),
              "attempt": attempt}
    with open(batch / "attempts" / f"{task['name']}.jsonl", "a") as fh:
        fh.write(json.dumps({**result, "event": "finished", "parameters": task["parameters"]}) + "\n")
    return result


def attempt_log(batch: Path, name: str) -> list[dict]:
    """Every event of row ``name``'s attempts, in order (``attempts/<name>.jsonl``): "started" and
    "finished" records (a finished one carries the state, error and the batch's parameters)."""
    log = batch / "attempts" / f"{name}.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _start_attempt(batch: Path, name: str) -> int:
    """Log an attempt's start; returns its number (1 for the first)."""
    log = batch / "attempts" / f"{name}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    previous = sum(e["event"] == "started" for e in attempt_log(batch, name))
    with open(log, "a") as fh:
        fh.write(json.dumps({"event": "started", "attempt": previous + 1, "host": platform.node(),
                             "pid": os.getpid(), "time": time.time()}) + "\n")
    return previous + 1


def _fresh(folder: Path) -> None:
    """An empty row folder (an earlier attempt's outputs removed)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def _execute(task: dict, folder: Path) -> str | None:
    """The notebook in a child process; None when it ran to the end, else the error text."""
    spec = {"notebook": task["notebook"], "output": str(folder / Path(task["notebook"]).name),
            "parameters": task["parameters_with_run_dir"], "cwd": task["cwd"], "log": str(folder / "log.txt"),
            "error": str(folder / "error.txt"), "parent": os.getpid(), "kernel": task.get("kernel", "python3")}
    spec_path = write_json(spec, folder / "row_spec.json")
    child = subprocess.Popen([sys.executable, "-m", "cryonb.batch.child", str(spec_path)],
                             stdout=subprocess.DEVNULL, stderr=open(folder / "stderr.txt", "w"),
                             start_new_session=True)
    try:
        code = child.wait(timeout=task.get("timeout"))
    except subprocess.TimeoutExpired:
        _stop(child)
        return f"TimeoutError: the row ran past its time-out of {task['timeout']} s and was stopped"
    if code == 0:
        return None
    error = folder / "error.txt"
    if error.exists() and error.read_text().strip():
        return error.read_text().strip()
    return f"ChildProcessError: the notebook's process ended with code {code} (see {folder / 'stderr.txt'})"


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM to the child's process group (papermill and its kernel), SIGKILL if still there."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _settle(folder: Path, task: dict, error: str | None) -> str:
    """Make the row's run record say how the row ended; returns "ok" or "failed"."""
    status = _read(folder / "status.json")
    if status is None:                    # the notebook keeps no run record of its own: keep one for it
        begin_run(folder, f"notebook:{Path(task['notebook']).stem}", {"notebook": task["notebook"]})
        if error is None:
            finish_run(folder, {"seconds": None})
    if error is not None:
        fail_run(folder, error)
        return "failed"
    state = _read(folder / "status.json").get("state")
    if state != "ok":
        fail_run(folder, f"RuntimeError: the notebook ended with its run record {state!r}")
        return "failed"
    return "ok"
