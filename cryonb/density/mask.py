"""A soft mask around a model, for maps whose box holds other density than the model's.

A cut-out box from a large complex holds the neighbours' density; projections of such a map
(what the GMM-DNN refinement scores against) sum it along every ray, so a model refined into
them is pulled towards its neighbours. Multiplying the map by a soft mask around the model (1
within ``radius`` Å of an atom, falling to 0 over a further ``edge`` Å as a raised cosine) keeps
the model's own density and removes the rest, as masked maps from RELION or cryoSPARC do.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..maps import Map


def soft_model_mask(xyz: np.ndarray, m: Map, radius: float = 5.0, edge: float = 4.0) -> np.ndarray:
    """(nz, ny, nx) float32 in [0, 1] on ``m``'s grid: 1 within ``radius`` Å of any point of
    ``xyz`` (N, 3) Å, a raised-cosine fall to 0 over ``edge`` Å beyond it."""
    seeds = np.zeros(m.shape, dtype=bool)
    idx = np.round(m.xyz_to_index(np.asarray(xyz, dtype=np.float64))).astype(int)   # (N, 3) as x, y, z
    inside = np.all((idx >= 0) & (idx < np.array(m.shape[::-1])), axis=1)
    seeds[idx[inside, 2], idx[inside, 1], idx[inside, 0]] = True
    if not seeds.any():
        return np.zeros(m.shape, dtype=np.float32)
    d = ndimage.distance_transform_edt(~seeds, sampling=m.voxel_size[::-1])
    t = np.clip((d - radius) / edge, 0.0, 1.0)
    return (0.5 * (1.0 + np.cos(np.pi * t))).astype(np.float32)


def masked(m: Map, mask: np.ndarray) -> Map:
    """``m`` times ``mask``, after subtracting the mean of the density outside the mask (so the
    background level does not leave a step at the mask's edge)."""
    outside = mask < 1e-3
    background = float(m.data[outside].mean()) if outside.any() else 0.0
    return m.copy(data=((m.data - background) * mask).astype(np.float32))
