"""Model refinement: GMM-DNN refinement into a map (:func:`refine`) and geometry-only regularisation."""
from .geometry_only import GeometryRefineConfig, GeometryRefineResult, refine_geometry
from .pipeline import RefineConfig, RefineResult, refine
from .stages import StageConfig

__all__ = ["GeometryRefineConfig", "GeometryRefineResult", "RefineConfig", "RefineResult", "StageConfig",
           "refine", "refine_geometry"]
