"""Local rigid refinement of a pose: a local correlation in real space, maximised over 6 parameters.

A pose places the template's centre (the model's centroid c) at ``centre`` p after ``rotation`` R:
an atom x goes to R (x - c) + p. The score is the search's LCC taken in the template's frame: the
Pearson correlation, over the template's footprint voxels, of the template with the search map
interpolated (trilinear) at those voxels moved by the pose. The parameters are a rotation vector,
scaled by the model's radius of gyration so that one unit moves a typical atom by about 1 Å, and a
shift in Å; scipy's Nelder-Mead maximises the score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize
from scipy.spatial.transform import Rotation

from .search import SearchGrid


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


def pose_lcc(grid: SearchGrid, points: np.ndarray, values: np.ndarray, rotation: np.ndarray,
             centre: np.ndarray) -> float:
    """LCC of template ``values`` (P,) at footprint ``points`` (P, 3) Å (relative to the template
    centre) with the search map at those points moved by ``rotation`` (3, 3) and ``centre`` (3,) Å;
    the map is 0 outside its box."""
    index = (points @ rotation.T + centre - grid.origin) / grid.voxel               # x, y, z
    rho = ndimage.map_coordinates(grid.padded, index[:, ::-1].T, order=1, mode="constant")
    t, r = values - values.mean(), rho - rho.mean()
    denominator = np.sqrt((t * t).sum() * (r * r).sum())
    return float((t * r).sum() / denominator) if denominator > 0 else 0.0


def refine_pose(grid: SearchGrid, points: np.ndarray, values: np.ndarray, rg: float, pose: Pose,
                max_evaluations: int = 800) -> Pose:
    """``pose`` moved to the nearest LCC maximum by Nelder-Mead over 6 rigid parameters; ``rg``
    (Å) the model's radius of gyration, which scales the rotation."""
    scale = max(rg, 1.0)

    def unpack(p):
        return Rotation.from_rotvec(p[:3] / scale).as_matrix() @ pose.rotation, pose.centre + p[3:]

    def cost(p):
        return -pose_lcc(grid, points, values, *unpack(p))

    simplex = np.vstack([np.zeros(6), grid.voxel * np.eye(6)])
    fit = optimize.minimize(cost, np.zeros(6), method="Nelder-Mead",
                            options={"initial_simplex": simplex, "xatol": 0.02, "fatol": 1e-6,
                                     "maxfev": max_evaluations})
    rotation, centre = unpack(fit.x)
    return Pose(rotation, centre, -float(fit.fun))
