"""Global placement of a model in a map with no prior pose (``cryonb place``).

A rotational search with an FFT translational search of a local correlation, then local rigid
refinement of the best distinct poses: :func:`place` returns a :class:`Placement`.
"""
from .place import Placement, PlacementConfig, PlacedPose, place
from .rotations import rotation_count, rotation_set
from .template import predicted_model

__all__ = ["Placement", "PlacementConfig", "PlacedPose", "place", "rotation_count", "rotation_set",
           "predicted_model"]
