"""A small reader for CHARMM/NAMD DCD trajectories (coordinates only)."""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputFileError


def read_dcd(path: str | os.PathLike) -> np.ndarray:
    """Read every frame of a DCD file; returns float32 coordinates (n_frames, n_atoms, 3) in Angstrom.

    Frames are read to the end of the file (headers often claim more frames than
    stored). Little- or big-endian files with 32-bit Fortran record markers.
    """
    raw = open(path, "rb").read()
    for endian in ("<", ">"):
        if np.frombuffer(raw[:4], dtype=endian + "i4")[0] == 84 and raw[4:8] == b"CORD":
            break
    else:
        raise InputFileError(path, "not a DCD file (no CORD header record)")
    i4 = np.dtype(endian + "i4")
    control = np.frombuffer(raw[8:88], dtype=i4)
    has_cell = bool(control[10])
    pos = 92                                      # 4 + 84 + 4
    title_len = int(np.frombuffer(raw[pos:pos + 4], dtype=i4)[0])
    pos += 4 + title_len + 4
    natoms = int(np.frombuffer(raw[pos + 4:pos + 8], dtype=i4)[0])
    pos += 12
    if control[8] != 0:
        raise InputFileError(path, "DCD files with fixed atoms are not supported")
    block = 4 + 4 * natoms + 4
    frame_bytes = (4 + 48 + 4 if has_cell else 0) + 3 * block
    n_frames = (len(raw) - pos) // frame_bytes
    if n_frames == 0:
        raise InputFileError(path, "DCD file holds no complete frame")
    frames = np.empty((n_frames, natoms, 3), dtype=np.float32)
    f4 = np.dtype(endian + "f4")
    for f in range(n_frames):
        start = pos + f * frame_bytes + (56 if has_cell else 0)
        for axis in range(3):
            s = start + axis * block + 4
            frames[f, :, axis] = np.frombuffer(raw[s:s + 4 * natoms], dtype=f4)
    return frames
