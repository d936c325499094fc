"""Series refinement: a continuous model series along a latent trajectory (the seed's model series).

``inputs`` loads maps and latents (files, cryoDRGN z.pkl, or map order); ``model`` holds the
latent-conditioned decoders; ``train`` trains them stage by stage on every map at once, then
jointly; ``pipeline.refine_series`` runs it all with checkpoints; ``outputs`` writes the trajectory,
the per-frame table and metrics; ``figures`` plots them; ``baseline`` is the comparison
(independent refinements interpolated).
"""
from .inputs import SeriesInputs, load_series

__all__ = ["SeriesInputs", "load_series"]
