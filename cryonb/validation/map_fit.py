"""Model-to-map fit as wwPDB and Phenix report it: CC_mask, Q-score and model-map FSC.

* :func:`cc_mask` - Phenix's CC_mask (Afonine et al. 2018, Acta Cryst D74:814; as
  ``mmtbx.maps.correlation.five_cc`` computes it): the Pearson correlation between the
  map and a model map computed at the map's resolution, over the voxels of the
  molecular (bulk-solvent) mask around the model.
* :func:`qscore` - Q-score (Pintilie et al. 2020, Nature Methods 17:328): per atom,
  the correlation about the mean between map values sampled on shells around the atom
  and a reference Gaussian of width 0.6 Å.
* :func:`map_fit_metrics` - both plus the model-map FSC = 0.5 resolution, in one dict.

All coordinates are in Angstrom; maps are :class:`cryonb.maps.Map` ((z, y, x) data).
Hydrogens are ignored everywhere, as Pintilie's Q-score does.
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..density.filters import frequency_grid
from ..density.fsc import FSCCurve, model_map_fsc
from ..density.simulate import model_map
from ..errors import ModelError
from ..maps import Map, check_overlap

# Van der Waals radii (Å) of cctbx's table (cctbx.eltbx.van_der_waals_radii), which
# Phenix's molecular mask uses; other elements fall back to gemmi's radius.
PHENIX_VDW_RADII = {"H": 1.20, "C": 1.775, "N": 1.50, "O": 1.45, "S": 1.80, "P": 1.90,
                    "SE": 1.90, "NA": 2.27, "MG": 1.73, "CL": 1.75, "K": 2.75, "CA": 1.95,
                    "MN": 1.19, "FE": 1.26, "ZN": 1.39}
SOLVENT_RADIUS = 1.1       # Å, Phenix mask default (mmtbx.masks)
SHRINK_RADIUS = 0.9        # Å, Phenix mask default (shrink_truncation_radius)


# ----------------------------------------------------------------------------- atoms
@dataclass
class HeavyAtoms:
    """The non-hydrogen atoms of a model's first model, in file order.

    xyz: (N, 3) Å; element: (N,) upper-case symbols; residue: (N,) index into
    ``residues``, a list of (chain, seqid, residue name); name: (N,) atom names.
    """

    xyz: np.ndarray
    element: np.ndarray
    name: np.ndarray
    residue: np.ndarray
    residues: list[tuple[str, str, str]]


def heavy_atoms(st: gemmi.Structure) -> HeavyAtoms:
    """Collect the non-hydrogen atoms of ``st``'s first model; ModelError if there are none."""
    if len(st) == 0:
        raise ModelError(st.name or None, "model contains no atoms")
    xyz, element, name, residue, residues = [], [], [], [], []
    for chain in st[0]:
        for res in chain:
            kept = [a for a in res if not a.is_hydrogen()]
            if not kept:
                continue
            residues.append((chain.name, str(res.seqid.num) + res.seqid.icode.strip(), res.name))
            for a in kept:
                xyz.append(a.pos.tolist())
                element.append(a.element.name.upper())
                name.append(a.name)
                residue.append(len(residues) - 1)
    if not xyz:
        raise ModelError(st.name or None, "model contains no atoms other than hydrogens")
    return HeavyAtoms(np.array(xyz, dtype=np.float64), np.array(element), np.array(name),
                      np.array(residue), residues)


def _vdw_radii(element: np.ndarray) -> np.ndarray:
    table = {e: PHENIX_VDW_RADII.get(e, gemmi.Element(e).vdw_r or 1.8) for e in set(element)}
    return np.array([table[e] for e in element], dtype=np.float64)


# ----------------------------------------------------------------------------- CC_mask
def molecular_mask(st: gemmi.Structure, m: Map, solvent_radius: float = SOLVENT_RADIUS,
                   shrink_radius: float = SHRINK_RADIUS) -> np.ndarray:
    """Phenix's molecular (bulk-solvent) mask on ``m``'s grid: bool (nz, ny, nx), True = model.

    As in Jiang & Brünger (1994) and cctbx's atom mask: a voxel is model when it lies
    within an atom's van der Waals radius, or within (radius + ``solvent_radius``) of
    some atom and farther than ``shrink_radius`` from every voxel outside all those
    enlarged spheres (solvent). Radii in Å.
    """
    atoms = heavy_atoms(st)
    check_overlap(atoms.xyz, m, st.name)
    radius = _vdw_radii(atoms.element)
    reach = radius.max() + solvent_radius
    lo, hi = _sub_box(atoms.xyz, m, reach + shrink_radius + 2 * m.voxel_size.max())
    axes = [np.arange(lo[i], hi[i]) * m.voxel_size[i] + m.origin[i] for i in range(3)]
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")                       # (nx', ny', nz')
    voxels = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], axis=1)
    k = min(6, len(atoms.xyz))
    dist, idx = cKDTree(atoms.xyz).query(voxels, k=k, distance_upper_bound=reach)
    dist, idx = dist.reshape(len(voxels), k), idx.reshape(len(voxels), k)
    radius_pad = np.append(radius, 0.0)                                   # idx == N: no atom
    excess = (dist - radius_pad[idx]).min(axis=1)                         # inf where none near
    excess = excess.reshape(gx.shape).transpose(2, 1, 0)                  # (nz', ny', nx')
    core, accessible = excess <= 0.0, excess <= solvent_radius
    if accessible.all():
        model = accessible
    else:
        to_solvent = ndimage.distance_transform_edt(accessible, sampling=m.voxel_size[::-1])
        model = core | (accessible & (to_solvent > shrink_radius))
    out = np.zeros(m.shape, dtype=bool)
    out[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = model
    return out


def _sub_box(xyz: np.ndarray, m: Map, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Voxel index bounds (x, y, z) [lo, hi) of the atoms' box plus ``margin`` Å, clipped to ``m``."""
    shape = np.array(m.shape[::-1])
    lo = np.floor(m.xyz_to_index(xyz.min(0) - margin)).astype(int)
    hi = np.ceil(m.xyz_to_index(xyz.max(0) + margin)).astype(int) + 1
    return np.clip(lo, 0, shape), np.clip(hi, 0, shape)


def phenix_model_map(st: gemmi.Structure, m: Map, resolution: float) -> Map:
    """The model's density on ``m``'s grid as Phenix's map_calc: electron scattering factors,
    the model's B-factors, Fourier terms with d > ``resolution`` Å only (sharp cut-off)."""
    if not resolution > 0:
        raise ValueError(f"resolution must be positive, got {resolution} Å")
    calc = model_map(st, m)
    keep = frequency_grid(m.shape, m.voxel_size) < 1.0 / resolution
    f = np.fft.rfftn(calc.data.astype(np.float64)) * keep
    return m.copy(data=np.fft.irfftn(f, s=m.shape, axes=(0, 1, 2)).astype(np.float32))


def cc_mask(st: gemmi.Structure, m: Map, resolution: float) -> float:
    """Phenix CC_mask between map ``m`` and model ``st`` at ``resolution`` Å.

    Pearson correlation of the map and :func:`phenix_model_map` over the voxels of
    :func:`molecular_mask`. Raises OverlapError when the model lies mostly outside the map.

    Differences from Phenix: the model map uses gemmi's electron scattering factors
    (cctbx: its own electron table); hydrogens are left out of the model map and the mask;
    the box is not treated as a periodic P1 cell, so atoms near one face do not mask voxels
    on the opposite face. On AdK maps CC_mask agrees with cctbx's ``five_cc`` within 0.001
    and the mask voxel counts agree exactly (benchmarks/map_fit_adk.py).
    """
    calc = phenix_model_map(st, m, resolution)
    mask = molecular_mask(st, m)
    return _pearson(m.data[mask], calc.data[mask])


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


# ----------------------------------------------------------------------------- Q-score
@dataclass
class ResidueQ:
    """Mean Q-score of one residue's non-hydrogen atoms inside the map."""

    chain: str
    seqid: str
    name: str
    q: float
    n_atoms: int


@dataclass
class QScoreResult:
    """Q-scores: ``atom_q`` (N,) per non-hydrogen atom in file order (NaN outside the map),
    ``atoms`` the atoms they belong to, ``residues`` per residue, ``overall`` the mean
    over atoms; ``reference`` = (A, B) of the reference Gaussian in map units."""

    atom_q: np.ndarray
    atoms: HeavyAtoms
    residues: list[ResidueQ]
    overall: float
    reference: tuple[float, float]

    @property
    def residue_q(self) -> np.ndarray:
        """(n_residues,) mean Q per residue."""
        return np.array([r.q for r in self.residues])


def sphere_points(n: int) -> np.ndarray:
    """``n`` >= 2 roughly even points on the unit sphere, (n, 3): the Saff & Kuijlaars (1997)
    generalised spiral, the point set MapQ uses (pole to pole along z)."""
    k = np.arange(n)
    h = -1.0 + 2.0 * k / (n - 1)
    theta = np.arccos(h)
    step = np.zeros(n)
    inner = (k > 0) & (k < n - 1)
    step[inner] = 3.6 / np.sqrt(n * (1.0 - h[inner] ** 2))
    phi = np.cumsum(step) % (2 * np.pi)
    phi[-1] = 0.0
    s = np.sin(theta)
    return np.stack([s * np.cos(phi), s * np.sin(phi), h], axis=1)


def _neighbours(xyz: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Per atom the offsets (N, K, 3) atom - neighbour (Å) and |offset|^2 (N, K) of every
    other atom within ``cutoff`` Å; padded with far-away entries."""
    lists = cKDTree(xyz).query_ball_point(xyz, cutoff)
    lists = [[j for j in nb if j != i] for i, nb in enumerate(lists)]
    k = max(1, max(len(nb) for nb in lists))
    index = np.full((len(xyz), k), len(xyz))
    for i, nb in enumerate(lists):
        index[i, :len(nb)] = nb
    padded = np.vstack([xyz, np.full((1, 3), 1e6)])
    offset = xyz[:, None, :] - padded[index]
    return offset, (offset ** 2).sum(-1)


def _shell_points(xyz, offset, offset2, radius, n_points, max_tries):
    """Sample points at ``radius`` Å around every atom, as MapQ chooses them.

    Try ``n_points + 2t`` spiral points (t = 0, 1, ...); keep the points with no other
    atom nearer than 0.9 x radius; stop for an atom at the first try that keeps at
    least ``n_points``. An atom that never gets there gets no points on this shell
    (as MapQ's code does). Returns (points (P, 3), owner atom index (P,)).
    """
    pts, owner = [], []
    active = np.arange(len(xyz))
    limit = (0.9 * radius) ** 2
    for t in range(max_tries):
        unit = sphere_points(n_points + 2 * t)                            # (n, 3)
        proj = np.einsum("nc,akc->ank", unit, offset[active])             # u . (a - q)
        d2 = offset2[active][:, None, :] + radius ** 2 + 2 * radius * proj
        ok = (d2 >= limit).all(axis=2)                                    # (A, n)
        done = ok.sum(axis=1) >= n_points
        a, j = np.nonzero(ok & done[:, None])
        pts.append(xyz[active[a]] + radius * unit[j])
        owner.append(active[a])
        active = active[~done]
        if not len(active):
            break
    return np.concatenate(pts), np.concatenate(owner)


def reference_gaussian_params(m: Map) -> tuple[float, float]:
    """Pintilie's reference height A and offset B (map units): with mean and SD over the whole
    box, high = min(mean + 10 SD, max), low = max(mean - SD, min); A = high - low, B = low."""
    d = m.data.astype(np.float64)
    mean, sd = d.mean(), d.std()
    high, low = min(mean + 10 * sd, d.max()), max(mean - sd, d.min())
    return float(high - low), float(low)


def _sample(m: Map, xyz: np.ndarray) -> np.ndarray:
    """Trilinear map values at ``xyz`` (P, 3) Å; 0 outside the box."""
    return m.values_at(xyz)


def qscore(st: gemmi.Structure, m: Map, sigma: float = 0.6, n_points: int = 8,
           max_radius: float = 2.0, step: float = 0.1, max_tries: int = 50) -> QScoreResult:
    """Q-score of every non-hydrogen atom of ``st`` in map ``m`` (Pintilie et al. 2020).

    Per atom: the map value at the atom (counted ``n_points`` times) and at the points of
    shells 0.1, 0.2, ... ``max_radius`` Å (:func:`_shell_points`), trilinearly interpolated;
    the reference A exp(-r^2 / (2 sigma^2)) + B at each point's shell radius r
    (:func:`reference_gaussian_params`); Q = their correlation about the mean. ``sigma``,
    ``max_radius``, ``step`` in Å. Atoms whose centre lies outside the box get NaN and are
    left out of the residue and overall means. Raises OverlapError when most atoms are outside.

    Follows MapQ's code (what EMDB runs) where it and Pintilie's published pseudocode
    differ: a shell on which an atom finds fewer than ``n_points`` free points in
    ``max_tries`` tries is left out for that atom (the pseudocode keeps the points found),
    and a point is rejected when another atom lies within 0.9 x r of it (the pseudocode
    says "closer to another atom than to this one"). Deviation: MapQ samples a trimmed
    copy of the map whose origin it rounds to the voxel lattice in float32, a slight extra
    interpolation for maps whose origin is off the lattice (jqscore's ``mapq_compat``);
    here the map is sampled as it is. Points outside the box read 0. Because Q is a
    correlation about the mean, A and B do not change it; they are computed and returned
    to follow the definition. Per atom this matches jqscore 0.2.0 (sigma 0.6,
    ``mapq_compat=False``) to 1e-5 on AdK and CFTR maps (benchmarks/map_fit_adk.py).
    """
    atoms = heavy_atoms(st)
    check_overlap(atoms.xyz, m, st.name)
    n = len(atoms.xyz)
    height, offset_b = reference_gaussian_params(m)
    radii = np.arange(1, int(round(max_radius / step)) + 1) * step
    offset, offset2 = _neighbours(atoms.xyz, 1.9 * max_radius)
    owner, shell_r, pts = [np.arange(n)], [np.zeros(n)], [atoms.xyz]
    for r in radii:
        p, o = _shell_points(atoms.xyz, offset, offset2, r, n_points, max_tries)
        pts.append(p)
        owner.append(o)
        shell_r.append(np.full(len(o), r))
    owner, shell_r = np.concatenate(owner), np.concatenate(shell_r)
    values = _sample(m, np.concatenate(pts)).astype(np.float64)
    reference = height * np.exp(-shell_r ** 2 / (2 * sigma ** 2)) + offset_b
    weight = np.where(shell_r == 0, float(n_points), 1.0)
    atom_q = _weighted_correlation(owner, values, reference, weight, n)
    atom_q[~m.contains(atoms.xyz)] = np.nan
    return QScoreResult(atom_q, atoms, _residue_means(atoms, atom_q),
                        float(np.nanmean(atom_q)) if np.isfinite(atom_q).any() else float("nan"),
                        (height, offset_b))


def _weighted_correlation(group, x, y, w, n_groups) -> np.ndarray:
    """Per group, the weighted correlation about the mean of x and y (two-pass, float64)."""
    def gsum(v):
        return np.bincount(group, v * w, n_groups)
    total = gsum(np.ones_like(x))
    dx = x - (gsum(x) / total)[group]
    dy = y - (gsum(y) / total)[group]
    sxx, syy, sxy = gsum(dx * dx), gsum(dy * dy), gsum(dx * dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sxx * syy > 0, sxy / np.sqrt(sxx * syy), np.nan)


def _residue_means(atoms: HeavyAtoms, atom_q: np.ndarray) -> list[ResidueQ]:
    ok = np.isfinite(atom_q)
    count = np.bincount(atoms.residue[ok], minlength=len(atoms.residues))
    total = np.bincount(atoms.residue[ok], atom_q[ok], minlength=len(atoms.residues))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return [ResidueQ(c, s, name, float(q), int(k))
            for (c, s, name), q, k in zip(atoms.residues, mean, count)]


# ----------------------------------------------------------------------------- all three
def map_fit_metrics(st: gemmi.Structure, m: Map, resolution: float) -> dict:
    """Model-to-map fit of ``st`` in ``m`` at the map's ``resolution`` (Å).

    Returns a dict: ``fsc05_resolution`` (Å, model-map FSC = 0.5 crossing, unmasked,
    :func:`cryonb.density.model_map_fsc`), ``cc_mask``, ``qscore`` (mean over atoms), and
    for callers ``fsc_curve`` (:class:`FSCCurve`), ``qscore_residues`` (list of
    :class:`ResidueQ`) and ``qscore_result`` (:class:`QScoreResult`).
    Raises OverlapError when model and map do not overlap, ModelError for an empty model.
    """
    heavy_atoms(st)                       # empty-model check before any map work
    curve: FSCCurve = model_map_fsc(st, m)
    q = qscore(st, m)
    return {"fsc05_resolution": curve.resolution(0.5), "fsc_average": float(curve.average(resolution)),
            "cc_mask": cc_mask(st, m, resolution),
            "qscore": q.overall, "fsc_curve": curve, "qscore_residues": q.residues,
            "qscore_result": q}
