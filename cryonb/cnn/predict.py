"""C-alpha atoms predicted in a map: the network's probability map and the seed's greedy picking.

One call for every entry point that needs predicted C-alphas (``cryonb predict-ca``, ``cryonb
rerank``, ``cryonb trace``, notebook 03).
"""
from __future__ import annotations

import os

import numpy as np

from ..io import write_model
from ..maps import Map
from .consensus import Consensus, consensus
from .peaks import Peaks, calpha_chain, pick_atoms


def predict_calphas(m: Map, length: int, weights: str | os.PathLike | None = None, device: str = "auto",
                    window: int = 64, overlap: int = 16, batch: int = 2) -> tuple[Peaks, Map]:
    """Predicted C-alphas of map ``m`` for a chain of ``length`` residues and the probability map.

    weights: a weights file (default: the shipped network); window/overlap: sliding-window edge and
    overlap in voxels; batch: windows per network pass. At least ``length`` atoms, up to 1.2 x
    length while the next probability is above 0.9 (:func:`.peaks.pick_atoms`).
    """
    from ..torch_utils import resolve_device
    from .inference import predict_probability
    from .weights import load_weights
    net, info = load_weights(weights, resolve_device(device))
    prob = predict_probability(net, m, info["voxel_size"], window, overlap, batch)
    return pick_atoms(prob, length), prob


def predict_consensus(m: Map, length: int, device: str = "auto", window: int = 64, overlap: int = 16,
                      batch: int = 2, weights: tuple = (None, None)) -> tuple[Consensus, list[Peaks], list[Map]]:
    """The consensus of the simulated-trained and the experimental-trained networks (default: the
    shipped :data:`~.weights.DEFAULT_WEIGHTS` and :data:`~.weights.EXPERIMENTAL_WEIGHTS`; see
    :mod:`.consensus`), with each network's atoms and probability map."""
    from .weights import EXPERIMENTAL_WEIGHTS
    files = (weights[0], weights[1] or EXPERIMENTAL_WEIGHTS)
    runs = [predict_calphas(m, length, w, device, window, overlap, batch) for w in files]
    peaks, probs = [r[0] for r in runs], [r[1] for r in runs]
    return consensus(peaks[0], peaks[1], length), peaks, probs


def calphas_or_predicted(m: Map, length: int, ca: np.ndarray | None = None, values: np.ndarray | None = None,
                         weights: str | os.PathLike | None = None, device: str = "auto", window: int = 64,
                         overlap: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """C-alphas (K, 3) Å and their probabilities (K,): ``ca`` as given (probabilities ``values``, else
    NaN), or predicted in ``m`` for ``length`` residues (:func:`predict_calphas`)."""
    if ca is not None:
        xyz = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
        return xyz, np.full(len(xyz), np.nan) if values is None else np.asarray(values, dtype=np.float64)
    peaks, _ = predict_calphas(m, length, weights, device, window, overlap)
    return peaks.xyz, peaks.value


def write_calphas(xyz: np.ndarray, values: np.ndarray, path: str | os.PathLike) -> None:
    """C-alphas (K, 3) Å as a one-chain model, B = 100 x probability (0 where NaN)."""
    write_model(calpha_chain(xyz, np.nan_to_num(values, nan=0.0)), path)
