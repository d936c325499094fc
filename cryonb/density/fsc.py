"""Fourier shell correlation between maps and between a model and a map."""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from ..maps import Map, require_same_grid
from .filters import frequency_grid
from .simulate import model_map


@dataclass
class FSCCurve:
    """An FSC curve: per shell the frequency (1/Å, shell centre), FSC and coefficient count."""

    frequency: np.ndarray
    fsc: np.ndarray
    n_coefficients: np.ndarray

    @property
    def resolution_angstrom(self) -> np.ndarray:
        """Shell resolution 1/frequency in Angstrom (inf for the origin shell)."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.frequency

    def resolution(self, threshold: float = 0.143) -> float:
        """Resolution (Å) where the FSC first falls below ``threshold``, linearly interpolated.

        The origin shell is skipped. If the curve never falls below the
        threshold, the resolution of the last shell (Nyquist) is returned.
        """
        f, c = self.frequency, self.fsc
        for i in range(2, len(f)):
            if c[i] < threshold:
                t = (c[i - 1] - threshold) / (c[i - 1] - c[i])
                return float(1.0 / (f[i - 1] + t * (f[i] - f[i - 1])))
        return float(1.0 / f[-1])

    def average(self, max_resolution: float | None = None, min_resolution: float | None = None
                ) -> float:
        """Coefficient-weighted mean FSC over shells between the two resolutions (Å)."""
        keep = self.frequency > 0
        if max_resolution:
            keep &= self.frequency <= 1.0 / max_resolution
        if min_resolution:
            keep &= self.frequency >= 1.0 / min_resolution
        w = self.n_coefficients[keep]
        return float((self.fsc[keep] * w).sum() / w.sum())


def fsc(a: Map, b: Map, mask: np.ndarray | None = None) -> FSCCurve:
    """FSC between two maps on the same grid, optionally both multiplied by ``mask`` (nz, ny, nx).

    Shells are 1/L wide (L: the longest box edge, Å) out to Nyquist of the
    coarsest axis, so non-cubic boxes and voxels are handled.
    """
    require_same_grid(a, b)
    da, db = a.data.astype(np.float64), b.data.astype(np.float64)
    if mask is not None:
        da, db = da * mask, db * mask
    fa, fb = np.fft.rfftn(da), np.fft.rfftn(db)
    s = frequency_grid(a.shape, a.voxel_size)
    width = 1.0 / a.box_size.max()
    shell = np.rint(s / width).astype(np.int64)
    n_shells = int(np.floor(0.5 / a.voxel_size.max() / width)) + 1
    weight = np.full(s.shape, 2.0)                     # each half-grid coefficient stands for two
    weight[..., 0] = 1.0
    if a.shape[2] % 2 == 0:
        weight[..., -1] = 1.0
    keep = shell < n_shells
    sh, w = shell[keep], weight[keep]
    cross = np.bincount(sh, (fa * np.conj(fb)).real[keep] * w, n_shells)
    pa = np.bincount(sh, (np.abs(fa) ** 2)[keep] * w, n_shells)
    pb = np.bincount(sh, (np.abs(fb) ** 2)[keep] * w, n_shells)
    count = np.bincount(sh, w, n_shells)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(pa * pb > 0, cross / np.sqrt(pa * pb), 0.0)
    return FSCCurve(np.arange(n_shells) * width, curve, count)


def model_map_fsc(st: gemmi.Structure, m: Map, mask: np.ndarray | None = None,
                  b_factor: float | None = None) -> FSCCurve:
    """FSC between map ``m`` and the model's density computed on the same grid to Nyquist."""

    return fsc(model_map(st, m, b_factor=b_factor), m, mask)
