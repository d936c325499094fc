"""Run a notebook over a batch table on Dask, and gather the rows' records into a summary.

Layout of a batch folder ``DIR`` (itself a run folder, pipeline "batch"):
``rows/<row>/`` each row's run folder (the executed notebook, ``log.txt``, the notebook's outputs
and its run record), ``attempts/<row>.jsonl`` (every attempt at the row), ``summary.csv``.
"""
from __future__ import annotations

import csv
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import CryonbError
from ..runs import _read, begin_run, fail_run, finish_run, load_run
from .table import Row

SUMMARY_FIRST = ("name", "state", "error", "seconds", "attempts", "host")


@dataclass
class Batch:
    """What a batch runs: the notebook (a path), its rows, where, and how long a row may take."""

    notebook: Path
    rows: list[Row]
    out: Path
    takes_run_dir: bool = True       # the notebook has a ``run_dir`` parameter: each row's folder
    timeout: float | None = None     # seconds per row (None: no limit)
    kernel: str = "python3"


def row_task(batch: Batch, row: Row) -> dict:
    """The plain dict a worker needs to run ``row`` (:func:`cryonb.batch.row.run_row`)."""
    folder = (batch.out / "rows" / row.name).resolve()
    params = dict(row.parameters)
    if batch.takes_run_dir:
        params["run_dir"] = str(folder)
    return {"name": row.name, "folder": str(folder), "batch": str(batch.out.resolve()),
            "notebook": str(batch.notebook.resolve()), "parameters": row.parameters,
            "parameters_with_run_dir": params, "files": row.files, "cwd": str(folder),
            "timeout": batch.timeout, "kernel": batch.kernel}


def finished_rows(batch: Batch) -> set[str]:
    """Rows whose folder holds an ok run with the same parameters (skipped by ``--resume``)."""
    from .row import finished_result
    return {r.name for r in batch.rows if finished_result(batch.out, r.name, r.parameters) is not None}


def run_batch(batch: Batch, client, resume: bool = False, echo=print) -> list[dict]:
    """Run every row (with ``resume``, only those not finished with the same parameters) on the
    Dask ``client``; rows fail on their own. Writes the batch's run record and summary.csv;
    returns the summary rows."""
    from .row import run_row
    skip = finished_rows(batch) if resume else set()
    todo = [r for r in batch.rows if r.name not in skip]
    begin_run(batch.out, "batch", {"notebook": str(batch.notebook), "rows": [r.name for r in batch.rows],
                                   "timeout": batch.timeout, "resume": resume,
                                   "scheduler": getattr(client, "scheduler_info", lambda: {})().get("address")})
    echo(f"{len(batch.rows)} rows: {len(skip)} already finished, {len(todo)} to run "
         f"on {_workers(client)} workers")
    t0 = time.time()
    futures = {client.submit(run_row, row_task(batch, r), key=f"cryonb-row-{r.name}-{uuid.uuid4().hex[:8]}",
                             pure=False): r.name for r in todo}
    try:
        _gather(batch, futures, len(todo), echo)
    except KeyboardInterrupt as exc:      # rows not started are dropped; rows running finish on their own
        client.cancel(list(futures))
        write_summary(batch)
        fail_run(batch.out, exc)
        raise
    summary = write_summary(batch)
    states = [s["state"] for s in summary]
    finish_run(batch.out, {"rows": len(states), "rows_ok": states.count("ok"),
                           "rows_failed": states.count("failed"), "rows_run": len(todo),
                           "seconds": round(time.time() - t0, 1)})
    return summary


def _gather(batch: Batch, futures: dict, total: int, echo) -> None:
    """Wait for the rows as they finish, one console line and a fresh summary.csv each."""
    from distributed import as_completed
    for done, future in enumerate(as_completed(futures), start=1):
        name = futures[future]
        try:
            result = future.result()
        except Exception as exc:      # noqa: BLE001 - the task itself died (e.g. its workers kept being killed)
            result = _task_failed(batch, name, exc)
        echo(f"[{done}/{total}] {name}: {result['state']} in {result.get('seconds')} s"
             + (f" - {result['error']}" if result.get("error") else ""))
        write_summary(batch)


def _workers(client) -> int:
    try:
        return len(client.scheduler_info().get("workers", {}))
    except Exception:     # noqa: BLE001 - only for the message
        return 0


def _task_failed(batch: Batch, name: str, exc: Exception) -> dict:
    """The record of a row whose task never returned (Dask gave up on it)."""
    folder = batch.out / "rows" / name
    folder.mkdir(parents=True, exist_ok=True)
    text = f"{type(exc).__name__}: {exc}"
    if _read(folder / "config.json") is None:
        begin_run(folder, "notebook", {"notebook": str(batch.notebook)})
    fail_run(folder, text)
    return {"name": name, "state": "failed", "error": text, "seconds": None}


def write_summary(batch: Batch) -> list[dict]:
    """``DIR/summary.csv`` from the rows' records: name, state, error, seconds, attempts, host, then
    each parameter column and each metric. Rows not run yet say "pending"."""
    records = [summary_row(batch, r) for r in batch.rows]
    params = list(dict.fromkeys(k for r in batch.rows for k in r.parameters))
    metrics = list(dict.fromkeys(k for rec in records for k in rec.get("_metrics", {})))
    path = batch.out / "summary.csv"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*SUMMARY_FIRST, *params, *(f"metric:{m}" for m in metrics)])
        for row, rec in zip(batch.rows, records):
            w.writerow([*(rec.get(k) for k in SUMMARY_FIRST), *(row.parameters.get(k) for k in params),
                        *(rec["_metrics"].get(m) for m in metrics)])
    os.replace(tmp, path)
    return [{k: v for k, v in rec.items() if k != "_metrics"} | rec["_metrics"] for rec in records]


def summary_row(batch: Batch, row: Row) -> dict:
    from .row import attempt_log
    folder = batch.out / "rows" / row.name
    n = sum(e["event"] == "started" for e in attempt_log(batch.out, row.name))
    try:
        run = load_run(folder)
    except CryonbError:
        return {"name": row.name, "state": "pending", "attempts": n, "_metrics": {}}
    metrics = {k: v for k, v in run.metrics.items() if k not in ("schema", "pipeline")}
    return {"name": row.name, "state": run.state, "error": run.status.get("error"),
            "seconds": run.status.get("seconds"), "attempts": n, "host": run.status.get("host"),
            "_metrics": metrics}
