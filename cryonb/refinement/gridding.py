"""GMM projections by gridding: each atom's 2D Gaussian drawn on a fine periodic image, one FFT each.

The analytic projections (:func:`.projection.gmm_projections`) cost about N x n_x x n_y per image
(atoms times the kept frequencies), so their cost grows as atoms x box^2. Here each projected
atom is drawn as its own normalised 2D Gaussian of width sigma_n over a (2r+1)^2 footprint of an
n x n image whose period is the Fourier grid's (``grid.size * grid.pixel``); the image's FFT,
read at the kept frequencies, is then the analytic transform up to two small errors, both set by
``tol``:

* aliasing: the pixel ``h`` is small enough that the Gaussian's transform one sampling frequency
  away from the highest kept frequency k is below ``tol`` (``exp(-2 pi^2 sigma_min^2 ((1/h - k)^2
  - k^2)) <= tol``);
* truncation: the footprint reaches ``sqrt(2 ln(1/tol)) sigma_max``, where the Gaussian has fallen
  to ``tol`` of its peak.

Atoms are grouped by width (:func:`gridding_classes`), each group on its own image with pixels
matched to its widths. Cost per image: N (2r+1)^2 for the drawing plus n^2 log n per group for the
FFT, independent of the box for the atoms. Wrapping onto the period is exact: the analytic coefficients at k = m / period are those
of the periodised projection. Memory stays bounded: atoms are drawn in chunks, and the backward
pass redraws each chunk's footprints instead of keeping them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .projection import FourierGrid

TOLERANCE = 1e-4     # relative error of the gridded coefficients (aliasing and truncation)
CHUNK_ELEMENTS = 2 ** 22   # footprint values per chunk (images x atoms x footprint)
CLASS_RATIO = 1.3    # widest / narrowest Gaussian drawn on one image (gridding_classes)


def smooth_size(n: int) -> int:
    """The smallest integer >= n whose prime factors are 2, 3 and 5 (fast FFT sizes)."""
    m = max(1, int(n))
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


@dataclass(frozen=True)
class GriddingPlan:
    """Image edge ``n`` (pixels) and pixel (Å) over the grid's period; footprint half-width
    ``radius`` (pixels); the sigma range and tolerance it was made for."""

    n: int
    pixel: float
    radius: int
    sigma_min: float
    sigma_max: float
    tol: float

    @classmethod
    def build(cls, grid: FourierGrid, sigma_min: float, sigma_max: float, tol: float = TOLERANCE) -> "GriddingPlan":
        if not 0 < sigma_min <= sigma_max or not 0 < tol < 1:
            raise ValueError(f"need 0 < sigma_min <= sigma_max and 0 < tol < 1, got {sigma_min}, {sigma_max}, {tol}")
        period = grid.size * grid.pixel
        k = float(np.sqrt(grid.kx ** 2 + grid.ky ** 2).max())
        inv_h = k + math.sqrt(k * k + math.log(1 / tol) / (2 * math.pi ** 2 * sigma_min ** 2))
        n = smooth_size(max(math.ceil(period * inv_h), 2 * grid.n_rings + 1))
        pixel = period / n
        radius = math.ceil(math.sqrt(2 * math.log(1 / tol)) * sigma_max / pixel)
        return cls(n, pixel, radius, sigma_min, sigma_max, tol)

    @property
    def footprint(self) -> int:
        return 2 * self.radius + 1


def _footprints(uv: torch.Tensor, s: torch.Tensor, radius: int, n: int):
    """Separable footprints of atoms at pixel positions ``uv`` (M, N, 2) with widths ``s`` (N,) pixels.

    Returns flat indices (M, N * W * W) into the padded image (n + 2 radius)^2 [y, x] (a footprint
    starts at its corner's pixel modulo n, so it never leaves the padded image; :func:`_fold` wraps
    the border back), the x and y weights (M, N, W) and the offsets of the footprint pixels from the
    atoms (M, N, W) in x and y, pixels.
    """
    m, k = uv.shape[:2]
    offsets = torch.arange(-radius, radius + 1, device=uv.device)
    base = torch.floor(uv)                                                  # (M, N, 2)
    d = (base - uv)[..., None] + offsets.to(uv.dtype)                       # (M, N, 2, W)
    w = torch.exp(-0.5 * d * d / (s * s)[:, None, None])
    corner = (base.long() - radius) % n                                     # (M, N, 2) x, y
    edge = n + 2 * radius
    start = corner[..., 1] * edge + corner[..., 0]                          # (M, N)
    steps = torch.arange(2 * radius + 1, device=uv.device)
    pattern = (steps[:, None] * edge + steps[None, :]).reshape(-1)          # (W * W,) [y, x]
    flat = (start[..., None] + pattern).reshape(m, -1)
    return flat, w[..., 0, :], w[..., 1, :], d[..., 0, :], d[..., 1, :]


def _fold(padded: torch.Tensor, n: int) -> torch.Tensor:
    """(M, n, n) periodic image from the padded (M, n + 2r, n + 2r) one (border wrapped back)."""
    out = padded[:, :n, :n].clone()
    extra = padded.shape[-1] - n
    if extra:
        out[:, :extra, :n] += padded[:, n:, :n]
        out[:, :n, :extra] += padded[:, :n, n:]
        out[:, :extra, :extra] += padded[:, n:, n:]
    return out


def _unfold(image: torch.Tensor, edge: int) -> torch.Tensor:
    """The adjoint of :func:`_fold`: (M, n, n) -> (M, edge, edge) periodic extension."""
    n = image.shape[-1]
    reps = -(-edge // n)
    return image.repeat(1, reps, reps)[:, :edge, :edge]


class _DrawGaussians(torch.autograd.Function):
    """Images (M, n, n) of atoms at ``uv`` (M, N, 2) pixels with amplitudes ``a`` (N,) (already
    divided by 2 pi s^2) and widths ``s`` (N,) pixels; differentiable in ``uv`` only."""

    @staticmethod
    def forward(ctx, uv, a, s, radius: int, n: int, chunk: int):
        m, edge = uv.shape[0], n + 2 * radius
        padded = uv.new_zeros(m, edge * edge)
        for lo in range(0, uv.shape[1], chunk):
            sl = slice(lo, lo + chunk)
            flat, wx, wy, _, _ = _footprints(uv[:, sl], s[sl], radius, n)
            values = a[sl, None, None] * wy[..., :, None] * wx[..., None, :]
            padded.scatter_add_(1, flat, values.reshape(m, -1))
        ctx.save_for_backward(uv, a, s)
        ctx.radius, ctx.n, ctx.chunk = radius, n, chunk
        return _fold(padded.reshape(m, edge, edge), n)

    @staticmethod
    def backward(ctx, grad_image):
        uv, a, s = ctx.saved_tensors
        m, n, r = uv.shape[0], ctx.n, ctx.radius
        g = _unfold(grad_image, n + 2 * r).reshape(m, -1)
        grad = torch.zeros_like(uv)
        for lo in range(0, uv.shape[1], ctx.chunk):
            sl = slice(lo, lo + ctx.chunk)
            flat, wx, wy, dx, dy = _footprints(uv[:, sl], s[sl], r, n)
            gv = torch.gather(g, 1, flat).reshape(*wx.shape, wx.shape[-1])   # (M, N, W, W) [y, x]
            t = torch.matmul(gv, torch.stack([wx * dx, wx], -1))               # (M, N, W, 2) sums over x
            scale = (a[sl] / (s[sl] * s[sl]))[None, :]
            grad[:, sl, 0] = scale * (t[..., 0] * wy).sum(-1)
            grad[:, sl, 1] = scale * (t[..., 1] * wy * dy).sum(-1)
        return grad, None, None, None, None, None


def gridding_classes(grid: FourierGrid, sigma, tol: float = TOLERANCE,
                     ratio: float = CLASS_RATIO) -> list[tuple[GriddingPlan, np.ndarray]]:
    """Atoms grouped by width, each group with its own image: ``[(plan, atom indices)]``.

    Widths within a group span at most ``ratio``, so every atom is drawn on pixels matched to its
    own width and its footprint stays near (2 sqrt(2 ln(1/tol)) ratio + 1)^2 pixels: a model whose
    B-factors widen some Gaussians three-fold would otherwise draw every atom over nine times the
    footprint on the narrowest atoms' pixels.
    """
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)
    level = np.floor(np.log(sigma / sigma.min()) / np.log(ratio) + 1e-9).astype(int)
    out = []
    for j in np.unique(level):
        idx = np.flatnonzero(level == j)
        out.append((GriddingPlan.build(grid, float(sigma[idx].min()), float(sigma[idx].max()), tol), idx))
    return out


def gridded_projections(xyz: torch.Tensor, amplitude: torch.Tensor, sigma: float | torch.Tensor,
                        rotations: torch.Tensor, centre: torch.Tensor, grid: FourierGrid,
                        classes: list[tuple[GriddingPlan, np.ndarray]] | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary Fourier coefficients of GMM projections, each (..., B, n_k), as
    :func:`.projection.gmm_projections` gives them (same arguments), by gridding.

    classes: atoms grouped by width with their images (default: :func:`gridding_classes` at
    :data:`TOLERANCE`). The widths and amplitudes take no gradient.
    """
    dev, dt = xyz.device, xyz.dtype
    n_atoms = xyz.shape[-2]
    sig = torch.as_tensor(sigma, device=dev, dtype=dt).detach().reshape(-1).expand(n_atoms)
    amp = amplitude.to(dev, dt).detach()
    if classes is None:
        classes = gridding_classes(grid, sig.cpu().numpy())
    uv = torch.einsum("...nj,bij->...bni", xyz - centre, rotations[:, :2].to(dt))   # (..., B, N, 2) Å
    n_images = uv.shape[:-2]
    uv = uv.reshape(-1, n_atoms, 2)
    total = None
    for plan, idx in classes:
        i = torch.as_tensor(idx, device=dev)
        s = sig[i] / plan.pixel
        a = amp[i] / (2 * math.pi * s * s)
        chunk = max(1, CHUNK_ELEMENTS // (uv.shape[0] * plan.footprint ** 2))
        image = _DrawGaussians.apply(uv[:, i] / plan.pixel, a, s, plan.radius, plan.n, chunk)
        f = torch.fft.rfft2(image)                                        # (M, n, n//2 + 1) [y, x]
        flat = torch.as_tensor((grid.my % plan.n) * (plan.n // 2 + 1) + grid.mx, device=dev)
        coeffs = f.reshape(f.shape[0], -1)[:, flat]
        total = coeffs if total is None else total + coeffs
    out_shape = (*n_images, len(grid.kx))
    return total.real.reshape(out_shape), total.imag.reshape(out_shape)


# Cost per image (microseconds, forward + backward in float32 on two cores of this project's CPU,
# with freed memory reused; fitted to AdK, CFTR 6MSM and four CFTR copies at 3.2, 5 and 8 Å with
# their B-factors, within 20 %): the analytic form pays per atom and per atom and kept frequency
# pair (n_x n_y), gridding per atom, per footprint pixel and per FFT (n^2 log2 n per width class).
ANALYTIC_US = (0.25, 0.0003)              # per atom, per atom and n_x n_y
GRIDDING_US = (0.03, 0.0038, 0.00002)     # per atom, per footprint pixel, per n^2 log2 n


def projection_costs(grid: FourierGrid, sigma: np.ndarray, tol: float = TOLERANCE) -> dict[str, float]:
    """Estimated microseconds per image of the analytic and the gridded projections of atoms
    with widths ``sigma`` (N,) Å."""
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)
    nx, ny = len(np.unique(grid.kx)), len(np.unique(grid.ky))
    analytic = len(sigma) * (ANALYTIC_US[0] + ANALYTIC_US[1] * nx * ny)
    gridding = len(sigma) * GRIDDING_US[0] + sum(
        GRIDDING_US[1] * len(idx) * plan.footprint ** 2 + GRIDDING_US[2] * plan.n ** 2 * math.log2(plan.n)
        for plan, idx in gridding_classes(grid, sigma, tol))
    return {"analytic": analytic, "gridding": gridding}


ANALYTIC_MEMORY = 2 * 2 ** 30   # bytes: the analytic tables of one batch must fit in this
ANALYTIC_TABLES = 8             # (images, atoms, frequencies) float32 tables held by a forward + backward


def analytic_bytes(grid: FourierGrid, n_atoms: int, images: int = 32) -> int:
    """Memory (bytes) of the analytic projections' tables for ``images`` images of ``n_atoms`` atoms."""
    nx, ny = len(np.unique(grid.kx)), len(np.unique(np.abs(grid.ky)))
    return ANALYTIC_TABLES * 4 * images * n_atoms * (nx + ny)


def choose_projection(grid: FourierGrid, sigma: np.ndarray, method: str = "auto") -> str:
    """"analytic" or "gridding": ``method`` itself, or for "auto" the cheaper by
    :func:`projection_costs` (analytic for small models and boxes, gridding for large ones), and
    gridding whenever the analytic tables of a 32-image batch would pass :data:`ANALYTIC_MEMORY`."""
    if method in ("analytic", "gridding"):
        return method
    if method != "auto":
        raise ValueError(f"projection method must be 'auto', 'analytic' or 'gridding', got {method!r}")
    if analytic_bytes(grid, len(np.ravel(sigma))) > ANALYTIC_MEMORY:
        return "gridding"
    costs = projection_costs(grid, sigma)
    return "gridding" if costs["gridding"] < costs["analytic"] else "analytic"
