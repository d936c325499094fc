"""One batch row's notebook, executed by papermill in a process of its own.

``python -m cryonb.batch.child SPEC.json``. The spec (written by :func:`cryonb.batch.row.run_row`)
names the notebook, the executed copy to write, the parameters, the working folder and the log.
Papermill changes the working folder of its process, so rows never share one. The process dies
with its parent (Linux ``PR_SET_PDEATHSIG``), so a killed Dask worker leaves no row running.
On failure it writes the error ("Type: message", with the cell for an error inside the notebook)
to the spec's ``error`` file and exits 1.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    _die_with_parent(spec.get("parent"))
    _log_to(spec["log"])
    try:
        import papermill
        papermill.execute_notebook(_source(spec["notebook"]), spec["output"], parameters=spec["parameters"],
                                   cwd=spec["cwd"], kernel_name=spec.get("kernel", "python3"),
                                   progress_bar=False, log_output=True)
    except Exception as exc:      # noqa: BLE001 - every failure is the row's result, written for the runner
        Path(spec["error"]).write_text(describe(exc))
        return 1
    return 0


def describe(exc: BaseException) -> str:
    """'Type: message'; for an error raised by a notebook cell, the cell and the error inside it."""
    name = type(exc).__name__
    if name == "PapermillExecutionError":
        return f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    return f"{name}: {exc}"


def _source(path: str):
    """The notebook, without jupytext pairing metadata (the executed copy stands alone)."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("jupytext", None)
    return nb


def _die_with_parent(parent: int | None) -> None:
    """SIGKILL this process when its parent (the Dask worker) dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # 1: PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _log_to(path: str) -> None:
    """Papermill's progress (each cell as it starts) and the cells' output go to the row's log."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("papermill")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
