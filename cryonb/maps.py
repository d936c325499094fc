"""The :class:`Map` dataclass: a density on a regular grid placed in space.

Conventions (see DESIGN.md): ``data`` is indexed ``[z, y, x]``; ``voxel_size``
and ``origin`` are ``(x, y, z)`` in Angstrom; ``origin`` is the position of
voxel ``[0, 0, 0]``. Voxels may be non-cubic and boxes non-cubic.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import GridMismatchError, MapError, OverlapError


@dataclass
class Map:
    """A 3D density map.

    data: float32 array, shape (nz, ny, nx).
    voxel_size: (3,) Angstrom per voxel along x, y, z.
    origin: (3,) Angstrom, position of voxel [0, 0, 0] in x, y, z.
    path: where it was read from, for error messages (None if made in memory).
    """

    data: np.ndarray
    voxel_size: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    path: str | None = None

    def __post_init__(self):
        self.data = np.ascontiguousarray(self.data, dtype=np.float32)
        vs = np.broadcast_to(np.asarray(self.voxel_size, dtype=np.float64), (3,)).copy()
        self.voxel_size = vs
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(3).copy()
        validate_map(self)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape (nz, ny, nx)."""
        return tuple(self.data.shape)

    @property
    def box_size(self) -> np.ndarray:
        """Box edge lengths (x, y, z) in Angstrom."""
        return np.array(self.data.shape[::-1]) * self.voxel_size

    @property
    def apix(self) -> float:
        """The single voxel size in Angstrom; raises MapError if voxels are not cubic."""
        if not np.allclose(self.voxel_size, self.voxel_size[0], rtol=1e-4):
            raise MapError(self.path, f"voxels are not cubic: {_fmt(self.voxel_size, 4)} Å")
        return float(self.voxel_size[0])

    @property
    def center(self) -> np.ndarray:
        """Centre of the box (x, y, z) in Angstrom."""
        return self.origin + (np.array(self.data.shape[::-1]) - 1) / 2 * self.voxel_size

    def copy(self, data: np.ndarray | None = None) -> "Map":
        """A copy, optionally with new data on the same grid."""
        return replace(self, data=self.data.copy() if data is None else data)

    def xyz_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Fractional voxel indices (x, y, z order) of positions ``xyz`` (N, 3) in Angstrom."""
        return (np.asarray(xyz, dtype=np.float64) - self.origin) / self.voxel_size

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        """Boolean (N,) mask of positions inside the box."""
        idx = self.xyz_to_index(xyz)
        upper = np.array(self.data.shape[::-1]) - 1
        return np.all((idx >= -0.5) & (idx <= upper + 0.5), axis=1)

    def no_data(self, xyz: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Boolean (N,) mask of positions where the map says nothing: outside the box or less than
        ``margin`` Å inside its faces, or in a masked-out region (every voxel within one voxel of the
        position equal to the map's masked fill value, the constant on the box's faces)."""
        idx = self.xyz_to_index(xyz)
        lo = -0.5 + margin / self.voxel_size
        hi = np.array(self.data.shape[::-1]) - 0.5 - margin / self.voxel_size
        out = ~np.all((idx >= lo) & (idx <= hi), axis=1)
        fill = masked_fill(self.data)
        if fill is None or out.all():
            return out
        near = np.clip(np.rint(idx[~out]).astype(int), 0, np.array(self.data.shape[::-1]) - 1)
        flat = np.ones(len(near), bool)
        for d in np.ndindex(3, 3, 3):
            k = np.clip(near + np.array(d) - 1, 0, np.array(self.data.shape[::-1]) - 1)
            flat &= self.data[k[:, 2], k[:, 1], k[:, 0]] == fill
        out[np.flatnonzero(~out)[flat]] = True
        return out

    def values_at(self, xyz: np.ndarray) -> np.ndarray:
        """Trilinear map values (P,) at positions ``xyz`` (P, 3) Å; 0 outside the box."""
        idx = self.xyz_to_index(np.asarray(xyz, dtype=np.float64).reshape(-1, 3))[:, ::-1].T
        from scipy import ndimage   # deferred: `import cryonb` stays free of scipy (the cctbx child, molprobity.py)
        return ndimage.map_coordinates(self.data, idx, order=1, mode="constant", cval=0.0, prefilter=False)

    def same_grid(self, other: "Map") -> bool:
        """True when shape, voxel size and origin agree (origin within 1 % of a voxel)."""
        return (self.shape == other.shape
                and np.allclose(self.voxel_size, other.voxel_size, rtol=1e-4)
                and np.allclose(self.origin, other.origin, atol=0.01 * self.voxel_size.min()))


def require_density(m: Map) -> None:
    """MapError naming the file for a map with one value everywhere: nothing to compare or fit."""
    lo, hi = float(m.data.min()), float(m.data.max())
    if hi - lo <= 1e-7 * max(1.0, abs(hi), abs(lo)):
        raise MapError(m.path, f"holds one value everywhere ({lo:.4g}): no density to compare or fit")


def check_resolution(m: Map, resolution: float | None) -> float:
    """MapError naming the file unless ``resolution`` (Å) is finite, > 0, no finer than the map's
    Nyquist limit (2 voxels) and no coarser than half its smallest box edge; returns it."""
    if resolution is None or not np.isfinite(resolution) or resolution <= 0:
        raise MapError(m.path, f"--resolution must be a finite number > 0 with a map (got {resolution})")
    nyquist = 2 * float(m.voxel_size.max())
    if resolution < nyquist - 1e-6:
        raise MapError(m.path, f"resolution {resolution} Å is finer than the map's Nyquist limit "
                               f"{nyquist:.2f} Å (2 voxels of {m.voxel_size.max():.3f} Å): check the "
                               "resolution or the voxel size")
    half_box = 0.5 * float(m.box_size.min())
    if resolution > half_box:
        raise MapError(m.path, f"resolution {resolution} Å is coarser than half the box ({half_box:.1f} Å): "
                               "the map holds no detail at that scale to compare")
    return float(resolution)


def check_map_for_model(xyz: np.ndarray, m: Map, resolution: float | None, name: str) -> None:
    """MapError/OverlapError unless ``m`` can carry a refinement of the model at ``xyz`` (N, 3) Å:
    a usable ``resolution`` (Å), density that is not one value, and the model inside the box."""
    check_resolution(m, resolution)
    require_density(m)
    check_overlap(xyz, m, name)


def masked_fill(data: np.ndarray, fraction: float = 0.9) -> float | None:
    """The value a masked map holds outside its mask, or None for an unmasked map: the value of at
    least ``fraction`` of the voxels on the box's six faces, where those faces hold one value."""
    faces = np.concatenate([data[[0, -1]].ravel(), data[:, [0, -1]].ravel(), data[:, :, [0, -1]].ravel()])
    values, counts = np.unique(faces, return_counts=True)
    k = int(np.argmax(counts))
    return float(values[k]) if counts[k] >= fraction * len(faces) else None


def validate_map(m: Map) -> None:
    """Raise MapError for a map that cannot be used: wrong rank, empty, bad voxel size, NaN/inf."""
    if m.data.ndim != 3:
        raise MapError(m.path, f"expected a 3D map, got an array of shape {m.data.shape}")
    if min(m.data.shape) < 1:
        raise MapError(m.path, f"map has an empty dimension: shape {m.data.shape}")
    if not np.all(np.isfinite(m.voxel_size)) or np.any(m.voxel_size <= 0):
        raise MapError(m.path, f"voxel size must be positive, got {_fmt(m.voxel_size, 4)} Å")
    if not np.all(np.isfinite(m.origin)):
        raise MapError(m.path, f"origin is not finite: {_fmt(m.origin)}")
    bad = ~np.isfinite(m.data)
    if bad.any():
        n_nan = int(np.isnan(m.data).sum())
        raise MapError(m.path, f"map contains {n_nan} NaN and {int(bad.sum()) - n_nan} "
                               f"infinite values (of {m.data.size} voxels)")


def require_same_grid(a: Map, b: Map) -> None:
    """Raise GridMismatchError naming both maps if their grids differ."""
    if not a.same_grid(b):
        raise GridMismatchError(
            f"{a.path or 'map 1'} vs {b.path or 'map 2'}",
            f"grids differ: shape {a.shape} vs {b.shape}, voxel size "
            f"{_fmt(a.voxel_size, 4)} vs {_fmt(b.voxel_size, 4)} Å, "
            f"origin {_fmt(a.origin, 2)} vs {_fmt(b.origin, 2)} Å")


def check_overlap(xyz: np.ndarray, m: Map, model_name: str | None = None,
                  min_fraction: float = 0.5) -> float:
    """Fraction of atoms ``xyz`` (N, 3) inside the map box.

    Raises OverlapError, naming model and map, if fewer than ``min_fraction``
    of the atoms lie inside (default half: a model mostly outside its map is
    almost always a wrong origin or a wrong file).
    """
    inside = float(m.contains(xyz).mean()) if len(xyz) else 0.0
    if inside < min_fraction:
        lo, hi = m.origin, m.origin + m.box_size
        c = np.asarray(xyz).mean(axis=0) if len(xyz) else np.full(3, np.nan)
        raise OverlapError(
            f"{model_name or 'model'} vs {m.path or 'map'}",
            f"only {inside:.0%} of atoms lie inside the map box (need {min_fraction:.0%}); "
            f"model centre {_fmt(c)} Å, map box {_fmt(lo)} to {_fmt(hi)} Å: "
            "check the map origin or the model placement")
    return inside


def _fmt(v: np.ndarray, digits: int = 1) -> tuple[float, ...]:
    """A vector as a plain tuple of rounded floats, for messages."""
    return tuple(round(float(x), digits) for x in np.asarray(v).reshape(-1))
