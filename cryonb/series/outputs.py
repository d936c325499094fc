"""What a series run writes: the trajectory, a per-frame validation table and a metrics summary."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_path
from .. import runs
from ..io import write_model
from ..validation.headline import MODEL_KEYS
from ..validation.report import validate_model

FRAME_KEYS = MODEL_KEYS   # validated at every frame; fsc_average too where a map sits


def map_of_each_latent(latents: np.ndarray, map_latents: np.ndarray, tol: float = 1e-6) -> list[int | None]:
    """For each latent (K, d), the index of the map at that latent (or None)."""
    out = []
    for z in np.asarray(latents, dtype=np.float64):
        d = np.linalg.norm(map_latents - z, axis=1)
        out.append(int(np.argmin(d)) if d.min() <= tol * max(1.0, np.abs(map_latents).max()) else None)
    return out


def frames_table(result, latents: np.ndarray, progress: bool = False, xyz: np.ndarray | None = None
                 ) -> list[dict]:
    """One row per latent: validation of its model, and model-map FSC where a map sits there.

    ``xyz`` (K, N, 3): other models at those latents (e.g. a baseline) instead of the series'.
    """

    latents = np.asarray(latents, dtype=np.float64).reshape(-1, result.model.latent_dim)
    st = result.trajectory(latents) if xyz is None else result.trajectory_of(xyz)
    which = map_of_each_latent(latents, result.inputs.latents)
    rows = range(len(latents))
    if progress:
        rows = tqdm(rows, desc="validate frames", unit="frame")
    table = []
    for k in rows:
        frame = _single(st, k)
        m = result.inputs.maps[which[k]] if which[k] is not None else None
        report = validate_model(frame, m, result.resolution if m is not None else None)
        row = {"frame": k, **{f"latent_{i}": float(v) for i, v in enumerate(latents[k])},
               "map": result.inputs.names[which[k]] if m is not None else ""}
        row.update({key: _number(report.summary.get(key)) for key in FRAME_KEYS})
        row["fsc_average"] = _number(report.summary.get("fsc_average"))
        table.append(row)
    return table


def _single(st, k: int):
    one = st.clone()
    for i in reversed(range(len(one))):
        if i != k:
            del one[i]
    return one


def summarise(table: list[dict]) -> dict:
    """Worst and median of each key over the frames (FSC over frames with a map)."""
    out = {}
    for key in FRAME_KEYS + ["fsc_average"]:
        v = np.array([row[key] for row in table], dtype=float)
        v = v[np.isfinite(v)]
        if len(v):
            out[key] = {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}
    return out


def write_frames_csv(table: list[dict], path: Path) -> None:
    """The per-frame table as CSV, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def _number(value) -> float:
    """A table cell: the value as float, nan for a metric that does not apply (no ligand, no RNA)."""
    return float("nan") if value is None else float(value)


def series_inputs(inputs, resolution: float) -> dict:
    """``inputs`` of a series run's config.json: the maps (names, box, voxel) and their latents."""
    m = inputs.maps[0]
    return {"maps": list(inputs.names), "latents": np.asarray(inputs.latents).tolist(),
            "latent_source": inputs.latent_source, "resolution": resolution,
            "shape": list(m.data.shape), "voxel_size": [float(v) for v in m.voxel_size]}


def series_metrics(result) -> dict:
    """Flat metrics of a series run: worst (``<key>``) and median (``<key>_median``) of every
    headline metric over the validated frames, the frame count and seconds."""
    return {"seconds": result.seconds, "frames": len(result.table), "maps": len(result.inputs.maps),
            **runs.headline_over_frames(result.table)}   # nan cells (no map, no ligand) are skipped there


def write_series_outputs(result, latents: np.ndarray, out: Path, table: list[dict]) -> None:
    """``series.cif``/``series.pdb`` (one model per latent) and ``frames.csv``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    traj = result.trajectory(latents)
    write_model(traj, out / "series.cif")
    write_model(traj, out / "series.pdb")
    write_frames_csv(table, out / "frames.csv")
