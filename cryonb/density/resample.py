"""Change a map's grid: resample to a new voxel size, crop, pad."""
from __future__ import annotations

import gemmi
import numpy as np
from scipy import ndimage

from ..io import model_xyz
from ..maps import Map
from .filters import lowpass


def resample(m: Map, voxel_size: float | np.ndarray, shape: tuple[int, int, int] | None = None,
             origin: np.ndarray | None = None, order: int = 3, antialias: bool = False) -> Map:
    """Interpolate ``m`` (cubic B-spline by default) onto a new grid.

    voxel_size: new voxel size (Å; scalar or x, y, z); shape: new (nz, ny, nx),
    default covering the same box; origin: new origin (Å, x, y, z), default
    unchanged. Points outside the old box are 0. antialias: onto coarser voxels, first low-pass
    ``m`` at the new Nyquist limit (raised cosine, :func:`~.filters.lowpass`), so what lies beyond
    it (noise of an unfiltered map) is removed instead of folded back as a checkerboard.
    """
    vs = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    if antialias and np.any(vs > m.voxel_size * 1.001):
        m = lowpass(m, 2 * float(vs.max()))
    if shape is None:
        shape = tuple(int(v) for v in np.maximum(1, np.round(m.box_size / vs)).astype(int)[::-1])
    origin = m.origin if origin is None else np.asarray(origin, dtype=np.float64)
    axes = [origin[i] + np.arange(n) * vs[i] for i, n in enumerate(shape[::-1])]   # x, y, z
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    coords = np.stack([(z - m.origin[2]) / m.voxel_size[2],
                       (y - m.origin[1]) / m.voxel_size[1],
                       (x - m.origin[0]) / m.voxel_size[0]])
    data = ndimage.map_coordinates(m.data.astype(np.float64), coords, order=order,
                                   mode="constant", cval=0.0)
    return Map(data.astype(np.float32), vs, origin)


def crop(m: Map, start: tuple[int, int, int], shape: tuple[int, int, int]) -> Map:
    """Sub-box of ``shape`` (nz, ny, nx) starting at voxel ``start`` (z, y, x); origin follows."""
    start = np.asarray(start, dtype=int)
    stop = start + np.asarray(shape, dtype=int)
    if np.any(start < 0) or np.any(stop > np.array(m.shape)):
        raise ValueError(f"crop {tuple(start)}+{tuple(shape)} exceeds the map shape {m.shape}")
    data = m.data[start[0]:stop[0], start[1]:stop[1], start[2]:stop[2]]
    return Map(data.copy(), m.voxel_size, m.origin + start[::-1] * m.voxel_size)


def pad(m: Map, shape: tuple[int, int, int], value: float = 0.0) -> Map:
    """Centre ``m`` in a larger box of ``shape`` (nz, ny, nx) filled with ``value``; origin follows."""
    extra = np.asarray(shape, dtype=int) - np.array(m.shape)
    if np.any(extra < 0):
        raise ValueError(f"pad target {tuple(shape)} is smaller than the map shape {m.shape}")
    before = extra // 2
    data = np.pad(m.data, [(b, e - b) for b, e in zip(before, extra)], constant_values=value)
    return Map(data, m.voxel_size, m.origin - before[::-1] * m.voxel_size)


def crop_to_model(m: Map, st: gemmi.Structure, padding: float = 8.0) -> Map:
    """The smallest sub-box holding the model's atoms plus ``padding`` Å, clipped to the map."""
    idx = m.xyz_to_index(model_xyz(st))[:, ::-1]                 # z, y, x
    margin = padding / m.voxel_size[::-1]
    lo = np.clip(np.floor(idx.min(0) - margin).astype(int), 0, None)
    hi = np.minimum(np.ceil(idx.max(0) + margin).astype(int) + 1, np.array(m.shape))
    return crop(m, tuple(lo), tuple(hi - lo))
