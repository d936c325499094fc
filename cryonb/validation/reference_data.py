"""Richardson-lab Top8000 reference tables: where they are, how to read and interpolate them.

The Top8000 Ramachandran and rotamer tables (CC-BY 4.0, Richardson lab, Duke University;
https://github.com/rlabduke/reference_data) are looked up in ``$CRYONB_TOP8000``, then
``<repo>/../shared/reference/top8000``, then ``cache_dir()/top8000``. Without them the
metrics that need them raise :class:`MetricUnavailable`, whose message reads
``"rama: not computed (Top8000 tables not found; set CRYONB_TOP8000)"`` instead of
reporting zeros.

A table (MolProbity's NDimTable text format) holds one value per bin centre on a regular
grid; bins not listed are zero. :func:`interpolate` reproduces MolProbity's ``valueAt``:
multilinear interpolation between the 2^n bin centres around a point, periodic in
wrapped dimensions. For Ramachandran tables (2-degree bins centred on odd degrees) this is
the same bilinear interpolation that cctbx's ramalyze does.
"""
from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..data.sources import cache_dir
from ..errors import InputFileError

ENV = "CRYONB_TOP8000"
CREDIT = ("Top8000 reference data (c) Richardson lab, Duke University, CC-BY 4.0 "
          "(https://github.com/rlabduke/reference_data)")


class MetricUnavailable(Exception):
    """A metric cannot be computed here; ``str()`` reads ``"<metric>: not computed (<reason>)"``."""

    def __init__(self, metric: str, reason: str):
        self.metric = metric
        self.reason = reason
        super().__init__(f"{metric}: not computed ({reason})")


def top8000_dir() -> Path | None:
    """The Top8000 folder (holding ``rama/`` and ``rotamer_grids/``), or None if none is found.

    ``$CRYONB_TOP8000`` wins when set and must exist (else InputFileError naming it);
    then ``<repo root>/../shared/reference/top8000``, then ``cache_dir()/top8000``.
    """
    env = os.environ.get(ENV) or None
    if env is not None:
        if not os.path.isdir(env):
            raise InputFileError(env, f"${ENV} names a folder that does not exist")
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    for candidate in (repo_root.parent / "shared" / "reference" / "top8000",
                      cache_dir() / "top8000"):
        if candidate.is_dir():
            return candidate
    return None


def require_table(metric: str, relpath: str) -> Path:
    """Path of one Top8000 file (e.g. ``rama/rama8000-cispro.data``), or MetricUnavailable."""
    root = top8000_dir()
    if root is None:
        raise MetricUnavailable(metric, f"Top8000 tables not found; set {ENV}")
    path = root / relpath
    if not path.is_file():
        raise MetricUnavailable(metric, f"Top8000 table {relpath} not found in {root}; "
                                f"set {ENV} to the folder holding rama/ and rotamer_grids/")
    return path


@dataclass(frozen=True)
class Grid:
    """A table on a regular grid: ``values`` has shape ``nbins``; bin k of dim d is centred on
    ``lower[d] + (k + 0.5) * width[d]`` (degrees)."""

    name: str
    lower: np.ndarray     # (n,) degrees
    upper: np.ndarray     # (n,) degrees
    wrap: np.ndarray      # (n,) bool
    values: np.ndarray    # shape nbins

    @property
    def width(self) -> np.ndarray:
        return (self.upper - self.lower) / np.array(self.values.shape)


def read_grid(path: str | os.PathLike) -> Grid:
    """Read a MolProbity NDimTable text file (``# ...`` header, then coordinates and a value)."""
    with open(path) as fh:
        header = [next(fh) for _ in range(3)]
        try:
            ndim = int(header[1].split(":")[-1])
            bounds = [next(fh).split(":")[-1].split() for _ in range(ndim)]
            value_first = "first" in next(fh)
        except (ValueError, StopIteration) as exc:
            raise InputFileError(path, f"not a MolProbity NDimTable header ({exc})") from exc
        name = header[0].split(":", 1)[-1].strip().strip('"')
        data = np.loadtxt(fh, ndmin=2)
    lower = np.array([float(b[0]) for b in bounds])
    upper = np.array([float(b[1]) for b in bounds])
    nbins = tuple(int(b[2]) for b in bounds)
    wrap = np.array([b[3].lower() in ("true", "yes", "on", "1") for b in bounds])
    if data.shape[1] != ndim + 1:
        raise InputFileError(path, f"expected {ndim + 1} numbers per line, found {data.shape[1]}")
    coords, vals = (data[:, 1:], data[:, 0]) if value_first else (data[:, :ndim], data[:, ndim])
    width = (upper - lower) / np.array(nbins)
    idx = np.minimum(np.floor((coords - lower) / width), np.array(nbins) - 1).astype(int)
    values = np.zeros(nbins)
    values[tuple(idx.T)] = vals
    return Grid(name, lower, upper, wrap, values)


def write_grid(grid: Grid, path: str | os.PathLike) -> None:
    """Write ``grid`` in MolProbity's NDimTable text format (non-zero bins only), atomically.

    The output is what cctbx's ``NDimTable.createFromText`` and :func:`read_grid` read.
    """
    ndim = grid.values.ndim
    lines = [f'# Table name/description: "{grid.name}"', f"# Number of dimensions: {ndim}",
             f"# For each dimension, 1 to {ndim}: lower_bound  upper_bound  number_of_bins  wrapping"]
    lines += [f"#   x{d + 1}: {float(grid.lower[d])!r} {float(grid.upper[d])!r} {grid.values.shape[d]} "
              f"{str(bool(grid.wrap[d])).lower()}" for d in range(ndim)]
    lines.append("# List of table coordinates and values. (Value is last number on each line.)")
    idx = np.argwhere(grid.values != 0)
    centres = grid.lower + (idx + 0.5) * grid.width
    lines += [" ".join(map(repr, c.tolist())) + f" {float(v)!r}"
              for c, v in zip(centres, grid.values[tuple(idx.T)])]
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def interpolate(grid: Grid, points: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of ``grid`` at ``points`` (m, n) degrees -> (m,) values.

    Wrapped dimensions are periodic (any angle is folded into the table's range, so a
    0-180 table folds chi modulo 180); in others the edge bins are used beyond the centres.
    NaN in a row gives NaN.
    """
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    nbins = np.array(grid.values.shape)
    span = grid.upper - grid.lower
    folded = np.where(grid.wrap, np.mod(pts - grid.lower, span) + grid.lower, pts)
    u = (folded - grid.lower) / grid.width - 0.5
    bad = ~np.isfinite(u).all(axis=1)
    u[bad] = 0.0
    base = np.floor(u).astype(int)
    frac = u - base
    out = np.zeros(len(pts))
    for corner in itertools.product((0, 1), repeat=len(nbins)):
        idx = base + np.array(corner)
        idx = np.where(grid.wrap, np.mod(idx, nbins), np.clip(idx, 0, nbins - 1))
        weight = np.prod(np.where(np.array(corner, bool), frac, 1.0 - frac), axis=1)
        out += weight * grid.values[tuple(idx.T)]
    out[bad] = np.nan
    return out


@lru_cache(maxsize=64)
def _cached_grid(path: str, mtime: float) -> Grid:
    return read_grid(path)


def load_grid(metric: str, relpath: str) -> Grid:
    """Read (once per session) the Top8000 table ``relpath``; MetricUnavailable if absent."""
    path = require_table(metric, relpath)
    return _cached_grid(str(path), path.stat().st_mtime)


# --- ARG and LYS: 4-D rotamer grids built from the Top8000 residue points -------------------
# The Top8000 release ships no ARG/LYS grids but the filtered points they were made from.
# We rebuild them as the Richardson lab's Makefile describes (Silk: -ndim=4 -gridsize=10
# -cosine=5 -twopass=7 -wrap -bounds=0,360 x4 -fraction; lambda 0.5): a cosine-kernel density
# trace, a second pass whose kernel widens where the first-pass density is low, then each bin's
# value replaced by the fraction of reference points whose own density is lower (a percentile).

BUILT_VERSION = "v1"
POINT_FILES = {"ARG": ("rota8000-arg-1m.csv", "rota8000-arg-1p.csv", "rota8000-arg-1t.csv"),
               "LYS": ("rota8000-lys.csv",)}


def _cosine_tally(x: np.ndarray, radius: np.ndarray, nbins: int, width: float) -> np.ndarray:
    """Sum of cosine kernels ``(cos(pi d / R) + 1) / R^n`` (d < R, degrees, periodic) on a grid.

    x: (N, n) angles in [0, 360); radius: (N,) kernel radii R. Returns a flat (nbins^n,) array.
    Points are grouped by how many bins their kernel reaches; each group is done at once.
    """
    ndim = x.shape[1]
    home = np.floor(x / width).astype(int)
    reach = np.maximum(np.ceil(radius / width - 0.5), 0).astype(int)
    total = np.zeros(nbins ** ndim)
    for k in np.unique(reach):
        sel = np.flatnonzero(reach == k)
        offs = np.arange(-k, k + 1)
        for rows in np.array_split(sel, 1 + len(sel) * len(offs) ** ndim // 2_000_000):
            cells = home[rows, :, None] + offs                        # (P, n, 2k+1) unwrapped
            diff2 = ((cells + 0.5) * width - x[rows, :, None]) ** 2
            wrapped = np.mod(cells, nbins)
            d2, flat = np.zeros(()), np.zeros((), dtype=np.int64)
            for d in range(ndim):
                shape = [len(rows)] + [1] * ndim
                shape[d + 1] = len(offs)
                d2 = d2 + diff2[:, d].reshape(shape)
                flat = flat * nbins + wrapped[:, d].reshape(shape)
            r = np.broadcast_to(radius[rows].reshape([-1] + [1] * ndim), d2.shape)
            inside = d2 < r ** 2
            r = r[inside]
            kern = (np.cos(np.pi * np.sqrt(d2[inside]) / r) + 1.0) / r ** ndim
            total += np.bincount(np.broadcast_to(flat, d2.shape)[inside], weights=kern,
                                 minlength=total.size)
    return total


def _normalised(flat: np.ndarray, n_points: int, width: float, ndim: int) -> np.ndarray:
    """Scale a tally so each point contributes unit volume (sum = N / width^n)."""
    return flat * (n_points / width ** ndim / flat.sum())


def percentile_grid(chis: np.ndarray, nbins: int = 36, halfwidth: float = 5.0,
                    dd_halfwidth: float = 7.0, lam: float = 0.5) -> np.ndarray:
    """Two-pass density trace of (N, n) chi angles (degrees) as a percentile grid.

    Returns shape (nbins,)*n: each value is the fraction of the N points whose density
    (at the point, interpolated) is lower than the density in that bin.
    """
    x = np.mod(np.asarray(chis, dtype=float), 360.0)
    n_points, ndim = x.shape
    width = 360.0 / nbins
    shape = (nbins,) * ndim
    grid = Grid("", np.zeros(ndim), np.full(ndim, 360.0), np.ones(ndim, bool), np.zeros(shape))

    def at_points(flat: np.ndarray) -> np.ndarray:
        return interpolate(Grid(grid.name, grid.lower, grid.upper, grid.wrap,
                                flat.reshape(shape)), x)

    first = _normalised(_cosine_tally(x, np.full(n_points, 2 * halfwidth), nbins, width),
                        n_points, width, ndim)
    radius = 2 * dd_halfwidth / at_points(first) ** (lam / ndim)
    second = _normalised(_cosine_tally(x, radius, nbins, width), n_points, width, ndim)
    own = np.sort(at_points(second))
    return (np.searchsorted(own, second, side="left") / n_points).reshape(shape)


def built_rotamer_grid(resname: str) -> Grid:
    """The 4-D percentile grid for ``"ARG"`` or ``"LYS"`` (chi1..chi4, 0-360 degrees, 10-degree bins).

    Built from ``rotamer_points/`` on first use (a few seconds) and cached as
    ``cache_dir()/top8000-built/rota8000-<res>-<hash>.npy``; MetricUnavailable without the points.
    """
    paths = [require_table("rotamer", f"rotamer_points/{name}") for name in POINT_FILES[resname]]
    return _built_grid(resname, tuple(str(p) for p in paths),
                       tuple(p.stat().st_mtime for p in paths))


@lru_cache(maxsize=4)
def _built_grid(resname: str, paths: tuple[str, ...], mtimes: tuple[float, ...]) -> Grid:
    digest = hashlib.sha1(BUILT_VERSION.encode())
    for path in paths:
        digest.update(Path(path).read_bytes())
    cached = cache_dir() / "top8000-built" / f"rota8000-{resname.lower()}-{digest.hexdigest()[:12]}.npy"
    if cached.exists():
        values = np.load(cached)
    else:
        try:
            chis = np.concatenate([np.loadtxt(p, delimiter=",", usecols=(3, 4, 5, 6), ndmin=2)
                                   for p in paths])
        except ValueError as exc:
            raise InputFileError(paths[0], f"unreadable Top8000 residue points ({exc})") from exc
        values = percentile_grid(chis).astype(np.float32)
        with atomic_path(cached) as tmp, open(tmp, "wb") as fh:
            np.save(fh, values)
    ndim = values.ndim
    name = f"Top8000 {resname.capitalize()} (built by cryonb from Top8000 points, CC-BY 4.0)"
    return Grid(name, np.zeros(ndim), np.full(ndim, 360.0), np.ones(ndim, bool), values)
