"""The comparison for a series: independent refinements at the maps, interpolated in between.

Each map gets its own single refinement; models at other latents are linear interpolations of
the coordinates of the two refined models around them along the latent trajectory (the polyline
through the maps' latents in order), the simplest way to a continuous series.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..refinement.config import RefineConfig
from ..refinement.pipeline import refine


def arc_length(points: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Arc length along polyline ``path`` (M, d) of each point's nearest point on it; (K,)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, path.shape[1])
    a, b = path[:-1], path[1:]
    ab = b - a
    length = np.linalg.norm(ab, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(length)])
    out = np.empty(len(points))
    for k, p in enumerate(points):
        t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-30), 0.0, 1.0)
        d = np.linalg.norm(a + t[:, None] * ab - p, axis=1)
        i = int(np.argmin(d))
        out[k] = cum[i] + t[i] * length[i]
    return out


def interpolate_models(models: np.ndarray, map_latents: np.ndarray, latents: np.ndarray) -> np.ndarray:
    """Models (M, N, 3) refined at ``map_latents`` (M, d) -> (K, N, 3) at ``latents`` (K, d)."""
    path = np.asarray(map_latents, dtype=np.float64)
    s_maps = arc_length(path, path)
    s = arc_length(latents, path)
    flat = np.asarray(models, dtype=np.float64).reshape(len(models), -1)
    out = np.stack([np.interp(s, s_maps, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape(len(s), *models.shape[1:])


def refine_independently(model, maps, resolution: float, config=None, progress: bool = False) -> list:
    """One single refinement of ``model`` into each map (``cryonb.refine``, no validation), the map's
    index as seed; returns the RefineResults, whose ``xyz`` (N, 3) go to :func:`interpolate_models`."""
    config = config or RefineConfig()
    results = []
    for k, m in enumerate(maps):
        results.append(refine(model, m, resolution, replace(config, seed=config.seed + k), validate=False))
        if progress:
            print(f"  independent refinement {k + 1}/{len(maps)}: {results[-1].seconds:.0f} s", flush=True)
    return results
