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
