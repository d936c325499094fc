"""Small torch helpers shared by refinement, series and the CNN: the device and the thread count."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from .errors import CryonbError


def resolve_device(device: str) -> torch.device:
    """``"auto"`` (CUDA when torch sees it, else CPU), ``"cpu"`` or ``"cuda"`` as a torch device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise CryonbError(None, "device 'cuda' requested but torch sees no CUDA device")
    return torch.device(device)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (None or 0: leave as is), restoring the previous count."""
    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Draw from torch's global generators as after ``torch.manual_seed(seed)`` (module init,
    dropout), then give the caller back its own random state. ``device``: a CUDA device whose
    generator is restored too."""
    cuda = device is not None and device.type == "cuda"
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
