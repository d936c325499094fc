"""The global search: for every rotation, a local correlation at every translation at once (FFT).

The score is a local (masked) normalised correlation, as powerfit's LCC: within the rotated
template's footprint M (template density above 5 % of its maximum), the Pearson correlation of
the template with the map under it,

    LCC(s) = sum_M T'(x) rho(x + s) / sqrt(sum_M rho(x + s)^2 - (sum_M rho(x + s))^2 / |M|),

with T' the template made zero-mean and unit-norm within M. The three sums over M are
correlations, computed for all shifts s by FFT (five transforms per rotation). Normalising by the
map's variance under the footprint keeps empty or flat regions from winning; where that variance
is under 1 % of the map's, LCC is 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from ..density import lowpass, resample
from ..maps import Map
from .template import Template

FLAT = 0.01   # LCC is 0 where the map's variance under the footprint is below this share of its own


@dataclass
class SearchGrid:
    """The map prepared for the search: low-passed, on the search voxel, normalised, padded.

    padded: (Z, Y, X) float32, the map (zero mean, unit SD) at the start of a zero box large enough
    that no shift of the template wraps; shape: (z, y, x) of the map part; origin: (3,) Å of voxel
    [0, 0, 0]; voxel: Å; fft, fft_sq: rfftn of padded and of its square.
    """

    padded: np.ndarray
    shape: tuple[int, int, int]
    origin: np.ndarray
    voxel: float
    fft: np.ndarray
    fft_sq: np.ndarray


@dataclass
class SearchResult:
    """Per rotation of the set: the best LCC (N,), its template-centre position (N, 3) Å (x, y, z)."""

    rotations: np.ndarray
    scores: np.ndarray
    centres: np.ndarray


def prepare_map(m: Map, resolution: float, voxel: float, template_size: int, workers: int = 1) -> SearchGrid:
    """``m`` low-passed at ``resolution`` Å, resampled to ``voxel`` Å, normalised and zero-padded by
    half the template box (``template_size`` voxels) so that a template centred anywhere in the map
    never wraps onto map data."""
    coarse = resample(lowpass(m, resolution), voxel) if voxel > m.voxel_size.max() * 1.01 else lowpass(m, resolution)
    data = coarse.data.astype(np.float64)
    data = (data - data.mean()) / max(data.std(), 1e-12)
    shape = tuple(int(sfft.next_fast_len(max(n + template_size // 2 + 1, template_size), real=True))
                  for n in data.shape)
    padded = np.zeros(shape, np.float32)
    padded[:data.shape[0], :data.shape[1], :data.shape[2]] = data
    return SearchGrid(padded, data.shape, coarse.origin, float(coarse.voxel_size.max()),
                      sfft.rfftn(padded, workers=workers), sfft.rfftn(padded ** 2, workers=workers))


def rotate_density(density: np.ndarray, rotation: np.ndarray, order: int = 1) -> np.ndarray:
    """``density`` (n, n, n) (z, y, x) rotated by ``rotation`` (3, 3, acting on x, y, z) about its centre."""
    flip = rotation.T[::-1, ::-1]                       # R^T in (z, y, x) index order
    c = (np.array(density.shape) - 1) / 2.0
    return ndimage.affine_transform(density, flip, offset=c - flip @ c, order=order, mode="constant")


def normalised_template(template: Template, rotation: np.ndarray, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Rotated template zero-mean and unit-norm within its footprint, and the footprint, each at
    the start of a zero box of ``shape``."""
    t = rotate_density(template.density, rotation)
    mask = template.footprint(t)
    values = t[mask] - t[mask].mean()
    t_out, m_out = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    n = t.shape
    t_out[:n[0], :n[1], :n[2]][mask] = values / max(np.linalg.norm(values), 1e-12)
    m_out[:n[0], :n[1], :n[2]] = mask
    return t_out, m_out


def lcc_map(grid: SearchGrid, template: Template, rotation: np.ndarray, region: tuple,
            workers: int = 1) -> np.ndarray:
    """LCC for every shift in ``region`` (index arrays into the padded box, :func:`valid_shifts`)
    of the rotated template box's corner (see the module doc)."""
    t, m = normalised_template(template, rotation, grid.padded.shape)
    ft, fm = np.conj(sfft.rfftn(t, workers=workers)), np.conj(sfft.rfftn(m, workers=workers))
    shape = grid.padded.shape
    numerator = sfft.irfftn(ft * grid.fft, s=shape, workers=workers)[region]
    total = sfft.irfftn(fm * grid.fft, s=shape, workers=workers)[region]
    squares = sfft.irfftn(fm * grid.fft_sq, s=shape, workers=workers)[region]
    n = float(m.sum())
    variance = squares - total ** 2 / n
    flat = variance < FLAT * n
    return np.where(flat, 0.0, numerator / np.sqrt(np.maximum(variance, 1e-12)))


def valid_shifts(grid: SearchGrid, template: Template) -> tuple[np.ndarray, ...]:
    """Index arrays of the shifts (Z, Y, X, wrapped) that put the template centre inside the map."""
    c = np.rint(template.box_centre).astype(int)
    axes = [np.arange(-ci, n - ci) % size for ci, n, size in zip(c, grid.shape, grid.padded.shape)]
    return np.ix_(*axes)


def shift_to_centre(grid: SearchGrid, template: Template, index: np.ndarray) -> np.ndarray:
    """Template-centre position (x, y, z) Å of a shift ``index`` (z, y, x) into the padded box."""
    size = np.array(grid.padded.shape)
    half = np.rint(template.box_centre).astype(int)
    shift = np.where(index >= size - half, index - size, index)      # corners before the map wrap
    return grid.origin + (shift + template.box_centre)[::-1] * grid.voxel


def search(grid: SearchGrid, template: Template, rotations: np.ndarray, workers: int = 1,
           progress=None) -> SearchResult:
    """Best LCC and template-centre position of every rotation (N, 3, 3) over all shifts."""
    sel = valid_shifts(grid, template)
    scores = np.zeros(len(rotations))
    centres = np.zeros((len(rotations), 3))
    for i, rotation in enumerate(rotations):
        lcc = lcc_map(grid, template, rotation, sel, workers)
        k = np.unravel_index(int(np.argmax(lcc)), lcc.shape)
        scores[i] = lcc[k]
        index = np.array([sel[a].ravel()[k[a]] for a in range(3)])
        centres[i] = shift_to_centre(grid, template, index)
        if progress is not None:
            progress.update(1)
    return SearchResult(rotations, scores, centres)
