"""Model refinement: geometry-only regularisation (and, later, the GMM-DNN map refinement)."""
from .geometry_only import GeometryRefineConfig, GeometryRefineResult, refine_geometry

__all__ = ["GeometryRefineConfig", "GeometryRefineResult", "refine_geometry"]
