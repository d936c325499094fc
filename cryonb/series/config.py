"""Settings of a series refinement: :class:`SeriesConfig`, the stage ladder and the joint steps'
geometry weights."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ..restraints.loss import GeometryWeights
from ..refinement.config import POLISH_WEIGHTS, RefineConfig
from ..refinement.stages import StageConfig
from . import defaults


# Geometry of the joint steps: the single-refinement polish's weights with the Ramachandran prior
# at its stage weight (6) rather than the polish's 100. The DIMS frames themselves are 84-90 %
# favoured; at 100 the prior pulled every residue to the middle of its basin and cost 0.02 Å of
# median C-alpha RMSD (fit + smooth 0.793 against 0.814), with no Ramachandran outlier at any of
# the 98 frames either way (README).
JOINT_WEIGHTS = replace(POLISH_WEIGHTS, rama=GeometryWeights().rama, omega=0.0, cbeta=0.0)


def series_stages(resolution: float, iterations: int = defaults.ITERATIONS,
                  patch_iterations: int = defaults.PATCH_ITERATIONS, batch: int = 16,
                  residue_iterations: int | None = None) -> dict[str, StageConfig]:
    """Stage settings of a series run: the single-refinement ladder (projections per map: batch);
    the residues stage runs ``residue_iterations`` (default ``RESIDUE_FACTOR`` x ``iterations``)."""
    if residue_iterations is None:
        residue_iterations = defaults.RESIDUE_FACTOR * iterations
    return {"patches_coarse": StageConfig(iterations=patch_iterations, batch=batch, ramp=0.7,
                                          start_resolution=max(40.0, 4 * resolution)),
            "patches": StageConfig(iterations=patch_iterations, start_resolution=2 * resolution, batch=batch),
            "residues": StageConfig(iterations=residue_iterations, batch=batch),
            "atoms": StageConfig(iterations=iterations, batch=batch, geometry_scale=1000.0)}


@dataclass
class SeriesConfig:
    """Settings of a series refinement (lengths in Å, latent noise in scaled latent units)."""

    stages: tuple[str, ...] = ("patches", "residues", "atoms")
    iterations: int = defaults.ITERATIONS              # atoms stage; the residues stage RESIDUE_FACTOR x this
    residue_iterations: int | None = None               # residues stage; None: RESIDUE_FACTOR x iterations
    patch_iterations: int = defaults.PATCH_ITERATIONS  # each patch stage (map score only, cheap)
    batch: int = 16                      # projections per map per round
    n_patches: int = 16                  # n_patches // 8 coarse patches first (32 or 64 overfit at 8 Å; README)
    residue_chi: bool = True             # residue stage also turns side-chain chis (rigid ones bias C-alpha;
                                         # no rotamer prior there: DIMS frames are 7-11 % outliers; README)
    fit_iterations: int = defaults.FIT_ITERATIONS      # joint all-atom fit, map weight fit_map_factor x polish's
    fit_map_factor: float = 10.0
    smooth_iterations: int = defaults.SMOOTH_ITERATIONS  # then joint smoothing at the polish's map weight
    smooth_between: int = 16             # latents drawn along the trajectory per joint round
    smooth_worst: int = 4                # + the latents of the worst geometry on a grid along it
    smooth_grid: int = 128               # points of that grid
    latent_noise: float = 0.02
    n_orientations: int = 48             # cached projections per map
    # ring spacing 1 / (period x box edge) of the cached projections (MapProjections.compute). Single
    # refinement uses 1; the series keeps 2: on the DIMS case (8 Å, a 78 Å box: 10 rings to 8 Å at
    # period 1) period 1 left the models 0.024 Å further from the truth after the atoms stage (gemmi's
    # maps, median C-alpha RMSD 0.936 against 0.912, the same settings otherwise)
    fourier_period: float = 2.0
    projection: str = "auto"             # model projections: "analytic", "gridding" or "auto" (the cheaper)
    device: str = "auto"                 # where the map scores run ("auto", "cpu", "cuda"); decoders on the CPU
    refine_start: bool = True
    match_blur: bool = True              # the share of the B spread that fits the best-fitting map, for all maps
    weigh_rings: bool = True             # FRC rings weighed by their signal-to-noise (MapScore.weigh_rings_by_snr)
    # the series was calibrated (benchmarks/series_adk.py) with the polish's map weight at 300, before the
    # single refinement's default fell to 170 on real maps; kept until the series is measured again
    start: RefineConfig = field(default_factory=lambda: RefineConfig(polish_steps=500, polish_map_weight=300.0))
    weights: GeometryWeights = field(default_factory=GeometryWeights)
    smooth_weights: GeometryWeights | None = None   # joint steps' geometry; None: JOINT_WEIGHTS
    smooth_map_weight: float | None = None   # map weight of smoothing; None: the polish's (``start``)
    seed: int = 0
    threads: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)
