"""Series refinement: a continuous model series along a latent trajectory (work in progress).

``inputs`` loads maps and latents (files, cryoDRGN z.pkl, or map order); ``model`` holds the
latent-conditioned decoders; ``train`` trains them stage by stage on every map at once.
"""
from .inputs import SeriesInputs, load_series

__all__ = ["SeriesInputs", "load_series"]
