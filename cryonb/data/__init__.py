"""Example data: AdK open/closed and its DIMS trajectory, a small structure corpus, test maps.

Everything comes from PyPI packages (MDAnalysisTests, mrcfile's sdist), is cleaned
to PDB naming and cached in a user data folder (:func:`cache_dir`) on first use.
"""
from .adk import CORE_DOMAIN, adk_closed, adk_dims, adk_dims_frames, adk_open, core_domain_mask
from .charmm import clean_charmm
from .corpus import CorpusEntry, corpus_entries, load_corpus_structure
from .dcd import read_dcd
from .examples import EXAMPLES, load_model
from .sources import cache_dir, mdanalysis_test_file, mrcfile_test_map

__all__ = ["CORE_DOMAIN", "adk_closed", "adk_dims", "adk_dims_frames", "adk_open",
           "core_domain_mask", "clean_charmm", "CorpusEntry", "corpus_entries",
           "load_corpus_structure", "read_dcd", "EXAMPLES", "load_model", "cache_dir",
           "mdanalysis_test_file", "mrcfile_test_map"]
