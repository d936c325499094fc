"""Checkpoints of a single refinement: one file per finished step, tagged with a fingerprint of
the inputs and settings so a resume never mixes runs (the series keeps its own, series.checkpoints)."""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import CryonbError
from ..maps import Map
from .stages import StageResult


SCORE_VERSION = 3   # raise when the map score or GMM changes, so older checkpoints are not resumed


def fingerprint(xyz: np.ndarray, m: Map | list[Map] | None, resolution: float | None, config,
                b: np.ndarray | None = None, extra: np.ndarray | None = None) -> str:
    """A hash of the inputs (model coordinates and B-factors, one map or several, any ``extra``
    array such as latents) and settings, stored with checkpoints so a resume never mixes runs."""
    h = hashlib.sha256(np.ascontiguousarray(np.round(xyz, 3)).tobytes())
    if b is not None:
        h.update(np.ascontiguousarray(np.round(b, 2)).tobytes())
    for one in ([] if m is None else [m] if isinstance(m, Map) else m):
        h.update(one.data.tobytes())
        h.update(np.concatenate([one.voxel_size, one.origin]).tobytes())
    if extra is not None:
        h.update(np.ascontiguousarray(extra, dtype=np.float64).tobytes())
    settings = {k: v for k, v in config.as_dict().items() if k not in ("threads", "device")}
    h.update(json.dumps([resolution, settings, SCORE_VERSION], sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


class Checkpoints:
    """``checkpoints/<k>_<step>.npz`` files: coordinates, history, weight, seconds, notes."""

    def __init__(self, folder: Path | None, key: str):
        self.folder, self.key = folder, key
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def path(self, k: int, name: str) -> Path:
        return self.folder / f"{k}_{name}.npz"

    def load(self, k: int, name: str) -> StageResult | None:
        path = self.path(k, name)
        if self.folder is None or not path.exists():
            return None
        try:
            with np.load(path) as f:
                key = str(f["key"])
                meta = json.loads(str(f["meta"]))
                step = StageResult(name, f["xyz"], meta["history"], meta["weight"], meta["seconds"], meta["notes"],
                                   meta.get("iterations"))
        except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as exc:
            raise CryonbError(path, f"checkpoint is damaged ({type(exc).__name__}: {exc}); delete it to "
                                    "redo that step, or start a new run") from None
        if key != self.key:
            raise CryonbError(self.folder, "checkpoints belong to other inputs or settings; "
                              "use a fresh output folder or drop --resume")
        if step.xyz.ndim != 2 or step.xyz.shape[1] != 3 or not np.all(np.isfinite(step.xyz)):
            raise CryonbError(path, f"checkpoint holds no valid coordinates (shape {step.xyz.shape}); "
                                    "delete it to redo that step")
        return step

    def save(self, k: int, step: StageResult) -> None:
        if self.folder is None:
            return
        meta = json.dumps({"history": step.history, "weight": step.geometry_weight,
                           "seconds": step.seconds, "notes": step.notes, "iterations": step.iterations})
        with atomic_path(self.path(k, step.name)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, xyz=step.xyz, key=self.key, meta=meta)
