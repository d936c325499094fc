"""cryonb: notebook-first building and refinement of atomic models in cryo-EM maps.

Modules: :mod:`cryonb.io` (models and maps in/out), :mod:`cryonb.maps` (the Map
dataclass), :mod:`cryonb.density` (simulation, noise, FSC, resampling),
:mod:`cryonb.data` (example data), :mod:`cryonb.viz` (nglview), :mod:`cryonb.plots`
(matplotlib), :mod:`cryonb.runs` (run folders), :mod:`cryonb.errors`.
"""
__version__ = "0.1.0"

from .errors import CryonbError  # noqa: E402
from .maps import Map  # noqa: E402



def refine(model, map, resolution, config=None, **kwargs):
    """GMM-DNN refinement of ``model`` into ``map`` at ``resolution`` Å (see cryonb.refinement.refine)."""
    from .refinement.pipeline import refine as _refine   # torch: not loaded by `import cryonb`
    return _refine(model, map, resolution, config, **kwargs)


__all__ = ["CryonbError", "Map", "__version__", "refine"]
