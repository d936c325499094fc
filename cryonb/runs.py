"""Run folders and the run record every pipeline writes, from the CLI, a notebook or a batch.

A run folder holds the run's outputs and four record files, written atomically:

``config.json``
    ``pipeline`` ("refine", "series", ...), ``schema``, ``versions`` (cryonb, python, numpy,
    torch, gemmi), ``device`` (resolved), ``seed``, ``threads``, ``inputs`` (what was read:
    files, sizes, resolution), ``config`` (the pipeline's settings, all of them) and
    ``parameters`` (what the user gave: command-line options or notebook parameters).
``status.json``
    ``state`` "running", "ok" or "failed"; ``started``, ``finished`` (ISO 8601 UTC),
    ``seconds``, ``error`` ("Type: message" of a failed run), ``pid``, ``host``.
``metrics.json``
    One flat object: ``schema``, ``pipeline``, ``seconds``, then for every headline metric
    (:data:`cryonb.validation.headline.KEYS`) ``<key>``: the result's value and, where the
    pipeline has an input model to compare, ``<key>_input``. A series gives the worst value over
    its frames as ``<key>`` and the median as ``<key>_median``. Pipeline-specific figures
    (``ca_rmsd_reference``, ``frames``, ...) sit beside them. Values are numbers or null.
``steps.json``
    ``steps`` (one record per step: name, seconds, notes, ...) and the run's ``notes``.

:func:`load_run` reads any run folder back into a :class:`Run`.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .atomic import atomic_path
from .errors import CryonbError
from .validation.headline import KEYS, metric

SCHEMA = 1
RECORD_FILES = ("config.json", "status.json", "metrics.json", "steps.json")


def run_folder(path: str | os.PathLike) -> Path:
    """Create (if needed) and return the run folder ``path``."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` (dataclasses, numpy scalars and arrays allowed) as indented JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, default=_jsonable)
        fh.write("\n")
    return path


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict:
    """Versions of cryonb, python and the libraries that decide its numbers."""
    from . import __version__
    out = {"cryonb": __version__, "python": platform.python_version()}
    for name in ("numpy", "torch", "gemmi", "scipy"):
        module = sys.modules.get(name)
        out[name] = getattr(module, "__version__", None) if module else None
    return out


def begin_run(folder: str | os.PathLike, pipeline: str, config: dict, inputs: dict | None = None,
              device: str | None = None, seed: int | None = None, threads: int | None = None) -> Path:
    """Write ``config.json`` and a "running" ``status.json``; keeps ``parameters`` an entry point
    stored first (:func:`write_parameters`). ``device``: the torch device the run resolved (a
    pipeline without one runs on the CPU and records "cpu"). Returns the folder."""
    folder = run_folder(folder)
    device = "cpu" if device is None else device
    previous = _read(folder / "config.json") or {}
    write_json({"schema": SCHEMA, "pipeline": pipeline, "versions": versions(), "device": device,
                "seed": seed, "threads": threads, "inputs": inputs or {}, "config": config,
                "parameters": previous.get("parameters", {})}, folder / "config.json")
    write_json({"state": "running", "pipeline": pipeline, "started": _now(), "finished": None,
                "seconds": None, "error": None, "pid": os.getpid(), "host": platform.node()},
               folder / "status.json")
    return folder


def write_parameters(folder: str | os.PathLike, parameters: dict) -> None:
    """Store what the user gave (CLI options, notebook parameters) under ``parameters`` of
    ``config.json``; a later :func:`begin_run` keeps them."""
    folder = run_folder(folder)
    config = _read(folder / "config.json") or {"schema": SCHEMA}
    config["parameters"] = parameters
    write_json(config, folder / "config.json")


def finish_run(folder: str | os.PathLike, metrics: dict, steps: list | None = None,
               notes: list | None = None) -> None:
    """Write ``metrics.json`` (flat; see the module doc), ``steps.json`` and an "ok" status."""
    folder = Path(folder)
    status = _read(folder / "status.json") or {}
    flat = {"schema": SCHEMA, "pipeline": status.get("pipeline"), **metrics}
    write_json({k: _scalar(k, v) for k, v in flat.items()}, folder / "metrics.json")
    write_json({"steps": steps or [], "notes": notes or []}, folder / "steps.json")
    _set_status(folder, "ok", None)


def update_metrics(folder: str | os.PathLike, extra: dict) -> None:
    """Add figures to a finished run's ``metrics.json`` (e.g. a notebook's C-alpha RMSD to a reference)."""
    path = Path(folder) / "metrics.json"
    metrics = _read(path)
    if metrics is None:
        raise CryonbError(path, "no metrics to add to: the run has not finished")
    metrics.update({k: _scalar(k, v) for k, v in extra.items()})
    write_json(metrics, path)


def fail_run(folder: str | os.PathLike, error: BaseException | str) -> None:
    """Mark the run failed with ``error`` ("Type: message", or that text as given); its outputs so far stay."""
    text = (error if isinstance(error, str) else "interrupted" if isinstance(error, KeyboardInterrupt)
            else f"{type(error).__name__}: {error}")
    _set_status(Path(folder), "failed", text)


@contextmanager
def recorded(folder: str | os.PathLike, pipeline: str, config: dict, **record) -> Iterator[Path]:
    """``begin_run`` on entry, ``fail_run`` if the block raises (the error is re-raised); the
    block calls :func:`finish_run` when it has its metrics."""
    path = begin_run(folder, pipeline, config, **record)
    try:
        yield path
    except BaseException as exc:
        fail_run(path, exc)
        raise


def _set_status(folder: Path, state: str, error: str | None) -> None:
    status = _read(folder / "status.json") or {}
    started = status.get("started")
    seconds = None
    if started:
        seconds = (datetime.datetime.now(datetime.timezone.utc)
                   - datetime.datetime.fromisoformat(started)).total_seconds()
    status.update(state=state, finished=_now(), seconds=seconds, error=error)
    write_json(status, folder / "status.json")


def _scalar(key: str, value: Any) -> Any:
    """A metrics.json value: a number, string, bool or None (nan and inf become None)."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"metrics.json is flat: {key!r} holds a {type(value).__name__}")


def headline(result: dict, input: dict | None = None) -> dict:
    """Flat headline metrics: ``<key>`` from the ``result`` summary and ``<key>_input`` from the
    ``input`` one (when given); absent keys are None."""
    out = {k: result.get(k) for k in KEYS}
    if input is not None:
        out.update({f"{k}_input": input.get(k) for k in KEYS})
    return out


def headline_over_frames(rows: list[dict]) -> dict:
    """Flat headline metrics of a series: ``<key>`` the worst over the frames that have it,
    ``<key>_median`` their median; None where no frame has a value."""
    out = {}
    for key in KEYS:
        values = [float(r[key]) for r in rows if r.get(key) is not None and math.isfinite(float(r[key]))]
        out[key] = metric(key).worst(values) if values else None
        out[f"{key}_median"] = float(np.median(values)) if values else None
    return out


@dataclasses.dataclass
class Run:
    """A run read back: its folder and the four record files (see the module doc)."""

    folder: Path
    config: dict
    status: dict
    metrics: dict
    steps: dict

    @property
    def state(self) -> str:
        return self.status.get("state", "unknown")

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def load_run(folder: str | os.PathLike) -> Run:
    """Read run folder ``folder`` (any pipeline, any entry point). CryonbError naming the folder
    when it is no run folder or a record file is damaged; a running or failed run has no metrics."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CryonbError(folder, "no such run folder")
    config, status = _read(folder / "config.json"), _read(folder / "status.json")
    if config is None or status is None:
        raise CryonbError(folder, "is not a cryonb run folder (no config.json and status.json); runs "
                                  "written before cryonb 0.1's run record have no status")
    if config.get("schema") != SCHEMA:
        raise CryonbError(folder / "config.json", f"run record schema {config.get('schema')}, this cryonb "
                                                  f"reads {SCHEMA}")
    return Run(folder, config, status, _read(folder / "metrics.json") or {},
               _read(folder / "steps.json") or {"steps": [], "notes": []})


def _read(path: Path) -> dict | None:
    """A JSON object from ``path``; None when absent; CryonbError when damaged."""
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CryonbError(path, f"damaged run record ({type(exc).__name__}: {exc})") from None
    if not isinstance(value, dict):
        raise CryonbError(path, "damaged run record (not a JSON object)")
    return value
