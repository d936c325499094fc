"""Templates for a query: a pool of chains, sequence alignment, and reranking by predicted C-alphas.

:mod:`.pool` reads a folder of PDB/mmCIF files into chains, :mod:`.align` aligns the query
sequence to each (identity, coverage, shuffled-sequence z-score), :mod:`.fingerprint` places a
template on index-free predicted C-alphas by the seed's fingerprint matching, and :mod:`.rerank`
ranks a pool by the CRscore of the placed templates (CR-I-TASSER's template reselection).
"""
from .align import Alignment, align
from .fingerprint import Placement, fingerprints, place
from .pool import Pool, Template, chain_templates, read_pool, read_templates
from .density import density_correlation, model_density
from .rerank import Placed, Ranking, rerank

__all__ = ["Alignment", "align", "Placement", "fingerprints", "place", "Pool", "Template",
           "chain_templates", "read_pool", "read_templates", "Placed", "Ranking",
           "density_correlation", "model_density", "rerank"]
