"""C-alpha atoms from density maps with a 3D residual network (CR-I-TASSER's first stage).

Training data (:mod:`.dataset`; experimental-looking maps :mod:`.experimental`, labelled real maps
:mod:`.labelled_maps`), the network (:mod:`.network`), training (:mod:`.train`),
sliding-window inference (:mod:`.inference`), peaks to atoms (:mod:`.peaks`), the seed's CRscore
(:mod:`.score`), scoring on simulated maps beside the naive baseline (:mod:`.evaluate`) and
weights files (:mod:`.weights`).

The names below are imported from their modules on first use, so that ``cryonb.cnn.score`` (used
by template reranking) does not load torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "dataset": ("DataConfig", "DataSplit", "Sample", "make_sample", "split_structures", "structure_names"),
    "consensus": ("AGREEMENT", "Consensus", "consensus"),
    "evaluate": ("evaluate_sample",),
    "experimental": ("IGNORE", "RealismConfig", "experimental_sample"),
    "labelled_maps": ("labelled_sample",),
    "inference": ("predict_probability", "sliding_window"),
    "network": ("NetworkConfig", "ResidualNetwork", "count_parameters"),
    "predict": ("predict_calphas", "predict_consensus"),
    "peaks": ("Peaks", "ca_structure", "calpha_chain", "naive_atoms", "pick_atoms"),
    "score": ("CAScore", "ca_score", "greedy_pairs", "tm_d0"),
    "train": ("TrainConfig", "TrainResult", "experimental_config", "shipped_config", "shipped_data", "train_network"),
    "weights": ("DEFAULT_WEIGHTS", "EXPERIMENTAL_WEIGHTS", "load_weights", "save_weights", "ship_weights"),
}
_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_MODULE)


def __getattr__(name: str):
    if name not in _MODULE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_MODULE[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
