"""Errors that name the file and the problem.

Every error cryonb raises for bad user input derives from :class:`CryonbError`
and reads ``<file>: <problem>``, so a notebook user sees at once which input
to fix instead of a traceback from deep inside numpy.
"""
from __future__ import annotations

import os


class CryonbError(Exception):
    """Base class: a problem with a user's input, stated plainly."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class InputFileError(CryonbError):
    """A file is missing, unreadable or of the wrong kind."""


class ModelError(CryonbError):
    """A model file is malformed, empty or unusable."""


class MapError(CryonbError):
    """A map file is truncated, corrupt or has invalid values or geometry."""


class OverlapError(CryonbError):
    """A model and a map do not occupy the same region of space."""


class GridMismatchError(CryonbError):
    """Two maps that must share a grid (shape, voxel size, origin) do not."""


def require_file(path: str | os.PathLike) -> str:
    """Return ``path`` as a string, or raise InputFileError if it is not a readable file."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise InputFileError(p, "file does not exist")
    if os.path.isdir(p):
        raise InputFileError(p, "is a directory, expected a file")
    if not os.access(p, os.R_OK):
        raise InputFileError(p, "file is not readable (permissions)")
    if os.path.getsize(p) == 0:
        raise InputFileError(p, "file is empty (0 bytes)")
    return p
