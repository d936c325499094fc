"""Run folders: every run writes its config, metrics (JSON) and outputs into one folder."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path


def run_folder(path: str | os.PathLike) -> Path:
    """Create (if needed) and return the run folder ``path``."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def interactive_run_dir(notebook: str) -> Path:
    """Run folder of a notebook run by hand: ``papermill_runs/<notebook>/interactive`` under the
    kernel's working folder, or under the checkout when that is the shipped notebooks folder
    (``notebooks/`` of a checkout). An installed package's own copy is refused: copy it out."""
    from .errors import CryonbError
    from .notebook_runs import NOTEBOOK_DIR, RUNS_FOLDER, source_checkout

    base = Path.cwd()
    if base.resolve() == NOTEBOOK_DIR:
        base = source_checkout()
        if base is None:
            raise CryonbError(NOTEBOOK_DIR, "is the installed package's copy of the notebooks; run an "
                                            f"editable copy instead: cryonb notebook {notebook} --copy DIR")
    return base / RUNS_FOLDER / notebook / "interactive"


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
