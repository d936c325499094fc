"""Local rigid refinement of a pose: the search's LCC in real space, maximised over 6 parameters.

A pose places the template's centre (the model's centroid c) at ``centre`` p after ``rotation`` R:
an atom x goes to R (x - c) + p. The parameters are a rotation vector, scaled by the model's
radius so that one unit moves its farthest atom by about 1 Å, and a shift in Å; scipy's
Nelder-Mead maximises the LCC between the template, interpolated at the pose, and the search map.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize
from scipy.spatial.transform import Rotation

from .search import SearchGrid
from .template import FOOTPRINT_LEVEL, Template


@dataclass
class Pose:
    """A placement: rotation (3, 3) about the model's centroid, the centroid's new position
    ``centre`` (3,) Å (x, y, z), and its LCC."""

    rotation: np.ndarray
    centre: np.ndarray
    score: float

    def transform(self, template_centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) with x -> x @ R.T + t the move of the model's coordinates (Å)."""
        return self.rotation, self.centre - self.rotation @ template_centre


def pose_lcc(grid: SearchGrid, template: Template, rotation: np.ndarray, centre: np.ndarray) -> float:
    """LCC (the search's score) of the template at ``rotation`` (3, 3) and ``centre`` (3,) Å, in real
    space with the template interpolated at the pose (the map outside its box counts as 0)."""
    half = template.box_centre[0] * template.voxel
    lo = np.floor((centre - half - grid.origin) / grid.voxel).astype(int)          # x, y, z
    n = template.density.shape[0] + 1
    axes = [lo[i] + np.arange(n) for i in range(3)]
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    points = np.stack([xx, yy, zz], -1).reshape(-1, 3) * grid.voxel + grid.origin   # Å
    local = (points - centre) @ rotation / template.voxel + template.box_centre[::-1]   # x, y, z index
    t = ndimage.map_coordinates(template.density, local[:, ::-1].T, order=1, mode="constant")
    mask = t > FOOTPRINT_LEVEL * float(template.density.max())
    if mask.sum() < 2:
        return 0.0
    size = np.array(grid.padded.shape)
    rho = grid.padded[zz.ravel()[mask] % size[0], yy.ravel()[mask] % size[1], xx.ravel()[mask] % size[2]]
    tm = t[mask] - t[mask].mean()
    rm = rho - rho.mean()
    denominator = np.sqrt((tm ** 2).sum() * (rm ** 2).sum())
    return float((tm * rm).sum() / denominator) if denominator > 0 else 0.0


def refine_pose(grid: SearchGrid, template: Template, pose: Pose, max_evaluations: int = 600) -> Pose:
    """``pose`` moved to the nearest LCC maximum by Nelder-Mead over 6 rigid parameters."""
    scale = max(template.radius, 1.0)

    def unpack(p):
        return Rotation.from_rotvec(p[:3] / scale).as_matrix() @ pose.rotation, pose.centre + p[3:]

    def cost(p):
        return -pose_lcc(grid, template, *unpack(p))

    step = grid.voxel
    simplex = np.vstack([np.zeros(6), step * np.eye(6)])
    fit = optimize.minimize(cost, np.zeros(6), method="Nelder-Mead",
                            options={"initial_simplex": simplex, "xatol": 0.02, "fatol": 1e-6,
                                     "maxfev": max_evaluations})
    rotation, centre = unpack(fit.x)
    return Pose(rotation, centre, -float(fit.fun))
