"""Small torch helpers shared by refinement, series and the CNN: the device, the thread count and
the C allocator's reuse of freed memory."""
from __future__ import annotations

import ctypes
import ctypes.util
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


MMAP_THRESHOLD = 1 << 30   # bytes: blocks up to this size come from (and go back to) the heap


def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks for reuse instead of handing each large one back to the
    kernel (``mallopt``: mmap threshold :data:`MMAP_THRESHOLD`, no trimming). The hot loops allocate
    the same large tensors every iteration; returned to the kernel, each comes back as fresh pages,
    and the page faults cost as much as a third of an iteration (CFTR's map score: 268 -> 174 ms
    for 16 images). The process keeps its peak memory instead. Linux with glibc only; returns
    whether it applied (once per process)."""
    global _REUSING
    if _REUSING is None:
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
            _REUSING = bool(libc and hasattr(libc, "mallopt") and libc.mallopt(-3, MMAP_THRESHOLD)
                            and libc.mallopt(-1, 2 ** 31 - 1))    # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
        except OSError:
            _REUSING = False
    return _REUSING


_REUSING: bool | None = None


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (None or 0: leave as is), restoring the previous count;
    freed memory is kept for reuse from then on (:func:`reuse_freed_memory`)."""
    reuse_freed_memory()
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
