"""Inputs of a series refinement: M maps on one grid and one latent coordinate per map.

Maps come as MRC files, directories of MRC files (cryoDRGN ``eval_vol --zfile``
writes ``vol_000.mrc, vol_001.mrc, ...``) or MRC volume stacks (ispg 401).
Latents come as ``.npy``, text (one row per map) or cryoDRGN's ``z.pkl``; without
a latent file the map order is the latent. Inputs are only read, never modified.
"""
from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np
from mrcfile.utils import spacegroup_is_volume_stack

from ..atomic import protect_input
from ..errors import CryonbError, InputFileError, MapError, require_file
from ..io import _map_from_header, read_map
from ..maps import Map, require_density, require_same_grid

MAP_SUFFIXES = (".mrc", ".map")
PICKLE_SUFFIXES = (".pkl", ".pickle")


@dataclass
class SeriesInputs:
    """M maps on one grid with their latent coordinates.

    maps: M maps, same shape, voxel size and origin.
    latents: (M, d) float64; row k is the latent of ``maps[k]``.
    names: where each map came from: its file, or ``"stack.mrc[k]"`` for volume k of a stack.
    latent_source: "file", "cryodrgn" (a z.pkl), "array" (given in memory) or "order" (map order).
    """

    maps: list[Map]
    latents: np.ndarray
    names: list[str]
    latent_source: str


# ----------------------------------------------------------------------------- latents
def read_latents(path: str | os.PathLike) -> np.ndarray:
    """Latents (M, d) float64 from ``.npy``, ``.pkl``/``.pickle`` (cryoDRGN z) or text.

    Text: one row per map, values separated by whitespace or commas, ``#`` starts
    a comment; a single column gives (M, 1). Raises InputFileError naming the file
    (and the line or row) for a missing, empty, ragged, non-numeric or non-finite file.
    """
    p = require_file(path)
    suffix = Path(p).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return read_cryodrgn_z(p)
    z = _read_npy(p) if suffix == ".npy" else _read_text(p)
    z = _latent_matrix(p, z, allow_1d=True)
    protect_input(p)
    return z


def read_cryodrgn_z(path: str | os.PathLike) -> np.ndarray:
    """z_mu (M, d) float64 from a cryoDRGN ``z.pkl`` (pickles of z_mu then z_logvar in one file).

    Only the first pickle (z_mu) is loaded. Security: unpickling can run arbitrary
    code; only load files you trust. cryoDRGN writes z only as a pickle, so there is
    no safer format to ask for (its ``--zfile`` text files can be read by read_latents).
    """
    p = require_file(path)
    try:
        with open(p, "rb") as fh:
            z = pickle.load(fh)
    except Exception as exc:  # unpickling raises many types; all mean "not a readable pickle"
        raise InputFileError(p, f"not a readable pickle file ({type(exc).__name__}: {exc})") from None
    if not isinstance(z, np.ndarray):
        raise InputFileError(p, f"first pickle holds a {type(z).__name__}, expected a numpy array "
                                "(cryoDRGN z_mu, shape (particles, zdim))")
    z = _latent_matrix(p, z, allow_1d=False)
    protect_input(p)
    return z


def order_latents(m: int) -> np.ndarray:
    """Latents (m, 1) from map order alone: evenly spaced from -1 to 1."""
    return np.linspace(-1.0, 1.0, m)[:, None]


def _read_npy(p: str) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except Exception as exc:
        raise InputFileError(p, f"not a readable .npy array ({exc})") from None


def _read_text(p: str) -> np.ndarray:
    """Rows of numbers from a text file; raises naming the line for ragged or non-numeric rows."""
    try:
        with open(p, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError:
        raise InputFileError(p, "not a text file of numbers (binary content); "
                                "use .npy, .pkl or text") from None
    rows, first = [], 0
    for number, line in enumerate(lines, 1):
        fields = _split_fields(line)
        if not fields:
            continue
        if rows and len(fields) != len(rows[0]):
            raise InputFileError(p, f"line {number} has {len(fields)} values, expected {len(rows[0])} "
                                    f"as on line {first} (ragged rows)")
        rows.append([_number(p, number, f) for f in fields])
        first = first or number
    if not rows:
        raise InputFileError(p, "holds no numbers (only blank or comment lines)")
    return np.array(rows, dtype=np.float64)


def _split_fields(line: str) -> list[str]:
    """The values of one text line: comment removed, split on commas or whitespace."""
    line = line.split("#", 1)[0].strip()
    if not line:
        return []
    return [f.strip() for f in line.split(",")] if "," in line else line.split()


def _number(p: str, number: int, field: str) -> float:
    try:
        value = float(field)
    except ValueError:
        raise InputFileError(p, f"line {number}: {field!r} is not a number") from None
    if not np.isfinite(value):
        raise InputFileError(p, f"line {number}: value {field!r} is NaN/inf")
    return value


def _latent_matrix(p: str, z: np.ndarray, allow_1d: bool) -> np.ndarray:
    """``z`` as a finite (M, d) float64 array; raises InputFileError naming the problem and row."""
    if not np.issubdtype(z.dtype, np.number) or np.iscomplexobj(z):
        raise InputFileError(p, f"array of {z.dtype} values, expected real numbers")
    if z.ndim == 1 and allow_1d:
        z = z[:, None]
    if z.ndim != 2:
        shapes = "1D (M,) or 2D (M, d)" if allow_1d else "2D (M, d)"
        raise InputFileError(p, f"array of shape {z.shape} ({z.ndim}D), expected {shapes}")
    if z.size == 0:
        raise InputFileError(p, f"array is empty (shape {z.shape})")
    z = np.array(z, dtype=np.float64)
    bad = np.flatnonzero(~np.all(np.isfinite(z), axis=1))
    if bad.size:
        k = int(bad[0])
        raise InputFileError(p, f"row {k} (0-based) holds NaN/inf: {z[k].tolist()} "
                                f"({bad.size} non-finite rows of {len(z)})")
    return z


# ----------------------------------------------------------------------------- maps
def read_series_maps(paths) -> tuple[list[Map], list[str]]:
    """Maps and their names from MRC files, directories of MRC files, or MRC volume stacks.

    ``paths``: one path or a list. A directory gives all its ``*.mrc``/``*.map`` files
    in natural order (vol_2 before vol_10; hidden files skipped). A volume stack
    (ispg 401-630, read by mrcfile as 4D) gives one map per volume, named ``"file.mrc[k]"``.
    """
    maps, names = [], []
    for path in _as_list(paths):
        for file in _map_files(os.fspath(path)):
            got = _read_map_file(file)
            maps += [m for m, _ in got]
            names += [n for _, n in got]
    return maps, names


def _as_list(paths) -> list:
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def _map_files(path: str) -> list[str]:
    """``path`` itself, or the map files of a directory in natural order."""
    if not os.path.isdir(path):
        return [path]
    files = [e.path for e in os.scandir(path) if e.is_file() and not e.name.startswith(".")
             and Path(e.name).suffix.lower() in MAP_SUFFIXES]
    if not files:
        raise InputFileError(path, f"directory holds no map files ({', '.join(MAP_SUFFIXES)})")
    return sorted(files, key=_natural_key)


def _natural_key(path: str) -> tuple:
    """Sort key putting vol_2 before vol_10: digit runs compare as numbers."""
    name = os.path.basename(path)
    parts = [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]
    return parts, name


def _read_map_file(p: str) -> list[tuple[Map, str]]:
    """(map, name) pairs of one file: one for a map, one per volume for a volume stack."""
    got = [(read_map(p), p)] if not _is_volume_stack(p) else [(m, m.path) for m in _read_volume_stack(p)]
    for m, _ in got:
        require_density(m)
    return got


def _is_volume_stack(p: str) -> bool:
    """True when the header's space group marks a volume stack (401-630); unreadable: False."""
    try:
        with mrcfile.open(p, mode="r", header_only=True, permissive=True) as mrc:
            return bool(spacegroup_is_volume_stack(int(mrc.header.ispg)))
    except Exception:
        return False  # read_map says what is wrong with the file


def _read_volume_stack(p: str) -> list[Map]:
    """One Map per volume of an MRC volume stack, each with path ``"p[k]"`` (validated by Map)."""
    try:
        with mrcfile.open(p, mode="r", permissive=False) as mrc:
            header = mrc.header.copy()
            data = np.array(mrc.data)
    except Exception as exc:
        raise MapError(p, f"not a readable MRC volume stack ({exc})") from None
    if data.ndim != 4:
        raise MapError(p, f"space group {int(header.ispg)} marks a volume stack, but the data "
                          f"has shape {data.shape}")
    maps = [_map_from_header(f"{p}[{k}]", header, vol) for k, vol in enumerate(data)]
    protect_input(p)
    return maps


# ----------------------------------------------------------------------------- series
def load_series(maps, latent=None) -> SeriesInputs:
    """Maps and latents of a series refinement, checked against each other.

    maps: one path or a list (files, directories, volume stacks; see read_series_maps).
    latent: a latent file (see read_latents), an (M,) or (M, d) array, or None for map order.
    Raises a CryonbError naming the file for fewer than 2 maps, maps on different
    grids (shape, voxel size, origin), or a latent count that differs from the map count.
    """
    z, source = _load_latents(latent)
    series, names = read_series_maps(maps)
    if len(series) < 2:
        where = ", ".join(names) or None
        raise InputFileError(where, f"a series refinement needs at least 2 maps, got {len(series)}")
    for m in series[1:]:
        require_same_grid(series[0], m)
    if z is None:
        z = order_latents(len(series))
    _check_counts(latent, source, len(z), len(series))
    _check_distinct(latent if source != "array" else "latent array", z, names)
    return SeriesInputs(maps=series, latents=z, names=names, latent_source=source)


def _load_latents(latent) -> tuple[np.ndarray | None, str]:
    """(latents or None, latent_source) for a path, an array or None."""
    if latent is None:
        return None, "order"
    if isinstance(latent, (str, os.PathLike)):
        cryodrgn = Path(latent).suffix.lower() in PICKLE_SUFFIXES
        return read_latents(latent), "cryodrgn" if cryodrgn else "file"
    return _latent_matrix("latent array", np.asarray(latent), allow_1d=True), "array"


def _check_distinct(where, z: np.ndarray, names: list[str]) -> None:
    """Raise naming the latent source when two maps share a latent: the decoders, fed the same
    input, would give them one model, labelled as the first map."""
    _, first, counts = np.unique(np.asarray(z), axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        k = int(first[np.argmax(counts > 1)])
        same = [names[i] for i in range(len(z)) if np.array_equal(z[i], z[k])]
        raise CryonbError(where, f"maps {', '.join(same)} have the same latent {np.asarray(z)[k].tolist()}: "
                                 "each map needs its own latent coordinate")


def _check_counts(latent, source: str, n_latents: int, n_maps: int) -> None:
    """Raise naming the latent file when it does not hold one row per map."""
    if n_latents == n_maps:
        return
    problem = f"{n_latents} latent rows for {n_maps} maps: need one latent per map, in map order"
    if source == "cryodrgn":
        problem += (". A cryoDRGN z.pkl holds one row per particle; pass the --zfile text file "
                    "used with `cryodrgn eval_vol` to make these volumes instead")
    if source == "array":
        raise CryonbError("latent array", problem)
    raise InputFileError(latent, problem)
