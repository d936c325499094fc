"""Experimental maps with deposited models as training samples for the C-alpha network.

A deposited model labels the map: 1 near its C-alphas. Density the model does not explain
(neighbouring chains or RNA left out of a cut-out, ligands, detergent) is *ignored* by the loss
(:data:`~.experimental.IGNORE`): far from the model and above the map's noise it may well hold
C-alphas nobody labelled. Patches are turned by one of the 24 proper rotations of the cube (no
mirror: a mirrored protein is not a protein), so one map gives many views without interpolation.
"""
from __future__ import annotations

import itertools
import os

import numpy as np
from scipy import ndimage

from ..density import resample
from ..io import calpha, model_xyz, read_map, read_model
from ..maps import Map
from .dataset import Sample, ca_labels, normalised, random_patch
from .experimental import IGNORE

UNEXPLAINED_SD = 1.0      # normalised density above this, farther than UNEXPLAINED_DISTANCE from the model: ignored
UNEXPLAINED_DISTANCE = 5.0  # Å


def labelled_sample(map_path: str | os.PathLike, model_path: str | os.PathLike, resolution: float,
                    voxel_size: float = 1.5, label_radius: float = 1.6, name: str = "",
                    min_edge: int = 0) -> Sample:
    """The map (resampled to ``voxel_size``, normalised) with labels from the model's C-alphas;
    density the model leaves unexplained is :data:`IGNORE` (see the module docstring). A box
    thinner than ``min_edge`` voxels is padded with zeros labelled :data:`IGNORE` (unknown)."""
    m = read_map(map_path)
    if not np.allclose(m.voxel_size, voxel_size, rtol=0.02):
        m = resample(m, voxel_size, antialias=True)
    m = normalised(m)
    m.path = None
    st = read_model(model_path)
    ca = calpha(st)[1]
    labels = ca_labels(m, ca, label_radius)
    far = distance_to_atoms(m, model_xyz(st)) > UNEXPLAINED_DISTANCE
    dense = ndimage.gaussian_filter(m.data, 1.0) > UNEXPLAINED_SD
    labels[far & dense & (labels == 0)] = IGNORE
    if min(m.shape) < min_edge:
        m, labels = padded(m, labels, min_edge)
    return Sample(name or os.path.basename(str(map_path)), m, labels, ca, float(resolution), None)


def padded(m: Map, labels: np.ndarray, edge: int) -> tuple[Map, np.ndarray]:
    """``m`` and its labels padded at the far side of each axis to at least ``edge`` voxels:
    density 0, labels :data:`IGNORE`."""
    shape = tuple(max(n, edge) for n in m.shape)
    data = np.zeros(shape, np.float32)
    out = np.full(shape, IGNORE, dtype=labels.dtype)
    box = tuple(slice(0, n) for n in m.shape)
    data[box], out[box] = m.data, labels
    return m.copy(data=data), out


def distance_to_atoms(m: Map, xyz: np.ndarray) -> np.ndarray:
    """(z, y, x) distance in Å from each voxel centre of ``m`` to the nearest voxel holding an atom
    of ``xyz`` (N, 3) (voxel-rounded; atoms outside the box are dropped; no atom: infinite)."""
    idx = np.round(m.xyz_to_index(xyz)).astype(int)[:, ::-1]            # z, y, x
    inside = np.all((idx >= 0) & (idx < np.array(m.shape)), axis=1)
    empty = np.ones(m.shape, bool)
    empty[tuple(idx[inside].T)] = False
    if empty.all():
        return np.full(m.shape, np.inf)
    return ndimage.distance_transform_edt(empty, sampling=m.voxel_size[::-1])


def proper_rotations() -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """The 24 (axis order, flips) pairs of a cube's proper rotations (determinant +1)."""
    out = []
    for perm in itertools.permutations(range(3)):
        parity = np.linalg.det(np.eye(3)[list(perm)])
        for flips in itertools.product((1, -1), repeat=3):
            if parity * np.prod(flips) > 0:
                out.append((perm, flips))
    return out


def turned(volume: np.ndarray, rotation) -> np.ndarray:
    """``volume`` (z, y, x) turned by one of :func:`proper_rotations`."""
    perm, flips = rotation
    out = np.transpose(volume, perm)
    return np.ascontiguousarray(np.flip(out, [a for a in range(3) if flips[a] < 0]) if min(flips) < 0 else out)


def labelled_batch(samples: list[Sample], edge: int, batch: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` patches of labelled maps, each turned by a random proper rotation: density (B, 1,
    edge, edge, edge) float32 and labels (B, edge, edge, edge) int64."""
    rotations = proper_rotations()
    x, y = [], []
    for _ in range(batch):
        density, labels = random_patch(samples[rng.integers(len(samples))], edge, rng)
        rot = rotations[rng.integers(len(rotations))]
        x.append(turned(density, rot)[None])
        y.append(turned(labels, rot))
    return np.stack(x), np.stack(y)
