"""Write outputs atomically: to a temporary file beside the target, then rename.

An interrupted run therefore never leaves a half-written model or map, and a
failed write leaves no file at all. Writing over an input is refused.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import InputFileError

_PROTECTED: set[str] = set()


def protect_input(path: str | os.PathLike) -> None:
    """Remember ``path`` as an input of this session; atomic writes refuse to replace it."""
    _PROTECTED.add(os.path.realpath(path))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary file is removed if the body raises. ``overwrite=False`` refuses
    an existing target; a path read earlier as an input is always refused.
    """
    target = Path(path)
    real = os.path.realpath(target)
    if real in _PROTECTED:
        raise InputFileError(target, "refusing to overwrite a file that was read as an input")
    if target.exists() and not overwrite:
        raise InputFileError(target, "output exists and overwrite=False")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix,
                               dir=target.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; a written output gets the usual mode
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
