"""Training data for the C-alpha network: simulated maps of rotated structures and their labels.

Structures are the 50 single chains of the corpus (:mod:`cryonb.data.corpus`) and AdK open and
closed. They are split by whole structure (:func:`split_structures`); AdK and at least five corpus
chains are test structures only. A :class:`Sample` is one map: the structure turned by a uniform
random rotation, simulated at a resolution drawn per sample on a fixed voxel size, white noise at a
drawn SNR, normalised to zero mean and unit SD, with a label volume (1 within ``label_radius`` of a
C-alpha) and the C-alpha positions in the map frame. Training takes random cubic patches of it.
Everything is drawn from a ``numpy.random.Generator``, so a seed reproduces every sample.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import gemmi
import numpy as np
from scipy.spatial.transform import Rotation

from ..data import adk_closed, adk_open, corpus_entries, load_corpus_structure
from ..density import SimulationConfig, add_noise, pad, resample, simulate_map
from ..density.simulate import box_around_points
from ..io import calpha, first_model, model_xyz, set_model_xyz
from ..maps import Map

HELD_OUT = ("adk_closed", "adk_open")
RESOLUTION_WEIGHTINGS = ("uniform", "linear")
_ADK = {"adk_closed": adk_closed, "adk_open": adk_open}


@dataclass
class DataConfig:
    """How training maps are made (Å); ranges are (low, high) and drawn per sample.

    label_radius 1.6 Å: at least the half-diagonal of a 1.5 Å voxel (1.30 Å), so every C-alpha
    labels its nearest voxel wherever it falls, and under half the 3.8 Å C-alpha spacing (1.9 Å),
    so the label spheres of consecutive C-alphas stay apart and give separate peaks.
    """

    voxel_size: float = 1.5
    resolution_range: tuple[float, float] = (2.0, 10.0)
    resolution_weighting: str = "uniform"                 # or "linear": density rising with resolution
    snr_range: tuple[float, float] | None = (0.5, 20.0)   # log-uniform; None: no noise
    label_radius: float = 1.6
    padding: float = 10.0                                 # margin around the structure
    method: str = "electron"                              # density model of simulate_map

    def __post_init__(self):
        self.resolution_range = tuple(self.resolution_range)
        self.snr_range = None if self.snr_range is None else tuple(self.snr_range)
        lo, hi = self.resolution_range
        if not 0 < lo <= hi:
            raise ValueError(f"resolution_range must be 0 < low <= high, got {self.resolution_range}")
        if self.resolution_weighting not in RESOLUTION_WEIGHTINGS:
            raise ValueError(f"resolution_weighting must be one of {RESOLUTION_WEIGHTINGS}, "
                             f"got {self.resolution_weighting!r}")
        if self.snr_range is not None and not 0 < self.snr_range[0] <= self.snr_range[1]:
            raise ValueError(f"snr_range must be 0 < low <= high, got {self.snr_range}")
        if self.label_radius < np.sqrt(3) / 2 * self.voxel_size:
            raise ValueError(f"label_radius {self.label_radius} Å is below the voxel half-diagonal "
                             f"{np.sqrt(3) / 2 * self.voxel_size:.2f} Å: some C-alphas would label no voxel")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DataSplit:
    """Structure names for training, validation and test (split by whole structure)."""

    train: list[str]
    val: list[str]
    test: list[str]
    seed: int = 0
    held_out: list[str] = field(default_factory=list)   # always in test

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Sample:
    """One training or evaluation map.

    map: normalised density (zero mean, unit SD). labels: (z, y, x) int64, 1 within the label
    radius of a C-alpha. ca: (L, 3) C-alpha positions, Å, in the map frame.
    """

    name: str
    map: Map
    labels: np.ndarray
    ca: np.ndarray
    resolution: float
    snr: float | None


# ----------------------------------------------------------------------------- structures
def structure_names(adk: bool = True) -> list[str]:
    """The 50 single-chain corpus structures (sorted), then ``adk_closed`` and ``adk_open``."""
    names = [e.name for e in corpus_entries() if e.source == "dssp"]
    return names + list(HELD_OUT) if adk else names


def load_structure(name: str) -> gemmi.Structure:
    """A structure by name: ``adk_closed``, ``adk_open`` or a corpus name like ``1ahsA``."""
    return _ADK[name]() if name in _ADK else load_corpus_structure(name)


def ca_xyz(st: gemmi.Structure) -> np.ndarray:
    """C-alpha positions (L, 3) Å of the first model, in chain order (:func:`cryonb.io.calpha`)."""
    return calpha(st)[1]


def split_structures(names: list[str], seed: int = 0, n_val: int = 5, n_test: int = 5,
                     held_out: tuple[str, ...] = HELD_OUT) -> DataSplit:
    """Split ``names`` by whole structure; deterministic for a seed.

    Every name in ``held_out`` goes to test, plus ``n_test`` (>= 5) other structures drawn at
    random; ``n_val`` more go to validation; the rest train. Lists are sorted.
    """
    if n_test < 5:
        raise ValueError(f"n_test must be at least 5 (got {n_test}): the issue holds out >= 5 chains")
    held = sorted(n for n in set(names) if n in held_out)
    rest = sorted(set(names) - set(held))
    if n_val + n_test >= len(rest):
        raise ValueError(f"{len(rest)} structures cannot give {n_test} test, {n_val} validation "
                         "and at least one training structure")
    order = np.random.default_rng(seed).permutation(len(rest))
    test = [rest[i] for i in order[:n_test]]
    val = [rest[i] for i in order[n_test:n_test + n_val]]
    train = [rest[i] for i in order[n_test + n_val:]]
    return DataSplit(sorted(train), sorted(val), sorted(held + test), seed, held)


# ----------------------------------------------------------------------------- samples
def rotated(st: gemmi.Structure, rng: np.random.Generator) -> gemmi.Structure:
    """A copy of ``st`` (first model) turned about its centroid by a uniform random rotation."""
    out = first_model(st)
    xyz = model_xyz(out)
    centre = xyz.mean(0)
    turn = Rotation.random(random_state=rng).as_matrix()
    set_model_xyz(out, (xyz - centre) @ turn.T + centre)
    return out


def make_sample(st: gemmi.Structure, config: DataConfig, rng: np.random.Generator, name: str = "",
                resolution: float | None = None, snr: float | None = None, min_edge: int = 0) -> Sample:
    """Simulate one normalised, noisy map of ``st`` in a random orientation, with its labels.

    resolution, snr: drawn from the config's ranges when None. min_edge: the box is at least this
    many voxels along each axis (so a training patch fits).
    """
    resolution = draw_resolution(config, rng) if resolution is None else float(resolution)
    if snr is None and config.snr_range is not None:
        low, high = config.snr_range
        snr = float(low * (high / low) ** rng.uniform())          # log-uniform
    turned = rotated(st, rng)
    grid = box_around_points(model_xyz(turned), config.voxel_size, config.padding)
    if min(grid.shape) < min_edge:
        grid = pad(grid, tuple(max(n, min_edge) for n in grid.shape))
    m = simulated_on(turned, grid, resolution, config.method)
    if snr is not None:
        m = add_noise(m, snr, seed=int(rng.integers(2 ** 32)))
    ca = ca_xyz(turned)
    return Sample(name or st.name, normalised(m), ca_labels(m, ca, config.label_radius), ca, resolution, snr)


def draw_resolution(config: DataConfig, rng: np.random.Generator) -> float:
    """A resolution (Å) from ``config.resolution_range``: uniform, or with ``"linear"`` weighting a
    density proportional to the resolution itself (on 2-10 Å, 2/3 of the maps coarser than 6 Å
    instead of 1/2), so training sees more of the maps where C-alpha atoms are hardest to place."""
    lo, hi = config.resolution_range
    u = rng.uniform()
    if config.resolution_weighting == "linear":
        return float(np.sqrt(lo ** 2 + u * (hi ** 2 - lo ** 2)))     # inverse CDF of p(r) ~ r
    return float(lo + u * (hi - lo))


def simulated_on(st: gemmi.Structure, grid: Map, resolution: float, method: str = "electron") -> Map:
    """``st`` simulated at ``resolution`` on ``grid``'s lattice.

    A resolution finer than the grid's Nyquist limit (2 voxels) is simulated on a grid of
    resolution / 2 voxels and interpolated (cubic B-spline) onto ``grid``: point samples of the
    finer map, as a map resampled to the network's voxel size would be.
    """
    voxel = float(grid.voxel_size.max())
    if resolution >= 2 * voxel:
        return simulate_map(st, SimulationConfig(resolution=resolution, method=method), like=grid)
    fine_voxel = resolution / 2
    shape = tuple(int(n) for n in np.ceil(np.array(grid.shape) * voxel / fine_voxel) + 1)
    fine = Map(np.zeros(shape, np.float32), fine_voxel, grid.origin)
    fine = simulate_map(st, SimulationConfig(resolution=resolution, method=method), like=fine)
    return resample(fine, grid.voxel_size, shape=grid.shape, origin=grid.origin)


def normalised(m: Map) -> Map:
    """``m`` scaled to zero mean and unit SD over the box (unchanged shift only if the map is flat)."""
    data = m.data.astype(np.float64)
    sd = data.std()
    return m.copy(data=((data - data.mean()) / (sd if sd > 0 else 1.0)).astype(np.float32))


def ca_labels(grid: Map, ca: np.ndarray, radius: float) -> np.ndarray:
    """(z, y, x) int64 volume on ``grid``: 1 where a voxel centre is within ``radius`` Å of a C-alpha."""
    labels = np.zeros(grid.shape, dtype=np.int64)
    if len(ca) == 0:
        return labels
    idx = grid.xyz_to_index(ca)                                # (L, 3) x, y, z
    reach = np.ceil(radius / grid.voxel_size).astype(int) + 1
    offsets = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1).reshape(-1, 3)
    pts = np.round(idx).astype(int)[:, None, :] + offsets[None]              # (L, K, 3)
    near = np.linalg.norm((pts - idx[:, None, :]) * grid.voxel_size, axis=-1) <= radius
    inside = np.all((pts >= 0) & (pts < np.array(grid.shape[::-1])), axis=-1)
    p = pts[near & inside]
    labels[p[:, 2], p[:, 1], p[:, 0]] = 1
    return labels


def random_patch(sample: Sample, edge: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A cubic patch (edge voxels) of density (float32) and labels (int64), both (edge, edge, edge).

    The patch centre is a random C-alpha moved by up to a quarter edge along each axis, so most
    patches hold protein; the patch is kept inside the box (which must be at least ``edge``).
    """
    shape = np.array(sample.map.shape)
    if np.any(shape < edge):
        raise ValueError(f"map {tuple(shape)} is smaller than the patch edge {edge}")
    if len(sample.ca):
        centre = sample.map.xyz_to_index(sample.ca[rng.integers(len(sample.ca))])[::-1]   # z, y, x
    else:
        centre = (shape - 1) / 2
    centre = centre + rng.uniform(-edge / 4, edge / 4, 3)
    start = np.clip(np.round(centre - edge / 2).astype(int), 0, shape - edge)
    box = tuple(slice(s, s + edge) for s in start)
    return sample.map.data[box].copy(), sample.labels[box].copy()


def training_batch(structures: dict[str, gemmi.Structure], config: DataConfig, edge: int, batch: int,
                   rng: np.random.Generator, sample=None) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` patches, each from a fresh sample of a randomly chosen structure: ``sample(name,
    rng, edge)`` (default: :func:`make_sample` of ``structures[name]``, a box of at least ``edge``).

    Returns density (B, 1, edge, edge, edge) float32 and labels (B, edge, edge, edge) int64.
    """
    names = sorted(structures)
    if sample is None:
        def sample(name, rng, edge):
            return make_sample(structures[name], config, rng, name, min_edge=edge)
    x, y = [], []
    for _ in range(batch):
        name = names[rng.integers(len(names))]
        density, labels = random_patch(sample(name, rng, edge), edge, rng)
        x.append(density[None])
        y.append(labels)
    return np.stack(x), np.stack(y)


def evaluation_samples(names: list[str], config: DataConfig, resolutions: tuple[float, ...],
                       seed: int = 0, snr: float | None = None) -> list[Sample]:
    """One sample per structure and resolution, in a random orientation fixed by ``seed``.

    snr: fixed noise level; None draws it from the config's range (deterministic for the seed).
    """
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        st = load_structure(name)
        for resolution in resolutions:
            out.append(make_sample(st, config, rng, name, resolution=resolution, snr=snr))
    return out
