"""Settings of a single refinement and the defaults shared by its steps (the polish weights)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ..restraints.loss import GeometryWeights
from .stages import StageConfig

HIGH_RESOLUTION = 3.5   # Å

# The polish holds the geometry tighter than the stages (bonds x2, angles x3, clashes x3.3,
# rotamers x2, Ramachandran x17): it has the last word on geometry while the map pulls on every
# atom. At 3.5 Å and better the map is trusted with the backbone and the Ramachandran weight drops
# to 30 (measured on AdK: at 3 Å a weight of 100 locks noisy residues into wrong basins, at 5 Å
# a weight of 30 leaves 5 residues merely allowed).
POLISH_WEIGHTS = GeometryWeights(bond=2.0, angle=3.0, clash=1000.0, rama=100.0, rotamer=6.0)
POLISH_RAMA_HIGH_RESOLUTION = 30.0


@dataclass
class RefineConfig:
    """Settings of a GMM-DNN refinement (lengths in Å). Stage settings default by resolution."""

    stages: tuple[str, ...] | None = None   # decoder stages; None: by resolution (default_plan)
    n_patches: int = 64
    coarse_patches: bool = True          # run n_patches // 8 patches first (large motions)
    in_place: str | bool = "auto"        # skip fine patches and residues for a model in place ("auto":
                                         # judged by the coarse patches' shift, IN_PLACE; True; False)
    patches_coarse: StageConfig | None = None
    patches: StageConfig | None = None
    residues: StageConfig | None = None
    atoms: StageConfig | None = None
    rebuild_rotamers: str | bool = "auto"   # "auto": at resolutions of 3.5 Å and better
    polish_steps: int = 1000             # geometry-only L-BFGS iterations at the end (0: none)
    polish_converge: float | None = 0.002   # stop the polish early once its objective settles (relative
                                         # change of 3-round means after the prior ramp; None: never)
    polish_tether: float = 0.5           # Å
    polish_map_weight: float = 170.0     # map score (1 - FRC) weight at 3 Å, x (3 / resolution)^2 elsewhere
    polish_weights: GeometryWeights | None = None   # None: POLISH_WEIGHTS, by resolution
    polish_batch: int = 16               # projections per polish round
    n_orientations: int = 96             # cached map projections
    fourier_period: float = 1.0          # frequency spacing 1 / (period x box edge); see MapProjections
    low_resolution: float = 100.0        # Å, the FRC's low cut-off
    gmm_b_factors: bool = True           # widen each atom's Gaussian by the model's B-factor
    match_blur: bool = True              # by the share of the B spread that fits the map best (blur.py)
    weights: GeometryWeights = field(default_factory=GeometryWeights)
    projection: str = "auto"             # model projections: "analytic", "gridding" or "auto" (the cheaper)
    device: str = "auto"                 # "auto", "cpu" or "cuda"
    seed: int = 0
    threads: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def polish_weights(config: RefineConfig, resolution: float | None) -> GeometryWeights:
    """The polish's geometry weights: ``config.polish_weights`` or the defaults by resolution."""
    if config.polish_weights is not None:
        return config.polish_weights
    if resolution is not None and resolution <= HIGH_RESOLUTION:
        return replace(POLISH_WEIGHTS, rama=POLISH_RAMA_HIGH_RESOLUTION)
    return POLISH_WEIGHTS
