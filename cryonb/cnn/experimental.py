"""Training maps that look experimental, not like clean sums of atoms.

A cryo-EM map differs from a simulated one in ways a network trained on clean maps never saw:

* atoms blurred by their own B-factors, a global B and a resolution that falls across the map
  (local resolution: here a B that rises linearly along a random direction);
* noise whose power falls with frequency, as high as the signal's near the stated resolution
  (signal-to-noise per shell drawn around 1/3, where a half-map FSC reaches 0.143);
* sharpening (a negative B on signal and noise), and a low-pass at the resolution or none;
* density that carries no C-alpha label: nucleic acids (the 1K5I RNA hairpin), ligands and
  lipid tails, a detergent belt; neighbouring protein chains (labelled: their C-alphas are real);
* regions too disordered to model (a segment smeared by a large B: its labels are *ignored*,
  :data:`IGNORE`, since a deposited model would leave them out);
* masks around the particle, and voxel sizes of 0.8-1.5 Å resampled to the network's 1.5 Å as at
  inference.

:func:`experimental_sample` makes one such map with its labels; every draw comes from the
generator passed in, so a seed reproduces the map.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import gemmi
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..density import cosine_edge, frequency_grid, model_map, pad, resample
from ..density.noise import shell_noise
from ..density.simulate import box_around_points
from ..io import model_xyz, set_model_xyz
from ..maps import Map
from .dataset import (DataConfig, Sample, ca_labels, ca_xyz, draw_resolution, load_structure, normalised, rotated,
                      training_batch)

IGNORE = -100            # label of voxels the loss skips (torch's cross-entropy ignore_index)
FILTERS = ("cosine", "butterworth", "none")


@dataclass
class RealismConfig:
    """Ranges (low, high) drawn per map and chances per map of each unlabelled component."""

    global_b: tuple[float, float] = (0.0, 100.0)       # Å^2 added to every atom's own B
    global_b_per_r2: tuple[float, float] | None = None # instead: global B = this x resolution^2 (Å^2 / Å^2),
                                                       # as a reconstruction's B grows with its resolution
    local_b: tuple[float, float] = (0.0, 150.0)        # Å^2 more at the far side of the local-resolution ramp
    sharpen_b: tuple[float, float] = (-150.0, 50.0)    # Å^2 on signal and noise (negative sharpens; then
                                                       # always low-passed, or the noise beyond R explodes)
    shell_snr: tuple[float, float] = (0.2, 1.5)        # signal / noise power in the shell at the resolution (log)
    snr_rise: tuple[float, float] = (2.0, 6.0)         # k: per-shell SNR = snr x exp(k (1 - (s R)^2)), rising
                                                       # to low frequency as a half-map FSC does
    voxel_size: tuple[float, float] = (0.8, 1.5)       # Å, the map's own voxel before resampling
    p_neighbour: float = 0.5                           # another protein chain touching this one (labelled)
    p_nucleic: float = 0.3                             # an RNA hairpin beside it (unlabelled)
    p_ligands: float = 0.5                             # 1-4 ligands or lipid tails on the surface (unlabelled)
    p_belt: float = 0.15                               # a detergent belt around it (unlabelled)
    p_disordered: float = 0.3                          # a smeared segment (labels ignored)
    p_mask: float = 0.3                                # solvent masked to zero, soft edge

    def as_dict(self) -> dict:
        return asdict(self)


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


# ----------------------------------------------------------------------------- components
def place_beside(mobile: np.ndarray, fixed: np.ndarray, rng: np.random.Generator,
                 gap: float = 4.0) -> np.ndarray:
    """``mobile`` (M, 3) moved along a random direction to touch ``fixed`` (N, 3): its closest
    atom ``gap`` Å (to 0.5 Å) from ``fixed``'s. Returns the moved copy."""
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    tree = cKDTree(fixed)
    centred = mobile - mobile.mean(0) + fixed.mean(0)
    lo, hi = 0.0, float(np.ptp(fixed, 0).max() + np.ptp(mobile, 0).max() + gap)
    while hi - lo > 0.5:
        mid = (lo + hi) / 2
        if tree.query(centred + mid * direction)[0].min() < gap:
            lo = mid
        else:
            hi = mid
    return centred + hi * direction


def chain_tail(rng: np.random.Generator, n: int, bond: float = 1.53) -> np.ndarray:
    """(n, 3) a zigzag carbon chain (a lipid tail or a ligand's backbone), random gauche turns."""
    xyz = [np.zeros(3), np.array([bond, 0.0, 0.0])]
    ref = np.array([0.0, 1.0, 0.0])
    for _ in range(n - 2):
        b = xyz[-1] - xyz[-2]
        b /= np.linalg.norm(b)
        ref = ref - ref.dot(b) * b
        ref /= np.linalg.norm(ref)
        angle = np.deg2rad(180 - 111.0)
        turn = rng.choice([180.0, 60.0, -60.0], p=[0.7, 0.15, 0.15])
        side = np.cos(np.deg2rad(turn)) * ref + np.sin(np.deg2rad(turn)) * np.cross(b, ref)
        step = np.cos(angle) * b + np.sin(angle) * side
        xyz.append(xyz[-1] + bond * step)
        ref = -side
    return np.array(xyz)


def belt_points(xyz: np.ndarray, rng: np.random.Generator, density: float = 0.02) -> np.ndarray:
    """Points of a detergent belt: a ring 12 Å wide and 25 Å high around ``xyz`` (N, 3) about a random
    axis through its centre, just outside its radius; ``density`` points per Å^3."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    centre = xyz.mean(0)
    rel = xyz - centre
    radial = np.linalg.norm(rel - np.outer(rel @ axis, axis), axis=1)
    inner = float(np.percentile(radial, 80))
    outer, height = inner + 12.0, 25.0
    n = int(density * np.pi * (outer ** 2 - inner ** 2) * height)
    r = np.sqrt(rng.uniform(inner ** 2, outer ** 2, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    h = rng.uniform(-height / 2, height / 2, n)
    u = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    return centre + np.outer(h, axis) + np.outer(r * np.cos(phi), u) + np.outer(r * np.sin(phi), v)


def hetero_model(groups: list[tuple[np.ndarray, float, float]]) -> gemmi.Structure:
    """A structure of carbon atoms: one residue per (xyz (K, 3), B Å^2, occupancy) group."""
    st = gemmi.Structure()
    model = gemmi.Model("1")
    chain = gemmi.Chain("Z")
    for k, (xyz, b, occ) in enumerate(groups):
        res = gemmi.Residue()
        res.name, res.het_flag = "UNL", "H"
        res.seqid = gemmi.SeqId(k + 1, " ")
        for i, p in enumerate(xyz):
            atom = gemmi.Atom()
            atom.name, atom.element = f"C{i + 1}"[:4], gemmi.Element("C")
            atom.pos, atom.b_iso, atom.occ = gemmi.Position(*p), b, occ
            res.add_atom(atom)
        chain.add_residue(res)
    model.add_chain(chain)
    st.add_model(model)
    return st


# ----------------------------------------------------------------------------- the map
@dataclass
class Scene:
    """Everything in one training map: structures (first model each), whose C-alphas are labelled,
    and the C-alphas whose labels are ignored."""

    structures: list[gemmi.Structure]
    labelled: np.ndarray          # (L, 3) Å
    ignored: np.ndarray           # (K, 3) Å


def build_scene(st: gemmi.Structure, others: list[gemmi.Structure], nucleic: gemmi.Structure | None,
                cfg: RealismConfig, rng: np.random.Generator, resolution: float | None = None) -> Scene:
    """The target turned at random, with its B-factors raised (global, local ramp, a disordered
    segment) and the drawn neighbours, RNA, ligands and belt around it."""
    target = rotated(st, rng)
    ca = ca_xyz(target)
    ignored = np.zeros((0, 3))
    structures, labelled = [target], [ca]
    xyz = model_xyz(target)
    if others and rng.uniform() < cfg.p_neighbour:
        other = rotated(others[rng.integers(len(others))], rng)
        set_model_xyz(other, place_beside(model_xyz(other), xyz, rng))
        structures.append(other)
        labelled.append(ca_xyz(other))
    if nucleic is not None and rng.uniform() < cfg.p_nucleic:
        rna = rotated(nucleic, rng)
        set_model_xyz(rna, place_beside(model_xyz(rna), np.concatenate([model_xyz(s) for s in structures]), rng))
        structures.append(rna)
    groups = _ligands(xyz, rng) if rng.uniform() < cfg.p_ligands else []
    if rng.uniform() < cfg.p_belt:
        groups.append((belt_points(xyz, rng), uniform(rng, (80.0, 200.0)), uniform(rng, (0.3, 0.6))))
    if groups:
        structures.append(hetero_model(groups))
    if rng.uniform() < cfg.p_disordered:
        ignored = _smear_segment(target, rng)
    _raise_b(structures, cfg, rng, resolution)
    keep = ~_rows_in(ca, ignored)
    labelled[0] = ca[keep]
    return Scene(structures, np.concatenate(labelled), ignored)


def _ligands(xyz: np.ndarray, rng: np.random.Generator) -> list:
    """1-4 ligands or lipid tails (8-18 carbons) 3.5-5 Å off the surface of ``xyz``."""
    out = []
    for _ in range(int(rng.integers(1, 5))):
        tail = chain_tail(rng, int(rng.integers(8, 19)))
        out.append((place_beside(tail, xyz, rng, gap=uniform(rng, (3.5, 5.0))), uniform(rng, (20.0, 80.0)), 1.0))
    return out


def _smear_segment(st: gemmi.Structure, rng: np.random.Generator) -> np.ndarray:
    """Raise the B of 6-20 consecutive residues of the first chain by 150-400 Å^2; their C-alphas."""
    chain = st[0][0]
    n = len(chain)
    length = int(rng.integers(6, 21))
    if n < 2 * length:
        return np.zeros((0, 3))
    first = int(rng.integers(0, n - length))
    extra = uniform(rng, (150.0, 400.0))
    out = []
    for res in chain[first:first + length]:
        for atom in res:
            atom.b_iso += extra
            if atom.name == "CA":
                out.append(atom.pos.tolist())
    return np.array(out).reshape(-1, 3)


def _raise_b(structures: list[gemmi.Structure], cfg: RealismConfig, rng: np.random.Generator,
             resolution: float | None = None) -> None:
    """Every atom's B += global B + a linear ramp 0..local B along a random direction."""
    xyz = np.concatenate([model_xyz(s) for s in structures])
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    proj = xyz @ direction
    lo, span = proj.min(), max(float(np.ptp(proj)), 1.0)
    g, local = uniform(rng, cfg.global_b), uniform(rng, cfg.local_b)
    if cfg.global_b_per_r2 is not None and resolution is not None:
        g = uniform(rng, cfg.global_b_per_r2) * resolution ** 2
    for st in structures:
        for res in (r for ch in st[0] for r in ch):
            for atom in res:
                p = np.array(atom.pos.tolist()) @ direction
                atom.b_iso = max(atom.b_iso, 0.0) + g + local * (p - lo) / span


def _rows_in(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(b) == 0:
        return np.zeros(len(a), bool)
    return cKDTree(b).query(a)[0] < 1e-3


def experimental_sample(st: gemmi.Structure, others: list[gemmi.Structure], data: DataConfig,
                        cfg: RealismConfig, rng: np.random.Generator, name: str = "",
                        resolution: float | None = None, min_edge: int = 0) -> Sample:
    """One experimental-looking map of ``st`` on the network's voxel size, with labels (1 near a
    labelled C-alpha, :data:`IGNORE` near a smeared one, else 0). ``others``: chains that may stand
    beside it; resolution drawn from ``data`` when None; min_edge: voxels per axis at least."""
    resolution = draw_resolution(data, rng) if resolution is None else float(resolution)
    m, scene, shell_snr = experimental_map(st, others, cfg, rng, resolution, data.padding,
                                           min_edge * data.voxel_size)
    if not np.allclose(m.voxel_size, data.voxel_size):
        m = resample(m, data.voxel_size, antialias=True)
    m.path = None
    return Sample(name or st.name, normalised(m), scene_labels(m, scene, data.label_radius), scene.labelled,
                  resolution, shell_snr)


def experimental_map(st: gemmi.Structure, others: list[gemmi.Structure], cfg: RealismConfig,
                     rng: np.random.Generator, resolution: float, padding: float = 10.0,
                     min_size: float = 0.0) -> tuple[Map, Scene, float]:
    """An experimental-looking map of ``st`` at ``resolution`` Å on its own drawn voxel size (not
    resampled), its scene and the signal-to-noise drawn for the shell at the resolution; the box
    is ``padding`` Å around the target and at least ``min_size`` Å along each axis."""
    scene = build_scene(st, others, rna_hairpin() if cfg.p_nucleic > 0 else None, cfg, rng, resolution)
    voxel = min(uniform(rng, cfg.voxel_size), resolution / 2)
    grid = box_around_points(model_xyz(scene.structures[0]), voxel, padding)
    edge = int(np.ceil(min_size / voxel)) + 2
    if min(grid.shape) < edge:
        grid = pad(grid, tuple(max(n, edge) for n in grid.shape))
    signal = sum(model_map(s, grid, check=False).data.astype(np.float64) for s in scene.structures)
    shell_snr = float(np.exp(rng.uniform(*np.log(cfg.shell_snr))))
    m = grid.copy(data=finished_map(signal, grid, resolution, shell_snr, cfg, rng).astype(np.float32))
    if rng.uniform() < cfg.p_mask:
        m.data *= soft_mask(signal, grid, rng).astype(np.float32)
    m.path = None
    return m, scene, shell_snr


def finished_map(signal: np.ndarray, grid: Map, resolution: float, shell_snr: float, cfg: RealismConfig,
                 rng: np.random.Generator) -> np.ndarray:
    """Signal (z, y, x) plus coloured noise (signal-to-noise per shell ``shell_snr`` at the resolution,
    rising towards low frequency as :attr:`RealismConfig.snr_rise` draws), then a
    drawn sharpening and one of :data:`FILTERS` at the resolution ("none" only for a map not
    sharpened), as a reconstruction is finished."""
    s = frequency_grid(signal.shape, grid.voxel_size)
    transform = np.fft.rfftn(signal)
    transform += shell_noise(transform, grid, resolution, noise_power(transform, s, resolution,
                                                                      uniform(rng, cfg.snr_rise)), shell_snr, rng)
    sharpen = uniform(rng, cfg.sharpen_b)
    transform *= np.exp(-sharpen * s ** 2 / 4)
    kind = FILTERS[int(rng.integers(len(FILTERS) if sharpen >= 0 else len(FILTERS) - 1))]   # sharpened: filtered
    if kind == "cosine":
        transform *= cosine_edge(s, resolution)
    elif kind == "butterworth":
        transform *= 1.0 / np.sqrt(1.0 + (s * resolution) ** 16)
    return np.fft.irfftn(transform, s=signal.shape, axes=(0, 1, 2))


def noise_power(transform: np.ndarray, s: np.ndarray, resolution: float, rise: float) -> np.ndarray:
    """Relative noise power at every point of the half-grid (``s``, 1/Å): the signal's shell power
    over exp(rise (1 - (s R)^2)) up to 1/R (the signal-to-noise of a reconstruction, rising to low
    frequency), and beyond 1/R flat at its value there (noise does not follow the atoms' fall-off)."""
    step = s[s > 0].min()
    shell = np.round(s / step).astype(np.int64)
    counts = np.maximum(np.bincount(shell.ravel()), 1)
    signal = np.bincount(shell.ravel(), (np.abs(transform) ** 2).ravel()) / counts
    freq = np.arange(len(signal)) * step
    edge = min(int(np.floor(1.0 / (resolution * step))), len(signal) - 1)
    noise = signal / np.exp(rise * (1.0 - np.minimum(freq * resolution, 1.0) ** 2))
    noise[edge:] = noise[edge]
    return np.maximum(noise[shell], 1e-30)


def soft_mask(signal: np.ndarray, grid: Map, rng: np.random.Generator) -> np.ndarray:
    """(z, y, x) in [0, 1]: the molecules' envelope (signal blurred by 3 Å, above 5 % of its
    maximum) dilated by 2-6 Å with a Gaussian edge of 2 Å, as a particle mask is made."""
    voxel = float(grid.voxel_size.mean())
    envelope = ndimage.gaussian_filter(signal, 3.0 / voxel)
    inside = envelope > 0.05 * envelope.max()
    steps = max(1, int(round(uniform(rng, (2.0, 6.0)) / voxel)))
    inside = ndimage.binary_dilation(inside, iterations=steps)
    return np.clip(ndimage.gaussian_filter(inside.astype(np.float64), 2.0 / voxel), 0.0, 1.0)


def scene_labels(m: Map, scene: Scene, radius: float) -> np.ndarray:
    """Labels on ``m``'s grid: 1 within ``radius`` of a labelled C-alpha; :data:`IGNORE` within
    ``radius`` + 1 Å of an ignored one (where no labelled one is); 0 elsewhere."""
    labels = ca_labels(m, scene.labelled, radius)
    if len(scene.ignored):
        near = ca_labels(m, scene.ignored, radius + 1.0) == 1
        labels[near & (labels == 0)] = IGNORE
    return labels


@lru_cache(maxsize=1)
def _rna() -> gemmi.Structure:
    from ..data import load_corpus_structure
    return load_corpus_structure("1K5I")


def rna_hairpin() -> gemmi.Structure:
    """The 23-nucleotide RNA hairpin 1K5I of the corpus (a copy)."""
    return _rna().clone()


def experimental_batch(structures: dict[str, gemmi.Structure], data: DataConfig, cfg: RealismConfig,
                       edge: int, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` patches of fresh experimental-looking maps of randomly chosen structures (the
    others may stand beside them): density (B, 1, edge, edge, edge) float32, labels (B, edge, edge,
    edge) int64 with :data:`IGNORE` where the loss skips."""
    def sample(name, rng, edge):
        others = [st for n, st in sorted(structures.items()) if n != name]
        return experimental_sample(structures[name], others, data, cfg, rng, name, min_edge=edge)
    return training_batch(structures, data, edge, batch, rng, sample)


def experimental_evaluation(names: list[str], data: DataConfig, cfg: RealismConfig,
                            resolutions: tuple[float, ...], seed: int = 0) -> list[Sample]:
    """One experimental-looking map per structure and resolution, fixed by ``seed`` (the other
    structures of ``names`` may stand beside each)."""
    rng = np.random.default_rng(seed)
    structures = {n: load_structure(n) for n in names}
    return [experimental_sample(structures[n], [structures[o] for o in names if o != n], data, cfg, rng, n,
                                resolution=r) for n in names for r in resolutions]
