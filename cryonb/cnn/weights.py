"""Trained network files: the weights with their network config, voxel size and training record.

A weights file is a ``torch.save`` dict of tensors and plain values only (loaded with
``weights_only=True``): ``format``, ``network`` (the :class:`NetworkConfig` fields),
``voxel_size`` (Å, the grid the network was trained on), ``state_dict`` and ``record`` (training
config, data split, wall time, device, history). The shipped file is :data:`DEFAULT_WEIGHTS`.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..errors import InputFileError
from .network import NetworkConfig, ResidualNetwork

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "data" / "cnn" / "weights.pt"
# the second network, fine-tuned on experimental-looking maps and labelled real maps (the seed's
# experimental-trained network); predictions agree with the first before they are trusted
EXPERIMENTAL_WEIGHTS = DEFAULT_WEIGHTS.with_name("weights_experimental.pt")
FORMAT = "cryonb-ca-network-1"


def save_weights(path: str | os.PathLike, net: ResidualNetwork, voxel_size: float,
                 record: dict | None = None) -> Path:
    """Write ``net``'s weights (on CPU), config, voxel size (Å) and ``record`` atomically."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    payload = {"format": FORMAT, "network": net.config.as_dict(), "voxel_size": float(voxel_size),
               "state_dict": state, "record": record or {}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def ship_weights(path: str | os.PathLike, dest: Path | None = None) -> Path:
    """Copy a weights file (checked to load) into the package as ``dest`` (:data:`DEFAULT_WEIGHTS`
    or :data:`EXPERIMENTAL_WEIGHTS`)."""
    load_weights(path)
    dest = DEFAULT_WEIGHTS if dest is None else dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        shutil.copyfile(path, tmp)
    return dest


def load_weights(path: str | os.PathLike | None = None,
                 device: str | torch.device = "cpu") -> tuple[ResidualNetwork, dict]:
    """The network (eval mode, on ``device``) and the file's other fields (voxel_size, record...).

    path: default :data:`DEFAULT_WEIGHTS`. Raises InputFileError when the file is missing (for the
    default: no weights have been shipped yet) or is not a weights file of this format.
    """
    p = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not p.is_file():
        hint = ("no trained C-alpha network ships with this installation yet; train one (notebook "
                "02_cnn_training) and pass its file with --weights" if path is None
                else "weights file does not exist")
        raise InputFileError(p, hint)
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a weights file"
        raise InputFileError(p, f"not a readable torch weights file ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputFileError(p, f"not a cryonb C-alpha network weights file (expected format {FORMAT})")
    net = ResidualNetwork(NetworkConfig(**payload["network"]))
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise InputFileError(p, f"weights do not fit the network {payload['network']} ({exc})") from None
    info = {k: v for k, v in payload.items() if k != "state_dict"}
    return net.to(device).eval(), info
