"""Checkpoints of a series refinement: ``checkpoints/<step>.pt`` with the decoder weights and the
step's record, tagged with the run's fingerprint (:func:`cryonb.refinement.checkpoints.fingerprint`)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import atomic_path
from ..errors import CryonbError


class SeriesCheckpoints:
    """``checkpoints/<step>.pt``: decoder weights and the step's record, tagged with the run key."""

    def __init__(self, folder: Path | None, key: str, resume: bool):
        self.folder, self.key, self.resume = folder, key, resume
        if folder is None:
            return
        if not resume and folder.exists() and any(folder.glob("*.pt")):
            raise CryonbError(folder, "holds checkpoints of an earlier run: resume it, or choose a new folder")
        folder.mkdir(parents=True, exist_ok=True)

    def _read(self, name: str):
        path = None if self.folder is None or not self.resume else self.folder / f"{name}.pt"
        if path is None or not path.exists():
            return None
        try:
            data = torch.load(path, weights_only=False)
            key = data["key"]
        except Exception as exc:   # noqa: BLE001 - torch raises many kinds on a damaged file
            raise CryonbError(path, f"checkpoint is damaged ({type(exc).__name__}); delete it to redo "
                                    "that step, or start a new run") from None
        if key != self.key:
            raise CryonbError(path, "checkpoint of other inputs or settings: choose a new output folder")
        return data

    def _write(self, name: str, data: dict) -> None:
        if self.folder is not None:
            with atomic_path(self.folder / f"{name}.pt") as tmp:
                torch.save({"key": self.key, **data}, tmp)

    def load(self, name, stage):
        data = self._read(name)
        if data is None:
            return None
        stage.decoder.load_state_dict(data["decoder"])
        return data["result"]

    def save(self, name, stage, result):
        self._write(name, {"decoder": stage.decoder.state_dict(), "result": result})

    def load_all(self, name, series):
        data = self._read(name)
        if data is None:
            return None
        for stage, state in zip(series.stages, data["decoders"]):
            stage.decoder.load_state_dict(state)
        return data["result"]

    def save_all(self, name, series, result):
        self._write(name, {"decoders": [s.decoder.state_dict() for s in series.stages], "result": result})

    def load_start(self):
        data = self._read("start")
        return None if data is None else data["result"]

    def save_start(self, result):
        self._write("start", {"result": result})
