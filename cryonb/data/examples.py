"""Load a model by example name or by path, as notebooks take it from a parameter."""
from __future__ import annotations

import os

import gemmi

from ..io import read_model
from .adk import adk_closed, adk_dims, adk_open

EXAMPLES = {"adk_open": adk_open, "adk_closed": adk_closed, "adk_dims": adk_dims}


def load_model(name_or_path: str | os.PathLike) -> gemmi.Structure:
    """An example by name (``adk_open``, ``adk_closed``, ``adk_dims``) or a PDB/mmCIF file."""
    key = os.fspath(name_or_path)
    if key in EXAMPLES:
        return EXAMPLES[key]()
    return read_model(key)
