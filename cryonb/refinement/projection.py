"""Projections of the map and of the model's GMM in Fourier space, and the FRC between them.

Every projection is described by its 2D Fourier coefficients on one half-plane of frequencies
``k = (m_x, m_y) / (n * pixel)`` up to the target resolution, relative to the map centre, so
the model's projections need no image at all:

* the **map** is projected once per run: rotated by cubic-spline interpolation in real space,
  summed along the viewing direction and Fourier transformed (:class:`MapProjections`);
* the **model** is one Gaussian per heavy atom, whose projection's transform is analytic,
  ``A exp(-2 pi^2 sigma^2 |k|^2) exp(-2 pi i (k_x u + k_y v))``; the phase ramp is separable in
  ``k_x`` and ``k_y``, so each image is four real matrix products (:func:`gmm_projections`).

The Fourier ring correlation between the two over rings from a low cut-off to the target
resolution is the map-model score (:func:`frc_per_ring`). Per-ring normalisation makes it blind to
the map's filtering and sharpening, and to the Gaussian width.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial.transform import Rotation

from ..density.filters import lowpass
from ..maps import Map


def random_rotations(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3, 3) rotation matrices drawn uniformly on SO(3); rows: image x, image y, view axis."""
    return Rotation.random(n, random_state=seed).as_matrix()


@dataclass
class FourierGrid:
    """The half-plane of 2D frequencies kept for every projection.

    pixel: Å; size: image edge in pixels; kx, ky: (n_k,) frequencies in 1/Å; ring: (n_k,) ring
    index (units of 1 / (size * pixel)); n_rings: rings 0..n_rings-1 are represented.
    """

    pixel: float
    size: int
    kx: np.ndarray
    ky: np.ndarray
    ring: np.ndarray
    n_rings: int
    mx: np.ndarray     # (n_k,) integer x frequency index (>= 0)
    my: np.ndarray     # (n_k,) integer y frequency index (signed)

    @classmethod
    def build(cls, pixel: float, size: int, resolution: float) -> "FourierGrid":
        top = int(np.floor(size * pixel / resolution))
        mx, my = np.meshgrid(np.arange(0, top + 1), np.arange(-top, top + 1), indexing="xy")
        mx, my = mx.ravel(), my.ravel()
        ring = np.rint(np.hypot(mx, my)).astype(int)
        keep = (ring <= top) & ~((mx == 0) & (my < 0))        # half-plane without its mirror
        mx, my, ring = mx[keep], my[keep], ring[keep]
        step = 1.0 / (size * pixel)
        return cls(pixel, size, mx * step, my * step, ring, top + 1, mx, my)

    def within(self, top_ring: int) -> tuple["FourierGrid", np.ndarray]:
        """The grid cut to rings 0..``top_ring`` and the indices (n_k',) of its frequencies here."""
        keep = np.flatnonzero(self.ring <= top_ring)
        return (FourierGrid(self.pixel, self.size, self.kx[keep], self.ky[keep], self.ring[keep],
                            min(self.n_rings, top_ring + 1), self.mx[keep], self.my[keep]), keep)

    def ring_resolution(self) -> np.ndarray:
        """(n_rings,) resolution of each ring in Å (inf for ring 0)."""
        with np.errstate(divide="ignore"):
            return self.size * self.pixel / np.arange(self.n_rings)

    def rings_between(self, low: float, high: float) -> np.ndarray:
        """Indices of rings wholly inside [high, low] Å: centre no coarser than ``low``, outer
        edge (ring + 1/2) no finer than ``high`` (ring 0 never).

        A ring straddling ``high`` would reach past the limit, where a map filtered at its
        resolution has no signal: at 8 Å that one ring scored 0.5 on the true model and pulled
        small patches 1 Å off it.
        """
        i = np.arange(self.n_rings)
        with np.errstate(divide="ignore"):
            outer = self.size * self.pixel / (i + 0.5)
        return np.nonzero((self.ring_resolution() <= low) & (outer >= high - 1e-6) & (i > 0))[0]


@dataclass
class MapProjections:
    """Cached Fourier coefficients of the map's projections in fixed orientations.

    rotations: (P, 3, 3); centre: (3,) Å, the point every projection is taken about;
    coeffs: complex64 (P, n_k) on ``grid``.
    """

    rotations: np.ndarray
    centre: np.ndarray
    grid: FourierGrid
    coeffs: np.ndarray

    @classmethod
    def compute(cls, m: Map, resolution: float, n_orientations: int = 96, seed: int = 0,
                oversample: float = 3.0, period: float = 2.0, method: str = "slices") -> "MapProjections":
        """Project ``m`` in ``n_orientations`` uniform orientations, kept to ``resolution`` Å.

        The map is low-passed just beyond ``resolution`` first. Frequencies are spaced by 1 /
        (``period`` x the longest box edge), on a pixel of ``max(voxel, resolution / oversample)``
        Å; a period of 2 samples each ring finely enough for low-resolution fitting.

        method: "slices" (default) reads each projection's coefficients off the map's 3D Fourier
        transform on the central slice (projection-slice theorem), evaluated exactly at those
        frequencies by a type-2 non-uniform FFT (FINUFFT, precision 1e-6): seconds for any box.
        "spline" rotates the map by cubic-spline interpolation, sums it along the view and takes
        its 2D FFT (the projection folded onto the period): minutes for a 150^3 box.
        """
        pixel = max(float(m.voxel_size.max()), resolution / oversample)
        m = lowpass(m, 0.9 * resolution)
        size = int(np.ceil(period * float(m.box_size.max()) / pixel / 2)) * 2
        rotations = random_rotations(n_orientations, seed)
        grid = FourierGrid.build(pixel, size, resolution)
        if method == "slices":
            coeffs = central_slices(m, rotations, m.center, grid)
        elif method == "spline":
            spline = ndimage.spline_filter(m.data.astype(np.float64), order=3)
            coeffs = np.stack([_project(spline, m, r, m.center, pixel, size, grid) for r in rotations])
        else:
            raise ValueError(f"projection method must be 'slices' or 'spline', got {method!r}")
        return cls(rotations, m.center.copy(), grid, coeffs.astype(np.complex64))


def central_slices(m: Map, rotations: np.ndarray, centre: np.ndarray, grid: FourierGrid,
                   eps: float = 1e-6, threads: int | None = None) -> np.ndarray:
    """(P, n_k) complex Fourier coefficients of the projections of ``m`` along ``rotations[:, 2]``
    about ``centre`` (Å): the map's transform ``sum_j rho_j exp(-2 pi i k . (x_j - centre))`` over
    its voxels, at the 3D frequencies ``k = kx r_0 + ky r_1`` of each image's half-plane (the
    projection-slice theorem), by FINUFFT's type-2 transform to relative precision ``eps`` on
    ``threads`` (default: torch's). Unscaled (map units x voxels): the FRC is scale-free."""
    import finufft
    k3 = (grid.kx[None, :, None] * rotations[:, 0][:, None, :]
          + grid.ky[None, :, None] * rotations[:, 1][:, None, :]).reshape(-1, 3)        # (P n_k, 3) x, y, z
    n = np.array(m.shape[::-1])                                                      # voxels along x, y, z
    first = m.origin + (n // 2) * m.voxel_size - centre                              # Å: voxel of mode 0
    t = 2 * np.pi * k3 * m.voxel_size                                                # radians per voxel step
    data = m.data.astype(np.complex128)                                              # [z, y, x]
    values = finufft.nufft3d2(t[:, 2].copy(), t[:, 1].copy(), t[:, 0].copy(), data, eps=eps, isign=-1,
                              nthreads=threads or torch.get_num_threads())
    values *= np.exp(-2j * np.pi * (k3 @ first))
    return values.reshape(len(rotations), -1)


def _project(spline: np.ndarray, m: Map, rot: np.ndarray, centre: np.ndarray, pixel: float,
             size: int, grid: FourierGrid) -> np.ndarray:
    """Fourier coefficients (n_k,) of the projection of ``m`` along ``rot[2]`` about ``centre``."""
    half = float(np.linalg.norm(m.box_size)) / 2 + pixel       # any rotated box fits in +-half
    steps = np.arange(-int(np.ceil(half / pixel)), int(np.ceil(half / pixel)) + 1)
    axis = steps * pixel
    image = np.zeros((len(axis), len(axis)))
    for w_chunk in np.array_split(axis, max(1, len(axis) // 16)):
        v, u, w = np.meshgrid(axis, axis, w_chunk, indexing="ij")
        pts = (centre[:, None] + rot.T @ np.stack([u.ravel(), v.ravel(), w.ravel()]))   # (3, n) x,y,z
        idx = (pts - m.origin[:, None]) / m.voxel_size[:, None]
        vals = ndimage.map_coordinates(spline, idx[::-1], order=3, prefilter=False, mode="constant")
        image += vals.reshape(len(axis), len(axis), len(w_chunk)).sum(-1)
    folded = np.zeros((size, size))                           # period size*pixel, centre at size/2
    fold = (steps + size // 2) % size
    np.add.at(folded, (fold[:, None], fold[None, :]), image)
    f = np.fft.fft2(folded)                                   # [y freq, x freq]
    sign = (-1.0) ** (grid.mx + grid.my)                       # phase origin at the image centre
    return f[grid.my % size, grid.mx] * sign


def gmm_projections(xyz: torch.Tensor, amplitude: torch.Tensor, sigma: float | torch.Tensor,
                    rotations: torch.Tensor, centre: torch.Tensor, grid: FourierGrid
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary Fourier coefficients of GMM projections, each (..., B, n_k).

    xyz: (..., N, 3) Å; amplitude: (N,); sigma: Å, one width or (N,) per atom; rotations:
    (B, 3, 3); centre: (3,) Å. The phase ramp exp(-2 pi i (kx u + ky v)) and each Gaussian's
    envelope factorise over the distinct kx and ky, so each image is four (n_y, N) x (N, n_x) real
    matrix products, taken over ky >= 0 only: at -ky the cosines are the same and the sines change
    sign, so the products P = Acos.Ccos, Q = Asin.Csin, R = Acos.Csin, S = Asin.Ccos give
    real = P -+ Q and imag = -(R +- S) for +-ky.
    """
    dev, dt = xyz.device, xyz.dtype
    rel = xyz - centre
    uv = torch.einsum("...nj,bij->...bin", rel, rotations[:, :2])   # (..., B, 2, N)
    kx_values, ky_abs = np.unique(grid.kx), np.unique(np.abs(grid.ky))
    kx = torch.as_tensor(kx_values, device=dev, dtype=dt)
    ky = torch.as_tensor(ky_abs, device=dev, dtype=dt)
    px = 2 * np.pi * uv[..., 0, :, None] * kx                        # (..., B, N, n_x)
    py = 2 * np.pi * uv[..., 1, :, None] * ky                        # (..., B, N, n_y+)
    var = torch.as_tensor(sigma, device=dev, dtype=dt).reshape(-1, 1) ** 2   # (N or 1, 1)
    ex, ey = torch.exp(-2 * np.pi ** 2 * var * kx ** 2), torch.exp(-2 * np.pi ** 2 * var * ky ** 2)
    cx, sx = torch.cos(px) * ex, torch.sin(px) * ex
    a = amplitude.to(dev, dt)[:, None] * ey                          # (N, n_y+)
    acy, asy = (a * torch.cos(py)).transpose(-1, -2), (a * torch.sin(py)).transpose(-1, -2)
    p, q, r, s = acy @ cx, asy @ sx, acy @ sx, asy @ cx               # (..., B, n_y+, n_x)
    real = torch.stack([p - q, p + q], -3).flatten(-3)                # [ky >= 0 | ky < 0]
    imag = torch.stack([-(r + s), s - r], -3).flatten(-3)
    iy = np.searchsorted(ky_abs, np.abs(grid.ky)) + (grid.ky < 0) * len(ky_abs)
    flat = torch.as_tensor(iy * len(kx_values) + np.searchsorted(kx_values, grid.kx), device=dev)
    return real[..., flat], imag[..., flat]


def frc_per_ring(model: tuple[torch.Tensor, torch.Tensor], target: tuple[torch.Tensor, torch.Tensor],
                 ring: torch.Tensor, n_rings: int) -> torch.Tensor:
    """FRC of each image and ring, (..., B, n_rings); rings with no signal give 0.

    model, target: (real, imag) each (..., B, n_k); ring: (n_k,) long.
    """
    mr, mi = model
    tr, ti = target

    def ring_sum(values):
        out = values.new_zeros(*values.shape[:-1], n_rings)
        return out.index_add(-1, ring, values)

    cross = ring_sum(mr * tr + mi * ti)
    pm = ring_sum(mr * mr + mi * mi)
    pt = ring_sum(tr * tr + ti * ti)
    return cross / torch.sqrt(pm * pt + 1e-20)
